"""The progressive paper's ablations (§4.3) on the toy world, tracked in W&B (offline without a key).

    python train/progressive_ablation.py                    # 4 variants x configs/toy/progressive.yaml, then eval
    python train/progressive_ablation.py --variants full no_chunk --eval-worlds 4
    python train/progressive_ablation.py --tiny             # a smoke run: a tiny random model, seconds per variant

Variants: `full` (chunked levels + clean front chunk), `no_front` (ablation 1: no clean chunk kept in front),
`no_chunk` (ablation 2: one level per latent frame, the window moving a frame at a time), `neither`. All keep the
same noisy window (3 chunks of 2 frames) and 18 denoising steps per frame; without the front chunk the training
clips are 6 frames instead of 8. Each is
finetuned from the toy checkpoint with `lvg fit` (one W&B run `ablation-<variant>`, exported to
`<root>/<variant>/backbone`), then continues held-out toy worlds chunk by chunk; the sprite-colour mass kept in the
last frame of each chunk (against the guide frame; `lvg.metrics.toy_drift`) is logged to the run as the table
`ablation/drift` and the summary `ablation/mass_kept_last`, and all variants go to `<root>/results.json`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "configs" / "toy" / "progressive.yaml"
VARIANTS = {
    "full": {"chunked": True, "clean_front": True},
    "no_front": {"chunked": True, "clean_front": False},
    "no_chunk": {"chunked": False, "clean_front": True},
    "neither": {"chunked": False, "clean_front": False},
}
TINY = [
    "--model.init_args.sampler.init_args.num_steps", "6", "--model.init_args.height", "16",
    "--model.init_args.width", "16", "--data.init_args.resolution", "16", "--data.init_args.batch_size", "2",
    "--data.init_args.samples_per_epoch", "4", "--data.init_args.val_samples", "2", "--trainer.max_epochs", "1",
    "--trainer.log_every_n_steps", "1", "--trainer.enable_progress_bar", "false",
]  # fmt: skip


def tiny_backbone(root: Path) -> str:
    """A tiny random toy model saved under `root` (what --tiny finetunes instead of the toy checkpoint)."""
    from lvg.backbones import Toy

    path = root / "tiny_toy"
    if not (path / "transformer").is_dir():
        torch.manual_seed(0)
        Toy(width=32, layers=1, heads=2).save_pretrained(path)
    return str(path)


def fit_args(variant: str, root: Path, tiny: bool) -> list[str]:
    """`lvg fit` arguments of one variant: the method switches, its own run folder, W&B run and export folder."""
    flags = VARIANTS[variant]
    frames = 8 if flags["clean_front"] else 6  # the same noisy window of 3 chunks of 2 frames, with or without front
    out = root / variant
    callbacks = [
        {"class_path": "lightning.pytorch.callbacks.ModelCheckpoint", "init_args": {"save_last": True}},
        {"class_path": "lvg.callbacks.ExportBackbone", "init_args": {"dirpath": str(out / "backbone")}},
    ]
    return [
        "fit", "--config", str(CONFIG),
        "--model.init_args.method.init_args.chunked", str(flags["chunked"]).lower(),
        "--model.init_args.method.init_args.clean_front", str(flags["clean_front"]).lower(),
        "--model.init_args.frames_per_clip", str(frames), "--data.init_args.frames_per_clip", str(frames),
        "--trainer.default_root_dir", str(out), "--trainer.callbacks", json.dumps(callbacks),
        "--trainer.logger", "lvg.tracking.AutoWandbLogger", "--trainer.logger.init_args.project", "lvg",
        "--trainer.logger.init_args.save_dir", str(out), "--trainer.logger.init_args.name", f"ablation-{variant}",
        *([*TINY, "--model.init_args.backbone.init_args.path", tiny_backbone(root)] if tiny else []),
    ]  # fmt: skip


@torch.no_grad()
def drift(module, worlds: int, chunks: int, first_world: int = 900_000) -> list[float]:
    """Mean over held-out worlds of the sprite-colour mass kept in the last frame of each generated chunk."""
    from lvg.data.toy_world import toy_start
    from lvg.methods.base import GenerationRequest
    from lvg.metrics.toy_drift import sprite_mass_kept

    c = module.method.condition_frames
    curves = []
    for world in range(first_world, first_world + worlds):
        start, prompts, _ = toy_start(world, chunks, module.frames_per_clip, max(c, 1), module.height)
        guide = (start[0, :, -1] + 1) / 2
        parts = list(module.generate(GenerationRequest(start, prompts[:chunks], module.frames_per_clip, seed=world)))
        ends = torch.stack([(p.frames[:, -1].cpu() + 1) / 2 for p in parts if p.index >= 0])
        curves.append(sprite_mass_kept(ends, guide))
    return torch.stack(curves).mean(0).tolist()


def run_variant(variant: str, root: Path, tiny: bool, worlds: int, chunks: int) -> list[float]:
    """Train one variant, evaluate it, log the evaluation into its W&B run; returns the drift curve."""
    from lvg.cli import run_cli

    cli = run_cli(fit_args(variant, root, tiny))
    curve = drift(cli.model, worlds, chunks)
    logger = cli.trainer.logger
    logger.log_table("ablation/drift", columns=["chunk", "mass_kept"], data=[[i, m] for i, m in enumerate(curve)])
    logger.experiment.summary["ablation/mass_kept_last"] = curve[-1]
    logger.experiment.finish()
    return curve


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    p.add_argument("--root", default=str(REPO / "runs" / "progressive-ablation"))
    p.add_argument("--eval-worlds", type=int, default=8)
    p.add_argument("--eval-chunks", type=int, default=24, help="chunks of 2 frames generated per world")
    p.add_argument("--tiny", action="store_true", help="a tiny random model and a few samples: a smoke run")
    args = p.parse_args(argv)
    root = Path(args.root)
    worlds, chunks = (1, 3) if args.tiny else (args.eval_worlds, args.eval_chunks)
    results = {v: run_variant(v, root, args.tiny, worlds, chunks) for v in args.variants}
    root.mkdir(parents=True, exist_ok=True)
    (root / "results.json").write_text(json.dumps({"mass_kept_per_chunk": results, "worlds": worlds}, indent=1))
    for v, curve in results.items():
        print(f"{v:>9}: mass kept, last chunk {curve[-1]:.3f}, mean {sum(curve) / len(curve):.3f}")
    return results


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    main()

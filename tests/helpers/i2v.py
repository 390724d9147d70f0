"""What the image-to-video backbone tests (CogVideoX, Wan I2V) share: guide images, chunk-wise runs, load errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from PIL import Image

from lvg import LongVideoModule
from lvg.errors import LvgError
from lvg.methods import ChunkwiseI2V, GenerationRequest
from lvg.sampling import SchedulerSampler
from lvg.search import ColourConsistencyScorer, KStepSearch


def guide_image(height: int, width: int, seed: int = 1) -> tuple[Image.Image, torch.Tensor]:
    """A random height x width image as PIL (for the pipeline) and as our guide [1, 3, 1, H, W] in [-1, 1]."""
    pixels = torch.randint(0, 256, (height, width, 3), generator=torch.Generator().manual_seed(seed))
    array = pixels.to(torch.uint8).numpy()
    guide = torch.from_numpy(array).permute(2, 0, 1).float() / 255 * 2 - 1
    return Image.fromarray(array), guide[None, :, None]


def state_equal(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def quiet_pipeline(pipeline_class, path: Path):
    """The diffusers pipeline loaded from `path`, without its progress bar."""
    pipe = pipeline_class.from_pretrained(str(path))
    pipe.set_progress_bar_config(disable=True)
    return pipe


def chunkwise(backbone, noise_init=None, steps: int = 3, *, frames: int, height: int, width: int) -> LongVideoModule:
    sampler = SchedulerSampler(steps)
    return LongVideoModule(
        backbone, ChunkwiseI2V(), sampler, noise_init, frames_per_clip=frames, height=height, width=width
    )


def chunkwise_kstep(backbone, frames: int, height: int, width: int) -> tuple[list[torch.Tensor], list[dict]]:
    """Two clips of chunk-wise generation with k-step search from a random guide: checks the parts' shapes, the
    guide frame and that each clip searched; returns the parts and the search logs."""
    _, guide = guide_image(height, width)
    search = KStepSearch(candidates=2, k=2, scorer=ColourConsistencyScorer())
    m = chunkwise(backbone, search, frames=frames, height=height, width=width)
    request = GenerationRequest(guide, ["a cat", "a dog"], frames, seed=0)
    results = list(m.generate(request))
    parts, logs = [r.frames for r in results], [r.search for r in results if r.search is not None]
    assert [tuple(p.shape) for p in parts] == [(3, 1, height, width)] + [(3, frames - 1, height, width)] * 2
    torch.testing.assert_close(parts[0], guide[0])
    assert all(torch.isfinite(p).all() for p in parts) and len(logs) == 2
    return parts, logs


def check_bad_folders(backbone_class, tiny_dir: Path, tmp_path: Path, part: str) -> None:
    """A missing folder and one without `part/` each give a one-line LvgError naming the path."""
    partial = tmp_path / f"no_{part}"
    shutil.copytree(tiny_dir, partial, ignore=shutil.ignore_patterns(part))
    for path, message in [(tmp_path / "does-not-exist", "not found"), (partial, f"missing {part}/")]:
        with pytest.raises(LvgError, match=message) as err:
            backbone_class(str(path))
        assert "\n" not in str(err.value) and str(path) in str(err.value)


def few_training_steps(backbone, batch: dict, steps: int) -> list[float]:
    """`steps` Adam steps of ChunkwiseI2V's loss on one batch (checking every step reaches the trainable weights);
    returns the losses and puts the backbone's weights back as they were (the fixtures are module-scoped)."""
    method = ChunkwiseI2V(drop_rate=0.0)
    params = [p for p in backbone.transformer.parameters() if p.requires_grad]
    before = [p.detach().clone() for p in params]
    opt = torch.optim.Adam(params, lr=1e-3)
    losses = []
    try:
        for _ in range(steps):
            loss = method.loss(backbone, batch, torch.Generator().manual_seed(1))["loss"]
            opt.zero_grad()
            loss.backward()
            assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in params)
            opt.step()
            losses.append(float(loss.detach()))
    finally:
        with torch.no_grad():
            for p, b in zip(params, before):
                p.copy_(b)
    return losses


def tiny_model_args(checkpoint: Path, frames: int, height: int, width: int) -> list[str]:
    """CLI overrides pointing a real-size I2V config at a tiny float32 checkpoint and its clip size."""
    return [
        "--model.init_args.backbone.init_args.path", str(checkpoint),
        "--model.init_args.backbone.init_args.dtype", "float32",
        "--model.init_args.frames_per_clip", str(frames),
        "--model.init_args.height", str(height), "--model.init_args.width", str(width),
    ]  # fmt: skip


def tiny_fit_args(config: Path, checkpoint: Path, data: Path, run_dir: Path, frames: int, height: int, width: int):
    """`lvg fit` with a real-size I2V finetuning `config` on a tiny checkpoint: 2 float32 steps on the mp4 folder
    `data`, the backbone exported to `run_dir/backbone`."""
    return ["fit", "--config", str(config), *tiny_model_args(checkpoint, frames, height, width)] + [
        "--data.init_args.root", str(data), "--data.init_args.frames_per_clip", str(frames),
        "--data.init_args.resolution", f"[{height}, {width}]", "--data.init_args.fps", "null",
        "--trainer.precision", "32-true", "--trainer.max_steps", "2", "--trainer.accumulate_grad_batches", "1",
        "--trainer.logger", "false", "--trainer.default_root_dir", str(run_dir),
        "--trainer.callbacks+=lvg.callbacks.ExportBackbone", f"--trainer.callbacks.dirpath={run_dir / 'backbone'}",
    ]  # fmt: skip


def tiny_generate_args(
    config: Path,
    checkpoint: Path,
    out: Path,
    frames: int,
    height: int,
    width: int,
    steps: int = 2,
    guide_seed: int = 3,
) -> list[str]:
    """`lvg generate` with `config` on a tiny I2V checkpoint: 2 clips, `steps` steps, from a random guide image
    saved beside `out`."""
    guide = out.parent / "guide.png"
    guide_image(height, width, guide_seed)[0].save(guide)
    return ["generate", "--config", str(config), *tiny_model_args(checkpoint, frames, height, width)] + [
        "--model.init_args.sampler.init_args.num_steps", str(steps),
        "--num_clips", "2", "--prompt", "a cat", "--guide", str(guide), "--output", str(out),
        "--trainer.accelerator", "cpu", "--progress", "false",
    ]  # fmt: skip

"""The per-step clean estimates of one toy clip (the error-free paper's figure 2, its shape): an image grid and AF.

Samples one clip of a toy world with T-RFlow over [0, 1] (plain Euler) keeping every step's estimate e_i of eq. 3,
decodes each, and writes a grid (rows: steps from noise to clean, labelled with t and AF; columns: frames) and each
estimate's time, weight and AF (eq. 6) as JSON beside it: where along the steps the high frequencies come in.

python infer/trflow_estimates.py --steps 20 --out outputs/trflow_estimates.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from lvg.backbones import Toy
from lvg.data.toy_world import toy_start
from lvg.methods import Extension, GenerationRequest
from lvg.metrics.af import average_frequency
from lvg.module import LongVideoModule
from lvg.sampling import TRFlowSampler


class KeepLastRun(TRFlowSampler):
    """T-RFlow that remembers its last run's state (with the estimates)."""

    def run(self, *args, **kwargs):
        self.last = super().run(*args, **kwargs)
        return self.last


@torch.no_grad()
def step_estimates(module: LongVideoModule, steps: int, world: int = 900_000, estimate: str = "euler") -> list[dict]:
    """Each step's time, weight, decoded estimate [3, F, H, W] in [-1, 1] and AF, for one clip of toy world `world`."""
    sampler = KeepLastRun(steps, 0.0, 1.0, estimate=estimate, keep_estimates=True)
    module.sampler = sampler
    c = module.method.condition_frames
    start, prompts, _ = toy_start(world, 1, module.frames_per_clip, c, module.height)
    list(module.generate(GenerationRequest(start, prompts, module.frames_per_clip, seed=world)))
    rows = []
    for e in sampler.last.estimates:
        frames = module.backbone.decode(e.estimate.to(module.backbone.device))[0, :, c:].cpu()
        rows.append({"t": e.t, "weight": e.weight, "frames": frames, "af": average_frequency(frames)})
    return rows


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frames = rows[0]["frames"].shape[1]
    fig, axes = plt.subplots(len(rows), frames, figsize=(frames * 0.9, len(rows) * 0.9), squeeze=False)
    for r, row in enumerate(rows):
        for f in range(frames):
            ax = axes[r][f]
            ax.imshow(((row["frames"][:, f].permute(1, 2, 0) + 1) / 2).clamp(0, 1).numpy())
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r][0].set_ylabel(f"t={row['t']:.2f}\nAF {row['af']:.3f}", fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", default="checkpoints/toy")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--world", type=int, default=900_000, help="toy world (held-out seeds start at 900000)")
    p.add_argument("--estimate", default="euler", choices=["euler", "x0"])
    p.add_argument("--out", default="outputs/trflow_estimates.png")
    args = p.parse_args()
    module = LongVideoModule(Toy(path=args.checkpoint), Extension(condition_fill="nearest"), TRFlowSampler(args.steps))
    rows = step_estimates(module, args.steps, args.world, args.estimate)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    plot(rows, out)
    summary = [{"t": r["t"], "weight": r["weight"], "af": r["af"]} for r in rows]
    out.with_suffix(".json").write_text(json.dumps(summary, indent=1))
    for r in summary:
        print(f"t={r['t']:.3f}  weight={r['weight']:.3f}  AF={r['af']:.4f}")


if __name__ == "__main__":
    main()

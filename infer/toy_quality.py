"""Check a toy checkpoint against the quality bar and write its per-clip drift curves (JSON + PNG).

python infer/toy_quality.py --checkpoint checkpoints/toy --out checkpoints/toy/quality.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lvg.data.toy_world import BACKGROUNDS
from lvg.evaluation.toy_quality import evaluate_toy_drift
from lvg.module_config import module_from_config


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = result["curves"]
    x = list(range(1, result["num_clips"] + 1))
    fig, ax = plt.subplots(1, 3, figsize=(13, 3.2))
    ax[0].plot(x, curves["mass"], "o-", label="generated")
    ax[0].plot(x, curves["true_mass"], "k--", label="ground truth")
    ax[0].set(title="sprite-colour mass kept (vs guide)", xlabel="clip", ylim=(0, 1.05))
    ax[0].legend()
    ax[1].plot(x, curves["background"], "o-")
    ax[1].set(title="background error (mean |x - bg|)", xlabel="clip")
    ax[2].plot(x, curves["position"], "o-", label="generated")
    ax[2].plot(x, curves["still_position"], "k:", label="guide held still")
    ax[2].set(title="sprite position error (pixels)", xlabel="clip")
    ax[2].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def build_module(config: str, checkpoint: str, steps: int | None = None, shift: float | None = None):
    """`config`'s module on `checkpoint`, sampled as the config samples; `steps` and `shift` override its sampler's
    when given."""
    overrides = {k: v for k, v in (("num_steps", steps), ("shift", shift)) if v is not None}
    return module_from_config(config, checkpoint, overrides)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", default="checkpoints/toy")
    p.add_argument("--seeds", type=int, default=16)
    p.add_argument("--clips", type=int, default=12)
    p.add_argument("--noise_seeds", type=int, default=2, help="sampling noise seeds per world (the bar's figures: 2)")
    p.add_argument("--steps", type=int, default=None, help="sampling steps (default: the config's)")
    p.add_argument("--shift", type=float, default=None, help="the scheduler's time shift (default: the config's)")
    p.add_argument("--config", default="configs/toy/generate.yaml", help="method and sampler settings come from here")
    p.add_argument("--out", default="checkpoints/toy/quality.json")
    p.add_argument("--background", default="flat", choices=BACKGROUNDS, help="the held-out worlds' background kind")
    args = p.parse_args()
    module = build_module(args.config, args.checkpoint, args.steps, args.shift)
    result = evaluate_toy_drift(
        module, num_seeds=args.seeds, num_clips=args.clips, noise_seeds=args.noise_seeds, background=args.background
    )
    out = Path(args.out)
    out.write_text(json.dumps(result, indent=1))
    plot(result, out.with_suffix(".png"))
    print(f"first-clip sprite mass kept: {result['first_clip_mass_kept']:.3f} (bar: 0.9)")
    print("mass per clip:      ", " ".join(f"{v:.2f}" for v in result["curves"]["mass"]))
    print("background per clip:", " ".join(f"{v:.3f}" for v in result["curves"]["background"]))
    print("position error (px):", " ".join(f"{v:.1f}" for v in result["curves"]["position"]))
    print("guide held still:   ", " ".join(f"{v:.1f}" for v in result["curves"]["still_position"]))


if __name__ == "__main__":
    main()

"""Check a toy checkpoint against the quality bar and write its per-clip drift curves (JSON + PNG).

python infer/toy_quality.py --checkpoint checkpoints/toy --out checkpoints/toy/quality.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml

from lvg.backbones import Toy
from lvg.evaluation.toy_quality import evaluate_toy_drift
from lvg.methods import Extension
from lvg.module import LongVideoModule
from lvg.sampling import SchedulerSampler


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
    """The toy module sampled as `config` samples (its method and SchedulerSampler settings; `steps` and `shift`
    override the sampler's when given) on `checkpoint`."""
    parts = yaml.safe_load(Path(config).read_text())["model"]["init_args"]
    method_args = parts["method"].get("init_args", {})
    sampler_args = dict(parts["sampler"].get("init_args", {}))  # the toy configs' sampler is a SchedulerSampler
    sampler_args.update({k: v for k, v in (("num_steps", steps), ("shift", shift)) if v is not None})
    return LongVideoModule(Toy(path=checkpoint), Extension(**method_args), SchedulerSampler(**sampler_args))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", default="checkpoints/toy")
    p.add_argument("--seeds", type=int, default=16)
    p.add_argument("--clips", type=int, default=12)
    p.add_argument("--steps", type=int, default=None, help="sampling steps (default: the config's)")
    p.add_argument("--shift", type=float, default=None, help="the scheduler's time shift (default: the config's)")
    p.add_argument("--config", default="configs/toy/generate.yaml", help="method and sampler settings come from here")
    p.add_argument("--out", default="checkpoints/toy/quality.json")
    args = p.parse_args()
    module = build_module(args.config, args.checkpoint, args.steps, args.shift)
    result = evaluate_toy_drift(module, num_seeds=args.seeds, num_clips=args.clips)
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

"""T-RFlow ablation on the toy world, the shape of the error-free paper's tables 3 and 4.

Table 3: an image-quality proxy per T-RFlow interval ([0, 1] = plain Euler, [0, 0.7], [0.3, 0.7]) for each method.
[0.3, 1] is table 3's [0, 0.7] if the paper's time axis runs from noise (0) to clean (1): its text says [0, 0.7]
drops the late, high-frequency steps, which with t = 1 as noise (Wan's convention, ours) are the steps near t = 0.
Table 4: the same proxy per stretch of a long video (per-clip drift), baseline [0, 1] against the others.
On the toy world the proxy is measured against the ground truth (lvg.evaluation.toy_quality): sprite-colour mass kept
relative to the guide (higher is better: blur, fading and recolouring all lower it) and background error (lower is
better), on the last frame of every clip, averaged over held-out worlds.

Methods come from generate configs (`--configs name=path ...`): each config's model is built as `lvg generate` would
build it, then only its sampler is swapped for T-RFlow over each interval. A method added later (e.g. the causal
KV cache) joins the table with one more `name=configs/toy/<its config>.yaml`.

python infer/trflow_ablation.py --seeds 8 --clips 8 --out outputs/trflow_ablation.json

Each world's curves are written to `--out` as soon as they are measured and reused by a later run with the same
settings, so a long ablation can be stopped and resumed, or run a world, an interval or a method at a time.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lvg.evaluation.toy_quality import HELD_OUT_SEED_BASE, evaluate_toy_drift
from lvg.module_config import module_from_config as build_module  # the config's module, as `lvg generate` builds it
from lvg.sampling import TRFlowSampler
from lvg.video import write_json_atomic

DEFAULT_CONFIGS = ["extension=configs/toy/generate.yaml"]
DEFAULT_INTERVALS = ["0,1", "0,0.7", "0.3,0.7", "0.3,1"]


def parse_interval(text: str) -> tuple[float, float]:
    low, high = (float(v) for v in text.split(","))
    return low, high


def stretches(curve: list[float], parts: int) -> list[float]:
    """A per-clip curve averaged over `parts` consecutive stretches of the video (table 4's 30-second columns)."""
    size = max(1, len(curve) // parts)
    chunks = [curve[i : i + size] for i in range(0, len(curve), size)][:parts]
    return [sum(c) / len(c) for c in chunks]


def run(args, previous: dict | None = None, save=None) -> dict:
    """Every (method, interval) row, each the mean over held-out worlds. Each world's curves are kept under
    `per_world` (and handed to `save` as they come); those of `previous`, a run with the same settings, are reused."""
    settings = {"clips": args.clips, "steps": args.steps, "seed": args.seed}
    same = previous is not None and all(previous.get(k) == v for k, v in settings.items())
    per_world = dict(previous.get("per_world", {})) if same else {}
    results = {**settings, "seeds": args.seeds, "rows": [], "per_world": per_world}
    for spec in args.configs:
        name, config = spec.split("=", 1)
        module = None
        first_keys = None
        for text in args.intervals:
            low, high = parse_interval(text)
            keys = [f"{name} [{low}, {high}] world {HELD_OUT_SEED_BASE + w}" for w in range(args.seeds)]
            for key, world in zip(keys, range(HELD_OUT_SEED_BASE, HELD_OUT_SEED_BASE + args.seeds)):
                if key in per_world:
                    continue
                module = module or build_module(config, args.checkpoint)
                module.sampler = TRFlowSampler(args.steps, low, high)
                drift = evaluate_toy_drift(module, num_seeds=1, num_clips=args.clips, seed=args.seed, first_seed=world)
                per_world[key] = {k: v[0] for k, v in drift["per_seed"].items()}
                if save is not None:
                    save(results)
            curves = {
                k: [sum(c) / len(c) for c in zip(*(per_world[key][k] for key in keys))] for k in per_world[keys[0]]
            }
            row = {
                "method": name,
                "interval": [low, high],
                "mass_kept": sum(curves["mass"]) / len(curves["mass"]),
                "background_error": sum(curves["background"]) / len(curves["background"]),
                "mass_per_stretch": stretches(curves["mass"], args.stretches),
                "background_per_stretch": stretches(curves["background"], args.stretches),
                "curves": curves,
                "mass_vs_first": paired_difference(per_world, keys, first_keys or keys, "mass"),
            }
            first_keys = first_keys or keys
            results["rows"].append(row)
            print(f"{name} [{low}, {high}]: mass kept {row['mass_kept']:.3f}, bg error {row['background_error']:.4f}")
    return results


def paired_difference(per_world: dict, keys: list[str], base_keys: list[str], measure: str) -> dict:
    """The per-world difference of a measure's clip mean against the first interval's: mean, standard error, and
    in how many worlds it is higher."""
    diffs = [
        sum(per_world[k][measure]) / len(per_world[k][measure])
        - sum(per_world[b][measure]) / len(per_world[b][measure])
        for k, b in zip(keys, base_keys)
    ]
    mean = sum(diffs) / len(diffs)
    se = (sum((d - mean) ** 2 for d in diffs) / (len(diffs) - 1) / len(diffs)) ** 0.5 if len(diffs) > 1 else 0.0
    return {"mean": mean, "se": se, "higher_in": sum(d > 0 for d in diffs), "worlds": len(diffs)}


def markdown(results: dict) -> str:
    """Tables 3 and 4 (their shape) as markdown."""
    rows = results["rows"]
    lines = [
        "| method | interval | sprite mass kept (higher) | vs first interval, paired (+- s.e.; worlds higher) "
        "| background error (lower) |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lo, hi = r["interval"]
        d = r["mass_vs_first"]
        paired = f"{d['mean']:+.3f} +- {d['se']:.3f} ({d['higher_in']}/{d['worlds']})"
        lines.append(
            f"| {r['method']} | [{lo}, {hi}] | {r['mass_kept']:.3f} | {paired} | {r['background_error']:.4f} |"
        )
    parts = len(rows[0]["mass_per_stretch"])
    per = max(1, results["clips"] // parts)
    head = " | ".join(f"clips {i * per + 1}-{(i + 1) * per}" for i in range(parts))
    lines += ["", f"| method | interval | {head} |", "|---|---|" + "---|" * parts]
    for r in rows:
        lo, hi = r["interval"]
        cells = " | ".join(f"{v:.3f}" for v in r["mass_per_stretch"])
        lines.append(f"| {r['method']} | [{lo}, {hi}] | {cells} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--configs", nargs="+", default=DEFAULT_CONFIGS, help="name=generate-config per method")
    p.add_argument("--intervals", nargs="+", default=DEFAULT_INTERVALS, help="t_low,t_high per column")
    p.add_argument("--checkpoint", default=None, help="override the configs' backbone path")
    p.add_argument("--seeds", type=int, default=8, help="held-out toy worlds")
    p.add_argument("--clips", type=int, default=8, help="clips per long video")
    p.add_argument("--steps", type=int, default=20, help="Euler steps of the full schedule")
    p.add_argument("--stretches", type=int, default=4, help="table 4's columns: stretches of the long video")
    p.add_argument("--seed", type=int, default=0, help="generation seed")
    p.add_argument("--out", default="outputs/trflow_ablation.json")
    args = p.parse_args()
    out = Path(args.out)
    previous = json.loads(out.read_text()) if out.is_file() else None
    out.parent.mkdir(parents=True, exist_ok=True)
    results = run(args, previous, save=lambda r: write_json_atomic(out, r))
    write_json_atomic(out, results)
    table = markdown(results)
    out.with_suffix(".md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()

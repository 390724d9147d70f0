"""Run an ablation grid on the toy world (offline), or one cell of it (what a W&B sweep agent runs).

python infer/ablation.py --grid infer/grids/toy.yaml --out outputs/ablation/toy            # every run, then evaluate
python infer/ablation.py --grid infer/grids/toy.yaml --method=extension --seed=1          # a subset of the grid
python infer/ablation.py --grid infer/grids/toy.yaml --wandb                              # + W&B (offline w/o key)
python infer/ablation.py --grid infer/grids/toy.yaml --write_sweep infer/sweeps/toy.yaml  # the W&B sweep file
wandb sweep infer/sweeps/toy.yaml && wandb agent <sweep id>                               # the grid as a W&B sweep

Any other `--key=value` selects an axis option (`--noise_init=kstep`), `seed` or `toy_seed`; arguments after `--`
go to every `lvg generate` (e.g. `-- --model.init_args.backbone.init_args.path /my/toy`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from lvg.ablation import grid_runs, load_grid, run_grid, sweep_config
from lvg.errors import LvgError


def parse(argv: list[str]) -> tuple[argparse.Namespace, dict[str, str], list[str]]:
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--grid", default="infer/grids/toy.yaml")
    p.add_argument("--out", default=None, help="output folder (default outputs/ablation/<grid name>)")
    p.add_argument("--wandb", action="store_true", help="one W&B run per video, grouped by the grid")
    p.add_argument("--wandb_project", default="lvg")
    p.add_argument("--write_sweep", default=None, help="write the W&B sweep YAML of the grid and exit")
    p.add_argument("--dry_run", action="store_true", help="list the runs and their lvg generate commands")
    args, rest = p.parse_known_args(argv)
    only = {}
    for item in rest:
        key, _, value = item.lstrip("-").partition("=")
        if not value:
            raise LvgError(f"unexpected argument {item!r}: select runs with --axis=option, --seed=n, --toy_seed=n")
        only[key] = value
    return args, only, extra


def main(argv: list[str] | None = None) -> dict | None:
    args, only, extra = parse(sys.argv[1:] if argv is None else argv)
    grid = load_grid(args.grid)
    if args.write_sweep:
        Path(args.write_sweep).parent.mkdir(parents=True, exist_ok=True)
        header = f"# W&B sweep of {args.grid}, written by: python infer/ablation.py --write_sweep {args.write_sweep}\n"
        Path(args.write_sweep).write_text(header + yaml.safe_dump(sweep_config(grid, args.grid), sort_keys=False))
        return None
    out = Path(args.out or f"outputs/ablation/{grid.name}")
    if args.dry_run:
        for run in grid_runs(grid, only):
            print(run.label, "->", out / run.file)
        return None
    report = run_grid(grid, out, only, extra, wandb=args.wandb, wandb_project=args.wandb_project)
    for method, entry in report["per_method"].items():
        print(method, {k: round(v, 4) for k, v in entry["whole"].items() if v is not None})
    print(f"report: {out / 'evaluation' / 'report.html'}")
    return report


if __name__ == "__main__":
    try:
        main()
    except LvgError as e:
        print(f"ablation: error: {e}", file=sys.stderr)
        sys.exit(2)

"""Ablation grids: every combination of named options on each axis (method x noise init x sampler, or any axes a
grid file lists) x toy worlds x noise seeds, generated with `lvg generate` and scored with `lvg evaluate`.

A grid file (YAML) is data, so a new method is one more line:

    name: toy
    num_clips: 5
    toy_seeds: [900000]                 # held-out worlds (HELD_OUT_SEEDS); the default is the first
    seeds: [0, 1]
    args: [--model.init_args.backbone.init_args.path, checkpoints/toy]   # given to every run (optional)
    axes:
      method:
        extension: [--config, configs/toy/generate.yaml]
        chunkwise_i2v: [--config, configs/toy/generate_chunkwise_naive.yaml]
      noise_init:
        gaussian: []
        kstep: [--model.init_args.noise_init, '{"class_path": "lvg.search.KStepSearch", ...}']

Each option is a list of `lvg generate` arguments (a --config and/or overrides), applied in axis order. A run's
sidecar gets a `run` block (`method` = its label, e.g. `extension | kstep`, `group`, `axes`), which `lvg evaluate`
and W&B use to compare runs. Finished runs (mp4 + sidecar present) are not generated again.
"""

from __future__ import annotations

import itertools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from lvg.data.toy_world import HELD_OUT_SEEDS
from lvg.errors import LvgError, require
from lvg.video import write_json_atomic


@dataclass
class Grid:
    name: str
    axes: dict[str, dict[str, list[str]]]
    num_clips: int = 5
    toy_seeds: list[int] = field(default_factory=lambda: [HELD_OUT_SEEDS[0]])
    seeds: list[int] = field(default_factory=lambda: [0])
    args: list[str] = field(default_factory=list)


@dataclass
class Run:
    """One cell of the grid: an option per axis, a toy world and a noise seed."""

    axes: dict[str, str]
    toy_seed: int
    seed: int

    @property
    def label(self) -> str:
        return " | ".join(self.axes.values())

    @property
    def folder(self) -> str:
        return "__".join(self.axes.values())

    @property
    def file(self) -> str:
        return f"{self.folder}/world{self.toy_seed}_seed{self.seed}.mp4"


def load_grid(path: str | Path) -> Grid:
    """Read and check a grid file (one clear line per problem)."""
    p = Path(path)
    require(p.is_file(), f"grid file {str(p)!r} does not exist: give a YAML grid, e.g. infer/grids/toy.yaml")
    data = yaml.safe_load(p.read_text()) or {}
    require(isinstance(data.get("axes"), dict) and data["axes"], f"grid {str(p)!r} has no axes: list options per axis")
    for axis, options in data["axes"].items():
        require(isinstance(options, dict) and options, f"grid axis {axis!r} has no options: name at least one")
        for name, args in options.items():
            require(isinstance(args, list), f"grid option {axis}.{name} must be a list of lvg generate arguments")
    unknown = set(data) - {"name", "axes", "num_clips", "toy_seeds", "seeds", "args"}
    require(not unknown, f"grid {str(p)!r} has unknown keys {sorted(unknown)}")
    axes = {a: {n: [str(x) for x in args] for n, args in o.items()} for a, o in data["axes"].items()}
    return Grid(
        name=str(data.get("name", p.stem)),
        axes=axes,
        num_clips=int(data.get("num_clips", 5)),
        toy_seeds=[int(s) for s in data.get("toy_seeds", [HELD_OUT_SEEDS[0]])],
        seeds=[int(s) for s in data.get("seeds", [0])],
        args=[str(x) for x in data.get("args", [])],
    )


def grid_runs(grid: Grid, only: dict[str, str] | None = None) -> list[Run]:
    """All runs of the grid, or those matching `only` ({axis: option, `seed`: n, `toy_seed`: n})."""
    only = {k: str(v) for k, v in (only or {}).items()}
    for key, value in only.items():
        options = grid.axes.get(key, {}) if key not in ("seed", "toy_seed") else None
        require(key in grid.axes or key in ("seed", "toy_seed"), f"unknown grid axis {key!r}: {sorted(grid.axes)}")
        require(options is None or value in options, f"axis {key!r} has no option {value!r}: {sorted(options or [])}")
    runs = []
    for choice in itertools.product(*[list(o) for o in grid.axes.values()]):
        for toy_seed, seed in itertools.product(grid.toy_seeds, grid.seeds):
            run = Run(dict(zip(grid.axes, choice)), toy_seed, seed)
            values = {**run.axes, "seed": str(seed), "toy_seed": str(toy_seed)}
            if all(values[k] == v for k, v in only.items()):
                runs.append(run)
    return runs


def generate_args(grid: Grid, run: Run, output: Path, extra: list[str] = ()) -> list[str]:
    """The `lvg generate` command line of one run (the --config option first, as LightningCLI wants)."""
    option_args = [a for axis, name in run.axes.items() for a in grid.axes[axis][name]]
    return [
        "generate", *option_args, *grid.args, *extra,
        "--num_clips", str(grid.num_clips), "--toy_seed", str(run.toy_seed), "--seed", str(run.seed),
        "--output", str(output), "--progress", "false",
    ]  # fmt: skip


def generate_run(grid: Grid, run: Run, out_dir: Path, extra: list[str] = ()) -> Path:
    """Generate one run's video (unless already there) and tag its sidecar with the run; returns the mp4 path."""
    from lvg.cli import main

    video = out_dir / run.file
    sidecar = video.with_suffix(".json")
    if not (video.is_file() and sidecar.is_file()):
        try:
            main(generate_args(grid, run, video, list(extra)))
        except SystemExit as e:
            raise LvgError(f"run {run.file} failed (exit {e.code}): rerun its lvg generate command to see why") from e
    data = json.loads(sidecar.read_text())
    data["run"] = {"method": run.label, "group": grid.name, "axes": run.axes, "toy_seed": run.toy_seed}
    write_json_atomic(sidecar, data)
    return video


def run_grid(
    grid: Grid,
    out_dir: str | Path,
    only: dict[str, str] | None = None,
    extra: list[str] = (),
    wandb: bool = False,
    wandb_project: str = "lvg",
    html: bool = True,
    progress: bool = True,
) -> dict:
    """Generate every (selected) run into `out_dir`, then evaluate them together (`out_dir`/evaluation); with
    `wandb`, one W&B run per video (config, video, per-clip curves) grouped by the grid, plus the comparison."""
    from lvg.evaluation import evaluate
    from lvg.evaluation.metric_set import Models

    out = Path(out_dir)
    runs = grid_runs(grid, only)
    require(bool(runs), "the selection matches no run of the grid")
    videos = [str(generate_run(grid, run, out, extra)) for run in runs]
    report = evaluate(videos, str(out / "evaluation"), None, Models(), html=html, progress=progress)
    if wandb:
        from lvg.evaluation.wandb_log import log_report, log_runs

        log_runs(report, out / "evaluation", wandb_project, grid.name)
        if not os.environ.get("WANDB_SWEEP_ID"):  # a sweep agent's process has one run: the cell's own
            log_report(report, out / "evaluation", wandb_project, group=grid.name)
    return report


def sweep_config(grid: Grid, grid_path: str, program: str = "infer/ablation.py") -> dict:
    """A W&B sweep over the grid (method: grid): the agent runs `program --grid grid_path --axis=option ...`."""
    parameters = {axis: {"values": list(options)} for axis, options in grid.axes.items()}
    parameters["seed"] = {"values": grid.seeds}
    parameters["toy_seed"] = {"values": grid.toy_seeds}
    return {
        "program": program,
        "method": "grid",
        "name": f"lvg-{grid.name}-ablation",
        "command": ["${env}", "python", "${program}", "--grid", grid_path, "--wandb", "${args}"],
        "parameters": parameters,
    }

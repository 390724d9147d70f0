"""Ablation grids: the committed toy grid and its W&B sweep agree; a tiny grid runs offline, tags and groups runs."""

import json

import pytest
import yaml
from tests_paths import REPO

from lvg.ablation import Grid, grid_runs, load_grid, run_grid, sweep_config
from lvg.errors import LvgError

TOY_GRID = REPO / "infer" / "grids" / "toy.yaml"


def test_the_toy_grid_covers_methods_noise_inits_and_seeds_and_its_sweep_file_matches():
    grid = load_grid(TOY_GRID)
    assert set(grid.axes) == {"method", "noise_init", "sampler"}
    runs = grid_runs(grid)
    assert len(runs) == 2 * 2 * 1 * len(grid.toy_seeds) * len(grid.seeds)
    assert len({r.file for r in runs}) == len(runs)
    for option in [a for options in grid.axes["method"].values() for a in options if a.endswith(".yaml")]:
        assert (REPO / option).is_file()
    committed = yaml.safe_load((REPO / "infer" / "sweeps" / "toy.yaml").read_text())
    assert committed == sweep_config(grid, "infer/grids/toy.yaml")  # regenerate with --write_sweep when it moves
    assert grid_runs(grid, {"method": "extension", "noise_init": "kstep", "seed": 1, "toy_seed": 900000})[0].label == (
        "extension | kstep | euler_20"
    )


def test_bad_grids_and_selections_are_one_line(tmp_path):
    (tmp_path / "g.yaml").write_text("name: g\naxes: {method: {}}\n")
    with pytest.raises(LvgError, match="no options"):
        load_grid(tmp_path / "g.yaml")
    grid = load_grid(TOY_GRID)
    with pytest.raises(LvgError, match="no option 'nope'"):
        grid_runs(grid, {"method": "nope"})
    with pytest.raises(LvgError, match="unknown grid axis"):
        grid_runs(grid, {"colour": "red"})


def test_a_tiny_grid_runs_offline_with_tagged_sidecars_and_grouped_wandb_runs(tiny_toy_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    configs = REPO / "configs" / "toy"
    kstep = '{"class_path": "lvg.search.KStepSearch", "init_args": {"candidates": 2, "k": 1}}'
    grid = Grid(
        name="grp7",
        axes={
            "method": {"ext": ["--config", str(configs / "generate.yaml")],
                       "i2v": ["--config", str(configs / "generate_chunkwise_naive.yaml")]},
            "noise_init": {"gaussian": [], "kstep": ["--model.init_args.noise_init", kstep]},
            "sampler": {"euler_2": ["--model.init_args.sampler.init_args.num_steps", "2"]},
        },
        num_clips=2,
        args=["--model.init_args.backbone.init_args.path", str(tiny_toy_dir),
              "--model.init_args.frames_per_clip", "4"],
    )  # fmt: skip
    report = run_grid(grid, tmp_path, wandb=True, html=False, progress=False)
    assert set(report["per_method"]) == {
        "ext | gaussian | euler_2", "ext | kstep | euler_2", "i2v | gaussian | euler_2", "i2v | kstep | euler_2"
    }  # fmt: skip
    sidecar = json.loads((tmp_path / "i2v__kstep__euler_2" / "world900000_seed0.json").read_text())
    assert sidecar["run"] == {"method": "i2v | kstep | euler_2", "group": "grp7", "toy_seed": 900000,
                              "axes": {"method": "i2v", "noise_init": "kstep", "sampler": "euler_2"}}  # fmt: skip
    assert all("search" in c for c in sidecar["clips"])  # the k-step override reached the run
    runs = list(tmp_path.rglob("offline-run-*/run-*.wandb"))
    assert len(runs) == 4 + 1  # one per video, one for the comparison tables
    for axes in (("ext", "gaussian", "euler_2"), ("i2v", "kstep", "euler_2")):
        raws = [r.read_bytes() for r in runs]  # the offline runs' records: group, job type and config values
        mine = [raw for raw in raws if all(f'"{v}"'.encode() in raw for v in axes) and b"ablation" in raw]
        assert len(mine) == 1 and b"grp7" in mine[0]  # grouped by the grid
    assert len(list(tmp_path.rglob("media/videos/video_*.mp4"))) == 4

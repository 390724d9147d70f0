"""train/progressive_ablation.py: every variant builds; a tiny run trains, evaluates and logs to W&B offline."""

import json
import sys

from tests_paths import REPO

sys.path.insert(0, str(REPO / "train"))
import progressive_ablation as ablation  # noqa: E402

from lvg import LongVideoModule  # noqa: E402
from lvg.cli import LvgCLI, LvgTrainer  # noqa: E402


def test_every_variant_builds_with_the_same_noisy_window(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["lvg"])
    plans = {}
    for variant, flags in ablation.VARIANTS.items():
        args = ablation.fit_args(variant, tmp_path, tiny=True)[1:]  # without the subcommand: build, do not run
        cli = LvgCLI(LongVideoModule, trainer_class=LvgTrainer, subclass_mode_model=True, subclass_mode_data=True,
                     args=args, run=False, auto_configure_optimizers=False)  # fmt: skip
        method = cli.model.method
        assert (method.chunked, method.clean_front) == (flags["chunked"], flags["clean_front"])
        plans[variant] = method.window_plan
    assert {p.stages * p.unit for p in plans.values()} == {6}  # 3 chunks of 2 frames in every variant
    assert plans["full"].front == 2 and plans["no_front"].front == 0
    assert plans["full"].stages == 3 and plans["no_chunk"].stages == 6


def test_tiny_ablation_run_trains_evaluates_and_logs_offline(tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setattr(sys, "argv", ["lvg"])
    results = ablation.main(["--tiny", "--root", str(tmp_path), "--variants", "neither"])
    assert list(results) == ["neither"] and len(results["neither"]) == 3  # mass kept after each of 3 chunks
    assert all(-1 <= m <= 1 for m in results["neither"])  # mass kept less stray pixels: [-1, 1]
    assert json.loads((tmp_path / "results.json").read_text())["mass_kept_per_chunk"] == results
    runs = list((tmp_path / "neither" / "wandb").glob("offline-run-*"))
    assert len(runs) == 1 and list(runs[0].glob("*.wandb"))
    assert (tmp_path / "neither" / "backbone" / "transformer" / "config.json").is_file()

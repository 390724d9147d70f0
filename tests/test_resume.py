"""`lvg fit ... --ckpt_path last` after a kill continues the run exactly: same losses as an uninterrupted run."""

import csv

import pytest
from tests_paths import TINY_CONFIG

from lvg import LongVideoModule
from lvg.cli import run_cli


def fit(root, *extra):
    args = ["fit", "--config", str(TINY_CONFIG), "--trainer.default_root_dir", str(root), "--trainer.max_epochs", "3"]
    args += ["--trainer.logger", "lightning.pytorch.loggers.CSVLogger", "--trainer.logger.save_dir", str(root)]
    args += ["--trainer.logger.name", "run", "--trainer.logger.version", "0"]
    run_cli([*args, *extra])


def losses(root) -> dict[int, float]:
    rows = csv.DictReader(open(root / "run" / "version_0" / "metrics.csv"))
    return {int(r["step"]): float(r["train/loss"]) for r in rows if r.get("train/loss")}


def test_resume_after_a_kill_gives_the_same_losses(tmp_path, monkeypatch):
    full = tmp_path / "full"
    fit(full)
    reference = losses(full)
    assert len(reference) == 9  # 3 epochs x 3 steps

    crashed = tmp_path / "crashed"

    def crash_mid_epoch(module, *args):  # a kill in the middle of the third epoch
        if module.global_step == 7:
            raise RuntimeError("killed")

    monkeypatch.setattr(LongVideoModule, "on_train_batch_end", crash_mid_epoch, raising=False)
    with pytest.raises(RuntimeError, match="killed"):
        fit(crashed)
    monkeypatch.undo()
    fit(crashed, "--ckpt_path", "last")
    resumed = losses(crashed)
    assert sorted(resumed) == list(range(9))  # one row per step: the first run's steps 0-5 kept, 6-8 replayed
    for step, value in resumed.items():
        assert value == pytest.approx(reference[step], rel=1e-6, abs=1e-7), step

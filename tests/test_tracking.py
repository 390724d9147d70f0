"""W&B runs offline without a key; validation logs a sample long video."""

import os

from tests_paths import TINY_CONFIG

from lvg.cli import run_cli


def test_wandb_offline_without_key_logs_losses_and_a_sample_video(tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc login
    run_cli(
        [
            "fit", "--config", str(TINY_CONFIG), "--trainer.max_epochs", "1",
            "--trainer.default_root_dir", str(tmp_path),
            "--trainer.logger", "lvg.tracking.AutoWandbLogger", "--trainer.logger.save_dir", str(tmp_path),
            "--trainer.callbacks+=lvg.callbacks.LogSampleVideo", "--trainer.callbacks.num_clips", "2",
        ]
    )  # fmt: skip
    assert os.environ["WANDB_MODE"] in ("offline", "dryrun")  # wandb names offline mode "dryrun" internally
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 1 and list(runs[0].glob("*.wandb"))
    samples = list(tmp_path.rglob("samples/epoch=0.mp4"))
    assert len(samples) == 1 and samples[0].stat().st_size > 0
    media = list(runs[0].rglob("media/videos/samples/*.mp4"))
    assert media, "the sample video was not logged to W&B"

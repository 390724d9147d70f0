"""SIGTERM (a scheduler's preemption, `kill`) during `lvg fit`: Lightning stops after the current batch; this callback
(added to every fit by `LongVideoModule`) saves that state as `last.ckpt` in the checkpoint folder, and the command
exits with 143. The data module records the batches trained in the epoch (`lvg.data.sampling`), so `--ckpt_path last`
continues with the next batch, exactly as an uninterrupted run would.
"""

from __future__ import annotations

import sys
from pathlib import Path

import lightning as L
from lightning.pytorch.utilities.exceptions import SIGTERMException

SIGTERM_EXIT_CODE = 143  # 128 + SIGTERM, what a shell reports for a process the signal ended


def checkpoint_folder(trainer: L.Trainer) -> Path:
    """Where this run's checkpoints go (its ModelCheckpoint's folder, else `<root>/checkpoints`)."""
    callback = trainer.checkpoint_callback
    folder = getattr(callback, "dirpath", None)
    return Path(folder) if folder else Path(trainer.default_root_dir) / "checkpoints"


class ExactResume(L.Callback):
    """SIGTERM saves a resumable checkpoint (module doc)."""

    def __init__(self) -> None:
        self.saved: Path | None = None

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        if not isinstance(exception, SIGTERMException) or trainer.state.fn != "fit":
            return
        path = checkpoint_folder(trainer) / "last.ckpt"
        trainer.save_checkpoint(path)
        self.saved = path
        if trainer.is_global_zero:
            print(
                f"lvg: stopped by SIGTERM after step {trainer.global_step}: checkpoint saved to {path}; "
                "rerun with --ckpt_path last to continue",
                file=sys.stderr,
            )

"""Samples a data module replaced because their video could not be decoded, counted per epoch and reported in one
`lvg: warning:` line at the epoch's end (added to every fit by `LongVideoModule`)."""

from __future__ import annotations

import lightning as L

from lvg.console import warn


class UnreadableVideoReport(L.Callback):
    """Counts the `unreadable` entries of training batches (`lvg.data.video_folder.VideoClips`)."""

    def __init__(self) -> None:
        self.replaced: list[str] = []

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.replaced = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        for paths in batch.get("unreadable", []) if isinstance(batch, dict) else []:
            self.replaced.extend(paths)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.replaced and trainer.is_global_zero:
            videos = sorted(set(self.replaced))
            warn(
                f"epoch {trainer.current_epoch}: {len(self.replaced)} windows of {len(videos)} videos could not be "
                f"decoded and were replaced by other samples (e.g. {videos[0]!r}): re-encode or remove them",
                once=False,
            )

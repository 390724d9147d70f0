"""Training order that a checkpoint can restore exactly, also from the middle of an epoch.

Epoch e's order is a function of (seed, e) alone (no generator advanced from epoch to epoch), and a data module
records in every Lightning checkpoint how many batches of the current epoch were trained, so a resumed run, after a
kill at an epoch end or a SIGTERM in the middle of one, sees exactly the batches an uninterrupted run would.
"""

from __future__ import annotations

import torch
from torch.utils.data import Sampler


class EpochSampler(Sampler[int]):
    """Indices of epoch e (Lightning calls `set_epoch`): [offset + e n, offset + (e + 1) n) in order (fresh data
    every epoch, e.g. procedural worlds), or, with `shuffle_seed`, a permutation of [0, n) drawn from (seed, e).

    `resume_at(epoch, samples)` skips the first `samples` of that epoch once (the batches a checkpoint had trained)."""

    def __init__(self, n: int, offset: int = 0, shuffle_seed: int | None = None, fresh_per_epoch: bool = True) -> None:
        self.n, self.offset, self.shuffle_seed, self.fresh_per_epoch = n, offset, shuffle_seed, fresh_per_epoch
        self.epoch = 0
        self._skip: tuple[int, int] | None = None  # (epoch, samples)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def resume_at(self, epoch: int, samples: int) -> None:
        self.epoch = epoch
        self._skip = (epoch, samples) if samples > 0 else None

    def order(self, epoch: int) -> list[int]:
        if self.shuffle_seed is not None:
            generator = torch.Generator().manual_seed(self.shuffle_seed * 1_000_003 + epoch)
            return (self.offset + torch.randperm(self.n, generator=generator)).tolist()
        start = self.offset + (epoch * self.n if self.fresh_per_epoch else 0)
        return list(range(start, start + self.n))

    def __iter__(self):
        indices = self.order(self.epoch)
        if self._skip is not None and self._skip[0] == self.epoch:
            indices = indices[self._skip[1] :]
        self._skip = None
        return iter(indices)

    def __len__(self) -> int:
        return self.n


class ResumableTraining:
    """Mixin for a LightningDataModule whose train loader uses an `EpochSampler`: checkpoints record the epoch and
    the batches trained in it, and the next `train_dataloader()` starts where they left off."""

    _resume_state: dict | None = None

    def state_dict(self) -> dict:
        trainer = getattr(self, "trainer", None)
        if trainer is None:
            return {}
        done = int(trainer.fit_loop.epoch_loop.batch_progress.current.completed)
        if done >= trainer.num_training_batches:  # saved at the epoch's end: the next run starts the next epoch
            return {"epoch": int(trainer.current_epoch) + 1, "batches_done": 0}
        return {"epoch": int(trainer.current_epoch), "batches_done": done}

    def load_state_dict(self, state: dict) -> None:
        self._resume_state = dict(state) if state else None

    def resume_sampler(self, sampler: EpochSampler, batch_size: int) -> None:
        """Apply a restored position to a fresh training sampler (once)."""
        state, self._resume_state = self._resume_state, None
        if state and "epoch" in state:
            sampler.resume_at(state["epoch"], state["batches_done"] * batch_size)

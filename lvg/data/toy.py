"""ToyWorldData: the embedded default LightningDataModule, procedural toy-world clips generated on the fly.

Sample i of epoch e is the world with seed (seed, e * samples_per_epoch + i): fresh data every epoch, the same data
after a resume. Validation worlds come from a disjoint seed range (held out).
"""

from __future__ import annotations

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from lvg.data.toy_world import ToyWorld
from lvg.errors import require

VALIDATION_SEED_OFFSET = 1_000_000_000


def world_seed(seed: int, index: int) -> int:
    return seed * 2_147_483_647 + index


class ToyClips(Dataset):
    """Short clips {video [3, F, H, W] in [-1, 1], prompt, seed}; long-video mode gives {clips [N, 3, F, H, W],
    prompts [N]} of consecutive clips overlapping by `overlap` frames."""

    def __init__(self, seed: int, size: int, frames_per_clip: int, world_args: dict, long_video: dict | None = None):
        self.seed, self.size, self.frames_per_clip = seed, size, frames_per_clip
        self.world_args, self.long_video = world_args, long_video

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> dict:
        seed = world_seed(self.seed, index)
        world = ToyWorld(seed, **self.world_args)
        if self.long_video:
            clips = world.long_video(frames_per_clip=self.frames_per_clip, **self.long_video)
            video = torch.stack([c.frames for c in clips]).permute(0, 2, 1, 3, 4) * 2 - 1
            return {"clips": video, "prompts": [c.prompt for c in clips], "seed": seed}
        clip = world.video(self.frames_per_clip)
        return {"video": clip.frames.permute(1, 0, 2, 3) * 2 - 1, "prompt": clip.prompt, "seed": seed}


class EpochSampler(Sampler[int]):
    """Indices [e * n, (e + 1) * n) in epoch e (Lightning calls `set_epoch`): new worlds each epoch, no RNG state."""

    def __init__(self, n: int, offset: int = 0) -> None:
        self.n, self.offset, self.epoch = n, offset, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        start = self.offset + self.epoch * self.n
        return iter(range(start, start + self.n))

    def __len__(self) -> int:
        return self.n


def collate(items: list[dict]) -> dict:
    """Stack tensors; keep prompts as lists (a list of per-clip lists in long-video mode)."""
    out = {}
    for key in items[0]:
        values = [it[key] for it in items]
        out[key] = torch.stack(values) if torch.is_tensor(values[0]) else values
    return out


class ToyWorldData(L.LightningDataModule):
    """Toy-world clips for training and validation.

    Args:
        resolution, frames_per_clip: clip shape (square frames).
        batch_size, samples_per_epoch, val_samples: loader sizes (an epoch is samples_per_epoch / batch_size steps).
        seed: base seed of the worlds.
        min_sprites, max_sprites, radius, speed, background: the world's parameters (see `ToyWorld`).
        long_video: yield sequences of `num_clips` clips with per-clip prompts instead of single clips.
        num_clips, overlap, enter_prob: long-video mode parameters.
    """

    def __init__(
        self,
        resolution: int = 32,
        frames_per_clip: int = 8,
        batch_size: int = 8,
        samples_per_epoch: int = 800,
        val_samples: int = 16,
        seed: int = 0,
        min_sprites: int = 1,
        max_sprites: int = 4,
        radius: tuple[float, float] = (0.14, 0.2),
        speed: tuple[float, float] = (0.6, 1.5),
        background: str = "gradient",
        long_video: bool = False,
        num_clips: int = 4,
        overlap: int = 2,
        enter_prob: float = 0.35,
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        require(frames_per_clip >= 2, f"frames_per_clip must be at least 2, got {frames_per_clip}")
        require(batch_size >= 1 and samples_per_epoch >= batch_size, "need samples_per_epoch >= batch_size >= 1")
        self.save_hyperparameters()
        self.world_args = dict(
            resolution=resolution,
            min_sprites=min_sprites,
            max_sprites=max_sprites,
            radius=tuple(radius),
            speed=tuple(speed),
            background=background,
        )
        ToyWorld(seed, **self.world_args)  # validate the world's parameters now, with one clear error
        self.long_video = dict(num_clips=num_clips, overlap=overlap, enter_prob=enter_prob) if long_video else None

    def _loader(self, size: int, offset: int) -> DataLoader:
        hp = self.hparams
        data = ToyClips(hp.seed, offset + size * 10_000, hp.frames_per_clip, self.world_args, self.long_video)
        return DataLoader(
            data,
            batch_size=hp.batch_size,
            sampler=EpochSampler(size, offset),
            collate_fn=collate,
            num_workers=hp.num_workers,
            persistent_workers=hp.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.hparams.samples_per_epoch, 0)

    def val_dataloader(self) -> DataLoader:
        loader = self._loader(self.hparams.val_samples, VALIDATION_SEED_OFFSET)
        loader.sampler.set_epoch = lambda epoch: None  # the same held-out worlds every validation
        return loader

    def test_dataloader(self) -> DataLoader:
        return self.val_dataloader()

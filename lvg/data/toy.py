"""ToyWorldData: the embedded default LightningDataModule, procedural toy-world clips generated on the fly.

Sample i of epoch e is the world with seed (seed, e * samples_per_epoch + i): fresh data every epoch, the same data
after a resume. Validation worlds come from a disjoint seed range, and no training or validation world is one of the
evaluation worlds (`HELD_OUT_SEEDS`).
"""

from __future__ import annotations

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset

from lvg.data.sampling import EpochSampler, ResumableTraining
from lvg.data.toy_world import HELD_OUT_SEEDS, SPEED, ToyWorld
from lvg.errors import require

VALIDATION_SEED_OFFSET = 1_000_000_000


def world_seed(seed: int, index: int) -> int:
    """The seed of sample `index` of data seeded `seed`; the evaluation worlds' range is skipped."""
    value = seed * 2_147_483_647 + index
    return value + len(HELD_OUT_SEEDS) if value >= HELD_OUT_SEEDS.start else value


class ToyClips(Dataset):
    """Short clips {video [3, F, H, W] in [-1, 1], prompt, seed}; long-video mode gives {clips [N, 3, F, H, W],
    prompts [N]} of consecutive clips overlapping by `overlap` frames. With `continuation` {given, event_prob,
    enter_prob} a short clip is shaped like a long video's later clip (`ToyWorld.continuation`); with `sprite_masks`
    a sample also gives its true sprite coverage {sprite_mask [F, H, W] in {0, 1}; [N, F, H, W] in long-video
    mode}."""

    def __init__(
        self,
        seed: int,
        size: int,
        frames_per_clip: int,
        world_args: dict,
        long_video: dict | None = None,
        continuation: dict | None = None,
        sprite_masks: bool = False,
    ) -> None:
        self.seed, self.size, self.frames_per_clip = seed, size, frames_per_clip
        self.world_args, self.long_video, self.continuation = world_args, long_video, continuation
        self.sprite_masks = sprite_masks

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> dict:
        seed = world_seed(self.seed, index)
        world = ToyWorld(seed, **self.world_args)
        if self.long_video:
            clips = world.long_video(frames_per_clip=self.frames_per_clip, **self.long_video)
            video = torch.stack([c.frames for c in clips]).permute(0, 2, 1, 3, 4) * 2 - 1
            item = {"clips": video, "prompts": [c.prompt for c in clips], "seed": seed}
            if self.sprite_masks:
                item["sprite_mask"] = torch.stack([torch.from_numpy(c.truth.sprite_masks).float() for c in clips])
            return item
        if self.continuation:
            clip = world.continuation(self.frames_per_clip, **self.continuation)
        else:
            clip = world.video(self.frames_per_clip)
        item = {"video": clip.frames.permute(1, 0, 2, 3) * 2 - 1, "prompt": clip.prompt, "seed": seed}
        if self.sprite_masks:
            item["sprite_mask"] = torch.from_numpy(clip.truth.sprite_masks).float()
        return item


def collate(items: list[dict]) -> dict:
    """Stack tensors; keep prompts as lists (a list of per-clip lists in long-video mode)."""
    out = {}
    for key in items[0]:
        values = [it[key] for it in items]
        out[key] = torch.stack(values) if torch.is_tensor(values[0]) else values
    return out


class ToyWorldData(ResumableTraining, L.LightningDataModule):
    """Toy-world clips for training and validation.

    Args:
        resolution, frames_per_clip: clip shape (square frames).
        batch_size, samples_per_epoch, val_samples: loader sizes (an epoch is samples_per_epoch / batch_size steps).
        seed: base seed of the worlds.
        min_sprites, max_sprites, radius, speed, background: the world's parameters (see `ToyWorld`).
        long_video: yield sequences of `num_clips` clips with per-clip prompts instead of single clips.
        num_clips, overlap, enter_prob: long-video mode parameters (`enter_prob` also for boundary events).
        event_prob: single clips only: the share of clips with a clip-boundary event (a turn or an entry) after
            their first `overlap` frames, prompted with the state after it, as a long video's later clips are
            (`ToyWorld.continuation`); 0 gives plain clips.
        sprite_masks: each sample also holds its true sprite coverage per frame (`sprite_mask`; per clip in
            long-video mode), for a loss that weights sprite pixels (`Extension(sprite_loss_weight)`).
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
        max_sprites: int = 2,
        radius: tuple[float, float] = (0.09, 0.14),
        speed: int = SPEED,
        background: str = "flat",
        long_video: bool = False,
        num_clips: int = 4,
        overlap: int = 2,
        enter_prob: float = 0.35,
        event_prob: float = 0.0,
        sprite_masks: bool = False,
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
            speed=speed,
            background=background,
        )
        ToyWorld(seed, **self.world_args)  # validate the world's parameters now, with one clear error
        self.long_video = dict(num_clips=num_clips, overlap=overlap, enter_prob=enter_prob) if long_video else None
        require(0 <= event_prob <= 1, f"event_prob must be in [0, 1], got {event_prob}")
        require(
            event_prob == 0 or 0 < overlap < frames_per_clip,
            f"event_prob needs 0 < overlap < frames_per_clip (the frames before the event), got overlap {overlap}",
        )
        self.continuation = (
            dict(given=overlap, event_prob=event_prob, enter_prob=enter_prob)
            if event_prob > 0 and not long_video
            else None
        )

    def _loader(self, sampler: EpochSampler) -> DataLoader:
        hp = self.hparams
        data = ToyClips(
            hp.seed, sampler.offset + sampler.n * 10_000, hp.frames_per_clip, self.world_args, self.long_video,
            self.continuation, hp.sprite_masks,
        )  # fmt: skip
        return DataLoader(
            data,
            batch_size=hp.batch_size,
            sampler=sampler,
            collate_fn=collate,
            num_workers=hp.num_workers,
            persistent_workers=hp.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        sampler = EpochSampler(self.hparams.samples_per_epoch)
        self.resume_sampler(sampler, self.hparams.batch_size)
        return self._loader(sampler)

    def val_dataloader(self) -> DataLoader:
        """The same held-out worlds every validation."""
        return self._loader(EpochSampler(self.hparams.val_samples, VALIDATION_SEED_OFFSET, fresh_per_epoch=False))

    def test_dataloader(self) -> DataLoader:
        return self.val_dataloader()

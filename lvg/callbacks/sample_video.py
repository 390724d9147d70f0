"""On validation, generate a short long video and log it (W&B video + per-clip frames; an mp4 for other loggers)."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.loggers import WandbLogger

from lvg.data.toy_world import toy_start
from lvg.methods.base import GenerationRequest
from lvg.tracking import log_search_table
from lvg.video import VideoSink, to_uint8


class LogSampleVideo(L.Callback):
    """Every `every_n_epochs` validations, continue toy world `toy_seed` for `num_clips` clips and log the result.

    The video lands in `<log_dir>/samples/epoch=E.mp4`; with a WandbLogger it is also logged as `samples/video`
    and the last frame of each clip as `samples/clip_frames`; with a noise search, its candidates' scores and winners
    as the table `samples/search`.
    """

    def __init__(self, num_clips: int = 3, toy_seed: int = 0, every_n_epochs: int = 1, fps: int = 8) -> None:
        self.num_clips, self.toy_seed, self.every_n_epochs, self.fps = num_clips, toy_seed, every_n_epochs, fps

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or trainer.global_rank != 0 or (trainer.current_epoch + 1) % self.every_n_epochs:
            return
        c = pl_module.method.condition_frames
        f = pl_module.frames_per_clip
        start, prompts, _ = toy_start(self.toy_seed, self.num_clips, f, c, pl_module.height)
        searches: dict[int, dict] = {}
        request = GenerationRequest(start, prompts, f, seed=self.toy_seed)
        folder = Path(trainer.log_dir or trainer.default_root_dir) / "samples"
        path = folder / f"epoch={trainer.current_epoch}.mp4"
        clip_ends = []
        with torch.no_grad(), VideoSink(path, fps=self.fps) as sink:
            for clip in pl_module.generate(request):
                frames = to_uint8(clip.frames)
                sink.write(frames)
                if clip.index >= 0:
                    clip_ends.append(frames[-1])
                if clip.search is not None:
                    searches[clip.index] = clip.search
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                logger.log_video("samples/video", [str(path)], step=trainer.global_step, fps=[self.fps])
                logger.log_image("samples/clip_frames", [np.asarray(x) for x in clip_ends], step=trainer.global_step)
        log_search_table(trainer.loggers, "samples/search", searches, step=trainer.global_step)

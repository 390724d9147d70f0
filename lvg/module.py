"""LongVideoModule: one LightningModule for every long-video method (DESIGN.md, "Layers").

Backbone, context method, noise init and sampler are injected through typed `__init__` arguments, so a config
(LightningCLI `class_path`/`init_args`) changes any one axis alone. `training_step` asks the method for its loss;
`generate` streams clips from the method.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator

import lightning as L
import numpy as np
import torch
from torch import nn

from lvg.backbones.lora import Lora
from lvg.contracts import SKIPS_BLOCKS, ClipResult, GenerationRequest, Parts, check_composition
from lvg.errors import LvgError, require
from lvg.methods.base import Method
from lvg.sampling.scheduler_loop import SchedulerSampler
from lvg.search.base import NoiseInit
from lvg.search.gaussian import GaussianNoise
from lvg.seeding import generator, step_seed


class LongVideoModule(L.LightningModule):
    """Backbone + method (+ noise init, sampler) under Lightning.

    Args:
        backbone: the model adapter (`lvg.backbones.Toy`, `lvg.backbones.Wan`, ...).
        method: the context method (`lvg.methods.Extension`, ...); owns the loss and the clip loop.
        sampler: per-clip denoising loop (default: the backbone's scheduler, 20 steps).
        noise_init: how each clip's starting noise is chosen (default: seeded Gaussian).
        frames_per_clip, height, width: the clip shape the model trains and generates at.
        lr, weight_decay, warmup_steps: AdamW with linear warm-up.
        lr_schedule: after warm-up, `constant` or `cosine` (to zero at the trainer's last step).
        gradient_checkpointing: trade compute for memory in the transformer blocks.
        seed: base seed of the per-step noise/timestep generator (resume-exact: no hidden RNG state).
        lora: add a LoRA adapter to the backbone and train only it (`lvg.backbones.lora.Lora`; default: none).
    """

    def __init__(
        self,
        backbone: nn.Module,
        method: Method,
        sampler: SchedulerSampler | None = None,
        noise_init: NoiseInit | None = None,
        frames_per_clip: int = 8,
        height: int = 32,
        width: int = 32,
        lr: float = 3e-4,
        weight_decay: float = 0.01,
        warmup_steps: int = 100,
        lr_schedule: str = "constant",
        gradient_checkpointing: bool = False,
        seed: int = 0,
        lora: Lora | None = None,
    ) -> None:
        super().__init__()
        if lr_schedule not in ("constant", "cosine"):
            raise LvgError(f"lr_schedule must be 'constant' or 'cosine', not {lr_schedule!r}")
        self.save_hyperparameters(ignore=["backbone", "method", "sampler", "noise_init", "lora"])
        backbone.check_clip(frames_per_clip, height, width)
        if lora is not None:
            backbone.add_lora(lora)
        self.backbone = backbone
        self.method = method
        self.sampler = sampler or SchedulerSampler()
        self.noise_init = noise_init or GaussianNoise()
        check_composition(Parts(backbone, method, self.noise_init, self.sampler, frames_per_clip))
        self.frames_per_clip, self.height, self.width = frames_per_clip, height, width
        self.seed = seed
        if gradient_checkpointing:
            backbone.enable_gradient_checkpointing()

    # --- training -------------------------------------------------------------------------------------------
    def _step_generator(self, batch_idx: int, offset: int = 0) -> torch.Generator:
        """Noise/timesteps of a step depend only on (seed, epoch, batch, rank): resuming replays them exactly."""
        return generator(step_seed(self.seed, self.current_epoch, batch_idx, self.global_rank, offset))

    @staticmethod
    def _batch_video(batch: dict) -> torch.Tensor:
        """The batch's clips: `video` [B, 3, F, H, W], or `clips` [B, N, 3, F, H, W] of long-video batches."""
        return batch["video"] if "video" in batch else batch["clips"]

    def _check_batch(self, batch: dict) -> None:
        shape = tuple(self._batch_video(batch).shape[-3:])
        if shape != (self.frames_per_clip, self.height, self.width):
            raise LvgError(
                f"data gives clips of (frames, height, width) = {shape} but the model is set to "
                f"{(self.frames_per_clip, self.height, self.width)}: make data and model agree in the config"
            )

    def _loss_step(self, stage: str, batch: dict, batch_idx: int, offset: int) -> torch.Tensor:
        """The method's loss on one batch, logged as `<stage>/<name>`; each stage draws from its own generator."""
        self._check_batch(batch)
        out = self.method.loss(self.backbone, batch, self._step_generator(batch_idx, offset))
        self.log_dict(
            {f"{stage}/{k}": v for k, v in out.items()}, prog_bar=True, batch_size=len(self._batch_video(batch))
        )
        return out["loss"]

    def on_fit_start(self) -> None:
        """Refuse, before the first step, a backbone whose caching hook would skip blocks in training."""
        require(
            SKIPS_BLOCKS not in self.backbone.capabilities,
            f"{type(self.backbone).__name__}'s speed.cache skips blocks between sampling steps and is for generation "
            "only: drop it from the backbone to train",
        )

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        loss = self._loss_step("train", batch, batch_idx, offset=0)
        if self._trainer is not None and self.trainer.optimizers:
            self.log(
                "train/lr", self.trainer.optimizers[0].param_groups[0]["lr"], batch_size=len(self._batch_video(batch))
            )
        return loss

    def validation_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        return self._loss_step("val", batch, batch_idx, offset=1)

    def test_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        return self._loss_step("test", batch, batch_idx, offset=2)

    def configure_optimizers(self):
        params = [p for p in self.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)
        warmup = max(1, self.hparams.warmup_steps)
        total = max(warmup + 1, int(self.trainer.estimated_stepping_batches))
        cosine = self.hparams.lr_schedule == "cosine"

        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / (total - warmup)))) if cosine else 1.0

        sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def configure_callbacks(self) -> list:
        """Callbacks every fit has: exact resume (SIGTERM saves a checkpoint) and the report of undecodable videos."""
        from lvg.callbacks.data_report import UnreadableVideoReport
        from lvg.callbacks.exact_resume import ExactResume

        return [ExactResume(), UnreadableVideoReport()]

    def configure_model(self) -> None:
        """Under Lightning's ModelParallelStrategy, shard the backbone's network with FSDP2 (lvg.scale); a no-op
        under every other strategy."""
        if self.device_mesh is not None:
            from lvg.scale import shard_backbone

            shard_backbone(self.backbone, self.device_mesh)

    # --- exact resume: global RNG state travels with the checkpoint -----------------------------------------
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # tensors and plain numbers only, so the checkpoint loads with torch.load(weights_only=True)
        _, keys, pos, has_gauss, cached = np.random.get_state()
        version, state, gauss = random.getstate()
        checkpoint["lvg_rng"] = {
            "torch": torch.get_rng_state(),
            "numpy": [torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)],
            "python": [int(version), torch.tensor(state, dtype=torch.int64), gauss],
        }
        method_state = self.method.training_state()
        if method_state is not None:
            checkpoint["lvg_method"] = method_state

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        if "lvg_method" in checkpoint:
            self.method.load_training_state(checkpoint["lvg_method"])
        rng = checkpoint.get("lvg_rng")
        if rng:
            torch.set_rng_state(rng["torch"])
            keys, pos, has_gauss, cached = rng["numpy"]
            np.random.set_state(("MT19937", keys.numpy().astype(np.uint32), pos, has_gauss, cached))
            version, state, gauss = rng["python"]
            random.setstate((version, tuple(state.tolist()), gauss))

    # --- generation -----------------------------------------------------------------------------------------
    def generate(self, request: GenerationRequest) -> Iterator[ClipResult]:
        """Yield the long video clip by clip as the method produces it: `ClipResult`s whose frames are [3, n, H, W]
        in [-1, 1] (the given start frames first, as index -1)."""
        self.backbone.check_clip(request.frames_per_clip, *request.start.shape[-2:])
        was_training = self.training
        self.eval()
        try:
            yield from self.method.generate(self.backbone, self.sampler, self.noise_init, request)
        finally:
            self.train(was_training)

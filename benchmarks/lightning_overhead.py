"""Lightning's overhead: LongVideoModule's training under a Lightning Trainer vs a plain PyTorch loop, same steps.

python benchmarks/lightning_overhead.py [--quick]   (or: python benchmarks/run.py --only lightning_overhead)

Both run the same toy model from the same initial weights on the same in-memory batches with the same per-step
generators and AdamW; the Trainer adds its loop, `training_step`'s logging, the lr scheduler and its hooks. They
alternate (plain, Lightning, plain, ...) so machine load hits both alike, and each is timed from the start of its
second step to the end of its last (Trainer set-up and the first, warm-up step excluded). Target: ratio <= 1.05.
"""

from __future__ import annotations

import json
import sys
import time

import torch


def toy_batches(n: int, resolution: int, frames: int, batch: int) -> list[dict]:
    from lvg.data import ToyWorldData

    data = ToyWorldData(resolution=resolution, frames_per_clip=frames, batch_size=batch, samples_per_epoch=n * batch)
    return list(data.train_dataloader())


def fresh_module(width: int, layers: int, heads: int, resolution: int, frames: int):
    from lvg import LongVideoModule
    from lvg.backbones import Toy
    from lvg.methods import Extension

    torch.manual_seed(0)
    backbone = Toy(width=width, layers=layers, heads=heads, patch=(1, 4, 4))
    return LongVideoModule(backbone, Extension(condition_frames=2), frames_per_clip=frames, height=resolution,
                           width=resolution, warmup_steps=2)  # fmt: skip


def plain_seconds(module, batches: list[dict]) -> float:
    """A plain PyTorch loop doing LongVideoModule's steps: loss, backward, AdamW, lr schedule (as configured)."""
    params = [p for p in module.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=module.hparams.lr, weight_decay=module.hparams.weight_decay)
    warmup = module.hparams.warmup_steps
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warmup))
    module.train()
    for i, batch in enumerate(batches):
        if i == 1:
            tic = time.perf_counter()
        loss = module.method.loss(module.backbone, batch, module._step_generator(i))["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return time.perf_counter() - tic


def lightning_seconds(module, batches: list[dict]) -> float:
    """The same steps through `Trainer.fit` (no logger, checkpoints, progress bar or validation)."""
    import lightning as L

    class StepClock(L.Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            if batch_idx == 1:
                self.tic = time.perf_counter()

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            self.toc = time.perf_counter()

    clock = StepClock()
    trainer = L.Trainer(
        accelerator="cpu", devices=1, max_steps=len(batches), logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0, callbacks=[clock],
    )  # fmt: skip
    loader = torch.utils.data.DataLoader(batches, batch_size=None, shuffle=False)
    trainer.fit(module, train_dataloaders=loader)
    return clock.toc - clock.tic


def measure(steps: int, repeats: int, width: int = 192, layers: int = 6, heads: int = 6, resolution: int = 32,
            frames: int = 8, batch: int = 8) -> list[dict]:  # fmt: skip
    """Alternate plain and Lightning runs of `steps` steps `repeats` times; seconds per step of each and the ratio."""
    batches = toy_batches(steps, resolution, frames, batch)
    plain = lightning = 0.0
    for _ in range(repeats):
        plain += plain_seconds(fresh_module(width, layers, heads, resolution, frames), batches)
        lightning += lightning_seconds(fresh_module(width, layers, heads, resolution, frames), batches)
    timed = repeats * (steps - 1)
    what = f"toy width {width}, {layers} layers, batch {batch} x {frames}x{resolution}x{resolution}"
    notes = f"{what}; {steps - 1} timed steps x {repeats} alternating repeats"
    return [
        {"name": "lightning/plain_seconds_per_step", "value": plain / timed, "unit": "s", "lower_is_better": True,
         "notes": notes},
        {"name": "lightning/trainer_seconds_per_step", "value": lightning / timed, "unit": "s",
         "lower_is_better": True, "notes": notes},
        {"name": "lightning/overhead_ratio", "value": lightning / plain, "unit": "ratio", "lower_is_better": True,
         "notes": f"Trainer over plain loop, measured side by side; target <= 1.05; {notes}"},
    ]  # fmt: skip


def records(quick: bool) -> list[dict]:
    """Full: 31 steps x 3 repeats (a few minutes on 2 cores); quick: 9 steps x 2 repeats."""
    torch.set_num_threads(2)
    return measure(steps=9, repeats=2) if quick else measure(steps=31, repeats=3)


if __name__ == "__main__":
    for r in records(quick="--quick" in sys.argv):
        print(json.dumps(r))

"""LongVideoModule switches: gradient checkpointing, bf16-mixed, the LR schedule."""

import pytest
import torch
from tests_paths import TINY_CONFIG

from lvg import LongVideoModule
from lvg.backbones import Toy
from lvg.cli import run_cli
from lvg.data import ToyWorldData
from lvg.errors import LvgError
from lvg.methods import Extension


def _module(path, **kw):
    return LongVideoModule(Toy(path=str(path)), Extension(), frames_per_clip=4, height=16, width=16, **kw)


def test_gradient_checkpointing_gives_the_same_loss_and_gradients(tiny_toy_dir):
    batch = next(
        iter(ToyWorldData(resolution=16, frames_per_clip=4, batch_size=2, samples_per_epoch=2).train_dataloader())
    )
    results = []
    for ckpt in (False, True):
        m = _module(tiny_toy_dir, gradient_checkpointing=ckpt)
        m.train()
        loss = m.method.loss(m.backbone, batch, torch.Generator().manual_seed(0))["loss"]
        loss.backward()
        grad = m.backbone.transformer.blocks[0].attn1.to_q.weight.grad.clone()
        results.append((loss.detach(), grad))
    assert m.backbone.transformer.gradient_checkpointing
    assert torch.allclose(results[0][0], results[1][0])
    assert torch.allclose(results[0][1], results[1][1], atol=1e-6)


def test_bf16_mixed_training_runs_on_cpu(tmp_path):
    cli = run_cli(
        ["fit", "--config", str(TINY_CONFIG), "--trainer.fast_dev_run", "2", "--trainer.precision", "bf16-mixed",
         "--trainer.default_root_dir", str(tmp_path)]
    )  # fmt: skip
    assert torch.isfinite(cli.trainer.callback_metrics["train/loss"])


def test_cosine_schedule_warms_up_then_decays_to_zero(tmp_path, tiny_toy_dir):
    cli = run_cli(
        ["fit", "--config", str(TINY_CONFIG), "--model.init_args.lr_schedule", "cosine",
         "--trainer.default_root_dir", str(tmp_path), "--trainer.max_epochs", "2"]
    )  # fmt: skip
    sched = cli.trainer.lr_scheduler_configs[0].scheduler
    lam = sched.lr_lambdas[0]
    assert cli.trainer.callback_metrics["train/lr"].item() == pytest.approx(3e-4 * lam(5))  # the last step's LR
    assert lam(0) == pytest.approx(0.5)  # warmup_steps = 2
    assert lam(2) == pytest.approx(1.0)
    assert lam(6) == pytest.approx(0.0, abs=1e-9)  # 2 epochs x 3 steps
    with pytest.raises(LvgError, match="lr_schedule"):
        _module(tiny_toy_dir, lr_schedule="linear")

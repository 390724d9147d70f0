"""Error-recycling finetuning (SVI §3): the bank (per time cell, bounded, in the checkpoint), injection into latents,
noise and given condition frames with a clean target, collection at both ends of the one-step integration, the
refusals, a killed toy run resuming exactly with its bank, and the Wan config training."""

import csv
from types import SimpleNamespace

import pytest
import torch
from helpers.fresh import lvg_process
from tests_paths import REPO

from lvg.backbones import Toy
from lvg.contracts import CONDITION_FRAMES, Parts
from lvg.errors import LvgError
from lvg.methods import ErrorRecycling, Extension
from lvg.seeding import generator

RECYCLING = [
    "--model.init_args.method.init_args.error_recycling", "lvg.methods.ErrorRecycling",
    "--model.init_args.method.init_args.error_recycling.init_args.bank_size", "3",
]  # fmt: skip


def filled(recycling: ErrorRecycling, shape, value: float) -> ErrorRecycling:
    for cell in range(recycling.bank.cells):
        for kind in ("clean", "noise"):
            recycling.bank.add(kind, (cell + 0.5) / recycling.bank.cells, torch.full(shape, value), generator(0))
    return recycling


def test_collection_banks_both_ends_of_the_one_step_integration():
    recycling = ErrorRecycling(clean_prob=0.0, cells=4, bank_size=2)
    pred, target = torch.full((2, 3, 2, 1, 1), 2.0), torch.full((2, 3, 2, 1, 1), 1.5)
    recycling.collect(pred, target, torch.tensor([0.1, 0.8]), torch.tensor([False, False]), generator(0))
    (low,), (high,) = recycling.bank.entries["clean"][0], recycling.bank.entries["clean"][3]
    assert torch.allclose(low, torch.full_like(low, -0.1 * 0.5)) and torch.allclose(high, torch.full_like(high, -0.4))
    (noise_high,) = recycling.bank.entries["noise"][3]
    assert torch.allclose(noise_high, torch.full_like(noise_high, 0.2 * 0.5))  # (1 - t)(v - v*)
    for _ in range(5):
        recycling.collect(pred, target, torch.tensor([0.1, 0.1]), torch.tensor([False, False]), generator(1))
    assert len(recycling.bank.entries["clean"][0]) == 2  # bounded per cell


def test_clean_samples_enter_the_bank_only_at_clean_update_prob():
    recycling = ErrorRecycling(cells=1, bank_size=100, clean_update_prob=0.0)
    x = torch.ones(4, 1, 1, 1, 1)
    recycling.collect(x, 0 * x, torch.full((4,), 0.5), torch.tensor([True, True, False, True]), generator(0))
    assert len(recycling.bank) == 1


def test_injection_adds_banked_errors_and_only_on_given_condition_frames():
    shape = (2, 3, 1, 1)
    recycling = filled(ErrorRecycling(latent_prob=1, noise_prob=1, condition_prob=1, clean_prob=0), shape, 0.25)
    x0, noise = torch.zeros(2, *shape), torch.ones(2, *shape)
    mask = torch.tensor([[1.0, 0, 0], [0, 0, 0]])
    latents, noised, source, clean = recycling.corrupt(x0, noise, torch.tensor([0.3, 0.9]), mask, generator(0))
    assert not clean.any()
    assert torch.allclose(latents, x0 + 0.25) and torch.allclose(noised, noise + 0.25)
    assert torch.allclose(source[0, :, 0], torch.full((2, 1, 1), 0.25)) and source[0, :, 1:].abs().sum() == 0
    assert source[1].abs().sum() == 0  # nothing given, nothing corrupted
    nothing = filled(ErrorRecycling(clean_prob=1.0), shape, 0.25)
    latents, noised, source, clean = nothing.corrupt(x0, noise, torch.tensor([0.3, 0.9]), mask, generator(0))
    assert clean.all() and torch.equal(latents, x0) and torch.equal(noised, noise) and torch.equal(source, x0)


def test_the_bank_round_trips_through_a_weights_only_checkpoint(tmp_path):
    recycling = filled(ErrorRecycling(cells=3, bank_size=2), (2, 1, 1, 1), 0.5)
    torch.save({"lvg_method": {"error_bank": recycling.bank.state_dict()}}, tmp_path / "c.ckpt")
    state = torch.load(tmp_path / "c.ckpt", weights_only=True)["lvg_method"]["error_bank"]
    method = Extension(error_recycling=ErrorRecycling(cells=3, bank_size=2))
    method.load_training_state({"error_bank": state})
    assert len(method.error_recycling.bank) == 3
    assert torch.equal(method.error_recycling.bank.entries["noise"][1][0], recycling.bank.entries["noise"][1][0])
    with pytest.raises(LvgError, match="same error_recycling.cells"):
        Extension(error_recycling=ErrorRecycling(cells=4)).load_training_state({"error_bank": state})


def toy_batch():
    return {"video": torch.rand(2, 3, 4, 16, 16) * 2 - 1, "prompt": ["a red ball", "a blue box"]}


def test_the_loss_is_the_plain_objective_on_corrupted_inputs(monkeypatch):
    backbone = Toy(width=32, layers=1, heads=2, patch=(1, 4, 4))
    batch = toy_batch()
    always = dict(latent_prob=1, noise_prob=1, condition_prob=1, clean_prob=0, cells=1, bank_size=1)
    with torch.no_grad():
        x0 = backbone.encode(batch["video"])
        plain = Extension(condition_frames=2).loss(backbone, batch, generator(4))["loss"]
        zero = filled(ErrorRecycling(**always), x0.shape[1:], 0.0)
        assert Extension(condition_frames=2, error_recycling=zero).loss(backbone, batch, generator(4))["loss"] == plain

        def clean_oracle(x_t, t, cond):  # x_t = x0 + e + t (n - x0): the velocity from n + e to the clean x0
            return (x_t - 0.3 - x0) / t[:, None, :, None, None] + 0.3

        monkeypatch.setattr(backbone, "predict", clean_oracle)
        recycled = Extension(condition_frames=2, error_recycling=filled(ErrorRecycling(**always), x0.shape[1:], 0.3))
        assert recycled.loss(backbone, batch, generator(4))["loss"] < 1e-8  # inputs carry e, the target is clean
        assert Extension(condition_frames=2).loss(backbone, batch, generator(4))["loss"] > 0.01  # without them: off
    monkeypatch.undo()
    fresh = Extension(condition_frames=2, error_recycling=ErrorRecycling(clean_prob=0))
    assert torch.isfinite(fresh.loss(backbone, batch, generator(3))["loss"])
    assert len(fresh.error_recycling.bank) == 2  # one error per sample banked by the first step
    backbone.eval()
    assert Extension(condition_frames=2, error_recycling=fresh.error_recycling).recycling(backbone) is None


def parts(prediction_type: str, capabilities) -> Parts:
    backbone = SimpleNamespace(prediction_type=prediction_type, capabilities=frozenset(capabilities))
    return Parts(backbone, None, None, None, 4)


def test_a_backbone_it_cannot_recycle_for_is_refused_in_one_line():
    with pytest.raises(LvgError, match="recycles velocity errors: SimpleNamespace predicts 'v'"):
        Extension(error_recycling=ErrorRecycling()).check(parts("v", {CONDITION_FRAMES}))
    with pytest.raises(LvgError, match="set condition_prob 0"):
        Extension(error_recycling=ErrorRecycling()).check(parts("flow", set()))


def losses(root) -> dict[int, float]:
    (path,) = root.glob("lightning_logs/version_*/metrics.csv")
    return {int(r["step"]): float(r["train/loss"]) for r in csv.DictReader(open(path)) if r.get("train/loss")}


def fit(root, kill=None, resume=False):
    args = ["fit", "--config", str(REPO / "tests/configs/tiny_toy.yaml"), *RECYCLING, "--trainer.max_epochs", "3",
            "--trainer.default_root_dir", str(root), "--trainer.logger", "lightning.pytorch.loggers.CSVLogger",
            "--trainer.logger.init_args.save_dir", str(root)]  # fmt: skip
    args += ["--ckpt_path", "last"] if resume else []
    root.mkdir(exist_ok=True)
    return lvg_process(root, args, ("SIGKILL", kill) if kill else None)


def test_a_killed_error_recycling_run_resumes_exactly_with_its_bank(tmp_path):
    done = fit(tmp_path / "a")
    assert done.returncode == 0, done.stderr[-2000:]
    assert fit(tmp_path / "b", kill=5).returncode == -9
    last = next((tmp_path / "b").rglob("last.ckpt"))
    assert len(torch.load(last, weights_only=True)["lvg_method"]["error_bank"]["clean"]) == 10  # the bank travels
    resumed = fit(tmp_path / "b", resume=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    reference = losses(tmp_path / "a")
    assert sorted(reference) == list(range(9)) and losses(tmp_path / "b") == reference

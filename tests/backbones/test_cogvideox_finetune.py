"""Chunk-wise I2V finetuning of `lvg.backbones.CogVideoX` (v-prediction DDPM) on a tiny random CogVideoX I2V.

Checks that the objective is diffusers' CogVideoX finetuning loss (the scheduler's `add_noise`, the x0 error weighted
by 1 / (1 - alpha_bar)), that ChunkwiseI2V trains the transformer with its own conditioning, and that
configs/cogvideox/chunkwise_i2v.yaml runs fit -> export -> generate.
"""

from __future__ import annotations

import json
import sys

import pytest
import torch
import yaml
from helpers.i2v import few_training_steps, tiny_fit_args, tiny_generate_args
from helpers.tiny_cogvideox import FRAMES, HEIGHT, LATENT_SHAPE, WIDTH
from safetensors.torch import load_file
from tests_paths import REPO

from lvg.backbones import CogVideoX
from lvg.backbones.cogvideox_parts import frames_first
from lvg.contracts import TRAINABLE
from lvg.errors import LvgError
from lvg.methods import ChunkwiseI2V
from lvg.methods.objective import noised_and_target

CONFIGS = REPO / "configs" / "cogvideox"


def test_objective_is_diffusers_cogvideox_finetuning_loss(cog):
    """x_t is the scheduler's add_noise at the discrete timestep k = floor(1000 t); the MSE on v equals diffusers'
    train_cogvideox_image_to_video_lora.py loss: weights 1 / (1 - a) on (get_velocity(pred, x_t) - x0)^2."""
    scheduler = cog.make_scheduler()
    g = torch.Generator().manual_seed(0)
    x0, noise, pred = (torch.randn(2, *LATENT_SHAPE, generator=g) for _ in range(3))
    t = torch.tensor([0.1234, 0.9999])[:, None].expand(2, LATENT_SHAPE[1])
    x_t, target, t_model = noised_and_target(cog, x0, noise, t)
    k = torch.tensor([123, 999])
    assert torch.equal(cog._timestep(t_model), k.float())  # predict sees exactly timestep k
    torch.testing.assert_close(x_t, frames_first(scheduler.add_noise(frames_first(x0), frames_first(noise), k)))

    ours = (pred - target).pow(2).mean(dim=(1, 2, 3, 4))
    x0_pred = frames_first(scheduler.get_velocity(frames_first(pred), frames_first(x_t), k))
    weights = (1 / (1 - scheduler.alphas_cumprod[k].float()))[:, None, None, None, None]
    theirs = (weights * (x0_pred - x0) ** 2).mean(dim=(1, 2, 3, 4))
    torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-5)


def test_chunkwise_finetunes_cogvideox_with_its_own_conditioning(cog, monkeypatch):
    """ChunkwiseI2V trains CogVideoX on its own I2V objective: the clip's first frame as the guide, the prompt dropped
    at drop_rate, gradients into the transformer, and the loss goes down on a fixed batch."""
    video = torch.rand(1, 3, FRAMES, HEIGHT, WIDTH, generator=torch.Generator().manual_seed(0)) * 2 - 1
    batch = {"video": video, "prompt": ["a red cat"]}  # one clip: CogVideoX's 3D VAE is the slow part on CPU
    seen = []
    real = cog.conditioning
    monkeypatch.setattr(cog, "conditioning", lambda p, *a, **k: (seen.append((p, k["guide"])), real(p, *a, **k))[1])
    ChunkwiseI2V(drop_rate=0.0).loss(cog, batch, torch.Generator().manual_seed(1))
    ChunkwiseI2V(drop_rate=0.99).loss(cog, batch, torch.Generator().manual_seed(1))
    assert seen[0][0] == ["a red cat"] and seen[1][0] == [""]
    assert torch.equal(seen[0][1], video[:, :, :1])
    monkeypatch.undo()

    losses = few_training_steps(cog, batch, 5)
    assert losses[-1] < 0.9 * losses[0], losses


def test_a_backbone_without_a_training_objective_is_refused(cog, monkeypatch):
    monkeypatch.setattr(type(cog), "prediction_type", property(lambda self: "sample"))
    monkeypatch.setattr(type(cog), "capabilities", cog.capabilities - {TRAINABLE})
    video = torch.zeros(1, 3, FRAMES, HEIGHT, WIDTH)
    with pytest.raises(LvgError, match="neither a rectified-flow model nor a DDPM one .* predicts 'sample'"):
        ChunkwiseI2V().loss(cog, {"video": video, "prompt": ["a"]}, torch.Generator().manual_seed(0))


def test_cogvideox_finetune_config_trains_exports_and_generates(tiny_cog_dir, video_folder, tmp_path, monkeypatch):
    """configs/cogvideox/chunkwise_i2v.yaml: `lvg fit` on a folder of mp4 files, the exported backbone reloads as
    CogVideoX with the trained weights and generates a chunk-wise video with the generate config."""
    from lvg.cli import run_cli

    raw = yaml.safe_load((CONFIGS / "chunkwise_i2v.yaml").read_text())
    args = raw["model"]["init_args"]
    assert args["backbone"]["init_args"]["path"] == "THUDM/CogVideoX-5b-I2V"
    assert (args["frames_per_clip"], args["height"], args["width"], args["gradient_checkpointing"]) == (
        49, 480, 720, True
    )  # fmt: skip
    assert raw["trainer"]["precision"] == "bf16-mixed" and args["backbone"]["init_args"]["dtype"] == "bfloat16"

    monkeypatch.setattr(sys, "argv", ["lvg"])
    export = tmp_path / "run" / "backbone"
    config = CONFIGS / "chunkwise_i2v.yaml"
    fit = run_cli(tiny_fit_args(config, tiny_cog_dir, video_folder, tmp_path / "run", FRAMES, HEIGHT, WIDTH))
    assert torch.isfinite(fit.trainer.callback_metrics["train/loss"])
    assert fit.model.backbone.is_gradient_checkpointing
    loaded = CogVideoX(str(export))
    trained = fit.model.backbone.transformer.state_dict()
    original = load_file(tiny_cog_dir / "transformer" / "diffusion_pytorch_model.safetensors")
    assert all(torch.equal(v, trained[k]) for k, v in loaded.transformer.state_dict().items())
    assert any(not torch.equal(v, original[k]) for k, v in trained.items())  # it did train

    out = tmp_path / "x.mp4"
    run_cli(tiny_generate_args(CONFIGS / "generate_chunkwise_naive.yaml", export, out, FRAMES, HEIGHT, WIDTH))
    assert json.loads(out.with_suffix(".json").read_text())["frames"] == 1 + 2 * (FRAMES - 1)

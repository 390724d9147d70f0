"""`lvg.backbones.WanI2V` on a tiny random Wan2.1 image-to-video checkpoint in diffusers layout.

Checks the loading round trip, that our sampling (prompt, CLIP image and condition-latent encoding, per-token
timesteps, CFG, the checkpoint's UniPC scheduler) lands on the latents of diffusers' WanImageToVideoPipeline, the
chunk-wise method with k-step search on it, the configs in configs/wan, and the one-line errors for bad input.
"""

from __future__ import annotations

import json
import sys
from functools import partial
from pathlib import Path

import pytest
import torch
import yaml
from helpers import i2v
from helpers.i2v import (
    check_bad_folders,
    chunkwise_kstep,
    few_training_steps,
    quiet_pipeline,
    state_equal,
    tiny_fit_args,
    tiny_generate_args,
)
from helpers.tiny_wan_i2v import FRAMES, HEIGHT, IMAGE_DIM, LATENT_SHAPE, WIDTH
from tests_paths import REPO

from lvg.backbones import Condition, WanI2V
from lvg.backbones.wan_i2v import WanI2VCondition
from lvg.errors import LvgError
from lvg.methods import GenerationRequest
from lvg.sampling import SchedulerSampler

PROMPT = "a red cat runs on the grass"
CONFIGS = sorted((REPO / "configs" / "wan").glob("generate_chunkwise_*.yaml"))


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    from helpers.tiny_wan_i2v import save_tiny_wan_i2v

    return save_tiny_wan_i2v(tmp_path_factory.mktemp("tiny_wan_i2v"))


@pytest.fixture(scope="module")
def wan(tiny_dir) -> WanI2V:
    return WanI2V(str(tiny_dir))


@pytest.fixture(scope="module")
def pipeline(tiny_dir):
    from diffusers import WanImageToVideoPipeline

    return quiet_pipeline(WanImageToVideoPipeline, tiny_dir)


guide_image = partial(i2v.guide_image, HEIGHT, WIDTH)


@torch.no_grad()
def test_round_trip(wan, tmp_path):
    from diffusers import WanImageToVideoPipeline

    wan.save_pretrained(tmp_path / "out")
    again = WanI2V(str(tmp_path / "out"))
    assert state_equal(again.transformer, wan.transformer) and state_equal(again.vae, wan.vae)
    assert state_equal(again.text_encoder.model, wan.text_encoder.model)
    assert state_equal(again.image_encoder.model, wan.image_encoder.model)
    assert again.scheduler_config == wan.scheduler_config
    torch.testing.assert_close(again.encode_prompts([PROMPT]), wan.encode_prompts([PROMPT]), atol=0, rtol=0)
    _, guide = guide_image()
    torch.testing.assert_close(again.encode_image(guide[:, :, 0]), wan.encode_image(guide[:, :, 0]), atol=0, rtol=0)
    pipe = WanImageToVideoPipeline.from_pretrained(str(tmp_path / "out"))  # complete diffusers layout
    assert state_equal(pipe.transformer, wan.transformer)
    assert type(pipe.scheduler).__name__ == "UniPCMultistepScheduler"


@torch.no_grad()
def test_protocol_and_condition_match_pipeline(wan, pipeline):
    assert wan.prediction_type == "flow" and not wan.is_extension
    assert (wan.latent_channels, wan.temporal_compression, wan.spatial_compression) == (16, 4, 8)
    assert [wan.latent_frames(f) for f in (1, 5, 81)] == [1, 2, 21]
    assert len(wan.attention_modules()) == 2 and wan.num_parameters() > 0

    pil, guide = guide_image()
    cond = wan.conditioning(["a dog", PROMPT], guide=torch.cat([guide * 0, guide], dim=2), latent_frames=2)
    assert cond.text.shape == (2, 512, 32) and cond.negative.shape == (2, 512, 32)
    assert cond.image_embeds.shape == (2, 17, IMAGE_DIM)  # 4 x 4 patches + class token, penultimate layer
    torch.testing.assert_close(cond.image_embeds[:1], pipeline.encode_image(pil, "cpu"), atol=1e-6, rtol=0)

    image = pipeline.video_processor.preprocess(pil, height=HEIGHT, width=WIDTH)
    torch.testing.assert_close(image, guide[:, :, 0], atol=1e-6, rtol=0)  # the same pixels as our guide
    _, condition = pipeline.prepare_latents(
        image, 1, 16, HEIGHT, WIDTH, FRAMES, torch.float32, "cpu", None, torch.zeros(1, *LATENT_SHAPE)
    )
    assert cond.latents.shape == (2, 20, *LATENT_SHAPE[1:]) and condition.shape == (1, 20, *LATENT_SHAPE[1:])
    torch.testing.assert_close(cond.latents[1:], condition, atol=1e-6, rtol=0)

    moved = cond.repeat(3).to("cpu", torch.float64)
    assert isinstance(moved, WanI2VCondition)
    assert moved.latents.shape[0] == moved.text.shape[0] == moved.image_embeds.shape[0] == 6
    assert moved.negative.dtype == torch.float64


@torch.no_grad()
def test_prompt_encoder_matches_pipeline(wan, pipeline):
    pytest.importorskip("ftfy")  # the pipeline's prompt cleaning imports ftfy unchecked
    theirs, negative = pipeline.encode_prompt(
        [PROMPT, "a dog"], negative_prompt="", max_sequence_length=512, device="cpu"
    )
    torch.testing.assert_close(wan.encode_prompts([PROMPT, "a dog"]), theirs, atol=1e-6, rtol=0)
    torch.testing.assert_close(wan.encode_prompts([""]), negative[:1], atol=1e-6, rtol=0)


@torch.no_grad()
def test_sampling_matches_wan_i2v_pipeline(wan, pipeline):
    """Same noise, seed and settings: our sampler loop over WanI2V's denoiser lands on the pipeline's latents (CFG 5,
    the checkpoint's UniPC multistep scheduler, CLIP image embedding, mask + condition latents)."""
    steps, seed = 4, 7
    pil, guide = guide_image()
    noise = torch.randn(1, *LATENT_SHAPE, generator=torch.Generator().manual_seed(3))
    cond = wan.conditioning([PROMPT], guide=guide, latent_frames=LATENT_SHAPE[1])
    ours = SchedulerSampler(steps).run(wan.denoiser(cond), noise.clone(), wan, torch.Generator().manual_seed(seed)).x

    theirs = pipeline(
        image=pil,
        prompt_embeds=cond.text.clone(),
        negative_prompt_embeds=cond.negative.clone(),
        latents=noise.clone(),
        generator=torch.Generator().manual_seed(seed),
        num_inference_steps=steps,
        guidance_scale=5.0,
        height=HEIGHT,
        width=WIDTH,
        num_frames=FRAMES,
        output_type="latent",
    ).frames
    assert theirs.shape == ours.shape
    torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=0)
    assert not torch.allclose(ours, noise, atol=1e-1)  # it did sample

    # guidance matters, and the guide image matters
    wan.guidance_scale = 1.0
    try:
        plain = SchedulerSampler(steps).run(wan.denoiser(cond), noise.clone(), wan).x
    finally:
        wan.guidance_scale = 5.0
    assert not torch.allclose(plain, ours, atol=1e-3)
    other = wan.conditioning([PROMPT], guide=guide_image(seed=9)[1], latent_frames=LATENT_SHAPE[1])
    moved = SchedulerSampler(steps).run(wan.denoiser(other), noise.clone(), wan).x
    assert not torch.allclose(moved, ours, atol=1e-3)


@torch.no_grad()
def test_per_frame_timesteps(wan):
    _, guide = guide_image()
    cond = wan.conditioning([PROMPT], guide=guide, latent_frames=2)
    x = torch.randn(1, *LATENT_SHAPE, generator=torch.Generator().manual_seed(0))
    out = wan.predict(x, torch.full((1, 2), 0.75), cond)
    scalar = wan.transformer(
        hidden_states=torch.cat([x, cond.latents], dim=1),
        timestep=torch.tensor([750.0]),
        encoder_hidden_states=cond.text,
        encoder_hidden_states_image=cond.image_embeds,
        return_dict=False,
    )[0]
    torch.testing.assert_close(out, scalar, atol=1e-6, rtol=0)  # equal rows: the scalar call (float noise only)
    mixed = wan.predict(x, torch.tensor([[0.0, 0.75]]), cond)
    assert not torch.allclose(mixed, out, atol=1e-4)


chunkwise = partial(i2v.chunkwise, frames=FRAMES, height=HEIGHT, width=WIDTH)


def test_chunkwise_with_kstep_search(wan):
    parts, logs = chunkwise_kstep(wan, FRAMES, HEIGHT, WIDTH)
    assert all(p.min() >= -1 and p.max() <= 1 for p in parts)
    assert all(len(log["scores"]) == 2 for log in logs)


def test_bad_input_is_one_line(tiny_dir, wan, tmp_path):
    check_bad_folders(WanI2V, tiny_dir, tmp_path, "image_encoder")
    with pytest.raises(LvgError, match="max_sequence_length=226 .* set max_sequence_length: 512"):
        WanI2V(str(tiny_dir), max_sequence_length=226)
    with pytest.raises(LvgError, match="dtype 'fp8' unknown"):
        WanI2V(str(tiny_dir), dtype="fp8")

    with pytest.raises(LvgError, match=r"frames_per_clip=8 .*4k\+1"):
        wan.check_clip(8, HEIGHT, WIDTH)
    with pytest.raises(LvgError, match="width 40 is not divisible by VAE factor x patch size = 16"):
        wan.check_clip(FRAMES, HEIGHT, 40)
    wan.check_clip(9, HEIGHT, WIDTH)
    _, guide = guide_image()
    with pytest.raises(LvgError, match=r"4k\+1"):
        next(chunkwise(wan).generate(GenerationRequest(guide, ["a"], 8)))
    with pytest.raises(LvgError, match="needs the guide image"):
        wan.conditioning([PROMPT], latent_frames=2)
    with pytest.raises(LvgError, match="not Condition"):
        wan.predict(torch.zeros(1, *LATENT_SHAPE), torch.zeros(1, 2), Condition(torch.zeros(1, 512, 32)))


def test_chunkwise_finetunes_wan_i2v_with_its_own_conditioning(wan, monkeypatch):
    """ChunkwiseI2V trains WanI2V on its own I2V objective: the clip's first frame as the guide, the prompt dropped at
    drop_rate, gradients into the transformer, and the loss goes down on a fixed batch."""
    from lvg.methods import ChunkwiseI2V

    video = torch.rand(2, 3, FRAMES, HEIGHT, WIDTH, generator=torch.Generator().manual_seed(0)) * 2 - 1
    batch = {"video": video, "prompt": [PROMPT, "a dog"]}
    seen = []
    real = wan.conditioning
    monkeypatch.setattr(wan, "conditioning", lambda p, *a, **k: (seen.append((p, k["guide"])), real(p, *a, **k))[1])
    ChunkwiseI2V(drop_rate=0.0).loss(wan, batch, torch.Generator().manual_seed(1))
    ChunkwiseI2V(drop_rate=0.99).loss(wan, batch, torch.Generator().manual_seed(1))
    assert seen[0][0] == [PROMPT, "a dog"] and seen[1][0] == ["", ""]
    assert torch.equal(seen[0][1], video[:, :, :1])

    losses = few_training_steps(wan, batch, 6)
    assert losses[-1] < 0.9 * losses[0], losses


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_wan_i2v_generate_configs_build_and_run(config, tiny_dir, tmp_path, monkeypatch):
    from lvg.cli import run_cli

    assert len(CONFIGS) == 2
    raw = yaml.safe_load(config.read_text())
    args = raw["model"]["init_args"]
    assert args["backbone"]["class_path"] == "lvg.backbones.WanI2V"
    assert args["backbone"]["init_args"]["path"] == "Wan-AI/Wan2.1-I2V-14B-480P-Diffusers"
    assert (args["frames_per_clip"], args["height"], args["width"]) == (81, 480, 832)
    assert args["sampler"]["init_args"] == {"num_steps": 50} and args["backbone"]["init_args"]["guidance_scale"] == 5
    if "kstep" in config.name:
        search = args["noise_init"]["init_args"]
        assert (search["k"], search["candidates"]) == (8, 10)
        assert search["scorer"]["init_args"]["path"] == "openai/clip-vit-large-patch14"

    monkeypatch.setattr(sys, "argv", ["lvg"])  # LightningCLI warns when pytest's own arguments are there too
    out = tmp_path / "x.mp4"
    cli_args = tiny_generate_args(config, tiny_dir, out, FRAMES, HEIGHT, WIDTH)
    if "kstep" in config.name:
        cli_args += [
            "--model.init_args.noise_init.init_args.k", "1",
            "--model.init_args.noise_init.init_args.candidates", "2",
            "--model.init_args.noise_init.init_args.scorer", "lvg.search.ColourConsistencyScorer",
        ]  # fmt: skip
    cli = run_cli(cli_args)
    assert isinstance(cli.model.backbone, WanI2V)
    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert out.is_file() and sidecar["frames"] == 1 + 2 * (FRAMES - 1)
    assert len(sidecar["clips"]) == 2
    assert all(("search" in c) == ("kstep" in config.name) for c in sidecar["clips"])


def test_wan_i2v_finetune_config_trains_exports_and_generates(tiny_dir, video_folder, tmp_path, monkeypatch):
    """configs/wan/chunkwise_i2v.yaml: `lvg fit` on a folder of mp4 files, the exported backbone reloads as WanI2V and
    generates a chunk-wise video with the generate config."""
    from lvg.cli import run_cli

    monkeypatch.setattr(sys, "argv", ["lvg"])
    export = tmp_path / "run" / "backbone"
    config = REPO / "configs" / "wan" / "chunkwise_i2v.yaml"
    fit = run_cli(tiny_fit_args(config, tiny_dir, video_folder, tmp_path / "run", FRAMES, HEIGHT, WIDTH))
    assert torch.isfinite(fit.trainer.callback_metrics["train/loss"])
    loaded = WanI2V(str(export))
    trained = fit.model.backbone.transformer.state_dict()
    assert all(torch.equal(v, trained[k]) for k, v in loaded.transformer.state_dict().items())

    out = tmp_path / "x.mp4"
    generate = REPO / "configs" / "wan" / "generate_chunkwise_naive.yaml"
    run_cli(tiny_generate_args(generate, export, out, FRAMES, HEIGHT, WIDTH))
    assert json.loads(out.with_suffix(".json").read_text())["frames"] == 1 + 2 * (FRAMES - 1)

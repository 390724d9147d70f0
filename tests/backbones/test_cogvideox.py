"""`lvg.backbones.CogVideoX` on a tiny random CogVideoX image-to-video checkpoint in diffusers layout.

Checks the loading round trip, that our sampling (prompt encoding, guide latents, CFG, the DPM scheduler behind its
adapter) lands on the latents of diffusers' CogVideoXImageToVideoPipeline, the chunk-wise method with k-step search
(restart and prefix) on it, the configs in configs/cogvideox, and the one-line errors for bad input.
"""

from __future__ import annotations

import json
import typing
from functools import partial
from pathlib import Path

import pytest
import torch
import yaml
from helpers import i2v
from helpers.i2v import check_bad_folders, chunkwise_kstep, quiet_pipeline, state_equal, tiny_generate_args
from helpers.tiny_cogvideox import FRAMES, HEIGHT, LATENT_CHANNELS, LATENT_SHAPE, MAX_SEQUENCE_LENGTH, WIDTH
from safetensors.torch import load_file
from tests_paths import REPO

from lvg import LongVideoModule
from lvg.backbones import CogVideoX
from lvg.backbones.cogvideox_parts import DPMStepAdapter, frames_first
from lvg.errors import LvgError
from lvg.methods import GenerationRequest
from lvg.noise.schedules import uniform_times
from lvg.sampling import SchedulerSampler
from lvg.search import ColourConsistencyScorer, KStepSearch
from lvg.search.base import ClipContext, draw_noise

PROMPT = "a red cat runs on the grass"
SEED = 7
CONFIGS = REPO / "configs" / "cogvideox"


@pytest.fixture(scope="module")
def cog_seeded(tiny_cog_dir) -> CogVideoX:
    """Samples the guide latent from a seeded generator, as the pipeline does with its `generator`."""
    return CogVideoX(str(tiny_cog_dir), image_latent_seed=SEED)


@pytest.fixture(scope="module")
def pipeline(tiny_cog_dir):
    from diffusers import CogVideoXImageToVideoPipeline

    return quiet_pipeline(CogVideoXImageToVideoPipeline, tiny_cog_dir)


guide_image = partial(i2v.guide_image, HEIGHT, WIDTH)


@torch.no_grad()
def test_round_trip(tiny_cog_dir, cog, tmp_path):
    from diffusers import CogVideoXImageToVideoPipeline

    saved = load_file(tiny_cog_dir / "transformer" / "diffusion_pytorch_model.safetensors")
    state = cog.transformer.state_dict()
    # (the sincos `pos_embedding` buffer is saved in float64 by the constructor; loading casts it to our dtype)
    assert state.keys() == saved.keys() and all(torch.equal(state[k], v.to(state[k].dtype)) for k, v in saved.items())

    cog.save_pretrained(tmp_path / "out")
    again = CogVideoX(str(tmp_path / "out"))
    assert state_equal(again.transformer, cog.transformer) and state_equal(again.vae, cog.vae)
    assert state_equal(again.text_encoder.model, cog.text_encoder.model)
    assert again.scheduler_config == cog.scheduler_config
    torch.testing.assert_close(again.encode_prompts([PROMPT]), cog.encode_prompts([PROMPT]), atol=0, rtol=0)
    pipe = CogVideoXImageToVideoPipeline.from_pretrained(str(tmp_path / "out"))  # complete diffusers layout
    assert state_equal(pipe.transformer, cog.transformer)


@torch.no_grad()
def test_protocol_shapes_and_vae(cog, pipeline):
    assert cog.prediction_type == "v" and not cog.is_extension
    assert (cog.latent_channels, cog.temporal_compression, cog.spatial_compression) == (LATENT_CHANNELS, 4, 8)
    assert [cog.latent_frames(f) for f in (1, 9, 49)] == [1, 3, 13]
    assert len(cog.attention_modules()) == 2 and cog.num_parameters() > 0

    video = torch.rand(1, 3, FRAMES, HEIGHT, WIDTH, generator=torch.Generator().manual_seed(0)) * 2 - 1
    latents = cog.encode(video)
    assert latents.shape == (1, *LATENT_SHAPE)
    torch.testing.assert_close(latents, cog.vae.encode(video).latent_dist.mode() * 0.7, atol=1e-6, rtol=0)
    decoded = cog.decode(latents)
    assert decoded.shape == video.shape and decoded.min() >= -1 and decoded.max() <= 1
    torch.testing.assert_close(decoded, pipeline.decode_latents(frames_first(latents)).clamp(-1, 1))


@torch.no_grad()
def test_prompts_and_guide_latents_match_pipeline(cog, cog_seeded, pipeline):
    ours = cog.encode_prompts([PROMPT, "a dog"])
    theirs, negative = pipeline.encode_prompt(
        [PROMPT, "a dog"], negative_prompt="", do_classifier_free_guidance=True, max_sequence_length=226
    )
    assert ours.shape == (2, MAX_SEQUENCE_LENGTH, 32)
    torch.testing.assert_close(ours, theirs, atol=1e-6, rtol=0)

    _, guide = guide_image()
    cond = cog.conditioning(["a dog"], guide=torch.cat([guide * 0, guide], dim=2), latent_frames=3)  # last frame
    torch.testing.assert_close(cond.negative, negative[:1], atol=1e-6, rtol=0)
    # the pipeline's prepare_latents samples the posterior with its generator; ours does with image_latent_seed
    seeded = cog_seeded.conditioning(["a dog"], guide=guide, latent_frames=3)
    _, image_latents = pipeline.prepare_latents(
        guide[:, :, 0], 1, LATENT_CHANNELS, FRAMES, HEIGHT, WIDTH, torch.float32, "cpu",
        torch.Generator().manual_seed(SEED), torch.zeros(1, 3, LATENT_CHANNELS, *LATENT_SHAPE[2:]),
    )  # fmt: skip
    assert seeded.image_latents.shape == image_latents.shape == (1, 3, LATENT_CHANNELS, *LATENT_SHAPE[2:])
    torch.testing.assert_close(seeded.image_latents, image_latents, atol=1e-6, rtol=0)
    assert torch.count_nonzero(seeded.image_latents[:, 1:]) == 0
    # by default the posterior's mode, times the scaling factor, as encode() gives it
    torch.testing.assert_close(cond.image_latents[:, :1], frames_first(cog.encode(guide)), atol=1e-6, rtol=0)
    assert not torch.allclose(cond.image_latents, seeded.image_latents, atol=1e-3)


def sample_ours_and_pipeline(cog, pipeline, steps: int = 4, dynamic: bool = False):
    """Same noise, seed and settings through our sampler over CogVideoX's denoiser and through the pipeline; both
    latents frames-first, and the noise."""
    seed = SEED
    pil, guide = guide_image()
    noise = torch.randn(1, *LATENT_SHAPE, generator=torch.Generator().manual_seed(3))

    cond = cog.conditioning([PROMPT], guide=guide, latent_frames=LATENT_SHAPE[1])
    # the pipeline's generator first samples the guide latent, then the steps' noise: continue from there
    generator = torch.Generator().manual_seed(seed)
    torch.randn(1, LATENT_CHANNELS, 1, *LATENT_SHAPE[2:], generator=generator)
    ours = SchedulerSampler(steps).run(cog.denoiser(cond), noise.clone(), cog, generator).x

    theirs = pipeline(
        image=pil,
        prompt=PROMPT,
        negative_prompt="",
        latents=frames_first(noise).clone(),
        generator=torch.Generator().manual_seed(seed),
        num_inference_steps=steps,
        guidance_scale=6.0,
        use_dynamic_cfg=dynamic,
        height=HEIGHT,
        width=WIDTH,
        num_frames=FRAMES,
        max_sequence_length=MAX_SEQUENCE_LENGTH,
        output_type="latent",
    ).frames
    return frames_first(ours), theirs, noise


@torch.no_grad()
def test_sampling_matches_cogvideox_pipeline(cog_seeded, pipeline):
    """Same noise, seed and settings: our sampler loop over CogVideoX's denoiser lands on the pipeline's latents
    (CFG 6, the DPM scheduler's stochastic 2nd-order steps, the sampled guide latent)."""
    ours, theirs, noise = sample_ours_and_pipeline(cog_seeded, pipeline)
    assert theirs.shape == ours.shape
    torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=0)
    assert not torch.allclose(ours, frames_first(noise), atol=1e-1)  # it did sample


@torch.no_grad()
def test_dynamic_cfg_matches_cogvideox_pipeline(cog_seeded, pipeline, monkeypatch):
    """use_dynamic_cfg=True: the weight follows the pipeline's schedule of timestep and step count (our sampler tells
    the denoiser its step count), landing on the pipeline's latents with use_dynamic_cfg=True, not on the fixed-weight
    ones."""
    from lvg.backbones.cogvideox_parts import dynamic_guidance_scale

    monkeypatch.setattr(cog_seeded, "use_dynamic_cfg", True)
    ours, theirs, _ = sample_ours_and_pipeline(cog_seeded, pipeline, dynamic=True)
    torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=0)
    monkeypatch.setattr(cog_seeded, "use_dynamic_cfg", False)
    fixed, _, _ = sample_ours_and_pipeline(cog_seeded, pipeline)
    assert not torch.allclose(ours, fixed, atol=1e-3)
    # the weight stays in [1, 1 + w] and varies over the 4 steps' timesteps
    scales = [dynamic_guidance_scale(6.0, t, 4) for t in (999, 749, 499, 249)]
    assert all(1 <= s <= 7 for s in scales) and max(scales) - min(scales) > 0.5

    monkeypatch.setattr(cog_seeded, "use_dynamic_cfg", True)
    _, guide = guide_image()
    denoise = cog_seeded.denoiser(cog_seeded.conditioning([PROMPT], guide=guide, latent_frames=LATENT_SHAPE[1]))
    with pytest.raises(LvgError, match="use_dynamic_cfg needs the sampler's step count"):
        denoise(torch.zeros(1, *LATENT_SHAPE), torch.full((1, LATENT_SHAPE[1]), 0.999))


@torch.no_grad()
def test_predict_is_the_transformer_with_one_timestep(cog):
    _, guide = guide_image()
    cond = cog.conditioning([PROMPT], guide=guide, latent_frames=3)
    x = torch.randn(1, *LATENT_SHAPE, generator=torch.Generator().manual_seed(0))
    out = cog.predict(x, torch.full((1, 3), 0.801), cond)
    hidden = torch.cat([frames_first(x), cond.image_latents], dim=2)
    rope = cog._rotary(3, *LATENT_SHAPE[2:], x.device)
    direct = cog.transformer(hidden, cond.text, torch.tensor([801]), image_rotary_emb=rope, return_dict=False)[0]
    torch.testing.assert_close(out, frames_first(direct), atol=1e-6, rtol=0)


def test_schedulers(cog):
    dpm = cog.make_scheduler()
    assert isinstance(dpm, DPMStepAdapter)
    dpm.set_timesteps(5)
    assert dpm.timesteps.tolist() == [999, 799, 599, 399, 199]
    assert dpm.init_noise_sigma == 1.0 and dpm.config.prediction_type == "v_prediction"
    assert cog.make_scheduler(shift=3.0).config.snr_shift_scale == 3.0
    saved = cog.scheduler_config
    try:
        cog.scheduler_config = {**saved, "_class_name": "CogVideoXDDIMScheduler"}
        plain = cog.make_scheduler()
        assert type(plain).__name__ == "CogVideoXDDIMScheduler"  # standard step signature: no adapter
    finally:
        cog.scheduler_config = saved


chunkwise = partial(i2v.chunkwise, frames=FRAMES, height=HEIGHT, width=WIDTH)


def test_chunkwise_with_kstep_search(cog):
    chunkwise_kstep(cog, FRAMES, HEIGHT, WIDTH)


@torch.no_grad()
def test_prefix_search_continues_the_winner_as_if_uninterrupted(cog):
    m = chunkwise(cog, steps=4)
    bb = m.backbone
    _, guide = guide_image(seed=5)
    latents, mask = m.method.clip_condition(bb, guide, bb.latent_frames(FRAMES))
    cond = bb.conditioning(["a blue square"], latents, mask, guide=guide)
    ctx = ClipContext(
        tuple(latents.shape), 5, 0, bb, m.sampler, lambda n: bb.denoiser(cond.repeat(n)), guide[0, :, -1],
        lambda n: uniform_times(m.sampler.schedule(bb, n), latents.shape[2]), 1,
    )  # fmt: skip
    start = KStepSearch(candidates=3, k=2, strategy="prefix", scorer=ColourConsistencyScorer())(ctx)
    assert start.start.step == 2 and start.start.scheduler.old_pred_original_sample.shape[0] == 1
    x = m.sampler.run(ctx.make_denoise(1), start.start, bb, start.generator).x

    noise, generator = draw_noise(ctx, start.log["winner"])
    alone = m.sampler.run(ctx.make_denoise(1), noise, bb, generator).x
    torch.testing.assert_close(x, alone, atol=1e-5, rtol=0)


def test_bad_input_is_one_line(tiny_cog_dir, cog, tmp_path):
    check_bad_folders(CogVideoX, tiny_cog_dir, tmp_path, "vae")
    with pytest.raises(LvgError, match="max_sequence_length=77 .* set max_sequence_length: 226"):
        CogVideoX(str(tiny_cog_dir), max_sequence_length=77)

    _, guide = guide_image()
    cond = cog.conditioning([PROMPT], guide=guide, latent_frames=3)
    x = torch.zeros(1, *LATENT_SHAPE)
    with pytest.raises(LvgError, match="one timestep per sample"):
        cog.predict(x, torch.tensor([[0.9, 0.5, 0.5]]), cond)
    with pytest.raises(LvgError, match="one timestep per sample"):
        cog.denoiser(cond)(x, torch.tensor([[0.9, 0.9, 0.1]]))
    with pytest.raises(LvgError, match="needs the guide image"):
        cog.conditioning([PROMPT], latent_frames=3)

    with pytest.raises(LvgError, match=r"frames_per_clip=8 .*4k\+1"):
        cog.check_clip(8, HEIGHT, WIDTH)
    with pytest.raises(LvgError, match="width 40 is not divisible by VAE factor x patch size = 16"):
        cog.check_clip(FRAMES, HEIGHT, 40)
    with pytest.raises(LvgError, match="learned positional embeddings for 32x48 only"):
        cog.check_clip(FRAMES, 64, 48)
    cog.check_clip(13, HEIGHT, WIDTH)
    with pytest.raises(LvgError, match=r"4k\+1"):
        chunkwise(cog).generate(GenerationRequest(guide, ["a"], 8)).__next__()


# --- configs --------------------------------------------------------------------------------------------------
def build(node):
    """Instantiate a `class_path`/`init_args` tree as LightningCLI would (without its type checks)."""
    import importlib

    if isinstance(node, dict) and "class_path" in node:
        module, name = node["class_path"].rsplit(".", 1)
        args = {k: build(v) for k, v in (node.get("init_args") or {}).items()}
        return getattr(importlib.import_module(module), name)(**args)
    if isinstance(node, dict):
        return {k: build(v) for k, v in node.items()}
    return node


def tiny_overrides(config: dict, path: Path) -> dict:
    args = config["model"]["init_args"]
    args["backbone"]["init_args"].update(path=str(path), dtype="float32")
    args.update(frames_per_clip=FRAMES, height=HEIGHT, width=WIDTH)
    args["sampler"]["init_args"]["num_steps"] = 3
    if "noise_init" in args:
        scorer = {"class_path": "lvg.search.ColourConsistencyScorer"}
        args["noise_init"]["init_args"].update(k=2, candidates=2, scorer=scorer)
    return config


@pytest.mark.parametrize("name", ["generate_chunkwise_naive.yaml", "generate_chunkwise_kstep.yaml"])
def test_configs_have_the_paper_settings_and_build(name, tiny_cog_dir):
    config = yaml.safe_load((CONFIGS / name).read_text())
    args = config["model"]["init_args"]
    assert args["backbone"]["class_path"] == "lvg.backbones.CogVideoX"
    assert args["backbone"]["init_args"]["path"] == "THUDM/CogVideoX-5b-I2V"
    assert (args["frames_per_clip"], args["height"], args["width"]) == (49, 480, 720)
    assert args["sampler"]["init_args"]["num_steps"] == 50
    assert args["backbone"]["init_args"]["use_dynamic_cfg"] is False
    assert config["trainer"] == {"accelerator": "auto", "logger": False}
    if "kstep" in name:
        search = args["noise_init"]["init_args"]
        assert (search["k"], search["candidates"]) == (8, 10)
        assert search["scorer"]["init_args"]["path"] == "openai/clip-vit-large-patch14"
    module = build(tiny_overrides(config, tiny_cog_dir))["model"]
    assert isinstance(module, LongVideoModule) and isinstance(module.backbone, CogVideoX)


def _cli_accepts_cogvideox() -> bool:
    hint = typing.get_type_hints(LongVideoModule.__init__).get("backbone", object)
    return isinstance(hint, type) and issubclass(CogVideoX, hint)


@pytest.mark.skipif(
    not _cli_accepts_cogvideox(),
    reason="LongVideoModule types `backbone` as WanAdapter, so LightningCLI refuses lvg.backbones.CogVideoX",
)
def test_lvg_generate_with_the_cogvideox_config(tiny_cog_dir, tmp_path):
    from lvg.cli import run_cli

    out = tmp_path / "v.mp4"
    config = CONFIGS / "generate_chunkwise_kstep.yaml"
    run_cli(tiny_generate_args(config, tiny_cog_dir, out, FRAMES, HEIGHT, WIDTH, steps=3, guide_seed=1) + [
        "--model.init_args.backbone.init_args.use_dynamic_cfg", "true",  # k-step previews and full runs alike
        "--model.init_args.noise_init.init_args.k", "2", "--model.init_args.noise_init.init_args.candidates", "2",
        "--model.init_args.noise_init.init_args.scorer", "lvg.search.ColourConsistencyScorer",
    ])  # fmt: skip
    sidecar = json.loads((tmp_path / "v.json").read_text())
    assert (tmp_path / "v.mp4").is_file() and sidecar["frames"] == 1 + 2 * (FRAMES - 1)

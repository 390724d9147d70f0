"""`lvg.backbones.Wan` on a tiny random Wan2.1 checkpoint in diffusers layout, loaded by path as a user would.

Checks the loading round trip, the zero-initialised extension channels, per-frame timesteps, the VAE latent
normalisation, clip-shape errors, and that our sampling loop and prompt encoder agree with diffusers' WanPipeline.
"""

from __future__ import annotations

import shutil
from dataclasses import replace

import pytest
import torch
from helpers.tiny_wan import LATENT_CHANNELS, MAX_SEQUENCE_LENGTH
from safetensors.torch import load_file

from lvg.backbones import Condition, Wan
from lvg.contracts import TEXT_GUIDANCE
from lvg.errors import LvgError
from lvg.sampling import SchedulerSampler

PROMPTS = ["a red cat runs on the grass", "a dog"]


@pytest.fixture(scope="module")
def wan_plain(tiny_wan_dir) -> Wan:
    return Wan(str(tiny_wan_dir), extension=False)


@pytest.fixture(scope="module")
def wan_ext(tiny_wan_dir) -> Wan:
    return Wan(str(tiny_wan_dir))


def _latents(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


@torch.no_grad()
def test_round_trip_and_zero_initialised_extension(tiny_wan_dir, wan_plain, wan_ext, tmp_path):
    saved = load_file(tiny_wan_dir / "transformer" / "diffusion_pytorch_model.safetensors")
    state = wan_plain.transformer.state_dict()
    assert state.keys() == saved.keys()
    assert all(torch.equal(state[k], v) for k, v in saved.items())
    assert wan_plain.transformer.config.in_channels == LATENT_CHANNELS and not wan_plain.is_extension

    c = LATENT_CHANNELS
    assert wan_ext.transformer.config.in_channels == 2 * c + 1 and wan_ext.is_extension
    weight = wan_ext.transformer.patch_embedding.weight
    assert weight.shape[1] == 2 * c + 1
    assert torch.equal(weight[:, :c], saved["patch_embedding.weight"])
    assert torch.count_nonzero(weight[:, c:]) == 0
    assert torch.equal(wan_ext.transformer.patch_embedding.bias, saved["patch_embedding.bias"])

    # zero-init: the widened model computes what the pretrained one did, with or without a condition
    x = _latents(2, c, 2, 4, 4)
    t = torch.tensor([[0.8, 0.8], [0.3, 0.6]])
    text = wan_plain.encode_prompts(PROMPTS)
    ref = wan_plain.predict(x, t, Condition(text))
    torch.testing.assert_close(wan_ext.predict(x, t, Condition(text)), ref, atol=1e-6, rtol=0)
    cond = Condition(text, _latents(2, c, 2, 4, 4, seed=1), torch.tensor([[1.0, 0.0], [1.0, 0.0]]))
    torch.testing.assert_close(wan_ext.predict(x, t, cond), ref, atol=1e-6, rtol=0)

    # the saved extension model reloads with its extra channels kept (no second widening), weights unchanged
    trained = Wan(str(tiny_wan_dir))
    trained.transformer.patch_embedding.weight[:, c:].normal_()  # as if trained
    out = tmp_path / "ext"
    trained.save_pretrained(out)
    for extension in (True, False):
        again = Wan(str(out), extension=extension)
        assert again.transformer.config.in_channels == 2 * c + 1 and again.is_extension
        reloaded, expected = again.transformer.state_dict(), trained.transformer.state_dict()
        assert reloaded.keys() == expected.keys()
        assert all(torch.equal(reloaded[k], v) for k, v in expected.items())


@torch.no_grad()
def test_per_frame_timesteps(wan_plain):
    tr = wan_plain.transformer
    x = _latents(2, LATENT_CHANNELS, 3, 4, 6)  # 3 latent frames of 2 x 3 tokens
    text = wan_plain.encode_prompts(PROMPTS)
    cond = Condition(text)

    # equal rows: exactly the transformer's usual scalar timestep (t * 1000 per sample)
    t_equal = torch.tensor([[0.7] * 3, [0.25] * 3])
    scalar = tr(hidden_states=x, timestep=t_equal[:, 0] * 1000, encoder_hidden_states=text, return_dict=False)[0]
    torch.testing.assert_close(wan_plain.predict(x, t_equal, cond), scalar, atol=1e-6, rtol=0)

    # unequal rows: per-token timesteps laid out frame, height, width (as diffusers' Wan2.2 TI2V builds them)
    t_rows = torch.tensor([[0.9, 0.5, 0.1], [0.2, 0.6, 0.4]])
    per_token = (t_rows[:, :, None, None] * 1000).expand(2, 3, 2, 3).flatten(1)
    manual = tr(hidden_states=x, timestep=per_token, encoder_hidden_states=text, return_dict=False)[0]
    out = wan_plain.predict(x, t_rows, cond)
    torch.testing.assert_close(out, manual, atol=1e-6, rtol=0)
    assert not torch.allclose(out[0], wan_plain.predict(x, torch.full((2, 3), 0.9), cond)[0], atol=1e-4)

    # changing only frame 1's time changes frame 1, and frame 0 too (frames attend to each other)
    t_moved = t_rows.clone()
    t_moved[:, 1] = 0.95
    moved = wan_plain.predict(x, t_moved, cond)
    assert (moved[:, :, 1] - out[:, :, 1]).abs().amax() > 1e-3
    assert (moved[:, :, 0] - out[:, :, 0]).abs().amax() > 1e-6


@torch.no_grad()
def test_encode_decode_with_latent_normalisation(wan_plain):
    video = torch.rand(1, 3, 5, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1
    latents = wan_plain.encode(video)
    assert latents.shape == (1, LATENT_CHANNELS, 2, 2, 2)

    vae = wan_plain.vae
    mean = torch.tensor(vae.config.latents_mean).view(1, -1, 1, 1, 1)
    std = torch.tensor(vae.config.latents_std).view(1, -1, 1, 1, 1)
    raw = vae.encode(video).latent_dist.mode()
    torch.testing.assert_close(latents, (raw - mean) / std, atol=1e-5, rtol=1e-5)

    decoded = wan_plain.decode(latents)
    assert decoded.shape == video.shape
    assert decoded.min() >= -1 and decoded.max() <= 1
    torch.testing.assert_close(decoded, vae.decode(raw, return_dict=False)[0].clamp(-1, 1), atol=1e-5, rtol=1e-5)


def test_check_clip(wan_plain):
    assert (wan_plain.temporal_compression, wan_plain.spatial_compression) == (4, 8)
    with pytest.raises(LvgError, match=r"4k\+1"):
        wan_plain.check_clip(frames=8, height=16, width=16)
    wan_plain.check_clip(9, 16, 16)
    wan_plain.check_clip(5, 32, 48)
    with pytest.raises(LvgError, match="height 24 .*multiple of 16"):
        wan_plain.check_clip(9, 24, 16)
    with pytest.raises(LvgError, match="width 8 .*multiple of 16"):
        wan_plain.check_clip(9, 16, 8)


@pytest.fixture(scope="module")
def pipeline(tiny_wan_dir):
    """diffusers' WanPipeline over the same saved parts."""
    from diffusers import AutoencoderKLWan, FlowMatchEulerDiscreteScheduler, WanPipeline, WanTransformer3DModel
    from transformers import AutoTokenizer, UMT5EncoderModel

    root = str(tiny_wan_dir)
    pipe = WanPipeline(
        tokenizer=AutoTokenizer.from_pretrained(f"{root}/tokenizer"),
        text_encoder=UMT5EncoderModel.from_pretrained(root, subfolder="text_encoder"),
        transformer=WanTransformer3DModel.from_pretrained(root, subfolder="transformer"),
        vae=AutoencoderKLWan.from_pretrained(root, subfolder="vae"),
        scheduler=FlowMatchEulerDiscreteScheduler.from_pretrained(root, subfolder="scheduler"),
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


@torch.no_grad()
def test_prompt_encoder_matches_pipeline(wan_plain, pipeline):
    ours = wan_plain.encode_prompts(PROMPTS)
    assert ours.shape == (2, MAX_SEQUENCE_LENGTH, wan_plain.transformer.config.text_dim)
    theirs, negative = pipeline.encode_prompt(
        PROMPTS, do_classifier_free_guidance=False, max_sequence_length=MAX_SEQUENCE_LENGTH
    )
    assert negative is None
    torch.testing.assert_close(ours, theirs, atol=1e-6, rtol=0)
    n = len(wan_plain.text_encoder.tokenizer(PROMPTS[1]).input_ids)  # "a dog" + </s>
    assert n < 8 and torch.count_nonzero(ours[1, n:]) == 0  # zeros past the prompt's tokens, as in WanPipeline
    assert (ours[1, :n].abs().sum(-1) > 0).all()


@torch.no_grad()
def test_sampling_matches_wan_pipeline(wan_plain, pipeline):
    noise = _latents(1, LATENT_CHANNELS, 2, 2, 2, seed=3)
    text = wan_plain.encode_prompts(PROMPTS[:1])
    ours = SchedulerSampler(num_steps=4)(wan_plain.denoiser(Condition(text)), noise.clone(), wan_plain)

    common = dict(guidance_scale=1.0, num_inference_steps=4, height=16, width=16, num_frames=5, output_type="latent")
    theirs = pipeline(prompt_embeds=text, negative_prompt_embeds=None, latents=noise.clone(), **common).frames
    assert ours.shape == theirs.shape == noise.shape
    assert torch.allclose(ours, theirs, atol=1e-5)
    assert not torch.allclose(ours, noise, atol=1e-2)  # it did sample
    # end to end: the pipeline encoding the prompt itself lands on the same latents
    own_prompt = pipeline(prompt=PROMPTS[0], latents=noise.clone(), **common).frames
    assert torch.allclose(ours, own_prompt, atol=1e-5)


def test_bad_paths_give_one_line_lvg_error(tiny_wan_dir, tmp_path):
    cases = [tmp_path / "does-not-exist", tiny_wan_dir / "vae"]
    partial = tmp_path / "no_text_encoder"
    shutil.copytree(tiny_wan_dir, partial, ignore=shutil.ignore_patterns("text_encoder"))
    cases.append(partial)
    for path in cases:
        with pytest.raises(LvgError) as err:
            Wan(str(path))
        message = str(err.value)
        assert "\n" not in message and str(path) in message
    assert "text_encoder/" in message
    assert Wan(str(partial), load_text_encoder=False).text_encoder is None  # the parts it needs are there


@torch.no_grad()
def test_a_checkpoint_shipping_unipc_samples(tiny_wan_dir, tmp_path):
    """Wan2.1 diffusers checkpoints ship UniPC, whose step takes no generator: the sampler must still run it."""
    from diffusers import UniPCMultistepScheduler

    path = tmp_path / "wan_unipc"
    shutil.copytree(tiny_wan_dir, path)
    UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0).save_pretrained(
        path / "scheduler"
    )
    wan = Wan(str(path), extension=False)
    assert type(wan.make_scheduler()).__name__ == "UniPCMultistepScheduler"
    cond = Condition(wan.encode_prompts(PROMPTS[:1]))
    out = SchedulerSampler(3).run(wan.denoiser(cond), _latents(1, LATENT_CHANNELS, 2, 4, 4), wan, torch.Generator())
    assert out.x.shape == (1, LATENT_CHANNELS, 2, 4, 4) and torch.isfinite(out.x).all()


@pytest.fixture(scope="module")
def wan_guided(tiny_wan_dir) -> Wan:
    return Wan(str(tiny_wan_dir), extension=False, guidance_scale=5.0, negative_prompt="blurry, static")


@torch.no_grad()
def test_text_guidance_matches_wan_pipeline_at_guidance_5(wan_guided, pipeline):
    noise = _latents(1, LATENT_CHANNELS, 2, 2, 2, seed=4)
    cond = wan_guided.conditioning(PROMPTS[:1])
    assert cond.negative is not None and TEXT_GUIDANCE in wan_guided.capabilities
    ours = SchedulerSampler(num_steps=4)(wan_guided.denoiser(cond), noise.clone(), wan_guided)
    common = dict(num_inference_steps=4, height=16, width=16, num_frames=5, output_type="latent")
    theirs = pipeline(prompt=PROMPTS[0], negative_prompt="blurry, static", guidance_scale=5.0,
                      latents=noise.clone(), **common).frames  # fmt: skip
    unguided = pipeline(prompt=PROMPTS[0], guidance_scale=1.0, latents=noise.clone(), **common).frames
    assert torch.allclose(ours, theirs, atol=1e-4)
    assert not torch.allclose(ours, unguided, atol=1e-3)  # the guidance did something


@torch.no_grad()
def test_text_and_condition_frame_guidance_nest_in_one_forward(tiny_wan_dir):
    """Frame guidance w over text guidance s: v = T(frames) + w (T(frames) - T(no frames)) - ... written out: with
    T(c) = u(c) + s (p(c) - u(c)) the text-guided prediction under condition c, the result is
    T(none) + w (T(frames) - T(none)); the model is called once, on four rows."""
    from lvg.methods.guidance import condition_guided_denoiser, without_frames

    wan = Wan(str(tiny_wan_dir), guidance_scale=3.0)
    latents = _latents(1, LATENT_CHANNELS, 2, 2, 2, seed=5)
    mask = torch.tensor([[1.0, 0.0]])
    cond = wan.conditioning(PROMPTS[:1], latents * mask[:, None, :, None, None], mask)
    x, t = _latents(1, LATENT_CHANNELS, 2, 2, 2, seed=6), torch.full((1, 2), 0.6)
    rows = []
    predict = wan.predict
    wan.predict = lambda x, t, c: rows.append(x.shape[0]) or predict(x, t, c)
    nested = condition_guided_denoiser(wan, cond, 2.0)(x, t)
    wan.predict = predict

    def text_guided(c):
        u = wan.predict(x, t, replace(c, text=c.negative))
        return u + 3.0 * (wan.predict(x, t, c) - u)

    expected = text_guided(without_frames(cond)) + 2.0 * (text_guided(cond) - text_guided(without_frames(cond)))
    assert rows == [4] and torch.allclose(nested, expected, atol=1e-5)

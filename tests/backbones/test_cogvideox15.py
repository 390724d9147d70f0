"""`lvg.backbones.CogVideoX` on a tiny random CogVideoX-1.5-style image-to-video checkpoint (temporal patch 2, `ofs`
embedding, "slice" rotary grid, `invert_scale_latents` VAE).

Checks that our sampling lands on the latents and the decoded frames of diffusers' CogVideoXImageToVideoPipeline,
whose 1.5 path pads the latent clip with a frame in front and drops it before decoding; the chunk-wise method with
k-step search on it; and the one-line errors for clip shapes it cannot take.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest
import torch
from helpers import i2v
from helpers.i2v import chunkwise_kstep, quiet_pipeline
from helpers.tiny_cogvideox import FRAMES, HEIGHT, LATENT_CHANNELS, MAX_SEQUENCE_LENGTH, WIDTH

from lvg.backbones import CogVideoX
from lvg.backbones.cogvideox_parts import frames_first
from lvg.errors import LvgError
from lvg.sampling import SchedulerSampler

PROMPT = "a red cat runs on the grass"
SEED = 7
H, W = HEIGHT // 8, WIDTH // 8
PADDED = 4  # FRAMES = 9 -> 3 latent frames, padded to the temporal patch 2 with one frame in front

guide_image = partial(i2v.guide_image, HEIGHT, WIDTH)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    from helpers.tiny_cogvideox import save_tiny_cogvideox

    return save_tiny_cogvideox(tmp_path_factory.mktemp("tiny_cogvideox15"), version="1.5")


@pytest.fixture(scope="module")
def cog(tiny_dir) -> CogVideoX:
    """Samples the guide latent from a seeded generator, as the pipeline does with its `generator`."""
    return CogVideoX(str(tiny_dir), image_latent_seed=SEED)


@torch.no_grad()
def test_sampling_and_decoding_match_the_15_pipeline(cog, tiny_dir):
    """Same noise, seed and settings: the padded latent clip (ofs, slice rotary grid, guide latent scaled by
    1 / scaling_factor) lands on the pipeline's latents, and decoding drops the padding frame as the pipeline does."""
    from diffusers import CogVideoXImageToVideoPipeline

    pipeline = quiet_pipeline(CogVideoXImageToVideoPipeline, tiny_dir)
    assert cog.temporal_patch == 2 and cog.padding_frames == 1 and cog.latent_frames(FRAMES) == PADDED
    pil, guide = guide_image()
    noise = torch.randn(1, LATENT_CHANNELS, PADDED, H, W, generator=torch.Generator().manual_seed(3))

    cond = cog.conditioning([PROMPT], guide=guide, latent_frames=cog.latent_frames(FRAMES))
    assert cond.image_latents.shape == (1, PADDED, LATENT_CHANNELS, H, W)
    # the pipeline's generator first samples the guide latent, then the steps' noise: continue from there
    generator = torch.Generator().manual_seed(SEED)
    torch.randn(1, LATENT_CHANNELS, 1, H, W, generator=generator)
    ours = SchedulerSampler(3).run(cog.denoiser(cond), noise.clone(), cog, generator).x

    settings = dict(
        image=pil, prompt=PROMPT, negative_prompt="", num_inference_steps=3, guidance_scale=6.0, height=HEIGHT,
        width=WIDTH, num_frames=FRAMES, max_sequence_length=MAX_SEQUENCE_LENGTH,
    )  # fmt: skip
    steps = []  # the pipeline's latents after each step, then its decoded frames ("pt": [B, F, 3, H, W] in [0, 1])
    theirs = pipeline(
        **settings, latents=frames_first(noise).clone(), generator=torch.Generator().manual_seed(SEED),
        output_type="pt", callback_on_step_end=lambda pipe, i, t, kw: (steps.append(kw["latents"]), {})[1],
    ).frames  # fmt: skip
    theirs_latents = steps[-1]
    torch.testing.assert_close(frames_first(ours), theirs_latents, atol=1e-4, rtol=0)
    assert not torch.allclose(ours, noise, atol=1e-1)  # it did sample

    video = cog.decode(ours)
    assert video.shape == (1, 3, FRAMES, HEIGHT, WIDTH)
    torch.testing.assert_close((video + 1) / 2, theirs.permute(0, 2, 1, 3, 4), atol=1e-4, rtol=0)
    # VAE latents of a clip (1 + a multiple of the patch) decode whole
    assert cog.decode(cog.encode(video)).shape == video.shape


def test_chunkwise_with_kstep_search_on_15(cog):
    parts, logs = chunkwise_kstep(cog, FRAMES, HEIGHT, WIDTH)
    assert all(len(log["scores"]) == 2 for log in logs)


def test_15_clip_errors_are_one_line(cog):
    cog.check_clip(FRAMES, HEIGHT, WIDTH)
    cog.check_clip(17, HEIGHT, WIDTH)
    with pytest.raises(LvgError, match=r"frames_per_clip=13 gives 4 latent frames: CogVideoX 1.5 .* use 9 or 17"):
        cog.check_clip(13, HEIGHT, WIDTH)
    with pytest.raises(LvgError, match="64x48 is larger than this CogVideoX 1.5's rotary grid"):
        cog.check_clip(FRAMES, 64, 48)
    _, guide = guide_image()
    cond = cog.conditioning([PROMPT], guide=guide, latent_frames=3)
    with pytest.raises(LvgError, match="takes a multiple of 2 latent frames .* got 3"):
        cog.predict(torch.zeros(1, LATENT_CHANNELS, 3, H, W), torch.full((1, 3), 0.5), cond)


def test_15_finetuning_is_refused_in_one_line(cog):
    from lvg.methods import ChunkwiseI2V

    video = torch.zeros(1, 3, FRAMES, HEIGHT, WIDTH)
    with pytest.raises(LvgError, match="lvg does not finetune CogVideoX 1.5") as err:
        ChunkwiseI2V().loss(cog, {"video": video, "prompt": ["a"]}, torch.Generator().manual_seed(0))
    assert "\n" not in str(err.value)

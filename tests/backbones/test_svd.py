"""`lvg.backbones.Svd` on a tiny random Stable Video Diffusion in diffusers layout, loaded by path as a user would.

Checks the loading round trip, that our sampling loop + conditioning agree with diffusers'
StableVideoDiffusionPipeline (guidance included), that the chunk-wise method with k-step search runs on it, the
`configs/svd` generate configs, and bad input.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch
from helpers.i2v import check_bad_folders
from helpers.tiny_svd import LATENT_CHANNELS, save_tiny_svd
from PIL import Image
from tests_paths import REPO

from lvg import LongVideoModule
from lvg.backbones import Svd
from lvg.backbones.svd import SvdCondition
from lvg.errors import LvgError
from lvg.methods import ChunkwiseI2V, GenerationRequest
from lvg.sampling import SchedulerSampler
from lvg.search import ColourConsistencyScorer, KStepSearch
from lvg.seeding import clip_seed, stream_seed

FRAMES, SIZE = 4, 16  # clip shape for the tiny model (sides: multiples of VAE 2 x UNet 2 = 4)
SVD_CONFIGS = sorted((REPO / "configs" / "svd").glob("generate_*.yaml"))


@pytest.fixture(scope="module")
def tiny_svd_dir(tmp_path_factory):
    return save_tiny_svd(tmp_path_factory.mktemp("tiny_svd"))


@pytest.fixture(scope="module")
def svd(tiny_svd_dir) -> Svd:
    return Svd(str(tiny_svd_dir))


def guide_image(seed: int = 0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8))


def as_guide(image: Image.Image) -> torch.Tensor:
    """A PIL image -> [1, 3, 1, H, W] in [-1, 1], with the pipeline's own arithmetic (pil_to_numpy, 2x - 1)."""
    x = torch.from_numpy(np.array(image).astype(np.float32) / 255.0).permute(2, 0, 1)
    return (x * 2.0 - 1.0)[None, :, None]


def _state_equal(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@torch.no_grad()
def test_round_trip(tiny_svd_dir, svd, tmp_path):
    from diffusers import UNetSpatioTemporalConditionModel

    saved = UNetSpatioTemporalConditionModel.from_pretrained(str(tiny_svd_dir), subfolder="unet")
    assert _state_equal(svd.unet, saved)
    assert (svd.latent_channels, svd.temporal_compression, svd.spatial_compression) == (LATENT_CHANNELS, 1, 2)
    assert svd.prediction_type == "v" and not svd.is_extension and svd.latent_frames(7) == 7
    assert svd.num_parameters() == sum(p.numel() for p in saved.parameters())
    attention = svd.attention_modules()  # spatial + temporal self-attention of 4 transformers (down, mid, 2 up)
    assert len(attention) == 2 * 4 and not any(m.is_cross_attention for m in attention)
    assert type(svd.make_scheduler()).__name__ == "EulerDiscreteScheduler"

    svd.save_pretrained(tmp_path / "again")
    again = Svd(str(tmp_path / "again"))
    for part in ("unet", "vae", "image_encoder"):
        assert _state_equal(getattr(again, part), getattr(svd, part))
    assert again.scheduler_config == svd.scheduler_config
    assert again.feature_extractor.image_mean == svd.feature_extractor.image_mean


@torch.no_grad()
def test_encode_decode(svd):
    video = torch.rand(2, 3, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(0)) * 2 - 1
    latents = svd.encode(video)
    assert latents.shape == (2, LATENT_CHANNELS, 3, SIZE // 2, SIZE // 2)
    frame = svd.vae.encode(video[1, :, 2][None]).latent_dist.mode()[0] * svd.vae.config.scaling_factor
    torch.testing.assert_close(latents[1, :, 2], frame, atol=1e-5, rtol=1e-5)
    decoded = svd.decode(latents)
    assert decoded.shape == video.shape and decoded.min() >= -1 and decoded.max() <= 1
    one = svd.vae.decode(latents[1].transpose(0, 1) / svd.vae.config.scaling_factor, num_frames=3).sample
    torch.testing.assert_close(decoded[1], one.transpose(0, 1).clamp(-1, 1), atol=1e-5, rtol=1e-5)


@torch.no_grad()
def test_condition_repeat_and_move(svd):
    cond = svd.conditioning([""], guide=as_guide(guide_image()))
    assert cond.image_embeds.shape[:2] == (1, 1) and cond.image_latents.shape == (1, LATENT_CHANNELS, 8, 8)
    torch.testing.assert_close(cond.added_time_ids, torch.tensor([[6.0, 127.0, 0.02]]))
    rep = cond.repeat(3).to(torch.device("cpu"), torch.float64)
    assert isinstance(rep, SvdCondition) and rep.image_latents.shape[0] == 3
    assert rep.image_embeds.dtype == rep.added_time_ids.dtype == torch.float64
    assert torch.equal(rep.image_latents[2].float(), cond.image_latents[0])


@pytest.fixture(scope="module")
def pipeline(tiny_svd_dir):
    from diffusers import StableVideoDiffusionPipeline

    pipe = StableVideoDiffusionPipeline.from_pretrained(str(tiny_svd_dir))
    pipe.set_progress_bar_config(disable=True)
    return pipe


@torch.no_grad()
def test_sampling_matches_svd_pipeline(svd, pipeline):
    """Our SchedulerSampler + Svd.denoiser (CFG ramp 1 -> 3, noise augmentation 0.02) == the diffusers pipeline."""
    steps, clip = 4, clip_seed(0, 2)
    image = guide_image(1)
    noise = torch.randn(1, LATENT_CHANNELS, FRAMES, SIZE // 2, SIZE // 2, generator=torch.Generator().manual_seed(3))
    cond = svd.conditioning([""], guide=as_guide(image), seed=clip)
    seed = stream_seed(clip, "guide_augmentation")
    ours = SchedulerSampler(steps).run(svd.denoiser(cond), noise.clone(), svd, torch.Generator().manual_seed(0)).x

    common = dict(
        height=SIZE, width=SIZE, num_frames=FRAMES, num_inference_steps=steps, min_guidance_scale=1.0,
        max_guidance_scale=3.0, fps=7, motion_bucket_id=127, noise_aug_strength=0.02,
    )  # fmt: skip
    final = {}

    def keep_latents(pipe, i, t, kwargs):
        final["latents"] = kwargs["latents"]
        return {}

    frames = pipeline(
        image,
        latents=noise.permute(0, 2, 1, 3, 4).clone(),  # the pipeline's [B, F, C, h, w]
        generator=torch.Generator().manual_seed(seed),  # its noise augmentation of the guide draws from it
        output_type="pt",
        callback_on_step_end=keep_latents,
        **common,
    ).frames  # [B, F, 3, H, W] in [0, 1]
    theirs = final["latents"].permute(0, 2, 1, 3, 4)
    assert ours.shape == theirs.shape == noise.shape
    torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=0)
    assert not torch.allclose(ours, noise * pipeline.scheduler.init_noise_sigma, atol=1e-2)  # it did sample
    video = svd.decode(ours)
    torch.testing.assert_close(video * 0.5 + 0.5, frames.permute(0, 2, 1, 3, 4).clamp(0, 1), atol=1e-4, rtol=0)

    # guidance is on: the guided model output differs from the conditional one
    x, t = noise * 10, torch.full((1, FRAMES), 0.5)
    guided = svd.denoiser(cond)(x, t)
    svd.max_guidance_scale = 1.0
    try:
        plain = svd.denoiser(cond)(x, t)
    finally:
        svd.max_guidance_scale = 3.0
    torch.testing.assert_close(guided[:, :, 0], plain[:, :, 0], atol=1e-5, rtol=0)  # scale 1 on the first frame
    assert not torch.allclose(guided[:, :, -1], plain[:, :, -1], atol=1e-3)


@torch.no_grad()
def test_chunkwise_kstep_search_runs_on_svd(svd):
    module = LongVideoModule(
        svd,
        ChunkwiseI2V(),
        SchedulerSampler(3),
        KStepSearch(candidates=2, k=2, scorer=ColourConsistencyScorer()),
        frames_per_clip=FRAMES,
        height=SIZE,
        width=SIZE,
    )
    start = as_guide(guide_image(2))
    request = GenerationRequest(start, ["", ""], FRAMES, seed=0)
    encoded = []
    real_encode = svd.encode
    svd.encode = lambda video: (encoded.append(video.shape), real_encode(video))[1]
    try:
        results = list(module.generate(request))
    finally:
        del svd.encode
    clips, logs = [r.frames for r in results], [r.search for r in results if r.search is not None]
    assert encoded == []  # SVD embeds the guide itself: lvg's condition latents are not VAE-encoded for it
    assert [tuple(c.shape) for c in clips] == [(3, 1, SIZE, SIZE)] + [(3, FRAMES - 1, SIZE, SIZE)] * 2
    assert torch.equal(clips[0], start[0])
    assert all(c.min() >= -1 and c.max() <= 1 and c.std() > 0 for c in clips[1:])
    assert len(logs) == 2 and all(len(log["scores"]) == 2 for log in logs)


@torch.no_grad()
def test_each_chunk_draws_its_own_noise_augmentation(svd, monkeypatch):
    """Chunk i's guide is noise-augmented from chunk i's seed (a pipeline call per chunk draws afresh), not from one
    fixed seed: the same guide image gets other augmented latents in another chunk, the same in a rerun."""
    guide = as_guide(guide_image(4))
    latents = [svd.conditioning([""], guide=guide, seed=clip_seed(0, i)).image_latents for i in (1, 2, 1)]
    assert not torch.allclose(latents[0], latents[1], atol=1e-4) and torch.equal(latents[0], latents[2])

    seeds = []
    real = svd.encode_guide_latents
    monkeypatch.setattr(svd, "encode_guide_latents", lambda image, seed: (seeds.append(seed), real(image, seed))[1])
    module = LongVideoModule(svd, ChunkwiseI2V(), SchedulerSampler(2), frames_per_clip=FRAMES, height=SIZE, width=SIZE)
    list(module.generate(GenerationRequest(guide, ["", "", ""], FRAMES, seed=7)))
    assert seeds == [stream_seed(clip_seed(7, i), "guide_augmentation") for i in range(3)]


@pytest.mark.parametrize("config", SVD_CONFIGS, ids=lambda p: p.name)
def test_svd_generate_configs_build_and_run(config, tiny_svd_dir, tmp_path, monkeypatch):
    from lvg.cli import run_cli

    monkeypatch.setattr(sys, "argv", ["lvg"])  # LightningCLI warns when pytest's own arguments are there too

    assert len(SVD_CONFIGS) == 2
    guide = tmp_path / "guide.png"
    guide_image(3).save(guide)
    out = tmp_path / "x.mp4"
    args = [
        "generate",
        "--config",
        str(config),
        "--model.init_args.backbone.init_args.path",
        str(tiny_svd_dir),
        "--model.init_args.backbone.init_args.dtype",
        "float32",
        "--model.init_args.frames_per_clip",
        str(FRAMES),
        "--model.init_args.height",
        str(SIZE),
        "--model.init_args.width",
        str(SIZE),
        "--model.init_args.sampler.init_args.num_steps",
        "2",
        "--num_clips",
        "2",
        "--output",
        str(out),
        "--progress",
        "false",
        "--guide",
        str(guide),
    ]  # fmt: skip  (no --prompt: SVD has no text input)
    if "kstep" in config.name:
        args += [
            "--model.init_args.noise_init.init_args.k", "1",
            "--model.init_args.noise_init.init_args.candidates", "2",
            "--model.init_args.noise_init.init_args.scorer.init_args.path", str(tiny_svd_dir / "image_encoder"),
        ]  # fmt: skip
    cli = run_cli(args)
    assert isinstance(cli.model.backbone, Svd)
    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert sidecar["frames"] == 1 + 2 * (FRAMES - 1)  # the guide, then each chunk's new frames
    assert len(sidecar["clips"]) == 2
    assert all(("search" in c) == ("kstep" in config.name) for c in sidecar["clips"])


def test_bad_input_is_one_clear_error(tiny_svd_dir, svd, tmp_path):
    check_bad_folders(Svd, tiny_svd_dir, tmp_path, "vae")

    cond = svd.conditioning([""], guide=as_guide(guide_image()))
    x = torch.zeros(1, LATENT_CHANNELS, 2, 8, 8)
    with pytest.raises(LvgError, match="one timestep per sample"):
        svd.predict(x, torch.tensor([[0.5, 0.4]]), cond)
    assert svd.predict(x, torch.tensor([[0.5, 0.5]]), cond).shape == x.shape
    with pytest.raises(LvgError, match="needs the guide frames"):
        svd.conditioning([""])
    with pytest.raises(LvgError, match="shift"):
        svd.make_scheduler(3.0)

    svd.check_clip(FRAMES, 16, 20)
    with pytest.raises(LvgError, match="height 18 .*multiple of 4"):
        svd.check_clip(FRAMES, 18, 16)
    with pytest.raises(LvgError, match="width 10 .*multiple of 4"):
        LongVideoModule(svd, ChunkwiseI2V(), frames_per_clip=FRAMES, height=16, width=10)

import pytest
import torch

from lvg.backbones.base import Condition
from lvg.contracts import GUIDE_IMAGE, Parts
from lvg.errors import LvgError
from lvg.methods import Extension, GenerationRequest
from lvg.methods.guidance import condition_guided_denoiser, rescale_guided, without_frames
from lvg.sampling import SchedulerSampler
from lvg.search import GaussianNoise


def _clip(module, batch=1, seed=0):
    """Noisy latents, times and an extension condition (first 2 of 4 frames given) for the tiny toy backbone."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, 3, 4, 16, 16, generator=g)
    t = torch.rand(batch, 1, generator=g).expand(batch, 4)
    mask = torch.tensor([[1.0, 1.0, 0.0, 0.0]]).expand(batch, 4)
    latents = module.method.fill_condition(torch.randn(batch, 3, 4, 16, 16, generator=g), mask)
    text = module.backbone.encode_prompts(["a red circle moving right"] * batch)
    return x, t, Condition(text, latents, mask)


@torch.no_grad()
def test_guided_velocity_is_unconditional_plus_scaled_difference(tiny_module):
    backbone = tiny_module.backbone
    x, t, cond = _clip(tiny_module)
    conditional = backbone.predict(x, t, cond)
    unconditional = backbone.predict(x, t, without_frames(cond))
    assert not torch.allclose(conditional, unconditional, atol=1e-4)  # the frames matter to the model
    guided = condition_guided_denoiser(backbone, cond, 2.5)(x, t)
    torch.testing.assert_close(guided, unconditional + 2.5 * (conditional - unconditional), atol=1e-5, rtol=1e-4)
    assert torch.equal(condition_guided_denoiser(backbone, cond, 1.0)(x, t), backbone.denoiser(cond)(x, t))


@torch.no_grad()
def test_rescale_pulls_the_spread_back_and_min_t_limits_guidance_to_high_noise(tiny_module):
    backbone = tiny_module.backbone
    x, t, cond = _clip(tiny_module)
    conditional = backbone.predict(x, t, cond)
    plain = condition_guided_denoiser(backbone, cond, 4.0)(x, t)
    rescaled = condition_guided_denoiser(backbone, cond, 4.0, rescale=1.0)(x, t)
    torch.testing.assert_close(rescaled.std(), conditional.std(), atol=1e-5, rtol=1e-4)  # full rescale: same spread
    assert abs(plain.std() - conditional.std()) > 10 * abs(rescaled.std() - conditional.std())
    half = condition_guided_denoiser(backbone, cond, 4.0, rescale=0.5)(x, t)
    torch.testing.assert_close(half, 0.5 * plain + 0.5 * rescaled, atol=1e-5, rtol=1e-4)

    t_low, t_high = torch.full_like(t, 0.2), torch.full_like(t, 0.6)
    interval = condition_guided_denoiser(backbone, cond, 4.0, min_t=0.5)
    assert torch.equal(interval(x, t_low), backbone.predict(x, t_low, cond))  # below min_t: conditional only
    torch.testing.assert_close(interval(x, t_high), condition_guided_denoiser(backbone, cond, 4.0)(x, t_high))
    mixed = torch.tensor([[0.2, 0.2, 0.6, 0.6]])  # per-frame times: each frame guided by its own t
    both = interval(x, mixed)
    torch.testing.assert_close(both[:, :, 2:], condition_guided_denoiser(backbone, cond, 4.0)(x, mixed)[:, :, 2:])
    torch.testing.assert_close(both[:, :, :2], backbone.predict(x, mixed, cond)[:, :, :2], atol=1e-5, rtol=1e-4)


def test_rescale_matches_diffusers():
    from diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion import rescale_noise_cfg

    g = torch.Generator().manual_seed(3)
    guided, conditional = torch.randn(2, 3, 4, 5, 5, generator=g) * 3, torch.randn(2, 3, 4, 5, 5, generator=g)
    torch.testing.assert_close(rescale_guided(guided, conditional, 0.7), rescale_noise_cfg(guided, conditional, 0.7))


@torch.no_grad()
def test_batched_candidates_are_guided_each_on_its_own(tiny_module):
    """A search batch (make_denoise(n)) gives each row what a batch of one gives it."""
    tiny_module.method.condition_guidance = 3.0
    x, t, cond = _clip(tiny_module, batch=3, seed=1)
    one = Condition(cond.text[:1], cond.latents[:1], cond.mask[:1])
    batched = tiny_module.method.guided_denoiser(tiny_module.backbone, one)(3)(x, t)
    rows = [
        tiny_module.method.guided_denoiser(tiny_module.backbone, one)(1)(x[i : i + 1], t[i : i + 1]) for i in range(3)
    ]
    torch.testing.assert_close(batched, torch.cat(rows), atol=1e-5, rtol=1e-4)


def test_without_frames_drops_latents_and_mask_and_keeps_the_prompt():
    cond = Condition(torch.ones(2, 3, 4), torch.ones(2, 3, 4, 2, 2), torch.ones(2, 4))
    dropped = without_frames(cond)
    assert torch.equal(dropped.text, cond.text)
    assert dropped.latents.abs().sum() == 0 and dropped.mask.abs().sum() == 0
    both = dropped.concat(cond)
    assert (
        both.latents.shape[0] == 4
        and torch.equal(both.mask[:2], dropped.mask)
        and torch.equal(both.mask[2:], cond.mask)
    )


@torch.no_grad()
def test_guided_generation_is_seeded_and_differs_from_unguided(tiny_module):
    start = torch.rand(1, 3, 2, 16, 16, generator=torch.Generator().manual_seed(5)) * 2 - 1

    def video(scale):
        tiny_module.method.condition_guidance = scale
        request = GenerationRequest(start, ["a blue square moving down"] * 2, frames_per_clip=4, seed=7)
        return torch.cat([clip.frames for clip in tiny_module.generate(request)], 1)

    guided = video(2.0)
    assert torch.equal(guided, video(2.0))
    assert (guided - video(1.0)).abs().max() > 1e-3


def test_bad_guidance_is_refused():
    with pytest.raises(LvgError, match="condition_guidance must be at least 1"):
        Extension(condition_guidance=0.5)
    with pytest.raises(LvgError, match="guidance_rescale must be in"):
        Extension(condition_guidance=2.0, guidance_rescale=1.5)
    with pytest.raises(LvgError, match="guidance_min_t must be in"):
        Extension(condition_guidance=2.0, guidance_min_t=-0.1)

    class GuideOwnWay:  # SVD, CogVideoX, Wan I2V take the guide through their own inputs
        capabilities = frozenset({GUIDE_IMAGE})

    def parts(method):
        return Parts(GuideOwnWay(), method, GaussianNoise(), SchedulerSampler(2), 8)

    with pytest.raises(LvgError, match="needs an extension backbone"):
        Extension(condition_guidance=2.0).check(parts(Extension(condition_guidance=2.0)))
    Extension(condition_guidance=1.0).check(parts(Extension(condition_guidance=1.0)))

"""diffusers' speed switches (`lvg.backbones.speed`) on tiny CPU models: exact where they are exact, refused where
they cannot apply, the caching hooks' state dropped at every new walk. How close an approximating cache stays on
a trained model is a benchmark figure (benchmarks/speed_switches.py), not asserted here."""

from __future__ import annotations

import pytest
import torch
from helpers.tiny_svd import save_tiny_svd

from lvg import LongVideoModule
from lvg.backbones import Svd, Toy
from lvg.backbones.speed import Speed
from lvg.errors import LvgError
from lvg.methods import CausalKV, Extension, GenerationRequest
from lvg.sampling import SchedulerSampler


@pytest.fixture(autouse=True)
def restore_active_backend():
    """set_attention_backend also sets diffusers' process-wide active backend: put it back after each test."""
    from diffusers.models.attention_dispatch import _AttentionBackendRegistry

    before = _AttentionBackendRegistry._active_backend
    yield
    _AttentionBackendRegistry._active_backend = before


@pytest.fixture(scope="module")
def deep_toy_dir(tmp_path_factory):
    """A tiny random toy of 3 blocks: a first block, a middle one and a last one for the caching hooks."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("deep_toy")
    Toy(width=32, layers=3, heads=2, patch=(1, 4, 4)).save_pretrained(path)
    return path


def toy(tiny_toy_dir, **speed) -> Toy:
    return Toy(path=str(tiny_toy_dir), speed=Speed(**speed) if speed else None)


def video(backbone, clips: int = 2, steps: int = 4, method=None) -> torch.Tensor:
    module = LongVideoModule(backbone, method or Extension(condition_frames=2), SchedulerSampler(steps),
                             frames_per_clip=4, height=16, width=16)  # fmt: skip
    start = torch.rand(1, 3, 2, 16, 16, generator=torch.Generator().manual_seed(1)) * 2 - 1
    request = GenerationRequest(start, ["a red ball moves right"] * clips, 4, seed=3)
    with torch.no_grad():
        return torch.cat([r.frames for r in module.generate(request)], dim=1)


def count_calls(module: torch.nn.Module) -> list[int]:
    calls = [0]
    module.register_forward_hook(lambda *_: calls.__setitem__(0, calls[0] + 1))
    return calls


def test_attention_backends_are_set_and_give_the_same_video(tiny_toy_dir):
    plain = video(toy(tiny_toy_dir))
    native = toy(tiny_toy_dir, attention_backend="native")
    assert torch.equal(video(native), plain)  # the default backend, named: the same computation
    math = toy(tiny_toy_dir, attention_backend="_native_math")
    processors = [m.processor for m in math.attention_modules()]
    assert all(p._attention_backend.value == "_native_math" for p in processors)
    torch.testing.assert_close(video(math), plain, atol=1e-5, rtol=0)  # another kernel for the same attention


def test_causal_kv_keeps_the_attention_backend(tiny_toy_dir):
    backbone = toy(tiny_toy_dir, attention_backend="_native_math")
    video(backbone, clips=2, steps=2, method=CausalKV(condition_frames=2, cache_from="clean"))
    from lvg.attention import CachedKVAttnProcessor

    processors = [m.processor for m in backbone.attention_modules()]
    assert all(isinstance(p, CachedKVAttnProcessor) for p in processors)
    assert all(p._attention_backend.value == "_native_math" for p in processors)


@pytest.mark.parametrize(
    "speed, message",
    [
        (dict(attention_backend="warp_drive"), "speed.attention_backend 'warp_drive'"),
        (dict(cache="deep_cache"), "speed.cache must be one of"),
        (
            dict(cache="first_block", cache_options={"threshhold": 0.1}),
            "speed.cache_options for FirstBlockCacheConfig",
        ),
    ],
)
def test_bad_switches_are_one_line(tiny_toy_dir, speed, message):
    with pytest.raises(LvgError, match=message) as e:
        toy(tiny_toy_dir, **speed)
    assert "\n" not in str(e.value)


def test_svd_refuses_what_its_unet_cannot_take(tmp_path):
    path = save_tiny_svd(tmp_path / "svd")
    with pytest.raises(LvgError, match="caching hooks: drop speed.cache"):
        Svd(str(path), speed=Speed(cache="first_block"))


def test_first_block_cache_at_threshold_zero_is_exact_and_restarts_every_walk(deep_toy_dir, tiny_toy_dir):
    plain = video(toy(deep_toy_dir), clips=3)
    exact = toy(deep_toy_dir, cache="first_block", cache_options={"threshold": 0.0})
    assert torch.equal(video(exact, clips=3), plain)  # never reuses: the same video

    with pytest.raises(LvgError, match="needs at least 2 transformer blocks"):
        toy(tiny_toy_dir, cache="first_block")  # one block: nothing to skip
    loose = toy(deep_toy_dir, cache="first_block", cache_options={"threshold": 1e9})
    head, rest = (count_calls(loose.transformer.blocks[i].ffn) for i in (0, 1))  # inside: a skipped block has no call
    loosened = video(loose, clips=3, steps=4)
    assert head[0] == 3 * 4  # the first block runs at every step
    assert rest[0] == 3  # the others once per walk: each clip starts afresh (no state from the clip before)
    assert torch.isfinite(loosened).all() and not torch.equal(loosened, plain)


def test_taylorseer_and_magcache_are_exact_where_they_compute_every_step(deep_toy_dir):
    plain = video(toy(deep_toy_dir))
    with pytest.raises(LvgError, match="hooked no module of Toy"):  # its default patterns miss Wan's attn1 / attn2
        toy(deep_toy_dir, cache="taylorseer")
    names = [r"blocks\.\d+\.attn1", r"blocks\.\d+\.ffn"]
    exact = {"disable_cache_before_step": 100, "cache_identifiers": names}
    torch.testing.assert_close(video(toy(deep_toy_dir, cache="taylorseer", cache_options=exact)), plain, atol=1e-6,
                               rtol=0)  # fmt: skip
    taylor = toy(deep_toy_dir, cache="taylorseer", cache_options={"cache_interval": 2, "cache_identifiers": names})
    attention = count_calls(taylor.transformer.blocks[1].attn1.to_q)
    predicted = video(taylor, clips=2, steps=8)
    assert attention[0] < 2 * 8 and torch.isfinite(predicted).all()  # some steps forecast instead of computing
    mag = toy(deep_toy_dir, cache="mag", cache_options={"calibrate": True, "num_inference_steps": 4})
    torch.testing.assert_close(video(mag), plain, atol=1e-6, rtol=0)


def test_a_block_cache_is_refused_where_it_would_mislead(deep_toy_dir):
    cached = toy(deep_toy_dir, cache="first_block")
    with pytest.raises(LvgError, match="CausalKV cannot drive Toy: its speed.cache skips"):
        LongVideoModule(cached, CausalKV(condition_frames=2), SchedulerSampler(2), frames_per_clip=4, height=16,
                        width=16)  # fmt: skip
    module = LongVideoModule(cached, Extension(condition_frames=2), SchedulerSampler(2), frames_per_clip=4, height=16,
                             width=16)  # fmt: skip
    with pytest.raises(LvgError, match="speed.cache skips blocks .* for generation only: drop it from the backbone"):
        module.on_fit_start()  # what Lightning calls before the first training step
    mag = toy(deep_toy_dir, cache="mag", cache_options={"mag_ratios": [1.0] * 4, "num_inference_steps": 4})
    with pytest.raises(LvgError, match="num_inference_steps=4 but the sampler takes 2 steps"):
        LongVideoModule(mag, Extension(condition_frames=2), SchedulerSampler(2), frames_per_clip=4, height=16,
                        width=16)  # fmt: skip
    LongVideoModule(mag, Extension(condition_frames=2), SchedulerSampler(4), frames_per_clip=4, height=16, width=16)


def test_compile_gives_the_same_video(tiny_toy_dir):
    plain = video(toy(tiny_toy_dir))
    compiled = toy(tiny_toy_dir, compile=True, compile_options={"backend": "aot_eager"})
    torch.testing.assert_close(video(compiled), plain, atol=1e-6, rtol=0)
    assert compiled.transformer._compiled_call_impl is not None  # nn.Module.compile, in place: same state dict
    assert set(compiled.transformer.state_dict()) == set(toy(tiny_toy_dir).transformer.state_dict())


@pytest.mark.slow
def test_inductor_compile_stays_within_rounding(tiny_toy_dir):
    plain = video(toy(tiny_toy_dir))
    compiled = toy(tiny_toy_dir, compile=True)
    torch.testing.assert_close(video(compiled), plain, atol=1e-4, rtol=0)


def test_cogvideox_takes_the_switches(tiny_cog_dir):
    from helpers.tiny_cogvideox import HEIGHT, LATENT_SHAPE, WIDTH

    from lvg.backbones import CogVideoX

    cog = CogVideoX(str(tiny_cog_dir), speed=Speed(cache="first_block", cache_options={"threshold": 0.0}))
    assert "skips_blocks" in cog.capabilities
    x = torch.randn(1, *LATENT_SHAPE, generator=torch.Generator().manual_seed(0))
    guide = torch.rand(1, 3, 1, HEIGHT, WIDTH, generator=torch.Generator().manual_seed(1)) * 2 - 1
    t = torch.full((1, LATENT_SHAPE[1]), 0.5)
    plain = CogVideoX(str(tiny_cog_dir))
    cond = plain.conditioning(["a cat"], guide=guide, latent_frames=LATENT_SHAPE[1])
    torch.testing.assert_close(cog.predict(x, t, cond), plain.predict(x, t, cond), atol=1e-6, rtol=0)

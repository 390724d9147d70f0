"""The progressive method (PA-VDM): per-frame levels in sampling, streaming, resume, training, equal-level rows."""

import pytest
import torch
from diffusers import FlowMatchEulerDiscreteScheduler
from helpers.results import frames

from lvg import LongVideoModule
from lvg.backbones import Toy
from lvg.backbones.base import Condition
from lvg.contracts import PER_FRAME_TIMES, Parts
from lvg.errors import LvgError
from lvg.methods import GenerationRequest, Progressive
from lvg.sampling import SchedulerSampler, euler_rows
from lvg.search import GaussianNoise, KStepSearch
from lvg.seeding import clip_seed


class FrozenBackbone:
    """Pixel-space stand-in whose velocity is zero, so each latent frame keeps its noise and can be told apart; it
    records the flow time every frame is called at."""

    temporal_compression = spatial_compression = 1
    latent_channels = 3
    device = torch.device("cpu")
    prediction_type = "flow"
    capabilities = frozenset({PER_FRAME_TIMES})

    def make_scheduler(self, shift=None):
        return FlowMatchEulerDiscreteScheduler()

    def __init__(self) -> None:
        self.calls: list[tuple[torch.Tensor, torch.Tensor]] = []

    def latent_frames(self, n):
        return n

    def check_clip(self, *args):
        pass

    def encode(self, video):
        return video

    def decode(self, latents):
        return latents

    def conditioning(self, prompts):
        return Condition(torch.zeros(len(prompts), 1, 4))

    def predict(self, x, t, cond):
        self.calls.append((x.clone(), t.clone()))
        return torch.zeros_like(x)


def request(clips, seed=0, frames_per_clip=8, size=16):
    start = torch.rand(1, 3, 2, size, size, generator=torch.Generator().manual_seed(99)) * 2 - 1
    return GenerationRequest(start, [f"prompt {i}" for i in range(clips)], frames_per_clip, seed=seed)


def planned(method, backbone, frames_per_clip=8, steps=3):
    method.check(Parts(backbone, method, GaussianNoise(), SchedulerSampler(steps), frames_per_clip))
    return method


@pytest.mark.parametrize("chunked,steps", [(True, 3), (True, 6), (False, 6)])
def test_every_generated_frame_passes_every_level_exactly_once(chunked, steps):
    bb = FrozenBackbone()
    method = planned(Progressive(chunk_size=2, chunked=chunked), bb, steps=steps)
    parts = frames(method.generate(bb, SchedulerSampler(steps), None, request(5)))
    video = torch.cat(parts[1:], dim=1)  # [3, 10, H, W]: the zero velocity keeps each frame's noise
    grid = method.window_plan.times
    seen = {f: [] for f in range(video.shape[1])}
    for x, t in bb.calls:
        front = x[0, :, :2]
        assert torch.equal(t[0, :2], torch.zeros(2))  # the clean front chunk is at t = 0
        for j in range(2, x.shape[2]):
            matches = [f for f in seen if torch.equal(x[0, :, j], video[:, f])]
            assert len(matches) == 1
            seen[matches[0]].append(float(t[0, j]))
        assert front.shape[1] == 2
    expected = grid[1:].flip(0).tolist()  # levels N .. 1, each once, from noisy to clean
    for f, times in seen.items():
        assert times == pytest.approx(expected), f
    assert max(x.shape[2] for x, _ in bb.calls) == 2 + 6  # never more than the front chunk + the window


def test_n_chunks_give_exactly_n_chunks_streamed_before_the_video_is_done():
    bb = FrozenBackbone()
    method = planned(Progressive(chunk_size=2), bb)
    calls_at_yield = []
    parts = []
    for part in method.generate(bb, SchedulerSampler(3), None, request(7)):
        calls_at_yield.append(len(bb.calls))
        parts.append(part.frames)
    assert len(parts) == 1 + 7 and all(p.shape == (3, 2, 16, 16) for p in parts[1:])
    total = len(bb.calls)
    assert total == (7 + 3 - 1) * 1  # (M + S - 1) iterations of k = 1 step: no wasted steps
    assert calls_at_yield[1] == 3 < total  # the first chunk is out after S calls, long before the end
    assert calls_at_yield[1:] == [3, 4, 5, 6, 7, 8, 9]  # then one chunk per call


def test_model_calls_get_the_prompt_of_the_newest_chunk(tiny_toy_dir):
    bb = Toy(path=str(tiny_toy_dir))
    method = planned(Progressive(chunk_size=2), bb)
    seen = []
    real = bb.conditioning
    bb.conditioning = lambda prompts, *a, **k: seen.append(prompts[0]) or real(prompts, *a, **k)
    list(method.generate(bb, SchedulerSampler(3), None, request(4)))
    assert seen == [f"prompt {i}" for i in range(4)]


@pytest.fixture()
def progressive_module(tiny_toy_dir):
    return LongVideoModule(
        Toy(path=str(tiny_toy_dir)), Progressive(chunk_size=2), SchedulerSampler(3), frames_per_clip=8, height=16,
        width=16,
    )  # fmt: skip


def test_generation_is_seeded_and_resumes_from_its_carry(progressive_module):
    results = list(progressive_module.generate(request(5, seed=3)))
    whole = frames(results)
    torch.manual_seed(1)  # global RNG state must not matter
    again = frames(progressive_module.generate(request(5, seed=3)))
    other = frames(progressive_module.generate(request(5, seed=4)))
    assert all(torch.equal(a, b) for a, b in zip(whole, again))
    assert not torch.equal(torch.cat(whole[1:], 1), torch.cat(other[1:], 1))

    resumed = request(5, seed=3)  # two chunks done: continue from the second's carry, as after a crash
    resumed.first_clip, resumed.carry = 2, results[2].carry
    rest = frames(progressive_module.generate(resumed))
    assert len(rest) == 3
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(rest, whole[3:]))


def test_equal_level_rows_are_ordinary_flow_matching_sampling(tiny_toy_dir):
    bb = Toy(path=str(tiny_toy_dir))
    cond = bb.conditioning(["a red circle"])
    x = torch.randn(1, 3, 4, 16, 16, generator=torch.Generator().manual_seed(0))
    ours_sampler = SchedulerSampler(5)
    reference = ours_sampler(bb.denoiser(cond), x, bb)
    scheduler = bb.make_scheduler()
    scheduler.set_timesteps(5)
    rows = scheduler.sigmas.float()[:, None].expand(-1, 4)  # every frame at the same level
    assert torch.allclose(euler_rows(bb.denoiser(cond), x, rows), reference, atol=1e-5)


def test_a_one_stage_window_on_the_scheduler_grid_is_the_ordinary_sampler(tiny_toy_dir):
    bb = Toy(path=str(tiny_toy_dir))
    method = Progressive(chunk_size=4, clean_front=False, level_grid="scheduler")
    module = LongVideoModule(bb, method, SchedulerSampler(5), frames_per_clip=4, height=16, width=16)
    assert method.window_plan.stages == 1 and method.window_plan.substeps == 5
    parts = frames(module.generate(request(1, seed=2, frames_per_clip=4)))
    noise = torch.randn(1, 3, 4, 16, 16, generator=torch.Generator().manual_seed(clip_seed(2, 0)))
    reference = module.sampler(bb.denoiser(bb.conditioning(["prompt 0"])), noise, bb)
    assert torch.allclose(parts[1], reference[0].clamp(-1, 1), atol=1e-5)


def _batch(frames=8):
    from lvg.data import ToyWorldData

    dm = ToyWorldData(resolution=16, frames_per_clip=frames, batch_size=2, samples_per_epoch=2, max_sprites=2)
    return next(iter(dm.train_dataloader()))


def test_training_levels_follow_the_window_and_the_front_chunk_is_masked(progressive_module, monkeypatch):
    method, bb = progressive_module.method, progressive_module.backbone
    batch = _batch()
    times = []
    real = bb.predict

    def spy(x, t, cond):
        times.append(t[0].clone())
        return real(x, t, cond)

    monkeypatch.setattr(bb, "predict", spy)
    base = [method.loss(bb, batch, torch.Generator().manual_seed(s))["loss"] for s in range(12)]
    lengths = {len(t) for t in times}
    assert 8 in lengths and len(lengths) > 1  # full windows and shorter ones (initialization / termination)
    for t in times:
        assert (t[:2] == 0).all() and (t >= 0).all() and (t <= 1).all()
        assert (t[2:].diff() >= 0).all()  # increasing noise along the window
    full = [t for t in times if len(t) == 8]
    assert any((t[2::2].diff() - 1 / 3).abs().max() < 1e-5 for t in full)  # stages one level (1/3) apart

    def corrupt_front(x, t, cond):
        out = real(x, t, cond)
        out[:, :, :2] += 100
        return out

    monkeypatch.setattr(bb, "predict", corrupt_front)
    again = [method.loss(bb, batch, torch.Generator().manual_seed(s))["loss"] for s in range(12)]
    assert all(torch.allclose(a, b) for a, b in zip(base, again))


def test_training_steps_reduce_the_loss(progressive_module):
    method, bb = progressive_module.method, progressive_module.backbone
    batch = _batch()
    opt = torch.optim.AdamW(bb.parameters(), lr=3e-3)
    losses = []
    for step in range(20):
        loss = method.loss(bb, batch, torch.Generator().manual_seed(step % 3))["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert sum(losses[-3:]) < 0.8 * sum(losses[:3])


def test_bad_settings_are_one_line_errors(tiny_toy_dir):
    bb = Toy(path=str(tiny_toy_dir))
    with pytest.raises(LvgError, match="not a positive multiple of chunk_size=3"):
        planned(Progressive(chunk_size=3), bb, frames_per_clip=8)
    with pytest.raises(LvgError, match="num_steps=4 does not fit a progressive window of 3 stages"):
        planned(Progressive(chunk_size=2), bb, steps=4)
    with pytest.raises(LvgError, match="multiple of 6"):
        planned(Progressive(chunk_size=2, chunked=False), bb, steps=9)
    with pytest.raises(LvgError, match="shift_scale must be >= 0"):
        Progressive(shift_scale=-0.1)
    with pytest.raises(LvgError, match="drop noise_init"):
        method = Progressive(chunk_size=2)
        KStepSearch(candidates=2, k=1).check(Parts(bb, method, GaussianNoise(), SchedulerSampler(3), 8))


def test_a_guide_image_fills_the_front_chunk():
    bb = FrozenBackbone()
    method = planned(Progressive(chunk_size=2), bb)
    guide = torch.rand(1, 3, 1, 16, 16)
    assert torch.equal(method._start_chunk(bb, guide), guide.expand(-1, -1, 2, -1, -1))
    start = torch.rand(1, 3, 5, 16, 16)
    assert torch.equal(method._start_chunk(bb, start), start[:, :, -2:])  # the last chunk of a longer start

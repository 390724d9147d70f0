"""SkyReels-V2's diffusion-forcing schedule within a clip (`Extension(ar_step=...)`): its times matrix, that ar_step
0 is synchronous denoising, what it costs in model calls, and the parts it is refused with at build."""

import pytest
import torch

from lvg import LongVideoModule
from lvg.backbones import Toy
from lvg.errors import LvgError
from lvg.methods import CausalKV, Extension, GenerationRequest
from lvg.noise.schedules import diffusion_forcing_times, uniform_times
from lvg.sampling import EulerSampler, SchedulerSampler, TRFlowSampler
from lvg.search import ColourConsistencyScorer, KStepSearch


def skyreels_rows(steps: int, blocks: int, ar_step: int) -> list[list[int]]:
    """The step index of each block per row, by SkyReels-V2's recursion: block 0 advances one step per row; a block
    trails the one before it by ar_step steps until that one is done, then advances one step per row."""
    rows, row = [[0] * blocks], [0] * blocks
    while not all(i >= steps for i in row):
        new = []
        for b in range(blocks):
            if b == 0 or row[b - 1] >= steps:
                new.append(min(row[b] + 1, steps))
            else:
                new.append(max(0, min(new[b - 1] - ar_step, steps)))
        rows.append(new)
        row = new
    return rows


@pytest.mark.parametrize("ar_step, block", [(1, 1), (2, 1), (3, 2), (5, 2)])
def test_the_times_matrix_is_skyreels_schedule(ar_step, block):
    schedule = torch.linspace(1, 0, 5)  # 4 steps
    frames = 5
    times = diffusion_forcing_times(schedule, frames, ar_step, block)
    blocks = -(-frames // block)
    expected = torch.tensor(skyreels_rows(4, blocks, ar_step)).repeat_interleave(block, dim=1)[:, :frames]
    assert times.shape == (4 + min(ar_step, 4) * (blocks - 1) + 1, frames)
    assert torch.equal(times, schedule[expected])
    assert (times[0] == 1).all() and (times[-1] == 0).all()
    assert (times[1:] <= times[:-1]).all()  # no frame ever gets noisier


def test_ar_step_0_is_synchronous_denoising():
    schedule = torch.linspace(1, 0, 7)
    assert torch.equal(diffusion_forcing_times(schedule, 4, 0, 2), uniform_times(schedule, 4))


def module(backbone, method, sampler=None, noise_init=None):
    return LongVideoModule(backbone, method, sampler or EulerSampler(4), noise_init, frames_per_clip=6, height=16,
                           width=16)  # fmt: skip


def clips(m, n=2):
    start = torch.rand(1, 3, 2, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.no_grad():
        return [r.frames for r in m.generate(GenerationRequest(start, ["a ball"] * n, 6, seed=1))]


def test_generation_walks_the_schedule_and_ar_step_0_changes_nothing(tiny_toy_dir):
    toy = Toy(path=str(tiny_toy_dir))
    plain = clips(module(toy, Extension(condition_frames=2)))
    assert all(torch.equal(a, b) for a, b in zip(plain, clips(module(toy, Extension(condition_frames=2, ar_step=0)))))

    calls = []
    real = toy.predict
    toy.predict = lambda x, t, cond: (calls.append(t[0].clone()), real(x, t, cond))[1]
    try:
        forced = clips(module(toy, Extension(condition_frames=2, ar_step=2)), n=1)
    finally:
        del toy.predict
    assert len(calls) == 4 + 2 * (6 - 1)  # 6 latent frames (pixel space), blocks of 1: 10 more calls than 4
    assert calls[1][0] < 1 and calls[1][1] == 1  # the second call: frame 0 has moved on, frame 1 still waits
    assert not torch.equal(forced[1], plain[1])


def test_it_combines_with_causal_kv(tiny_toy_dir):
    out = clips(module(Toy(path=str(tiny_toy_dir)), CausalKV(condition_frames=2, ar_step=1, causal_block_size=2)))
    assert len(out) == 3 and all(torch.isfinite(c).all() for c in out)


@pytest.mark.parametrize(
    "sampler, noise_init, message",
    [
        (TRFlowSampler(4, 0.0, 1.0), None, "steps frames at different times .* use lvg.sampling.EulerSampler"),
        (EulerSampler(4), KStepSearch(2, 2, scorer=ColourConsistencyScorer()), "a k-step preview cannot stop"),
    ],
)
def test_refused_at_build_with_parts_that_cannot_step_frames_apart(tiny_toy_dir, sampler, noise_init, message):
    with pytest.raises(LvgError, match=message):
        module(Toy(path=str(tiny_toy_dir)), Extension(condition_frames=2, ar_step=1), sampler, noise_init)
    module(Toy(path=str(tiny_toy_dir)), Extension(condition_frames=2, ar_step=1), SchedulerSampler(4))  # Euler here


def test_bad_options_are_one_line():
    with pytest.raises(LvgError, match="ar_step must be >= 0"):
        Extension(ar_step=-1)
    with pytest.raises(LvgError, match="causal_block_size must be at least 1"):
        Extension(causal_block_size=0)

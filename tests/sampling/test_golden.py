"""Golden numbers per sampler (diffusers' scheduler tests pin sums the same way): a short run on a fixed tiny model
from fixed noise. A change that moves a sampler's output changes these numbers: make it a visible decision, and
update them in the commit that says why. (Same hardware and versions: float sums are not portable across them.)"""

import pytest
import torch

from lvg.sampling import EulerSampler, SchedulerSampler, TRFlowSampler

GOLDEN = {  # sampler -> (sum, mean absolute value) of the result
    "SchedulerSampler": (-19.812195, 0.919580),
    "EulerSampler": (-19.812206, 0.919580),
    "TRFlowSampler": (1.380974, 0.928307),
    "per-frame walk": (-15.838482, 0.840494),
}
SAMPLERS = {"SchedulerSampler": SchedulerSampler(5), "EulerSampler": EulerSampler(5),
            "TRFlowSampler": TRFlowSampler(5, 0.3, 0.7)}  # fmt: skip


def numbers(y: torch.Tensor) -> tuple[float, float]:
    return float(y.sum()), float(y.abs().mean())


@pytest.mark.parametrize("name", sorted(SAMPLERS))
@torch.no_grad()
def test_each_sampler_keeps_its_golden_numbers(setup, name):
    toy, denoise, x = setup
    assert numbers(SAMPLERS[name].run(denoise, x, toy).x) == pytest.approx(GOLDEN[name], rel=1e-5, abs=1e-5)


@torch.no_grad()
def test_the_per_frame_walk_keeps_its_golden_numbers(setup):
    """A staggered matrix (each frame a quarter of the way behind the one before: PA-VDM's shape)."""
    toy, denoise, x = setup
    times = torch.stack([torch.tensor([1.0, 0.75, 0.5, 0.25]) - 0.25 * r for r in range(4)]).clamp(min=0)
    y = SchedulerSampler(3).walk(denoise, x, times, toy, per_frame=True).x
    assert numbers(y) == pytest.approx(GOLDEN["per-frame walk"], rel=1e-5, abs=1e-5)
    assert torch.equal(
        y[:, :, 3], x[:, :, 3] + (0.0 - 0.25) * denoise(x, times[0][None])[:, :, 3]
    )  # one step, then held

import torch

from lvg.noise import (
    ddpm_xt,
    eps_from_v,
    expand_to_tokens,
    flow_match_target,
    flow_match_x0,
    flow_match_xt,
    uniform_rows,
    v_target,
    x0_from_eps,
)
from lvg.noise.timesteps import shift_t

g = torch.Generator().manual_seed(0)
X0 = torch.randn(2, 3, 4, 5, 5, generator=g)
N = torch.randn(2, 3, 4, 5, 5, generator=g)


def test_flow_match_endpoints_and_per_frame_times():
    t = torch.tensor([[0.0, 1.0, 0.5, 0.25]] * 2)
    xt = flow_match_xt(X0, N, t)
    assert torch.equal(xt[:, :, 0], X0[:, :, 0])
    assert torch.equal(xt[:, :, 1], N[:, :, 1])
    assert torch.allclose(xt[:, :, 2], 0.5 * X0[:, :, 2] + 0.5 * N[:, :, 2])


def test_flow_match_velocity_recovers_x0():
    t = torch.rand(2, 4, generator=g)
    xt = flow_match_xt(X0, N, t)
    assert torch.allclose(flow_match_x0(xt, flow_match_target(X0, N), t), X0, atol=1e-6)


def test_ddpm_forms_are_consistent():
    a = torch.rand(2, 4, generator=g) * 0.9 + 0.05
    xt = ddpm_xt(X0, N, a)
    assert torch.allclose(x0_from_eps(xt, N, a), X0, atol=1e-5)
    assert torch.allclose(eps_from_v(xt, v_target(X0, N, a), a), N, atol=1e-5)


def test_rows_and_token_expansion():
    rows = uniform_rows(torch.tensor([0.2, 0.7]), 2, 3)
    assert torch.equal(rows, torch.tensor([[0.2] * 3, [0.7] * 3]))
    assert torch.equal(uniform_rows(0.5, 1, 2), torch.tensor([[0.5, 0.5]]))
    tok = expand_to_tokens(torch.tensor([[1.0, 2.0]]), 3)
    assert torch.equal(tok, torch.tensor([[1.0, 1.0, 1.0, 2.0, 2.0, 2.0]]))


def test_shift_matches_diffusers_flow_match_scheduler():
    from diffusers import FlowMatchEulerDiscreteScheduler

    plain = FlowMatchEulerDiscreteScheduler(shift=1.0).sigmas  # training sigmas, unshifted
    shifted = FlowMatchEulerDiscreteScheduler(shift=3.0).sigmas
    assert torch.allclose(shift_t(plain, 3.0), shifted, atol=1e-6)
    assert not torch.allclose(plain, shifted)

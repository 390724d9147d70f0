import torch

from lvg.noise.preconditioning import preconditioned_velocity


def _edm_x0(out, x_t, t, base, s):
    d = (1 - t) ** 2 * s**2 + t**2
    return base + (1 - t) * s**2 / d * (x_t - (1 - t) * base) + t * s / d.sqrt() * out


def test_velocity_is_the_edm_estimate_turned_into_n_minus_x0():
    g = torch.Generator().manual_seed(0)
    x_t, base, out = (torch.randn(2, 3, 4, 5, 5, generator=g) for _ in range(3))
    t = torch.tensor([0.05, 0.3, 0.7, 1.0]).view(1, 1, 4, 1, 1)
    v = preconditioned_velocity(out, x_t, t, base, sigma_data=0.4)
    assert torch.allclose(x_t - t * v, _edm_x0(out, x_t, t, base, 0.4), atol=1e-5)


def test_the_estimate_is_base_plus_scaled_output_at_pure_noise_and_x_t_without_noise():
    g = torch.Generator().manual_seed(1)
    x_t, base, out = (torch.randn(1, 3, 2, 4, 4, generator=g) for _ in range(3))
    one = torch.ones(1, 1, 2, 1, 1)
    assert torch.allclose(x_t - preconditioned_velocity(out, x_t, one, base, 0.5), base + 0.5 * out, atol=1e-6)
    tiny = torch.full((1, 1, 2, 1, 1), 1e-6)
    assert torch.allclose(x_t - tiny * preconditioned_velocity(out, x_t, tiny, base, 0.5), x_t, atol=1e-4)
    assert torch.isfinite(preconditioned_velocity(out, x_t, torch.zeros_like(one), base, 0.5)).all()

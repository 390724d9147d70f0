"""EDM preconditioning (Karras et al. 2022, "Elucidating the Design Space...", §5 and Table 1) for the rectified
flow x_t = (1 - t) x0 + t n, around a base the clean sample is expected to be near (lvg's extension models: the copied
condition frame; zero for none).

With y = x - (1 - t) base the problem is the plain one for the residual y0 = x0 - base, and EDM's choices follow from
Var(y0) = sigma_data^2 and unit noise:

    D = (1 - t)^2 sigma_data^2 + t^2
    c_skip = (1 - t) sigma_data^2 / D,   c_out = t sigma_data / sqrt(D)
    x0_hat = base + c_skip (x_t - (1 - t) base) + c_out F

so the network output F has a unit-variance target at every t; at t = 1 the estimate is base + sigma_data F, at
t -> 0 it is x_t itself (a fresh network with F = 0 is the optimal linear denoiser around the base). The velocity
v = (x_t - x0_hat) / t is returned in closed form, finite at t = 0; a v-loss then weights F's error by
c_out^2 / t^2 = sigma_data^2 / D, between sigma_data^2 and 1, so no noise level dominates.
"""

from __future__ import annotations

import torch


def preconditioned_velocity(
    out: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor, base: torch.Tensor | float = 0.0, sigma_data: float = 0.5
) -> torch.Tensor:
    """Velocity n - x0 from the network output `out` at flow time `t` (broadcastable to x_t), module doc."""
    s2 = sigma_data**2
    d = (1 - t) ** 2 * s2 + t**2
    y_t = x_t - (1 - t) * base
    return (t - (1 - t) * s2) / d * y_t - base - sigma_data / d.sqrt() * out

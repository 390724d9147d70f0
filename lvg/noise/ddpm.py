"""DDPM-family forms (epsilon and v prediction) for the UNet backbones; alphas_cumprod given per frame [B, F]."""

import torch


def _per_frame(a: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return a.to(x.dtype)[:, None, :, None, None]


def ddpm_xt(x0: torch.Tensor, noise: torch.Tensor, alpha_bar: torch.Tensor) -> torch.Tensor:
    """x_t = sqrt(a) x0 + sqrt(1 - a) eps (Ho et al. 2020, eq. 4), a = alpha_bar [B, F]."""
    a = _per_frame(alpha_bar, x0)
    return a.sqrt() * x0 + (1 - a).sqrt() * noise


def v_target(x0: torch.Tensor, noise: torch.Tensor, alpha_bar: torch.Tensor) -> torch.Tensor:
    """v = sqrt(a) eps - sqrt(1 - a) x0 (Salimans & Ho 2022, section 4)."""
    a = _per_frame(alpha_bar, x0)
    return a.sqrt() * noise - (1 - a).sqrt() * x0


def x0_from_eps(x_t: torch.Tensor, eps: torch.Tensor, alpha_bar: torch.Tensor) -> torch.Tensor:
    """x0 = (x_t - sqrt(1 - a) eps) / sqrt(a)."""
    a = _per_frame(alpha_bar, x_t)
    return (x_t - (1 - a).sqrt() * eps) / a.sqrt()


def eps_from_v(x_t: torch.Tensor, v: torch.Tensor, alpha_bar: torch.Tensor) -> torch.Tensor:
    """eps = sqrt(1 - a) x_t + sqrt(a) v."""
    a = _per_frame(alpha_bar, x_t)
    return (1 - a).sqrt() * x_t + a.sqrt() * v

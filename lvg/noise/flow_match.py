"""Rectified-flow (flow-matching) forward process with per-frame times, t in [0, 1] (1 = pure noise)."""

import torch


def _per_frame(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Broadcast t [B, F] over x [B, C, F, H, W]."""
    return t.to(x.dtype)[:, None, :, None, None]


def flow_match_xt(x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """x_t = (1 - t) x0 + t n, with t [B, F] per latent frame."""
    tt = _per_frame(t, x0)
    return (1 - tt) * x0 + tt * noise


def flow_match_target(x0: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """Velocity target v = n - x0 (d x_t / d t)."""
    return noise - x0


def flow_match_x0(x_t: torch.Tensor, v: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Clean estimate from a velocity prediction: x0 = x_t - t v."""
    return x_t - _per_frame(t, x_t) * v

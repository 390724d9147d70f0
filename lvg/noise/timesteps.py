"""Per-frame timestep rows: a schedule is a [B, F] tensor (a scalar schedule is a constant row)."""

import torch


def uniform_rows(t: torch.Tensor | float, batch: int, frames: int, device=None) -> torch.Tensor:
    """A constant row per sample: t scalar or [B] -> [B, F] (a scalar's rows made on `device`)."""
    t = torch.as_tensor(t, dtype=torch.float32)
    if t.ndim:
        return t.reshape(-1, 1).expand(batch, frames).clone()
    return torch.full((batch, frames), float(t), device=device)


def logit_normal_t(batch: int, generator: torch.Generator, mean: float = 0.0, std: float = 1.0) -> torch.Tensor:
    """Training times t = sigmoid(N(mean, std)) [B] (SD3, Esser et al. 2024, section 3.1)."""
    return torch.sigmoid(mean + std * torch.randn(batch, generator=generator))


def shift_t(t: torch.Tensor, shift: float) -> torch.Tensor:
    """Resolution shift of flow times, t' = s t / (1 + (s - 1) t) (SD3 eq. 23; diffusers' `shift`)."""
    return shift * t / (1 + (shift - 1) * t)


def expand_to_tokens(t: torch.Tensor, tokens_per_frame: int) -> torch.Tensor:
    """Per-frame rows [B, F] -> per-token rows [B, F * tokens_per_frame], tokens ordered frame, height, width."""
    return t.repeat_interleave(tokens_per_frame, dim=1)

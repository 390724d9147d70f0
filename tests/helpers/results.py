"""What tests read from a method's typed per-clip results (`lvg.contracts.ClipResult`)."""

from __future__ import annotations

import torch


def frames(results) -> list[torch.Tensor]:
    """Each result's frames [3, n, H, W] (the given start frames first)."""
    return [r.frames for r in results]


def video(results) -> torch.Tensor:
    """The whole video [3, T, H, W]."""
    return torch.cat(frames(results), dim=1)


def searches(results) -> list[dict]:
    """The noise-search logs, clip by clip."""
    return [r.search for r in results if r.search is not None]


def contexts(results) -> dict[int, dict]:
    """The context logs by clip index."""
    return {r.index: r.context for r in results if r.context is not None}

"""Wan's interleaved rotary embedding on keys and queries [B, S, heads, head_dim] (the same operations as diffusers'
`WanAttnProcessor`, so outputs match bit for bit), shared by the attention processor and the KV cache."""

from __future__ import annotations

import torch


def apply_rotary_emb(x: torch.Tensor, freqs_cos: torch.Tensor, freqs_sin: torch.Tensor) -> torch.Tensor:
    """x rotated by (cos, sin) broadcast over its last dimension (pairs of channels 2k, 2k + 1)."""
    x1, x2 = x.unflatten(-1, (-1, 2)).unbind(-1)
    cos = freqs_cos[..., 0::2]
    sin = freqs_sin[..., 1::2]
    out = torch.empty_like(x)
    out[..., 0::2] = x1 * cos - x2 * sin
    out[..., 1::2] = x1 * sin + x2 * cos
    return out.type_as(x)

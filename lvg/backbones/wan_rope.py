"""Wan's 3-D rotary embedding shifted in time: temporal positions start at `offset` (error-free paper §3.3).

Clip i's latent frames keep their true position in the long video, so a cached clip's keys keep their position
relative to the current clip's queries. Frequencies are computed for any position (diffusers' table ends at
`rope_max_seq_len`, 1024 latent frames for Wan2.1), so long videos do not run off the table; spatial positions are
the table's, unchanged.
"""

from __future__ import annotations

import torch
from diffusers.models.embeddings import get_1d_rotary_pos_embed

WAN_ROPE_THETA = 10000.0  # diffusers' WanRotaryPosEmbed default (the attribute is not stored on the module)


def temporal_rope(rope, hidden_states: torch.Tensor, offset: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(cos, sin) [1, seq, 1, head_dim] of `rope` (a WanRotaryPosEmbed) for `hidden_states` [B, C, F, H, W] whose
    first frame sits at temporal position `offset`; offset 0 equals `rope(hidden_states)` exactly."""
    _, _, frames, height, width = hidden_states.shape
    p_t, p_h, p_w = rope.patch_size
    ppf, pph, ppw = frames // p_t, height // p_h, width // p_w
    positions = torch.arange(offset, offset + ppf, device=rope.freqs_cos.device)
    freqs_dtype = torch.float32 if torch.backends.mps.is_available() else torch.float64
    cos_t, sin_t = get_1d_rotary_pos_embed(
        rope.t_dim, positions, WAN_ROPE_THETA, use_real=True, repeat_interleave_real=True, freqs_dtype=freqs_dtype
    )
    split = [rope.t_dim, rope.h_dim, rope.w_dim]
    out = []
    for table, time_part in ((rope.freqs_cos, cos_t), (rope.freqs_sin, sin_t)):
        _, h_part, w_part = table.split(split, dim=1)
        parts = [
            time_part.to(table.dtype).view(ppf, 1, 1, -1).expand(ppf, pph, ppw, -1),
            h_part[:pph].view(1, pph, 1, -1).expand(ppf, pph, ppw, -1),
            w_part[:ppw].view(1, 1, ppw, -1).expand(ppf, pph, ppw, -1),
        ]
        out.append(torch.cat(parts, dim=-1).reshape(1, ppf * pph * ppw, 1, -1))
    return out[0], out[1]


def temporal_shift(rope, delta: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(cos, sin) [head_dim] that move a key already rotated by `rope` (a WanRotaryPosEmbed) `delta` temporal
    positions on, its spatial channels unchanged: a rotation by angle w p followed by one by w delta is the rotation
    by w (p + delta), channel pair by channel pair (RoPE re-indexing of cached keys)."""
    freqs_dtype = torch.float32 if torch.backends.mps.is_available() else torch.float64
    cos_t, sin_t = get_1d_rotary_pos_embed(
        rope.t_dim, torch.tensor([delta]), WAN_ROPE_THETA, use_real=True, repeat_interleave_real=True,
        freqs_dtype=freqs_dtype,
    )  # fmt: skip
    spatial = rope.h_dim + rope.w_dim
    dtype = rope.freqs_cos.dtype
    cos = torch.cat([cos_t[0].to(dtype), torch.ones(spatial, dtype=dtype)])
    sin = torch.cat([sin_t[0].to(dtype), torch.zeros(spatial, dtype=dtype)])
    return cos, sin

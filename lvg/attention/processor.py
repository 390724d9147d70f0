"""Causal cross-clip attention as a diffusers attention processor (error-free paper §3.3, eq. 5).

Installed on the self-attention modules (`attn1`) of a `WanTransformer3DModel` (real Wan2.1 and the toy model alike),
it attends with the current clip's queries over [selected past clips' K/V ; the current clip's K/V]: bidirectional
within the clip, causal across clips (past clips never see the current one). With nothing selected it computes
exactly what diffusers' `WanAttnProcessor` does.
"""

from __future__ import annotations

import torch
from diffusers.models.attention_dispatch import dispatch_attention_fn
from diffusers.models.transformers.transformer_wan import _get_qkv_projections

from lvg.attention.kv_cache import KVCache
from lvg.attention.rotary import apply_rotary_emb


class CachedKVAttnProcessor:
    """Self-attention of layer `layer` that also attends to the past clips `cache` prepared, and stores its own K/V
    in the cache while the cache is recording."""

    _attention_backend = None
    _parallel_config = None

    def __init__(self, cache: KVCache, layer: int) -> None:
        self.cache = cache
        self.layer = layer

    def __call__(
        self,
        attn,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        rotary_emb: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        if encoder_hidden_states is not None or attn.add_k_proj is not None:
            raise ValueError("CachedKVAttnProcessor is for self-attention (attn1) only")
        query, key, value = _get_qkv_projections(attn, hidden_states, None)
        query = attn.norm_q(query).unflatten(2, (attn.heads, -1))
        key = attn.norm_k(key).unflatten(2, (attn.heads, -1))
        value = value.unflatten(2, (attn.heads, -1))
        if rotary_emb is not None:
            query = apply_rotary_emb(query, *rotary_emb)
            key = apply_rotary_emb(key, *rotary_emb)
        self.cache.put(self.layer, key, value)
        past = self.cache.past_kv(self.layer, query.shape[0])
        if past is not None:
            key = torch.cat([past[0].to(key.dtype), key], dim=1)
            value = torch.cat([past[1].to(value.dtype), value], dim=1)
        hidden_states = dispatch_attention_fn(
            query,
            key,
            value,
            attn_mask=attention_mask,
            dropout_p=0.0,
            is_causal=False,
            backend=self._attention_backend,
            parallel_config=self._parallel_config,
        )
        hidden_states = hidden_states.flatten(2, 3).type_as(query)
        hidden_states = attn.to_out[0](hidden_states)
        return attn.to_out[1](hidden_states)


def install_cached_kv(attention_modules: list, cache: KVCache) -> None:
    """Give each self-attention module (in block order) a `CachedKVAttnProcessor` over `cache`, unless it already has
    one over this cache."""
    for layer, module in enumerate(attention_modules):
        proc = module.processor
        if not (isinstance(proc, CachedKVAttnProcessor) and proc.cache is cache and proc.layer == layer):
            cached = CachedKVAttnProcessor(cache, layer)
            cached._attention_backend = getattr(proc, "_attention_backend", None)  # speed.attention_backend stays
            module.set_processor(cached)

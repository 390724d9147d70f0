"""Causal cross-clip attention (error-free paper §3.3): the KV cache, its attention processor, clip selection."""

from lvg.attention.kv_cache import KVCache
from lvg.attention.processor import CachedKVAttnProcessor, install_cached_kv
from lvg.attention.selection import AllClips, ClipSelection, PromptSimilarity, Recent, Selection, SinkAndRecent

__all__ = [
    "AllClips",
    "CachedKVAttnProcessor",
    "ClipSelection",
    "KVCache",
    "PromptSimilarity",
    "Recent",
    "Selection",
    "SinkAndRecent",
    "install_cached_kv",
]

"""Context methods (DESIGN.md axis 1), one file each: a training loss and a clip-by-clip generation loop."""

from lvg.methods.base import GenerationRequest, Method
from lvg.methods.causal_kv import CausalKV
from lvg.methods.chunkwise_i2v import ChunkwiseI2V
from lvg.methods.error_recycling import ErrorRecycling
from lvg.methods.extension import Extension
from lvg.methods.own_clip import OwnClip
from lvg.methods.progressive import Progressive
from lvg.methods.replacement import ReplacementWithNoise, ReplacementWithoutNoise

__all__ = [
    "CausalKV",
    "ChunkwiseI2V",
    "ErrorRecycling",
    "Extension",
    "GenerationRequest",
    "Method",
    "OwnClip",
    "Progressive",
    "ReplacementWithNoise",
    "ReplacementWithoutNoise",
]

"""Noise-init strategies (DESIGN.md axis 2): how each clip's starting noise is chosen."""

from lvg.search.base import ClipContext, ClipStart, NoiseInit
from lvg.search.gaussian import GaussianNoise
from lvg.search.kstep import KStepSearch
from lvg.search.scorers import CLIPScorer, ColourConsistencyScorer, DINOScorer, Scorer

__all__ = [
    "CLIPScorer",
    "ClipContext",
    "ClipStart",
    "ColourConsistencyScorer",
    "DINOScorer",
    "GaussianNoise",
    "KStepSearch",
    "NoiseInit",
    "Scorer",
]

"""Scorers for noise search (the evaluator f of Algorithm 1): one call, `scorer(frames, guide) -> [N]`."""

from lvg.search.scorers.base import EmbeddingScorer, Scorer
from lvg.search.scorers.colour import ColourConsistencyScorer
from lvg.search.scorers.pretrained import CLIPScorer, DINOScorer

__all__ = ["CLIPScorer", "ColourConsistencyScorer", "DINOScorer", "EmbeddingScorer", "Scorer"]

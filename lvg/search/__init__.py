"""Noise-init strategies (DESIGN.md axis 2): how each clip's starting noise is chosen."""

from lvg.search.gaussian import GaussianNoise

__all__ = ["GaussianNoise"]

"""lvg: long video generation with diffusion models, under one Lightning trainer."""

from lvg.module import LongVideoModule

__all__ = ["LongVideoModule"]
__version__ = "0.1.0"

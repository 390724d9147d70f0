"""lvg: long video generation with diffusion models, under one Lightning trainer.

`LongVideoModule` is imported on first use, so `import lvg.noise` (or any light subpackage) does not load Lightning.
"""

__all__ = ["LongVideoModule"]
__version__ = "0.1.0"


def __getattr__(name: str):
    if name == "LongVideoModule":
        from lvg.module import LongVideoModule

        return LongVideoModule
    raise AttributeError(f"module 'lvg' has no attribute {name!r}")

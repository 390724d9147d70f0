"""Frame interpolators for motion smoothness: `interpolator(a, b) -> the frame halfway`, uint8 [H, W, 3] in and out.

VBench uses AMT-S; lvg's weight-free default warps both frames halfway along OpenCV's Farneback optical flow
(`FarnebackInterpolator`). `BlendInterpolator` (the mean of the two frames) is the flow-free baseline. Any callable
with the same signature plugs in (e.g. a wrapper around an AMT checkpoint), by object or by `module:attribute` path.
"""

from __future__ import annotations

import importlib

import numpy as np

from lvg.errors import LvgError


class BlendInterpolator:
    """The mean of the two frames (right only where nothing moves)."""

    source = "blend (weight-free)"

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return ((a.astype(np.uint16) + b.astype(np.uint16) + 1) // 2).astype(np.uint8)


class FarnebackInterpolator:
    """Both frames warped halfway along Farneback flow a -> b, then averaged: the midpoint at q samples a at
    q - flow(q)/2 and b at q + flow(q)/2 (flow taken at q itself, a first-order approximation)."""

    source = "farneback flow (weight-free)"

    def __init__(self, levels: int = 3, winsize: int = 9, iterations: int = 3) -> None:
        self.levels, self.winsize, self.iterations = levels, winsize, iterations

    def flow(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Dense flow a -> b, [H, W, 2] in pixels."""
        import cv2

        if np.array_equal(a, b):  # Farneback reports sub-pixel motion on identical textured frames
            return np.zeros((*a.shape[:2], 2), np.float32)
        ga, gb = cv2.cvtColor(a, cv2.COLOR_RGB2GRAY), cv2.cvtColor(b, cv2.COLOR_RGB2GRAY)
        return cv2.calcOpticalFlowFarneback(ga, gb, None, 0.5, self.levels, self.winsize, self.iterations, 5, 1.1, 0)

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        import cv2

        h, w = a.shape[:2]
        half = self.flow(a, b) / 2
        gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        from_a = cv2.remap(a, gx - half[..., 0], gy - half[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        from_b = cv2.remap(b, gx + half[..., 0], gy + half[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return BlendInterpolator()(from_a, from_b)


INTERPOLATORS = {"farneback": FarnebackInterpolator, "blend": BlendInterpolator}


def make_interpolator(spec):
    """An interpolator from a name (`farneback`, `blend`), a `module:attribute` path (a class is instantiated), or a
    callable (returned as is)."""
    if callable(spec):
        return spec
    if spec in INTERPOLATORS:
        return INTERPOLATORS[spec]()
    module, _, attr = str(spec).partition(":")
    try:
        obj = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError, ValueError) as e:
        raise LvgError(
            f"unknown interpolator {spec!r}: use one of {sorted(INTERPOLATORS)} or 'module:attribute' of a callable "
            "(a, b) -> midpoint frame"
        ) from e
    return obj() if isinstance(obj, type) else obj

"""Synthetic uint8 videos [F, H, W, 3] with known answers for the metric tests."""

from __future__ import annotations

import numpy as np


def texture(size: int = 32, seed: int = 0) -> np.ndarray:
    """A smooth random background [H, W, 3] uint8 (blurred noise: flow has something to follow)."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(40, 200, size=(size // 4, size // 4, 3)).astype(np.float32)
    return np.kron(coarse, np.ones((4, 4, 1))).astype(np.uint8)


def static_video(frames: int = 8, size: int = 32) -> np.ndarray:
    return np.repeat(texture(size)[None], frames, axis=0)


def sprite_video(positions: list, size: int = 32, sprite: int = 8, tint: float = 0.0) -> np.ndarray:
    """A square sprite (red rim, yellow core) whose top-left corner visits the (x, y) `positions` over the background;
    `tint` shifts the background's colour a little more every frame (a slow global change)."""
    patch = np.zeros((sprite, sprite, 3), np.uint8)
    patch[...] = (230, 40, 40)
    patch[2:-2, 2:-2] = (250, 250, 60)
    out = []
    for t, (x, y) in enumerate(positions):
        frame = np.clip(texture(size).astype(np.float32) + tint * t * np.array([3.0, -2.0, 1.0]), 0, 255)
        frame = frame.astype(np.uint8)
        xi, yi = int(round(x)), int(round(y))
        frame[yi : yi + sprite, xi : xi + sprite] = patch
        out.append(frame)
    return np.stack(out)


def linear_sprite(frames: int = 12, speed: float = 1.0, size: int = 32, tint: float = 0.0) -> np.ndarray:
    return sprite_video([(4 + speed * t, 6 + speed * t / 2) for t in range(frames)], size, tint=tint)


def jittery_sprite(frames: int = 12, size: int = 32, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return sprite_video([tuple(rng.uniform(0, size - 9, 2)) for _ in range(frames)], size)


def shuffled(video: np.ndarray, seed: int = 0) -> np.ndarray:
    return video[np.random.default_rng(seed).permutation(len(video))]

"""Small synthetic mp4 files for tests: frame k carries its index as a grey level, framed by two green side bands.

Decode with `frame_indices` (which source frame each clip frame came from) and `green_fraction` (how much of the
width the bands take: 20/56 in the source, less after a centre crop). The default width is 56: decord 0.6 cannot
convert frames of some tiny widths (16, 24, 48, 72 pixels).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

BAND = 10  # width in pixels of each green side band
GREEN = (0, 200, 0)


def level(k: int) -> int:
    """Grey level (0-255) that encodes frame index k (0-23)."""
    return 20 + 9 * k


def make_frames(num_frames: int = 24, height: int = 40, width: int = 56) -> np.ndarray:
    """[F, H, W, 3] uint8: frame k is grey `level(k)` with green bands in the outer `BAND` columns."""
    frames = np.empty((num_frames, height, width, 3), np.uint8)
    for k in range(num_frames):
        frames[k] = level(k)
        frames[k, :, :BAND] = frames[k, :, width - BAND :] = GREEN
    return frames


def write_video(path: str | Path, num_frames: int = 24, height: int = 40, width: int = 56, fps: int = 24) -> Path:
    """Write `make_frames(...)` as an H.264 mp4 (yuv420p, near-lossless) at `fps`; sizes must be even."""
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": "4"}
        for frame in make_frames(num_frames, height, width):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return path


def frame_indices(video: torch.Tensor) -> list[int]:
    """Source frame index of each frame of a clip [3, F, H, W] in [-1, 1], read from the centre's red level."""
    h, w = video.shape[-2:]
    red = (video[0, :, h // 4 : 3 * h // 4, w // 2 - 2 : w // 2 + 2].mean(dim=(1, 2)) + 1) * 127.5
    return [round((float(r) - 20) / 9) for r in red]


def green_fraction(video: torch.Tensor) -> float:
    """Fraction of the width covered by the green bands in a clip [3, F, H, W] in [-1, 1]."""
    greenness = ((video[1] - video[0]) / (200 / 127.5)).clamp(0, 1)  # 1 on the bands, 0 on grey
    return float(greenness.mean())

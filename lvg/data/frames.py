"""Decode video files to frames: decord first (fast random access), PyAV when decord cannot.

decord mis-sizes some valid files (e.g. H.264 at 48x32 fails with "from_size == to_size"), so a file decord rejects
is decoded with PyAV (sequentially, up to the last frame asked for) before it is called unreadable.
"""

from __future__ import annotations

import re

import numpy as np
import torch

from lvg.errors import LvgError


def first_line(error: Exception) -> str:
    """An error's first line, cut short (decord's messages run to many lines after a timestamp and file)."""
    lines = re.sub(r"^\[[\d:]+\] \S+: ", "", str(error).strip()).splitlines()
    return lines[0][:120] if lines else type(error).__name__


def _decord_probe(path: str) -> tuple[int, float]:
    import decord

    reader = decord.VideoReader(path, num_threads=1)
    num_frames, fps = len(reader), float(reader.get_avg_fps())
    reader.get_batch([0])  # catches files decord opens but cannot decode
    return num_frames, fps


def _av_frames(path: str, last: int | None):
    """Decoded RGB frames [H, W, 3] uint8 of the first video stream, up to frame `last` (None: all)."""
    import av

    with av.open(path) as container:
        for n, frame in enumerate(container.decode(video=0)):
            yield frame.to_ndarray(format="rgb24")
            if last is not None and n >= last:
                return


def _av_probe(path: str) -> tuple[int, float]:
    """PyAV's reading of the header (frame count and rate) with the first frame decoded; a file whose index gives no
    frame count is counted by decoding it whole. A corrupt body past the first frame is found at read time, as
    decord's probe leaves it (decord's threaded decoder can meet it early, which is when this runs)."""
    import av

    with av.open(path) as container:
        stream = container.streams.video[0]
        rate, counted = stream.average_rate, int(stream.frames or 0)
        next(container.decode(video=0))  # StopIteration (nothing decodable) is an error, as in decord's probe
    num_frames = counted or sum(1 for _ in _av_frames(path, None))
    return num_frames, float(rate) if rate else float("nan")


def probe(path: str) -> tuple[int, float]:
    """(number of frames, frames per second) of a video; raises with both decoders' reasons if neither can."""
    try:
        return _decord_probe(path)
    except Exception as decord_error:  # noqa: BLE001 - decord raises its own error types
        try:
            return _av_probe(path)
        except Exception:  # noqa: BLE001 - PyAV too: report decord's reason, the usual one
            raise LvgError(first_line(decord_error)) from decord_error


def read_frames(path: str, indices: list[int]) -> torch.Tensor:
    """Frames `indices` of a video as [F, H, W, 3] uint8, each distinct frame decoded once."""
    import decord

    unique = sorted(set(indices))
    try:
        batch = decord.VideoReader(path, num_threads=1).get_batch(unique).asnumpy()
    except Exception as decord_error:  # noqa: BLE001 - decord raises its own error types
        try:
            wanted = set(unique)
            batch = np.stack([f for n, f in enumerate(_av_frames(path, unique[-1])) if n in wanted])
            if len(batch) != len(unique):
                raise ValueError(f"only {len(batch)} of {len(unique)} frames decoded")
        except Exception:  # noqa: BLE001
            raise LvgError(f"cannot read video {path!r}: {first_line(decord_error)}") from decord_error
    position = {i: n for n, i in enumerate(unique)}
    return torch.from_numpy(batch)[[position[i] for i in indices]]

"""Video I/O: read with decord; stream frames into an mp4 with PyAV, written atomically (temp file, then rename)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
import torch

from lvg.errors import LvgError


def _publish(tmp: str | Path, path: str | Path) -> None:
    """Give a finished temp file the permissions a normally created file gets (mkstemp makes it 0600), then rename."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, path)


def to_uint8(frames: torch.Tensor) -> np.ndarray:
    """[3, F, H, W] in [-1, 1] -> [F, H, W, 3] uint8."""
    x = ((frames.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(1, 2, 3, 0).numpy()


class VideoSink:
    """Stream frames into `path` (mp4, libx264) as they come; the file appears under its name only when complete.

    Use as a context manager: on an exception the temporary file is removed and nothing is left at `path`.
    Memory stays flat: each `write` encodes and drops its frames.
    """

    def __init__(self, path: str | Path, fps: int = 8, crf: int = 18) -> None:
        self.path = Path(path)
        if self.path.suffix.lower() != ".mp4":
            raise LvgError(f"output {str(self.path)!r} must end in .mp4")
        self.fps, self.crf = fps, crf
        self.frames_written = 0
        self._container = self._stream = self._tmp = None

    def __enter__(self) -> VideoSink:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.stem}.", suffix=".partial.mp4", dir=self.path.parent)
        os.close(fd)
        self._tmp = Path(tmp)
        return self

    def write(self, frames: np.ndarray) -> None:
        """Append frames [F, H, W, 3] uint8."""
        import av

        if self._container is None:
            h, w = frames.shape[1:3]
            self._container = av.open(str(self._tmp), mode="w", format="mp4")
            self._stream = self._container.add_stream("libx264", rate=self.fps)
            self._stream.width, self._stream.height = w + w % 2, h + h % 2
            self._stream.pix_fmt = "yuv420p"
            self._stream.options = {"crf": str(self.crf)}
        for frame in frames:
            if frame.shape[0] % 2 or frame.shape[1] % 2:  # yuv420p needs even sizes: pad by edge replication
                frame = np.pad(frame, ((0, frame.shape[0] % 2), (0, frame.shape[1] % 2), (0, 0)), mode="edge")
            for packet in self._stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
                self._container.mux(packet)
        self.frames_written += len(frames)

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if self._container is not None:
                if exc_type is None:
                    for packet in self._stream.encode():
                        self._container.mux(packet)
                self._container.close()
            if exc_type is None and self.frames_written:
                _publish(self._tmp, self.path)
        finally:
            if self._tmp is not None and self._tmp.exists():
                self._tmp.unlink()


def write_json_atomic(path: str | Path, data: dict) -> None:
    """Write JSON via a temp file in the same folder and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1, default=str)
        _publish(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def read_video(path: str | Path, indices: list[int] | None = None) -> np.ndarray:
    """All (or the given) frames of a video file as [F, H, W, 3] uint8, read with decord."""
    import decord

    try:
        reader = decord.VideoReader(str(path))
    except Exception as e:  # noqa: BLE001 - decord raises its own error types
        raise LvgError(f"cannot read video {str(path)!r}: {str(e).splitlines()[0][:120]}") from e
    idx = list(range(len(reader))) if indices is None else indices
    return reader.get_batch(idx).asnumpy()

"""Video I/O: read with decord (PyAV where decord cannot); stream frames into an mp4 encoded in a worker process
(`lvg.encode_worker`: the same frames give the same bytes), written atomically (temp file, then rename).

Nothing is left half-written: the mp4 appears under its name only when complete, `publish_together` renames an mp4
and its sidecar both or neither, and a temp file a killed run left (`.NAME.PID.partial.mp4` of a process that no
longer runs) is removed by the next run that writes NAME.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from lvg.errors import LvgError
from lvg.file_modes import default_mode

PARTIAL = ".partial.mp4"


def _publish(tmp: str | Path, path: str | Path) -> None:
    """Give a finished temp file the permissions a normally created file gets (mkstemp makes it 0600), then rename."""
    os.chmod(tmp, default_mode())
    os.replace(tmp, path)


def publish_together(pairs: list[tuple[Path, Path]]) -> None:
    """Rename each finished temp file onto its name: all of them, or (if one rename fails) none left published."""
    done: list[Path] = []
    try:
        for tmp, path in pairs:
            _publish(tmp, path)
            done.append(path)
    except OSError as e:
        for path in done:
            path.unlink(missing_ok=True)
        raise LvgError(f"could not write {str(path)!r} ({e.strerror or e}): nothing was published") from e
    finally:
        for tmp, _ in pairs:
            Path(tmp).unlink(missing_ok=True)


def to_uint8(frames: torch.Tensor) -> np.ndarray:
    """[3, F, H, W] in [-1, 1] -> [F, H, W, 3] uint8."""
    x = ((frames.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(1, 2, 3, 0).numpy()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_partials(path: Path) -> None:
    """Remove the temp files earlier runs writing `path` left when they were killed (their process is gone)."""
    if not path.parent.is_dir():
        return
    for tmp in path.parent.glob(f".{path.stem}.*{PARTIAL}"):
        pid = tmp.name[len(path.stem) + 2 : -len(PARTIAL)].split(".")[0]
        if pid.isdigit() and not _alive(int(pid)):
            tmp.unlink(missing_ok=True)


class VideoSink:
    """Stream frames into `path` (mp4, libx264 in `lvg.encode_worker`) as they come.

    Use as a context manager: on an exception the temporary file is removed and nothing is left at `path`. With
    `publish=False` the finished temp file stays at `tmp` for the caller to publish (`publish_together`, with a
    sidecar). Memory stays flat: each `write` hands its frames to the worker and drops them.
    """

    def __init__(self, path: str | Path, fps: int = 8, crf: int = 18, publish: bool = True) -> None:
        self.path = Path(path)
        if self.path.suffix.lower() != ".mp4":
            raise LvgError(f"output {str(self.path)!r} must end in .mp4")
        self.fps, self.crf, self.publish = fps, crf, publish
        self.frames_written = 0
        self.tmp: Path | None = None
        self._worker: subprocess.Popen | None = None

    def __enter__(self) -> VideoSink:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_partials(self.path)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.stem}.{os.getpid()}.", suffix=PARTIAL, dir=self.path.parent)
        os.close(fd)
        self.tmp = Path(tmp)
        return self

    def _start(self, height: int, width: int) -> None:
        args = [str(self.tmp), str(self.fps), str(self.crf), str(width), str(height)]
        self._worker = subprocess.Popen(
            [sys.executable, "-m", "lvg.encode_worker", *args], stdin=subprocess.PIPE, stderr=subprocess.PIPE
        )

    def write(self, frames: np.ndarray) -> None:
        """Append frames [F, H, W, 3] uint8 (odd sizes are padded by edge replication: yuv420p needs even sizes)."""
        h, w = frames.shape[1:3]
        if h % 2 or w % 2:
            frames = np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="edge")
        if self._worker is None:
            self._start(*frames.shape[1:3])
        try:
            self._worker.stdin.write(np.ascontiguousarray(frames, dtype=np.uint8).tobytes())
        except BrokenPipeError:
            self._finish()  # raises with the worker's reason
        self.frames_written += len(frames)

    def _finish(self) -> None:
        """Close the worker's input and wait for it; one clear error if it failed (e.g. the disk is full)."""
        worker, self._worker = self._worker, None
        if worker is None:
            return
        try:
            worker.stdin.close()
        except BrokenPipeError:
            pass
        reason = worker.stderr.read().decode(errors="replace").strip().splitlines()
        if worker.wait() != 0:
            raise LvgError(f"could not write {str(self.path)!r}: {reason[-1] if reason else 'the encoder failed'}")

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                self._finish()
                if self.publish and self.frames_written:
                    _publish(self.tmp, self.path)
            elif self._worker is not None:
                self._worker.kill()
                self._worker.wait()
        finally:
            if self.tmp is not None and self.tmp.exists() and (exc_type is not None or self.publish):
                self.tmp.unlink()


def write_json_atomic(path: str | Path, data: dict) -> None:
    """Write JSON via a temp file in the same folder and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _publish(write_json_tmp(path, data), path)


def write_json_tmp(path: Path, data: dict) -> Path:
    """JSON written to a temp file beside `path` (to publish with `publish_together`)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1, default=str)
    except BaseException:
        os.unlink(tmp)
        raise
    return Path(tmp)


def _av_frames(path: str | Path, wanted: set[int] | None) -> np.ndarray:
    import av

    with av.open(str(path)) as container:
        frames = [f.to_ndarray(format="rgb24") for n, f in enumerate(container.decode(video=0))
                  if wanted is None or n in wanted]  # fmt: skip
    if not frames:
        raise ValueError("no frames decoded")
    return np.stack(frames)


def read_video(path: str | Path, indices: list[int] | None = None) -> np.ndarray:
    """All (or the given) frames of a video file as [F, H, W, 3] uint8: decord, or PyAV for what decord cannot
    decode (e.g. the 16-pixel-wide mp4s lvg writes for tiny models). One clear error for a file neither reads."""
    import decord

    from lvg.console import quiet_ffmpeg

    quiet_ffmpeg()
    try:
        reader = decord.VideoReader(str(path))
        idx = list(range(len(reader))) if indices is None else indices
        return reader.get_batch(idx).asnumpy()
    except Exception as decord_error:  # noqa: BLE001 - decord raises its own error types
        try:
            frames = _av_frames(path, None if indices is None else set(indices))
            if indices is not None:
                order = {i: n for n, i in enumerate(sorted(set(indices)))}
                frames = frames[[order[i] for i in indices]]
            return frames
        except Exception:  # noqa: BLE001 - report decord's reason, the usual one
            first = str(decord_error).strip().splitlines()[0][:120] if str(decord_error).strip() else "unreadable"
            raise LvgError(f"cannot read video {str(path)!r}: {first}") from decord_error

"""The resume log of `lvg generate`: frames and carry of an unfinished run, kept beside the output.

`.<output name>.resume/` holds `frames.u8` (every frame written so far, raw uint8, appended) and `state.pt` (the next
clip, the method's carry, frames count, per-clip records (time, search log) and a fingerprint of the run's inputs),
rewritten atomically after each clip. A rerun of the same command re-encodes the logged frames and continues at the
next clip; the log is removed once the video is complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch


class ResumeLog:
    def __init__(self, output: Path, inputs: dict) -> None:
        self.dir = output.parent / f".{output.name}.resume"
        self.fingerprint = hashlib.sha1(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()

    def load(self) -> dict | None:
        """The state of an unfinished run of the same inputs, or None (a log of other inputs is discarded)."""
        path = self.dir / "state.pt"
        if not path.is_file():
            return None
        state = torch.load(path, weights_only=True)
        if state.get("fingerprint") != self.fingerprint:
            self.clear()
            return None
        return state

    def frames(self, count: int, shape: tuple[int, int, int], chunk: int = 64) -> Iterator[np.ndarray]:
        """The first `count` logged frames [n, H, W, 3], in chunks (memory stays flat)."""
        data = np.memmap(self.dir / "frames.u8", dtype=np.uint8, mode="r", shape=(count, *shape))
        for i in range(0, count, chunk):
            yield np.asarray(data[i : i + chunk])

    def start(self) -> None:
        self.clear()
        self.dir.mkdir(parents=True)
        (self.dir / "frames.u8").touch()

    def append(self, frames: np.ndarray) -> None:
        with open(self.dir / "frames.u8", "ab") as f:
            f.write(np.ascontiguousarray(frames, dtype=np.uint8).tobytes())
            f.flush()
            os.fsync(f.fileno())

    def commit(self, next_clip: int, carry: torch.Tensor, frames: int, clips: list[dict]) -> None:
        """Record that everything before `next_clip` is logged (atomic: temp file, then rename)."""
        state = {"fingerprint": self.fingerprint, "next_clip": next_clip, "carry": carry, "frames": frames,
                 "clips": clips}  # fmt: skip
        tmp = self.dir / "state.pt.tmp"
        torch.save(state, tmp)
        os.replace(tmp, self.dir / "state.pt")

    def clear(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

"""The resume log of `lvg generate`: frames and carry of an unfinished run, kept beside the output.

`.<output name>.resume/` holds `frames.u8` (every frame written so far, raw uint8, appended) and `state.pt` (the next
clip, the method's carry, frames count, per-clip records (time, search log) and the run's inputs), rewritten
atomically after each clip. A rerun of the same command re-encodes the logged frames and continues at the next clip;
the log is removed once the video is complete.

The inputs are everything that decides the frames, each recorded by a digest: the resolved model config, the weights
the module holds (however they were loaded: `--ckpt_path`, the backbone's path, a LoRA), the start frames (guide or
toy world), the prompts, the seed and the frame rate. A rerun whose inputs differ is refused in one line naming what
changed (continuing would splice two runs into one video); `--resume false` starts over.
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

from lvg.errors import LvgError


def digest(value) -> str:
    """A short digest of a JSON-able value (config, prompts, numbers) or of raw bytes."""
    data = value if isinstance(value, bytes) else json.dumps(value, sort_keys=True, default=str).encode()
    return hashlib.sha1(data).hexdigest()[:16]


@torch.no_grad()
def weights_fingerprint(module: torch.nn.Module) -> str:
    """A digest of the module's weights: per tensor (in name order) its float64 sum and a position-weighted sum,
    computed where the tensor lives (no copy of the model to the CPU). Equal weights give equal fingerprints on the
    same hardware and versions; any retrained or swapped weights change them."""
    h = hashlib.sha1()
    for name, tensor in sorted(module.state_dict().items()):
        x = tensor.detach().flatten().double()
        ramp = torch.linspace(-1.0, 1.0, max(len(x), 1), dtype=torch.float64, device=x.device)[: len(x)]
        h.update(f"{name}:{tuple(tensor.shape)}:{float(x.sum()):.17g}:{float((x * ramp).sum()):.17g};".encode())
    return h.hexdigest()[:16]


def _check_space(action: str, path: Path, error: BaseException) -> LvgError:
    reason = getattr(error, "strerror", None) or str(error).splitlines()[0][:120]
    return LvgError(f"could not write the resume log {str(path)!r} ({reason}): {action}")


class ResumeLog:
    def __init__(self, output: Path, inputs: dict) -> None:
        self.dir = output.parent / f".{output.name}.resume"
        self.output = output
        self.inputs = {key: digest(value) for key, value in inputs.items()}

    def load(self) -> dict | None:
        """The state of an unfinished run of the same inputs, or None; inputs that differ are refused in one line."""
        path = self.dir / "state.pt"
        if not path.is_file():
            return None
        try:
            state = torch.load(path, weights_only=True)
        except Exception:  # noqa: BLE001 - a log torn by a crash mid-write is started over
            self.clear()
            return None
        recorded = state.get("inputs")
        if recorded != self.inputs:
            changed = sorted(
                k for k in set(self.inputs) | set(recorded or {}) if (recorded or {}).get(k) != self.inputs.get(k)
            )
            raise LvgError(
                f"{str(self.output)!r} has an unfinished run with other inputs ({', '.join(changed)} changed): rerun "
                "the same command to continue it, or add --resume false to start over"
            )
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

    def append(self, frames: np.ndarray, count: int, shape: tuple[int, int, int]) -> None:
        """Append frames after the first `count` logged ones (what a torn earlier write left past them is cut)."""
        path = self.dir / "frames.u8"
        try:
            with open(path, "r+b") as f:
                f.truncate(count * int(np.prod(shape)))
                f.seek(0, os.SEEK_END)
                f.write(np.ascontiguousarray(frames, dtype=np.uint8).tobytes())
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:
            raise _check_space("free space and rerun the same command to continue", path, e) from e

    def commit(self, next_clip: int, carry: torch.Tensor, frames: int, clips: list[dict]) -> None:
        """Record that everything before `next_clip` is logged (atomic: temp file, then rename)."""
        state = {"inputs": self.inputs, "next_clip": next_clip, "carry": carry, "frames": frames, "clips": clips}
        tmp = self.dir / "state.pt.tmp"
        try:
            torch.save(state, tmp)
            os.replace(tmp, self.dir / "state.pt")
        except (OSError, RuntimeError) as e:
            tmp.unlink(missing_ok=True)
            raise _check_space("free space and rerun the same command to continue", tmp, e) from e

    def clear(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

"""Dynamic degree (VBench): frames are taken at about 8 fps (every round(fps / 8)-th frame); for each consecutive
pair, the flow magnitude's top 5% mean is the pair's motion; a video is dynamic (1) when at least
round(4 * frames / 16) pairs move more than 6 * min(H, W) / 256 pixels, else static (0). The aggregate is the share
of dynamic videos. The count threshold is kept at least 1 (VBench's rounds to 0 below 2 sampled frames and then
calls every video dynamic).

Flow: RAFT (torchvision's `raft_large` / `raft_small` with a local state dict, as VBench uses RAFT) when weights are
given, else OpenCV's Farneback (weight-free). `source` says which.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from lvg.errors import LvgError
from lvg.metrics.base import VideoMetric
from lvg.metrics.interpolators import FarnebackInterpolator


def top_motion(flow: np.ndarray) -> float:
    """Mean of the largest 5% of flow magnitudes of a flow [H, W, 2] (VBench's `get_score`)."""
    rad = np.sqrt((flow.astype(np.float64) ** 2).sum(-1)).ravel()
    cut = max(1, int(rad.size * 0.05))
    return float(np.sort(rad)[::-1][:cut].mean())


class RAFTFlow:
    """torchvision RAFT from a local state dict (`raft_large` unless the file name says small)."""

    def __init__(self, path: str, iters: int = 20) -> None:
        try:
            from torchvision.models.optical_flow import raft_large, raft_small
        except ImportError as e:
            raise LvgError("RAFT needs torchvision: pip install torchvision, or leave raft unset (Farneback)") from e
        if not Path(path).is_file():
            raise LvgError(f"RAFT weights {path!r} not found: give a torchvision RAFT state dict (.pth)")
        self.model = (raft_small if "small" in Path(path).name else raft_large)(weights=None).eval()
        self.model.load_state_dict(torch.load(path, map_location="cpu"))
        self.iters, self.source = iters, f"raft:{path}"

    @torch.no_grad()
    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.stack([a, b])).permute(0, 3, 1, 2).float() / 127.5 - 1
        h, w = x.shape[-2:]
        ph, pw = (8 - h % 8) % 8, (8 - w % 8) % 8
        x = torch.nn.functional.pad(x, (0, pw, 0, ph), mode="replicate")
        flow = self.model(x[:1], x[1:], num_flow_updates=self.iters)[-1][0, :, :h, :w]
        return flow.permute(1, 2, 0).numpy()


class FarnebackFlow:
    source = "farneback flow (weight-free)"

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return FarnebackInterpolator().flow(a, b)


class DynamicDegree(VideoMetric):
    """Args: raft: a torchvision RAFT state dict (else Farneback). fps: the videos' frame rate (sets the stride)."""

    name = "dynamic_degree"

    def __init__(self, raft: str | None = None, fps: float = 8.0) -> None:
        self.flow = RAFTFlow(raft) if raft else FarnebackFlow()
        self.source = self.flow.source
        self.stride = max(1, round(fps / 8))

    def prepare(self, frames: np.ndarray, fps: float | None = None) -> dict:
        """Top-5% motion of each sampled pair (frames 0, stride, 2 * stride, ...; the stride from `fps` if given, else
        from the constructor's) and the frame size."""
        stride = self.stride if fps is None else max(1, round(fps / 8))
        idx = list(range(0, len(frames), stride))
        motion = [top_motion(self.flow(frames[i], frames[j])) for i, j in zip(idx[:-1], idx[1:])]
        return {"index": np.asarray(idx), "motion": np.asarray(motion), "size": min(frames.shape[1:3])}

    def score(self, prepared: dict, start: int, end: int) -> float | None:
        idx, motion = prepared["index"], prepared["motion"]
        inside = (idx[:-1] >= start) & (idx[1:] < end)
        sampled = int(((idx >= start) & (idx < end)).sum())
        if not inside.any():
            return None
        threshold = 6.0 * prepared["size"] / 256.0
        needed = max(1, round(4 * sampled / 16))
        return float(int((motion[inside] > threshold).sum()) >= needed)


def compute(videos, raft: str | None = None, fps: float = 8.0) -> tuple[float | None, list[float | None]]:
    """(aggregate, per_video) of uint8 [F, H, W, 3] videos (or lvg clip tensors)."""
    return DynamicDegree(raft, fps).compute(videos)

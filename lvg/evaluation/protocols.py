"""How a long video is cut for scoring: lvg's own protocol (the whole generated stretch, and each generated clip as
the sidecar records it) or VBench-Long's (Vchitect/VBench, `vbench2_beta_long`).

VBench-Long, as lvg follows it:
- the generated frames are cut into fixed-length clips of `clip_seconds` (2 s for the dimensions lvg scores, as
  VBench-Long's `clip_length_mix.yaml`); a last, shorter clip is kept if it has at least 2 frames;
- each metric is scored per clip and the clips' scores are averaged (its "slow branch");
- subject and background consistency also get the long-range ("fast") branch: the first frame of every clip, in
  order, scored as one video; the reported score is w_inclip * clip average + w_clip2clip * long-range, with
  VBench-Long's weights (0.7 / 0.3 for subject, 0.8 / 0.2 for background). VBench-Long first maps the long-range
  score through a calibration table fitted to its feature extractors (DreamSim / DINOv2); lvg does not (its
  extractors are the short-VBench ones or the weight-free paths), so lvg's fused number is not a VBench-Long
  leaderboard number, and the report keeps both branches beside it.
- VBench-Long can first cut at scene changes (PySceneDetect); lvg does not: a generated long video has no cuts
  unless a method makes them, and a cut there is drift that the split should not hide.
"""

from __future__ import annotations

import numpy as np

PROTOCOLS = ("lvg", "vbench-long")
LONG_RANGE_WEIGHTS = {"subject_consistency": (0.7, 0.3), "background_consistency": (0.8, 0.2)}


def fixed_length_ranges(start: int, end: int, length: int) -> list[tuple[int, int]]:
    """Consecutive [s, e) clips of `length` frames over start..end; a shorter last clip is kept from 2 frames."""
    ranges = [(s, min(s + length, end)) for s in range(start, end, length)]
    return [(s, e) for s, e in ranges if e - s >= 2]


def clip_frames(fps: float, clip_seconds: float) -> int:
    """Frames per VBench-Long clip at `fps` (at least 2)."""
    return max(2, round(fps * clip_seconds))


def first_frames(frames: np.ndarray, ranges: list[tuple[int, int]]) -> np.ndarray:
    """The first frame of each clip, in order, as one video [n, H, W, 3] (the long-range branch's input)."""
    return frames[[s for s, _ in ranges]]


def fuse(name: str, clip_average: float | None, long_range: float | None) -> float | None:
    """VBench-Long's weighted sum of the two branches (module doc); the clip average alone without a long range."""
    if clip_average is None or long_range is None or name not in LONG_RANGE_WEIGHTS:
        return clip_average
    w_in, w_long = LONG_RANGE_WEIGHTS[name]
    return w_in * clip_average + w_long * long_range

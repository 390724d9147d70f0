"""What `lvg evaluate` reads: video files and their JSON sidecars, and which metrics can run with the models given.

Nothing here raises on one bad input: each problem becomes a `skipped` entry naming what and why.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from lvg.errors import LvgError
from lvg.metrics.per_clip import clip_ranges, given_frames

VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm")
METRIC_NAMES = (
    "subject_consistency",
    "background_consistency",
    "temporal_flickering",
    "motion_smoothness",
    "dynamic_degree",
    "aesthetic_quality",
    "imaging_quality",
    "i2v_subject",
    "i2v_background",
    "toy_mass_kept",
    "toy_size_fidelity",
    "toy_position_error",
    "toy_background_error",
)


@dataclass
class VideoInput:
    """One video to evaluate: its path, sidecar (or None) and what the sidecar says about it."""

    path: Path
    sidecar: dict | None
    notes: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def method(self) -> str:
        return method_label(self.sidecar)

    @property
    def condition(self) -> str:
        """What the video started from (toy world or guide): videos of one condition differ only by noise."""
        return json.dumps((self.sidecar or {}).get("start", {"video": self.name}), sort_keys=True)

    @property
    def fps(self) -> float:
        return float((self.sidecar or {}).get("fps", 8))

    def generated_from(self) -> int:
        """First generated frame (the given start frames are not scored as generated)."""
        try:
            return given_frames(self.sidecar) if self.sidecar else 0
        except (LvgError, KeyError, ValueError):
            return 0

    def clips(self) -> list[tuple[int, int]]:
        if not self.sidecar:
            return []
        try:
            return clip_ranges(self.sidecar)
        except (LvgError, KeyError, ValueError) as e:
            self.notes.append(f"per-clip scores skipped: {e}")
            return []


def _class_name(block) -> str | None:
    return block.get("class_path", "").rsplit(".", 1)[-1] if isinstance(block, dict) else None


def method_label(sidecar: dict | None) -> str:
    """A run's label: the sidecar's `run.method` if set, else `<method> + <noise init>` from its resolved config."""
    if not sidecar:
        return "unknown"
    if sidecar.get("run", {}).get("method"):
        return str(sidecar["run"]["method"])
    args = (sidecar.get("config", {}).get("model") or {}).get("init_args", {})
    parts = [_class_name(args.get("method")), _class_name(args.get("noise_init"))]
    return " + ".join(p for p in parts if p) or "unknown"


def collect_videos(inputs: list[str]) -> tuple[list[VideoInput], list[dict]]:
    """Video files from files and folders (a folder's videos, recursively and sorted; hidden, partial and W&B files
    left out), with their sidecars (`<video>.json`); returns the inputs and what was skipped."""
    videos, skipped = [], []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = sorted(
                f for f in p.rglob("*") if f.suffix.lower() in VIDEO_SUFFIXES and not _ignored(f.relative_to(p))
            )
            if not found:
                skipped.append({"input": str(p), "reason": f"folder has no videos ({', '.join(VIDEO_SUFFIXES)})"})
            files = found
        elif p.is_file() and p.suffix.lower() not in VIDEO_SUFFIXES:
            skipped.append({"input": str(p), "reason": f"not a video file (expected {', '.join(VIDEO_SUFFIXES)})"})
            continue
        elif p.is_file():
            files = [p]
        else:
            skipped.append({"input": str(p), "reason": "does not exist"})
            continue
        for f in files:
            videos.append(_with_sidecar(f, skipped))
    return videos, skipped


def _ignored(relative: Path) -> bool:
    """Hidden and partial files (and folders), and W&B's run folders (their media copies of logged videos)."""
    return any(part.startswith(".") or part == "wandb" for part in relative.parts)


def _with_sidecar(path: Path, skipped: list[dict]) -> VideoInput:
    side = path.with_suffix(".json")
    if not side.is_file():
        video = VideoInput(path, None)
        video.notes.append("no sidecar: whole-video metrics only (no per-clip scores, no toy ground truth)")
        skipped.append(
            {"input": str(path), "reason": f"sidecar {side.name} missing: per-clip and toy metrics skipped"}
        )
        return video
    try:
        return VideoInput(path, json.loads(side.read_text()))
    except (OSError, json.JSONDecodeError) as e:
        skipped.append({"input": str(side), "reason": f"sidecar unreadable ({type(e).__name__}): treated as missing"})
        return VideoInput(path, None)

"""Per-clip splitting of long videos and variance over noises.

A long video written by `lvg generate` is its c given start frames followed by each clip's new frames; the sidecar
records each clip's frame range (`clips[i].frames` = [start, end)) and the number of given frames
(`condition_frames`). Older sidecars without them are split from `frames`, `frames_per_clip` and the number of
clips (frames = c + n * (frames_per_clip - c)).
"""

from __future__ import annotations

import numpy as np

from lvg.errors import LvgError


def given_frames(sidecar: dict) -> int:
    """How many frames at the start of the video were given, not generated."""
    if "condition_frames" in sidecar:
        return int(sidecar["condition_frames"])
    clips = sidecar.get("clips", [])
    if clips and "frames" in clips[0]:
        return int(clips[0]["frames"][0])
    n, f, total = len(clips), int(sidecar["frames_per_clip"]), int(sidecar["frames"])
    if n < 2:
        raise LvgError("the sidecar has one clip and no frame ranges: cannot tell given frames from generated ones")
    c, rest = divmod(n * f - total, n - 1)
    if rest or not 0 < c < f:
        raise LvgError(f"the sidecar's frames ({total}) do not split into {n} clips of {f}: is it the video's own?")
    return c


def clip_ranges(sidecar: dict) -> list[tuple[int, int]]:
    """[start, end) frame range of each generated clip of the video the sidecar describes."""
    clips = sidecar.get("clips", [])
    if clips and all("frames" in c for c in clips):
        return [(int(c["frames"][0]), int(c["frames"][1])) for c in clips]
    c, f = given_frames(sidecar), int(sidecar["frames_per_clip"])
    step = f - c
    return [(c + i * step, c + (i + 1) * step) for i in range(len(clips))]


def variance_stats(values: list[float | None]) -> dict:
    """min / max / range / std (population, as over a fixed set of noises) / mean / n of the defined values."""
    v = np.asarray([x for x in values if x is not None], dtype=np.float64)
    if not len(v):
        return {"min": None, "max": None, "range": None, "std": None, "mean": None, "n": 0}
    return {
        "min": float(v.min()),
        "max": float(v.max()),
        "range": float(v.max() - v.min()),
        "std": float(v.std()),
        "mean": float(v.mean()),
        "n": int(len(v)),
    }


def noise_variance_table(rows: list[dict], metrics: list[str]) -> list[dict]:
    """The chunk-wise paper's table 1: for each method, per metric, min / max / range / std over the noises (seeds) of
    one condition (same start), then averaged over conditions. `rows` have `method`, `condition` and metric values."""
    table = []
    for method in sorted({r["method"] for r in rows}):
        mine = [r for r in rows if r["method"] == method]
        conditions = sorted({str(r["condition"]) for r in mine})
        for metric in metrics:
            per_condition = [
                variance_stats([r.get(metric) for r in mine if str(r["condition"]) == c]) for c in conditions
            ]
            per_condition = [s for s in per_condition if s["n"] > 1]
            if not per_condition:
                continue
            row = {"method": method, "metric": metric, "conditions": len(per_condition)}
            for key in ("min", "max", "range", "std", "mean"):
                row[key] = float(np.mean([s[key] for s in per_condition]))
            row["noises"] = int(np.mean([s["n"] for s in per_condition]))
            table.append(row)
    return table

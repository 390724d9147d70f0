"""`lvg evaluate`: score videos whole and per clip, aggregate per method, and write the report.

Per video: decode once, `prepare` each metric once (batched features / flows), then score the generated frames as
a whole (after the given start frames) and each clip's frame range (from the sidecar). Per method: each metric's
own aggregation over that method's videos, mean per-clip curves, and min / max / range / std over noises.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from lvg.console import warn
from lvg.errors import LvgError, require
from lvg.evaluation.inputs import VideoInput, collect_videos
from lvg.evaluation.metric_set import Models, build_metrics
from lvg.evaluation.protocols import (
    LONG_RANGE_WEIGHTS,
    PROTOCOLS,
    clip_frames,
    first_frames,
    fixed_length_ranges,
    fuse,
)
from lvg.metrics.drift import VideoDriftError
from lvg.metrics.dynamic_degree import DynamicDegree
from lvg.metrics.per_clip import noise_variance_table
from lvg.metrics.toy_ground_truth import toy_truth
from lvg.video import read_video, write_json_atomic


def _truth_of(video: VideoInput):
    """The toy world's truth for a video `lvg generate` started from a toy world, else None."""
    s = video.sidecar or {}
    if "toy_seed" not in s.get("start", {}) or not s.get("clips"):
        return None
    return toy_truth(
        int(s["start"]["toy_seed"]),
        len(s["clips"]),
        int(s["frames_per_clip"]),
        video.generated_from(),
        int(s["height"]),
    )


def warn_mixed_solvers(sidecars: dict) -> None:
    """One warning when the compared videos were sampled with different updates (e.g. Wan's UniPC and T-RFlow's
    Euler): a difference between them then mixes the solver into the effect being compared."""
    solvers = sorted({s["solver"] for s in sidecars.values() if s.get("solver")})
    if len(solvers) > 1:
        warn(
            f"the compared videos were sampled with different solvers ({', '.join(solvers)}): a difference between "
            "them mixes the solver into the effect; sample the baseline with lvg.sampling.EulerSampler"
        )


def _is_toy(row: dict) -> bool:
    """Whether a scored video started from a toy world (its toy ground-truth measures ran)."""
    return any(name.startswith("toy_") for name in row["whole"])


def score_video(
    video: VideoInput, frames: np.ndarray, metrics: list, protocol: str = "lvg", clip_seconds: float = 2.0
) -> dict:
    """One video's row: whole-video scores (generated frames) and per-clip curves, per metric, cut by `protocol`
    (`lvg.evaluation.protocols`). A drift metric (`vde_*`) always scores the whole generated stretch."""
    start = video.generated_from()
    if protocol == "vbench-long":
        clips = fixed_length_ranges(start, len(frames), clip_frames(video.fps, clip_seconds))
    else:
        clips = video.clips()
    truth, prepared_by = None, {}
    row = {"video": video.name, "path": str(video.path), "method": video.method, "condition": video.condition}
    row["frames"], row["scored_from"], row["protocol"] = len(frames), start, protocol
    row.update({"seed": (video.sidecar or {}).get("seed"), "whole": {}, "clips": {}, "notes": video.notes})
    for metric in metrics:
        inner = getattr(metric, "inner", metric)  # a drift metric shares its metric's features
        if id(inner) not in prepared_by:
            if getattr(inner, "needs_truth", False):
                truth = truth if truth is not None else _truth_of(video)
                if truth is None:
                    continue
                prepared_by[id(inner)] = inner.prepare(frames, truth)
            elif isinstance(inner, DynamicDegree):  # VBench samples frames at about 8 fps
                prepared_by[id(inner)] = inner.prepare(frames, fps=video.fps)
            else:
                prepared_by[id(inner)] = inner.prepare(frames)
        prepared = prepared_by[id(inner)]
        row["clips"][metric.name] = [metric.score(prepared, s, min(e, len(frames))) for s, e in clips]
        if protocol == "vbench-long" and inner is metric:
            row["whole"][metric.name] = long_video_score(row, metric, frames, clips)
        else:
            row["whole"][metric.name] = metric.score(prepared, start, len(frames))
    if truth is None and any(getattr(m, "needs_truth", False) for m in metrics):
        video.notes.append("toy ground-truth metrics skipped: the video did not start from a toy world")
    return row


def long_video_score(row: dict, metric, frames: np.ndarray, clips: list[tuple[int, int]]) -> float | None:
    """VBench-Long's score of one metric: the clips' average, fused with the long-range branch for the consistency
    dimensions (both kept in `row["long_range"]`)."""
    values = [v for v in row["clips"][metric.name] if v is not None]
    average = float(np.mean(values)) if values else None
    if metric.name not in LONG_RANGE_WEIGHTS or len(clips) < 2:
        return average
    firsts = first_frames(frames, clips)
    long_range = metric.score(metric.prepare(firsts), 0, len(firsts))
    fused = fuse(metric.name, average, long_range)
    row.setdefault("long_range", {})[metric.name] = {"clip_average": average, "long_range": long_range,
                                                     "fused": fused}  # fmt: skip
    return fused


def aggregate(rows: list[dict], metrics: list) -> dict:
    """Per method, per metric: the metric's own aggregation of whole-video scores, and the mean per-clip curve."""
    out = {}
    for method in sorted({r["method"] for r in rows}):
        mine = [r for r in rows if r["method"] == method]
        entry = {"videos": len(mine), "whole": {}, "clips": {}}
        for metric in metrics:
            have = [r for r in mine if metric.name in r["whole"]]
            if not have:
                continue
            entry["whole"][metric.name] = metric.aggregate(
                [r["whole"][metric.name] for r in have], [r["frames"] - r["scored_from"] for r in have]
            )
            curves = [r["clips"][metric.name] for r in have if r["clips"].get(metric.name)]
            if curves:
                n = max(len(c) for c in curves)
                entry["clips"][metric.name] = [
                    _mean([c[i] for c in curves if i < len(c) and c[i] is not None]) for i in range(n)
                ]
        out[method] = entry
    return out


def _mean(values: list) -> float | None:
    return float(np.mean(values)) if values else None


def write_csv(path: Path, rows: list[dict], metrics: list) -> None:
    """Long format: one line per (video, clip or `all`, metric)."""
    sources = {m.name: m.source for m in metrics}
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["video", "method", "seed", "clip", "metric", "value", "source"])
        for r in rows:
            for name, value in r["whole"].items():
                w.writerow([r["video"], r["method"], r["seed"], "all", name, value, sources[name]])
                for i, v in enumerate(r["clips"].get(name, [])):
                    w.writerow([r["video"], r["method"], r["seed"], i, name, v, sources[name]])


def evaluate(
    inputs: list[str],
    output: str = "outputs/evaluation",
    metrics: list[str] | None = None,
    models: Models | None = None,
    html: bool = True,
    wandb: bool = False,
    wandb_project: str = "lvg",
    progress: bool = True,
    protocol: str = "lvg",
    clip_seconds: float = 2.0,
    video_drift_error: bool = False,
    drift_chunks: int = 10,
) -> dict:
    """Evaluate videos (files or folders with sidecars) into `output`/report.json, metrics.csv, variance.csv,
    plots/*.png, report.html; raises LvgError only when nothing could be evaluated. `protocol` cuts the videos
    (`lvg.evaluation.protocols`); `video_drift_error` adds each metric's VDE over `drift_chunks` chunks
    (`lvg.metrics.drift`)."""
    require(protocol in PROTOCOLS, f"protocol must be one of {PROTOCOLS}, not {protocol!r}")
    require(clip_seconds > 0, f"clip_seconds must be positive, got {clip_seconds}")
    require(drift_chunks >= 2, f"drift_chunks must be at least 2, got {drift_chunks}")
    videos, skipped_inputs = collect_videos(inputs)
    chosen, skipped_metrics = build_metrics(metrics, models or Models())
    if video_drift_error:
        chosen += [VideoDriftError(m, drift_chunks) for m in chosen]
    bar = tqdm(videos, desc="videos", unit="video", leave=False, disable=not progress or not videos)
    rows, sidecars = [], {}
    for video in bar:
        try:
            frames = read_video(video.path)
        except LvgError as e:  # the whole video is skipped: drop its partial skips (e.g. a missing sidecar)
            skipped_inputs[:] = [s for s in skipped_inputs if s["input"] != str(video.path)]
            skipped_inputs.append({"input": str(video.path), "reason": str(e)})
            continue
        if len(frames) < 2:
            skipped_inputs.append({"input": str(video.path), "reason": "fewer than 2 frames"})
            continue
        bar.set_postfix_str(video.name)
        rows.append(score_video(video, frames, chosen, protocol, clip_seconds))
        sidecars[str(video.path)] = video.sidecar or {}
    if not rows or not chosen:
        reasons = skipped_inputs if not rows else skipped_metrics  # what stood in the way, not every skip
        what = "; ".join(f"{s.get('input', s.get('metric'))}: {s['reason']}" for s in reasons)
        raise LvgError(f"nothing could be evaluated ({what or 'no inputs'}): give videos written by `lvg generate`")
    names = [m.name for m in chosen if any(m.name in r["whole"] for r in rows)]
    warn_mixed_solvers(sidecars)
    metric_entries = {m.name: {"source": m.source, "higher_is_better": m.higher_is_better} for m in chosen}
    if any(_is_toy(r) for r in rows):
        from lvg.evaluation.trust import mark_toy_trust

        mark_toy_trust(metric_entries, chosen)
    report = {
        "inputs": [str(i) for i in inputs],
        "protocol": {
            "name": protocol,
            "clip_seconds": clip_seconds if protocol == "vbench-long" else None,
            "video_drift_error": {"chunks": drift_chunks} if video_drift_error else None,
        },
        "metrics": metric_entries,
        "per_method": aggregate(rows, chosen),
        "variance_over_noises": noise_variance_table(
            [{"method": r["method"], "condition": r["condition"], **r["whole"]} for r in rows], names
        ),
        "videos": rows,
        "sidecars": sidecars,
        "skipped": {"inputs": skipped_inputs, "metrics": skipped_metrics},
    }
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "report.json", report)
    write_csv(out / "metrics.csv", rows, chosen)
    _write_variance_csv(out / "variance.csv", report["variance_over_noises"])
    from lvg.evaluation.plots import plot_curves

    report["plots"] = plot_curves(report, out / "plots")
    if html:
        from lvg.evaluation.html import write_html_report

        write_html_report(report, out / "report.html")
    if wandb:
        from lvg.evaluation.wandb_log import log_report

        log_report(report, out, wandb_project)
    write_json_atomic(out / "report.json", report)
    return report


def _write_variance_csv(path: Path, table: list[dict]) -> None:
    cols = ["method", "metric", "conditions", "noises", "min", "max", "range", "std", "mean"]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        w.writerows(table)

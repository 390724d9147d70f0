"""`lvg evaluate INPUT... [options]`: the argument parser (jsonargparse, so `--config eval.yaml` works too)."""

from __future__ import annotations

from jsonargparse import ActionConfigFile, ArgumentParser

from lvg.cli_errors import parser_errors_as_one_line
from lvg.evaluation.inputs import METRIC_NAMES
from lvg.evaluation.metric_set import Models
from lvg.evaluation.run import evaluate


def parser() -> ArgumentParser:
    p = ArgumentParser(prog="lvg evaluate", description="Score long videos (and their sidecars) with lvg's metrics.")
    p.add_argument("--config", action=ActionConfigFile)
    p.add_argument("inputs", nargs="+", help="video files or folders of videos with their .json sidecars")
    p.add_argument("--output", default="outputs/evaluation", help="folder for report.json, CSVs, plots, HTML")
    p.add_argument("--metrics", type=list[str] | None, default=None, help=f"subset of: {', '.join(METRIC_NAMES)}")
    p.add_argument("--models", type=Models, default=Models(), help="model paths; unset = weight-free path")
    p.add_argument("--html", type=bool, default=True, help="write the offline HTML report")
    p.add_argument("--wandb", type=bool, default=False, help="log to W&B (offline without an API key)")
    p.add_argument("--wandb_project", default="lvg")
    p.add_argument("--progress", type=bool, default=True)
    p.add_argument(
        "--protocol",
        default="lvg",
        help="`lvg` (the whole video and each generated clip) or "
        "`vbench-long` (fixed-length clips, long-range consistency branch; lvg.evaluation.protocols)",
    )
    p.add_argument("--clip_seconds", type=float, default=2.0, help="vbench-long: seconds per fixed-length clip")
    p.add_argument(
        "--video_drift_error",
        type=bool,
        default=False,
        help="add each metric's Video Drift Error (LV-Bench: chunks against the first; lvg.metrics.drift)",
    )
    p.add_argument("--drift_chunks", type=int, default=10, help="chunks of the Video Drift Error (LV-Bench: 10)")
    return p


def run_evaluate(argv: list[str]) -> dict:
    with parser_errors_as_one_line(["evaluate", *argv]):
        cfg = parser().parse_args(argv)
    init = parser().instantiate_classes(cfg)
    report = evaluate(
        list(cfg.inputs),
        cfg.output,
        cfg.metrics,
        init.models,
        html=cfg.html,
        wandb=cfg.wandb,
        wandb_project=cfg.wandb_project,
        progress=cfg.progress,
        protocol=cfg.protocol,
        clip_seconds=cfg.clip_seconds,
        video_drift_error=cfg.video_drift_error,
        drift_chunks=cfg.drift_chunks,
    )
    skipped = report["skipped"]["inputs"] + report["skipped"]["metrics"]
    print(f"lvg evaluate: {len(report['videos'])} videos -> {cfg.output}/report.json ({len(skipped)} skipped)")
    for s in skipped:
        print(f"  skipped {s.get('input') or s.get('metric')}: {s['reason']}")
    return report

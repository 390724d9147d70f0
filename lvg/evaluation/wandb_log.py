"""The evaluation report in W&B: a run (offline without a key) with the metrics as tables and the plots as images."""

from __future__ import annotations

from pathlib import Path

from lvg.tracking import wandb_has_key


def log_report(report: dict, out: Path, project: str = "lvg") -> None:
    """Log tables `evaluate/videos` (one row per video, clip, metric), `evaluate/per_method`, `evaluate/variance`
    and the per-clip plots as images."""
    import os

    import wandb

    mode = "online" if wandb_has_key() else "offline"
    os.environ.setdefault("WANDB_MODE", mode)
    run = wandb.init(
        project=project, job_type="evaluate", dir=str(out), mode=mode, config={"inputs": report["inputs"]}
    )
    try:
        rows = []
        for r in report["videos"]:
            for name, value in r["whole"].items():
                rows.append([r["video"], r["method"], r["seed"], "all", name, value])
                rows += [[r["video"], r["method"], r["seed"], str(i), name, v] for i, v in enumerate(r["clips"][name])]
        run.log(
            {"evaluate/videos": wandb.Table(columns=["video", "method", "seed", "clip", "metric", "value"], data=rows)}
        )
        per_method = [[m, k, v] for m, e in report["per_method"].items() for k, v in e["whole"].items()]
        run.log({"evaluate/per_method": wandb.Table(columns=["method", "metric", "value"], data=per_method)})
        if report["variance_over_noises"]:
            cols = list(report["variance_over_noises"][0])
            data = [[row[c] for c in cols] for row in report["variance_over_noises"]]
            run.log({"evaluate/variance": wandb.Table(columns=cols, data=data)})
        run.log({f"evaluate/plot/{k}": wandb.Image(v) for k, v in report.get("plots", {}).items()})
        for method, entry in report["per_method"].items():
            for name, value in entry["whole"].items():
                run.summary[f"evaluate/{method}/{name}"] = value
    finally:
        run.finish()

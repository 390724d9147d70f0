"""The evaluation report in W&B: a run (offline without a key) with the metrics as tables and the plots as images."""

from __future__ import annotations

from pathlib import Path

from lvg.tracking import wandb_has_key


def _mode() -> str:
    return "online" if wandb_has_key() else "offline"


def log_report(report: dict, out: Path, project: str = "lvg", group: str | None = None) -> None:
    """Log tables `evaluate/videos` (one row per video, clip, metric), `evaluate/per_method`, `evaluate/variance`
    and the per-clip plots as images."""
    import wandb

    config = {"inputs": report["inputs"], "sources": {k: v["source"] for k, v in report["metrics"].items()}}
    run = wandb.init(project=project, job_type="evaluate", dir=str(out), mode=_mode(), group=group, config=config)
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


def log_runs(report: dict, out: Path, project: str = "lvg", group: str | None = None) -> None:
    """One W&B run per evaluated video, grouped: its config (sidecar), the video, its per-clip curves (step = clip)
    and whole-video scores as the summary, so the W&B UI can group and compare runs by axis."""
    import wandb

    for row in report["videos"]:
        sidecar = report["sidecars"].get(row["path"], {})
        info = sidecar.get("run", {})
        config = {
            "label": row["method"],
            **info.get("axes", {}),  # one key per grid axis (method, noise_init, ...): W&B groups by them
            "seed": row["seed"],
            "config": sidecar.get("config"),
        }
        config["toy_seed"] = info.get("toy_seed", sidecar.get("start", {}).get("toy_seed"))
        name = f"{row['method']} · world {config['toy_seed']} · seed {row['seed']}"
        run = wandb.init(project=project, group=group, job_type="ablation", name=name, config=config, dir=str(out),
                         mode=_mode(), reinit="create_new")  # fmt: skip
        try:
            run.log({"video": wandb.Video(row["path"], format=Path(row["path"]).suffix[1:])}, step=0)
            clips = max((len(v) for v in row["clips"].values()), default=0)
            for i in range(clips):
                values = {f"clip/{k}": v[i] for k, v in row["clips"].items() if i < len(v) and v[i] is not None}
                run.log({"clip": i + 1, **values}, step=i + 1)
            for metric, value in row["whole"].items():
                run.summary[metric] = value
        finally:
            run.finish()

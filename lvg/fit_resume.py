"""`--ckpt_path last`: the newest `last.ckpt` under the run's root, with its logger pointed back at its run.

Lightning looks for `last` only in the folder of the current run's ModelCheckpoint, which is inside a new logger
version (`version_1/`, a new W&B run id): it finds nothing and starts from step 0. Here, before the trainer is built,
`last` becomes the newest `last.ckpt` under `trainer.default_root_dir` (and the logger's `save_dir`), and the logger
continues the same version folder (CSV, TensorBoard) or the same W&B run (its id), read from where
that checkpoint lies: `<save_dir>/<name>/<version>/checkpoints/last.ckpt`.

A CSV log continued this way keeps its rows before the checkpoint's step and drops the later ones (the steps a kill
lost, which the resumed run logs again), so it has one row per step; Lightning's CSV writer would otherwise delete
the whole file when it opens an existing version folder.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from lvg.console import warn

VERSIONED_LOGGERS = ("CSVLogger", "TensorBoardLogger")
WANDB_LOGGERS = ("WandbLogger", "AutoWandbLogger")


def _get(node, key: str, default=None):
    if node is None:
        return default
    if isinstance(node, dict):
        return node.get(key, default)
    return getattr(node, key, default)


def _set(node, key: str, value) -> None:
    if isinstance(node, dict):
        node[key] = value
    else:
        setattr(node, key, value)


def find_last_checkpoint(roots: list[Path]) -> Path | None:
    """The most recently written `last.ckpt` (file, or sharded folder) under any of `roots`, or None."""
    found = []
    for root in roots:
        if root.is_dir():
            found += [p for p in root.rglob("last.ckpt") if "wandb" not in p.relative_to(root).parts]
    return max(found, key=lambda p: p.stat().st_mtime_ns) if found else None


def _first_logger(trainer_cfg):
    logger = _get(trainer_cfg, "logger")
    if isinstance(logger, list):
        return logger[0] if logger else None
    return logger if _get(logger, "class_path") else None


def continue_logger(logger_cfg, checkpoint: Path) -> None:
    """Point the logger block at the run `checkpoint` was written by (its version folder or W&B run id)."""
    kind = str(_get(logger_cfg, "class_path", "")).rsplit(".", 1)[-1]
    args = _get(logger_cfg, "init_args")
    if args is None or checkpoint.parent.name != "checkpoints":
        return
    version_dir = checkpoint.parent.parent
    if kind in VERSIONED_LOGGERS:
        version = version_dir.name
        number = version.removeprefix("version_")
        _set(args, "version", int(number) if version.startswith("version_") and number.isdigit() else version)
        _set(args, "name", version_dir.parent.name)
    elif kind in WANDB_LOGGERS:  # WandbLogger resumes a run id with resume="allow" (its default)
        _set(args, "version", version_dir.name)


def resolve_last(cfg) -> None:
    """Turn `ckpt_path: last` of a parsed fit/validate/test config into the checkpoint file and continue its logger;
    with no checkpoint yet, say so in one line and start from step 0."""
    if _get(cfg, "ckpt_path") != "last":
        return
    trainer_cfg = _get(cfg, "trainer")
    root = Path(_get(trainer_cfg, "default_root_dir") or ".")
    logger = _first_logger(trainer_cfg)
    save_dir = _get(_get(logger, "init_args"), "save_dir")
    roots = [root] + ([Path(save_dir)] if save_dir else [])
    checkpoint = find_last_checkpoint(roots)
    if checkpoint is None:
        warn(f"--ckpt_path last: no last.ckpt under {', '.join(map(str, roots))} yet; training starts from step 0")
        _set(cfg, "ckpt_path", None)
        return
    _set(cfg, "ckpt_path", str(checkpoint))
    if logger is not None:
        continue_logger(logger, checkpoint)


def resumed_step(checkpoint: str | Path) -> int:
    """The logging step a checkpoint resumes from (its loop's count of optimizer-stepped batches); the file is
    memory-mapped, so its weights are not read."""
    import torch

    state = torch.load(checkpoint, map_location="cpu", weights_only=True, mmap=True)
    loop = state.get("loops", {}).get("fit_loop", {}).get("epoch_loop.state_dict", {})
    return int(loop.get("_batches_that_stepped", state.get("global_step", 0)))


def keep_csv_logs(loggers: list, checkpoint: str | Path) -> None:
    """For each CSVLogger continuing an existing metrics.csv: keep its rows before the checkpoint's step (module
    doc), and let Lightning's writer append after them."""
    from lightning.pytorch.loggers import CSVLogger

    step = None
    for logger in loggers:
        path = Path(logger.log_dir) / "metrics.csv" if isinstance(logger, CSVLogger) else None
        if path is None or not path.is_file():
            continue
        step = resumed_step(checkpoint) if step is None else step
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            fields, rows = list(reader.fieldnames or []), list(reader)
        writer = logger.experiment  # opening it deletes the file
        kept = [r for r in rows if r.get("step") and float(r["step"]) < step]
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "w", newline="") as f:
            out = csv.DictWriter(f, fieldnames=sorted(fields))
            out.writeheader()
            out.writerows(kept)
        os.replace(tmp, path)
        writer.metrics_keys = sorted(set(writer.metrics_keys) | set(fields))

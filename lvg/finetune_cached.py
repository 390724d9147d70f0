"""A short `lvg fit` from a config whose export is reused when the same finetune was already run (for notebooks).

The comparative notebooks finetune the toy checkpoint briefly for each method that needs its own weights
(PA-VDM, the replacement baselines, the causal-KV stage-2 LoRA). `finetune_cached` runs `lvg fit --config ...` for
a fixed number of optimizer steps with only the export callback (ExportBackbone or ExportLora), no logger and no
checkpoints, and records its settings beside the export: a later call with the same settings and an unchanged base
checkpoint returns the export without training.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

from lvg.errors import require
from lvg.video import write_json_atomic

RECORD = "finetune.json"


def checkpoint_digest(path: Path) -> str:
    """A digest of the base checkpoint's files (names, sizes, modification times): a replaced checkpoint retrains."""
    h = hashlib.sha1()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        stat = f.stat()
        h.update(f"{f.relative_to(path)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return h.hexdigest()


def finetune_cached(
    config: str,
    output: str,
    steps: int,
    overrides: list[str] | None = None,
    export: str = "lvg.callbacks.ExportBackbone",
    base: str | None = None,
) -> Path:
    """Finetune with `lvg fit --config config` for `steps` steps and export to `output`/export; returns that folder.

    `overrides` are more `lvg fit` arguments (e.g. a smaller batch); `export` is the export callback's class;
    `base` is the checkpoint the config starts from (its files are part of the settings). The settings and the
    training time are recorded in `output`/finetune.json."""
    require(steps >= 1, f"steps must be at least 1, got {steps}")
    require(Path(config).is_file(), f"config {config!r} does not exist: give an `lvg fit` YAML")
    out = Path(output)
    folder = out / "export"
    settings = {"config": Path(config).read_text(), "steps": steps, "overrides": list(overrides or [])}
    settings["export"] = export
    if base is not None:
        require(Path(base).is_dir(), f"base checkpoint {base!r} does not exist")
        settings["base"] = checkpoint_digest(Path(base))
    record = out / RECORD
    if folder.is_dir() and record.is_file():
        done = json.loads(record.read_text())
        if done.get("settings") == settings:
            return folder
    from lvg.cli import run_cli

    callbacks = [{"class_path": export, "init_args": {"dirpath": str(folder)}}]
    args = ["fit", "--config", config, "--trainer.max_steps", str(steps), "--trainer.max_epochs", "-1",
            "--trainer.logger", "false", "--trainer.enable_checkpointing", "false",
            "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
            "--trainer.callbacks", json.dumps(callbacks), "--trainer.default_root_dir", str(out),
            *(overrides or [])]  # fmt: skip
    tic = time.perf_counter()
    cli = run_cli(args)
    done = cli.trainer.global_step
    require(done >= steps, f"the finetune stopped at step {done} of {steps} (interrupted?): not cached, run again")
    write_json_atomic(record, {"settings": settings, "seconds": round(time.perf_counter() - tic, 1)})
    return folder


def finetune_seconds(output: str) -> float | None:
    """How long the recorded finetune in `output` took (None if there is none)."""
    record = Path(output) / RECORD
    return json.loads(record.read_text()).get("seconds") if record.is_file() else None

"""Run the `lvg` command in a fresh process, as a user's shell runs it; `kill` = (signal, when) has
`kill_at_step.py` send a real SIGKILL or SIGTERM from inside at a known point."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

KILLER = Path(__file__).with_name("kill_at_step.py")


def lvg_process(cwd, args, kill=None, env=None, drop=()) -> subprocess.CompletedProcess:
    """`lvg ARGS` in a fresh process in `cwd`; `env` adds variables, `drop` removes some (a user's shell has them
    not). An earlier in-process W&B run's service (WANDB_SERVICE) is never inherited: a shell has its own."""
    run_env = {k: v for k, v in os.environ.items() if k not in {"WANDB_SERVICE", *drop}}
    run_env.update({"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", **(env or {})})
    prefix = [sys.executable, str(KILLER), *map(str, kill)] if kill else [sys.executable, "-m", "lvg.cli"]
    return subprocess.run([*prefix, *map(str, args)], cwd=cwd, env=run_env, capture_output=True, text=True,
                          timeout=300)  # fmt: skip

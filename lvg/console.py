"""What the `lvg` command prints: by default only lvg's own progress bars, results, `lvg: warning: ...` lines and one
`lvg: error: ...` line; `--verbose` (or LVG_VERBOSE=1) lets the libraries' logs and warnings through.

The libraries' chatter this silences, and where it comes from: Lightning's info logs ("Seed set to", "GPU
available", the litlogger tip), Python warnings raised in the libraries (deprecations, LightningCLI's note about
`args`), diffusers' and transformers' logging, and FFmpeg's log lines from decord and PyAV.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings

VERBOSE_ENV = "LVG_VERBOSE"
LIBRARY_LOGGERS = ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning", "wandb")
_said: set[str] = set()


def is_verbose() -> bool:
    return os.environ.get(VERBOSE_ENV, "") not in ("", "0", "false")


def configure(verbose: bool) -> None:
    """Set the libraries' logging and warnings for this process (called once by `lvg.cli.main`)."""
    if verbose:
        os.environ[VERBOSE_ENV] = "1"
        return
    os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    os.environ.setdefault("WANDB_SILENT", "true")
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.simplefilter("ignore")
    quiet_ffmpeg()


def quiet_ffmpeg() -> None:
    """FFmpeg's own log lines (decord's `[h264 @ ...]`, PyAV's) off unless verbose."""
    if is_verbose():
        return
    try:
        import decord.logging

        decord.logging.set_level(decord.logging.QUIET)
    except ImportError:  # pragma: no cover - decord is a dependency
        pass
    try:
        import av.logging

        av.logging.set_level(av.logging.PANIC)
    except (ImportError, AttributeError):  # pragma: no cover - PyAV is a dependency
        pass


def warn(message: str, once: bool = True) -> None:
    """One `lvg: warning: ...` line on stderr (by default once per message and process)."""
    if once and message in _said:
        return
    _said.add(message)
    print(f"lvg: warning: {message}", file=sys.stderr)

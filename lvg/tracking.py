"""Experiment tracking: W&B through Lightning's WandbLogger, offline automatically when no API key is set."""

from __future__ import annotations

import os

from lightning.pytorch.loggers import WandbLogger


def wandb_has_key() -> bool:
    """True when W&B can reach a server with credentials (env key, or a login in ~/.netrc)."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    netrc = os.path.expanduser("~/.netrc")
    return os.path.isfile(netrc) and "api.wandb.ai" in open(netrc).read()


class AutoWandbLogger(WandbLogger):
    """WandbLogger that runs offline (no network at all) unless a key is available or `offline=False` is forced."""

    def __init__(self, project: str = "lvg", offline: bool | None = None, log_model: bool = False, **kwargs) -> None:
        offline = (not wandb_has_key()) if offline is None else offline
        if offline:  # WandbLogger(offline=True) runs wandb in offline mode (no network)
            log_model = False  # WandbLogger refuses log_model in offline mode
        super().__init__(project=project, offline=offline, log_model=log_model, **kwargs)


SEARCH_COLUMNS = ["clip", "candidate", "score", "winner", "search_seconds", "strategy", "m", "k", "s"]


def search_rows(searches: dict[int, dict]) -> list[list]:
    """One row per (clip, candidate) of noise-search logs {clip: log} (see `lvg.search.KStepSearch`)."""
    rows = []
    for clip, log in sorted(searches.items()):
        for j, score in enumerate(log["scores"]):
            meta = [log["search_seconds"], log["strategy"], log["m"], log["k"], log["s"]]
            rows.append([clip, j, score, j == log["winner"], *meta])
    return rows


def log_search_table(loggers, key: str, searches: dict[int, dict], step: int | None = None) -> None:
    """Log noise-search results as a W&B table (to every WandbLogger among `loggers`)."""
    if not searches:
        return
    for logger in loggers:
        if isinstance(logger, WandbLogger):
            logger.log_table(key, columns=SEARCH_COLUMNS, data=search_rows(searches), step=step)


CONTEXT_COLUMNS = ["clip", "selected", "scores", "position"]


def log_context_table(loggers, key: str, contexts: dict[int, dict], step: int | None = None) -> None:
    """Log each clip's context log {clip: {"selected": [...], "scores": [...], "position": p}} (the causal-KV method's
    selected past clips) as a W&B table, one row per clip."""
    if not contexts:
        return
    rows = [
        [clip, str(log.get("selected", [])), str(log.get("scores", "")), log.get("position")]
        for clip, log in sorted(contexts.items())
    ]
    for logger in loggers:
        if isinstance(logger, WandbLogger):
            logger.log_table(key, columns=CONTEXT_COLUMNS, data=rows, step=step)

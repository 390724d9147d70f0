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
        if offline:
            os.environ.setdefault("WANDB_MODE", "offline")
            log_model = False  # WandbLogger refuses log_model in offline mode
        super().__init__(project=project, offline=offline, log_model=log_model, **kwargs)

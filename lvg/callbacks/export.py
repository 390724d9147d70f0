"""Write the trained backbone in diffusers layout (safetensors) when training ends: the shippable checkpoint."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import lightning as L


class ExportBackbone(L.Callback):
    """At the end of `fit`, save `module.backbone` to `dirpath` atomically (temp folder, then rename)."""

    def __init__(self, dirpath: str) -> None:
        self.dirpath = Path(dirpath)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.global_rank != 0 or trainer.fast_dev_run:
            return  # a debug run (fast_dev_run) must not overwrite a real export
        self.dirpath.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{self.dirpath.name}.", dir=self.dirpath.parent))
        try:
            self.write(pl_module, tmp)
            if self.dirpath.exists():
                shutil.rmtree(self.dirpath)
            tmp.rename(self.dirpath)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp)

    def write(self, pl_module: L.LightningModule, folder: Path) -> None:
        """What is exported: the whole backbone in diffusers layout."""
        pl_module.backbone.save_pretrained(folder)

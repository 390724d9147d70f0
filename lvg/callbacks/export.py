"""Write the trained backbone in diffusers layout (safetensors) when training ends: the shippable checkpoint."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import lightning as L

from lvg.file_modes import default_mode


class ExportBackbone(L.Callback):
    """At the end of `fit`, save `module.backbone` to `dirpath` atomically (temp folder, then rename). `lvg fit`
    runs it after the other callbacks (`last_among_callbacks`), so that it writes the weights training ends with:
    Lightning's `WeightAveraging` (EMA, SWA) copies its averaged weights in at `on_train_end` too."""

    def __init__(self, dirpath: str) -> None:
        self.dirpath = Path(dirpath)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.global_rank != 0 or trainer.fast_dev_run:
            return  # a debug run (fast_dev_run) must not overwrite a real export
        self.dirpath.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{self.dirpath.name}.", dir=self.dirpath.parent))
        try:
            self.write(pl_module, tmp)
            give_default_modes(tmp)
            if self.dirpath.exists():
                shutil.rmtree(self.dirpath)
            tmp.rename(self.dirpath)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp)

    def write(self, pl_module: L.LightningModule, folder: Path) -> None:
        """What is exported: the whole backbone in diffusers layout."""
        pl_module.backbone.save_pretrained(folder)


def give_default_modes(folder: Path) -> None:
    """The modes a folder and files created normally get (0777 / 0666 less the umask): mkdtemp makes the temp folder
    0700 and safetensors writes its file 0600, which would leave a checkpoint others in the group cannot read. Frozen
    parts hard-linked from the source model keep theirs (a chmod would change the source's files too)."""
    for path in [folder, *folder.rglob("*")]:
        if path.is_dir() or path.stat().st_nlink == 1:
            os.chmod(path, default_mode(directory=path.is_dir()))


def last_among_callbacks(callbacks: list[L.Callback]) -> list[L.Callback]:
    """`callbacks` with the exports moved after the others, each group in its order. Lightning's own reordering at
    `fit` keeps that (it only moves checkpoint callbacks to the end), so `--trainer.callbacks+=WeightAveraging`
    appended after the config's export is still averaged into what the export writes."""
    exports = [c for c in callbacks if isinstance(c, ExportBackbone)]
    return [c for c in callbacks if not isinstance(c, ExportBackbone)] + exports

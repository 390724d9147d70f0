"""Loading diffusers-layout checkpoints: dtype names, layout checks and one-line load errors for every adapter."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import diffusers
import torch

from lvg.errors import LvgError, require

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def torch_dtype(dtype: str) -> torch.dtype:
    """The torch dtype of a config's dtype name, or one clear error."""
    require(dtype in DTYPES, f"dtype {dtype!r} unknown: use one of {sorted(DTYPES)}")
    return DTYPES[dtype]


@dataclass(frozen=True)
class Layout:
    """A model's diffusers layout: `parts` (subfolders), an `example` hub id, and "a"/"an" before `model`."""

    model: str
    parts: tuple[str, ...]
    example: str
    article: str = "a"

    def folders(self) -> str:
        return ", ".join(f"{p}/" for p in self.parts)

    def check(self, path: str, parts: tuple[str, ...] | None = None) -> None:
        """One clear error for a local folder that is missing or lacks one of `parts` (default: all); hub ids are
        left to from_pretrained."""
        root = Path(path).expanduser()
        looks_local = root.is_absolute() or path.startswith((".", "~")) or path.count("/") != 1
        if not root.exists():
            if looks_local:
                raise LvgError(
                    f"{self.model} checkpoint folder {path!r} not found: give a local folder in diffusers layout "
                    f"(e.g. a copy of {self.example}) or a cached hub id"
                )
            return  # a hub id: from_pretrained looks in the cache
        missing = [f"{p}/" for p in (self.parts if parts is None else parts) if not (root / p).is_dir()]
        if missing:
            raise LvgError(
                f"{path!r} is not {self.article} {self.model} checkpoint in diffusers layout: missing "
                f"{', '.join(missing)} (e.g. a local copy of {self.example})"
            )

    @contextmanager
    def loading(self, path: str, what: str | None = None) -> Iterator[None]:
        """Turn an OSError / ValueError of `from_pretrained` into one line (`what`: default the checkpoint)."""
        try:
            yield
        except (OSError, ValueError) as e:
            what = what or f"{self.article} {self.model} checkpoint from"
            raise LvgError(
                f"cannot load {what} {path!r} ({str(e).strip().splitlines()[0][:160]}): give a local folder in "
                f"diffusers layout ({self.folders()}) or a cached hub id"
            ) from e


def require_diffusers_scheduler(config: dict, path: str) -> None:
    require(
        getattr(diffusers, config.get("_class_name", ""), None) is not None,
        f"scheduler {config.get('_class_name')!r} of {path!r} is not a diffusers scheduler",
    )


def save_trained(model, folder: Path) -> None:
    """`model.save_pretrained(folder)` in safetensors, without the `_name_or_path` diffusers records when a model is
    loaded from a path: the folder it was trained from is a local detail of the training machine, and with it the
    same training would export different bytes from another folder."""
    model.save_pretrained(folder, safe_serialization=True)
    config = Path(folder) / "config.json"
    data = json.loads(config.read_text())
    if data.pop("_name_or_path", None) is not None:
        config.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def copy_frozen_parts(source: str | Path, root: Path, loaded: dict) -> None:
    """Put each frozen part (`loaded`: subfolder -> module) into `root`: from the source folder where it has it
    (hard-linked where possible), else saved from the loaded module (None: skipped)."""
    source = Path(source).expanduser()
    for part, module in loaded.items():
        if (source / part).is_dir():
            if (root / part).resolve() != (source / part).resolve():
                shutil.copytree(source / part, root / part, copy_function=link_or_copy, dirs_exist_ok=True)
        elif module is not None:
            module.save_pretrained(root / part)


def link_or_copy(src: str, dst: str) -> None:
    """Hard-link a frozen weight file (no second copy of a multi-GB text encoder on disk), else copy it."""
    if os.path.exists(dst):
        if os.path.samefile(src, dst):
            return
        os.remove(dst)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)

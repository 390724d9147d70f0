"""Wan2.1 through diffusers: WanTransformer3DModel, AutoencoderKLWan, UMT5, the checkpoint's own scheduler.

Loaded with `from_pretrained(path_or_id)` from a diffusers-layout folder (`transformer/`, `vae/`, `text_encoder/`,
`tokenizer/`, `scheduler/`), e.g. a local copy of Wan-AI/Wan2.1-T2V-1.3B-Diffusers.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import diffusers
import torch
from diffusers import AutoencoderKLWan, WanTransformer3DModel

from lvg.backbones.extension import add_extension_channels
from lvg.backbones.text import UMT5Encoder
from lvg.backbones.wan_adapter import WanAdapter
from lvg.errors import LvgError

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
LAYOUT = ("transformer", "vae", "text_encoder", "tokenizer", "scheduler")
FROZEN_PARTS = ("vae", "text_encoder", "tokenizer")


def _check_local_layout(path: str, load_text_encoder: bool) -> None:
    """One clear error for a local folder that is missing or lacks a part (hub ids are left to from_pretrained)."""
    root = Path(path).expanduser()
    looks_local = root.is_absolute() or path.startswith((".", "~")) or path.count("/") != 1
    if not root.exists():
        if looks_local:
            raise LvgError(f"Wan checkpoint folder {path!r} not found: give a local folder in diffusers layout")
        return  # a hub id: from_pretrained looks in the cache
    needed = [p for p in LAYOUT if load_text_encoder or p not in ("text_encoder", "tokenizer")]
    missing = [f"{p}/" for p in needed if not (root / p).is_dir()]
    if missing:
        raise LvgError(
            f"{path!r} is not a Wan checkpoint in diffusers layout: missing {', '.join(missing)} "
            "(e.g. a local copy of Wan-AI/Wan2.1-T2V-1.3B-Diffusers)"
        )


class Wan(WanAdapter):
    """Real Wan2.1 (or any diffusers Wan checkpoint). `extension=True` adds the zero-initialised condition channels
    of the video-extension model (error-free §3.3) unless the checkpoint already has them."""

    def __init__(
        self,
        path: str,
        extension: bool = True,
        dtype: str = "float32",
        max_sequence_length: int = 512,
        load_text_encoder: bool = True,
    ) -> None:
        super().__init__()
        if dtype not in DTYPES:
            raise LvgError(f"dtype {dtype!r} unknown: use one of {sorted(DTYPES)}")
        path = str(path)
        self.path = path
        _check_local_layout(path, load_text_encoder)
        try:
            # torch_dtype (not .to()) keeps the modules Wan wants in float32 (norms, time embedder) in float32
            self.transformer = WanTransformer3DModel.from_pretrained(
                path, subfolder="transformer", torch_dtype=DTYPES[dtype]
            )
            self.vae = AutoencoderKLWan.from_pretrained(path, subfolder="vae").requires_grad_(False).eval()
            sched_cfg = diffusers.FlowMatchEulerDiscreteScheduler.load_config(path, subfolder="scheduler")
            self.text_encoder = UMT5Encoder(path, max_sequence_length) if load_text_encoder else None
        except (OSError, ValueError) as e:
            raise LvgError(
                f"cannot load a Wan checkpoint from {path!r} ({str(e).strip().splitlines()[0][:160]}): give a local "
                f"folder in diffusers layout ({', '.join(f'{p}/' for p in LAYOUT)}) or a cached hub id"
            ) from e
        self.scheduler_config = dict(sched_cfg)
        if extension:
            add_extension_channels(self.transformer, self.latent_channels)

    def save_pretrained(self, path: str | Path) -> None:
        """A complete diffusers-layout checkpoint that `Wan(path)` (and WanPipeline) loads again: the trained
        `transformer/` + `scheduler/` + `lvg.json`, and the frozen `vae/`, `text_encoder/`, `tokenizer/` (copied from
        the source folder, hard-linked where possible, else saved from the loaded modules)."""
        super().save_pretrained(path)
        root = Path(path)
        source = Path(self.path).expanduser()
        loaded = {
            "vae": self.vae,
            "text_encoder": getattr(self.text_encoder, "model", None),
            "tokenizer": getattr(self.text_encoder, "tokenizer", None),
        }
        for part in FROZEN_PARTS:
            if (source / part).is_dir():
                if (root / part).resolve() != (source / part).resolve():
                    shutil.copytree(source / part, root / part, copy_function=_link_or_copy, dirs_exist_ok=True)
            elif loaded[part] is not None:
                loaded[part].save_pretrained(root / part)


def _link_or_copy(src: str, dst: str) -> None:
    """Hard-link a frozen weight file (no second copy of a multi-GB text encoder on disk), else copy it."""
    if os.path.exists(dst):
        if os.path.samefile(src, dst):
            return
        os.remove(dst)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)

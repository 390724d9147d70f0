"""Wan2.1 through diffusers: WanTransformer3DModel, AutoencoderKLWan, UMT5, the checkpoint's own scheduler.

Loaded with `from_pretrained(path_or_id)` from a diffusers-layout folder (`transformer/`, `vae/`, `text_encoder/`,
`tokenizer/`, `scheduler/`), e.g. a local copy of Wan-AI/Wan2.1-T2V-1.3B-Diffusers.
"""

from __future__ import annotations

import diffusers
import torch
from diffusers import AutoencoderKLWan, WanTransformer3DModel

from lvg.backbones.extension import add_extension_channels
from lvg.backbones.text import UMT5Encoder
from lvg.backbones.wan_adapter import WanAdapter
from lvg.errors import LvgError

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


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
        try:
            self.transformer = WanTransformer3DModel.from_pretrained(path, subfolder="transformer")
            self.vae = AutoencoderKLWan.from_pretrained(path, subfolder="vae").requires_grad_(False).eval()
            sched_cfg = diffusers.FlowMatchEulerDiscreteScheduler.load_config(path, subfolder="scheduler")
        except (OSError, ValueError) as e:
            raise LvgError(
                f"cannot load a Wan checkpoint from {path!r} ({str(e).splitlines()[0][:160]}): give a local folder "
                "in diffusers layout (transformer/, vae/, text_encoder/, tokenizer/, scheduler/) or a cached hub id"
            ) from e
        self.transformer.to(DTYPES[dtype])
        self.scheduler_config = dict(sched_cfg)
        if extension:
            add_extension_channels(self.transformer, self.latent_channels)
        self.text_encoder = UMT5Encoder(path, max_sequence_length) if load_text_encoder else None

    def make_scheduler(self, shift: float | None = None):
        """The checkpoint's own scheduler class (FlowMatchEuler or UniPC with flow sigmas), `shift` overriding."""
        cfg = dict(self.scheduler_config)
        cls = getattr(diffusers, cfg.get("_class_name", "FlowMatchEulerDiscreteScheduler"))
        if shift is not None:
            cfg["flow_shift" if "flow_shift" in cfg else "shift"] = shift
        return cls.from_config(cfg)

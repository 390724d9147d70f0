"""Wan2.1 through diffusers: WanTransformer3DModel, AutoencoderKLWan, UMT5, the checkpoint's own scheduler.

Loaded with `from_pretrained(path_or_id)` from a diffusers-layout folder (`transformer/`, `vae/`, `text_encoder/`,
`tokenizer/`, `scheduler/`), e.g. a local copy of Wan-AI/Wan2.1-T2V-1.3B-Diffusers.
"""

from __future__ import annotations

from pathlib import Path

import diffusers
from diffusers import AutoencoderKLWan, WanTransformer3DModel

from lvg.backbones.extension import add_extension_channels
from lvg.backbones.loading import Layout, copy_frozen_parts, torch_dtype
from lvg.backbones.memory import set_vae_memory
from lvg.backbones.text import UMT5Encoder
from lvg.backbones.wan_adapter import WanAdapter

LAYOUT = Layout(
    "Wan", ("transformer", "vae", "text_encoder", "tokenizer", "scheduler"), "Wan-AI/Wan2.1-T2V-1.3B-Diffusers"
)
TEXT_PARTS = ("text_encoder", "tokenizer")


class Wan(WanAdapter):
    """Real Wan2.1 (or any diffusers Wan checkpoint). `extension=True` adds the zero-initialised condition channels
    of the video-extension model (error-free §3.3) unless the checkpoint already has them.

    Memory switches for generation (lvg.backbones.memory, diffusers' own): `vae_tiling` (decode in spatial tiles),
    `vae_slicing` (a batch one video at a time), `cpu_offload` (each part on the GPU only while it runs)."""

    def __init__(
        self,
        path: str,
        extension: bool = True,
        dtype: str = "float32",
        max_sequence_length: int = 512,
        load_text_encoder: bool = True,
        vae_tiling: bool = False,
        vae_slicing: bool = False,
        cpu_offload: bool = False,
    ) -> None:
        super().__init__()
        weights = torch_dtype(dtype)
        path = str(path)
        self.path = path
        LAYOUT.check(path, tuple(p for p in LAYOUT.parts if load_text_encoder or p not in TEXT_PARTS))
        with LAYOUT.loading(path):
            # torch_dtype (not .to()) keeps the modules Wan wants in float32 (norms, time embedder) in float32
            self.transformer = WanTransformer3DModel.from_pretrained(
                path, subfolder="transformer", torch_dtype=weights
            )
            self.vae = AutoencoderKLWan.from_pretrained(path, subfolder="vae").requires_grad_(False).eval()
            sched_cfg = diffusers.FlowMatchEulerDiscreteScheduler.load_config(path, subfolder="scheduler")
            self.text_encoder = UMT5Encoder(path, max_sequence_length) if load_text_encoder else None
        self.scheduler_config = dict(sched_cfg)
        set_vae_memory(self.vae, "Wan", vae_tiling, vae_slicing)
        self.cpu_offload = cpu_offload
        if extension:
            add_extension_channels(self.transformer, self.latent_channels)

    def save_pretrained(self, path: str | Path) -> None:
        """A complete diffusers-layout checkpoint that `Wan(path)` (and WanPipeline) loads again: the trained
        `transformer/` + `scheduler/` + `lvg.json`, and the frozen `vae/`, `text_encoder/`, `tokenizer/` (copied from
        the source folder, hard-linked where possible, else saved from the loaded modules)."""
        super().save_pretrained(path)
        loaded = {
            "vae": self.vae,
            "text_encoder": getattr(self.text_encoder, "model", None),
            "tokenizer": getattr(self.text_encoder, "tokenizer", None),
        }
        copy_frozen_parts(self.path, Path(path), loaded)

    def offload_parts(self) -> list:
        """WanPipeline's `model_cpu_offload_seq`: text_encoder -> transformer -> vae."""
        return [getattr(self.text_encoder, "model", None), self.transformer, self.vae]

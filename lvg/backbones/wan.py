"""Wan2.1 through diffusers: WanTransformer3DModel, AutoencoderKLWan, UMT5, the checkpoint's own scheduler.

Loaded with `from_pretrained(path_or_id)` from a diffusers-layout folder (`transformer/`, `vae/`, `text_encoder/`,
`tokenizer/`, `scheduler/`), e.g. a local copy of Wan-AI/Wan2.1-T2V-1.3B-Diffusers.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import diffusers
import torch
from diffusers import AutoencoderKLWan, WanTransformer3DModel

from lvg.backbones.base import GuidedPrompts
from lvg.backbones.extension import add_extension_channels
from lvg.backbones.loading import Layout, copy_frozen_parts, torch_dtype
from lvg.backbones.memory import set_vae_memory
from lvg.backbones.speed import Speed
from lvg.backbones.text import UMT5Encoder
from lvg.backbones.wan_adapter import WanAdapter
from lvg.contracts import TEXT_GUIDANCE, Condition
from lvg.errors import require

LAYOUT = Layout(
    "Wan", ("transformer", "vae", "text_encoder", "tokenizer", "scheduler"), "Wan-AI/Wan2.1-T2V-1.3B-Diffusers"
)
TEXT_PARTS = ("text_encoder", "tokenizer")


class Wan(GuidedPrompts, WanAdapter):
    """Real Wan2.1 (or any diffusers Wan checkpoint). `extension=True` adds the zero-initialised condition channels
    of the video-extension model (error-free §3.3) unless the checkpoint already has them.

    Text guidance as `WanPipeline` samples: `guidance_scale` (the pipeline's 5.0 in the Wan configs; <= 1 is off) and
    `negative_prompt`, the conditional and unconditional predictions in one batched forward, uncond + scale x
    (cond - uncond). With `Extension(condition_guidance=w)` both apply, nested: the frame guidance of
    `lvg.methods.guidance` combines two text-guided predictions (with and without the condition frames), one forward
    of four rows.

    Memory switches for generation (lvg.backbones.memory, diffusers' own): `vae_tiling` (decode in spatial tiles),
    `vae_slicing` (a batch one video at a time), `cpu_offload` (each part on the GPU only while it runs). Speed
    switches (diffusers' attention backends, caching hooks, torch.compile): `speed` (`lvg.backbones.speed`)."""

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
        guidance_scale: float = 1.0,
        negative_prompt: str = "",
        speed: Speed | None = None,
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
        self.guidance_scale, self.negative_prompt, self._negative = float(guidance_scale), negative_prompt, None
        if extension:
            add_extension_channels(self.transformer, self.latent_channels)
        self.switch_on(speed)

    @property
    def capabilities(self) -> frozenset[str]:
        return super().capabilities | {TEXT_GUIDANCE}

    def conditioning(self, prompts, cond_latents=None, mask=None, guide=None, seed=None) -> Condition:
        """Text (+ the negative prompt's, when guided) and, for extension models, condition latents and mask."""
        text, negative = self.prompt_embeddings(prompts)
        return Condition(text, cond_latents, mask, negative)

    def denoiser(self, cond: Condition):
        """`denoise(x, t)` bound to one clip's condition, text-guided as `WanPipeline` when guidance_scale > 1: the
        unconditional (negative prompt) and conditional rows in one forward."""
        if not self.guided:
            return lambda x, t: self.predict(x, t, cond)
        require(cond.negative is not None, "text guidance needs the negative prompt: build the condition with "
                "backbone.conditioning(...)")  # fmt: skip
        both = replace(cond, text=torch.cat([cond.negative, cond.text]), negative=None)
        both = replace(both, latents=None if cond.latents is None else torch.cat([cond.latents] * 2),
                       mask=None if cond.mask is None else torch.cat([cond.mask] * 2))  # fmt: skip

        def denoise(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            uncond, text = self.predict(torch.cat([x, x]), torch.cat([t, t]), both).chunk(2)
            return uncond + self.guidance_scale * (text - uncond)

        return denoise

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

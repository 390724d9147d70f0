"""The backbone protocol every method talks to (DESIGN.md, "The backbone protocol"), and what adapters share."""

from __future__ import annotations

import contextlib

import torch
from torch import nn

from lvg.backbones.memory import CpuOffload
from lvg.backbones.speed import Speed, WalkState, apply_speed, check_speed
from lvg.contracts import SKIPS_BLOCKS, Condition, TensorFields
from lvg.errors import LvgError, require

__all__ = ["Condition", "DiffusersBackbone", "GuidedPrompts", "TensorFields"]


class DiffusersBackbone(CpuOffload, nn.Module):
    """Protocol pieces every diffusers adapter shares (`lvg.contracts.Backbone`); `network_name` names the trained
    network's attribute, `capabilities` what the adapter can do beyond the core protocol."""

    network_name = "transformer"
    capabilities: frozenset[str] = frozenset()
    prediction_type: str = "flow"
    speed: Speed | None = None

    def switch_on(self, speed: Speed | None) -> None:
        """diffusers' speed switches on the network (`lvg.backbones.speed`); call once the network is built."""
        self.speed = speed
        self._walks = WalkState()
        apply_speed(self.network, speed, type(self).__name__)

    def check(self, parts) -> None:
        """Refuse, at build, speed options the other parts contradict (`lvg.backbones.speed.check_speed`)."""
        check_speed(self.speed, parts.sampler.num_steps)

    @property
    def speed_capabilities(self) -> frozenset[str]:
        """What the speed switches add: a caching hook skips blocks (`SKIPS_BLOCKS`)."""
        return frozenset({SKIPS_BLOCKS}) if self.speed is not None and self.speed.cache else frozenset()

    def call_context(self, x: torch.Tensor, t: torch.Tensor):
        """The context one network call on x at noise levels t runs in (a caching hook's per-walk state)."""
        walks = self.__dict__.get("_walks")
        return walks.context(self.network, self.speed, x, t) if walks is not None else contextlib.nullcontext()

    @property
    def network(self) -> nn.Module:
        return getattr(self, self.network_name)

    @property
    def device(self) -> torch.device:
        """Where inputs go: the network's device, or the GPU its parts visit under model CPU offload."""
        return self._execution_device or next(self.network.parameters()).device

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.network.parameters())

    def enable_gradient_checkpointing(self) -> None:
        self.network.enable_gradient_checkpointing()

    @property
    def is_gradient_checkpointing(self) -> bool:
        return bool(getattr(self.network, "is_gradient_checkpointing", False))

    def add_lora(self, spec) -> list[str]:
        """LoRA finetuning (see `lvg.backbones.lora`); adapters that support it override this."""
        raise LvgError(f"LoRA is not supported for {type(self).__name__}: use a Wan backbone (Toy, Wan) or no lora")

    @property
    def num_train_timesteps(self) -> int:
        return int(self.scheduler_config.get("num_train_timesteps", 1000))


class GuidedPrompts:
    """Prompt + negative prompt embeddings for classifier-free guidance (needs `guidance_scale`, `negative_prompt`,
    `_negative` and `encode_prompts`), and the guide / latent frame count an image-to-video `conditioning` takes."""

    @property
    def guided(self) -> bool:
        return self.guidance_scale > 1.0

    def prompt_embeddings(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Prompts -> (text [B, L, D], negative [B, L, D] or None without guidance); the negative is cached."""
        text = self.encode_prompts(list(prompts))
        if not self.guided:
            return text, None
        if self._negative is None or self._negative.device != text.device:
            self._negative = self.encode_prompts([self.negative_prompt])
        return text, self._negative.expand(len(prompts), -1, -1)

    def clip_latent_frames(
        self, model: str, guide: torch.Tensor | None, cond_latents: torch.Tensor | None, latent_frames: int | None
    ) -> int:
        """The clip's latent frame count (`latent_frames`, else that of `cond_latents`); one error without a guide."""
        require(guide is not None, f"{model} image-to-video needs the guide image: pass guide=[B, 3, c, H, W]")
        f = latent_frames if latent_frames is not None else None if cond_latents is None else cond_latents.shape[2]
        name = type(self).__name__
        require(f is not None, f"{name}.conditioning needs the clip's latent frame count: give cond_latents")
        return f

"""The backbone protocol every method talks to (DESIGN.md, "The backbone protocol"), and what adapters share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import TypeVar

import torch
from torch import nn

from lvg.backbones.memory import CpuOffload
from lvg.errors import LvgError, require

T = TypeVar("T", bound="TensorFields")


class TensorFields:
    """`to` and `repeat` for a dataclass whose fields are tensors, None, or nested TensorFields."""

    def _map(self: T, fn: Callable[[torch.Tensor], torch.Tensor]) -> T:
        def apply(x):
            if isinstance(x, TensorFields):
                return x._map(fn)
            return None if x is None else fn(x)

        return replace(self, **{f.name: apply(getattr(self, f.name)) for f in fields(self)})

    def to(self: T, device: torch.device, dtype: torch.dtype | None = None) -> T:
        return self._map(lambda x: x.to(device=device, dtype=dtype or x.dtype))

    def repeat(self: T, n: int) -> T:
        """The same condition for a batch n times larger (e.g. search candidates)."""
        return self._map(lambda x: x.repeat_interleave(n, dim=0))

    def concat(self: T, other: T) -> T:
        """This batch followed by `other`'s (e.g. the two halves of classifier-free guidance)."""

        def join(a, b):
            if isinstance(a, TensorFields):
                return a.concat(b)
            return None if a is None else torch.cat([a, b])

        return replace(self, **{f.name: join(getattr(self, f.name), getattr(other, f.name)) for f in fields(self)})


@dataclass
class Condition(TensorFields):
    """What the model is conditioned on for one clip: text embeddings, and optional condition latents + mask.

    `latents` [B, C, f, h, w] holds the clean condition frames at their positions (zeros elsewhere); `mask` [B, f]
    is 1 on latent frames that are given and 0 on frames to generate (error-free paper, section 3.3).
    """

    text: torch.Tensor
    latents: torch.Tensor | None = None
    mask: torch.Tensor | None = None


class DiffusersBackbone(CpuOffload, nn.Module):
    """Protocol pieces every diffusers adapter shares; `network_name` names the trained network's attribute."""

    network_name = "transformer"

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

"""Inference memory switches for real-size generation: diffusers' VAE tiling / slicing and model CPU offload.

- VAE tiling decodes (and encodes) in overlapping spatial tiles (`enable_tiling`: much less activation memory,
  pixels differ slightly at tile seams); slicing decodes a batch one video at a time (`enable_slicing`, same pixels).
- Model CPU offload is diffusers' `enable_model_cpu_offload`: every part (text encoder, image encoder, denoiser,
  VAE) lives on the CPU and moves to the GPU when it runs, sending the part that ran before it back (accelerate's
  `cpu_offload_with_hook`, chained in the pipeline's `model_cpu_offload_seq` order and closed into a cycle, since a
  long video runs the sequence once per clip). Peak GPU memory is about the largest part plus activations, at the
  cost of a host-to-device copy of each part per clip. For generation only (`lvg generate`).
"""

from __future__ import annotations

import torch
from torch import nn

from lvg.errors import require


def set_vae_memory(vae: nn.Module, model: str, tiling: bool, slicing: bool) -> None:
    """Switch on diffusers' tiled and/or sliced VAE decoding; one clear error where the VAE has no tiling."""
    if tiling:
        require(
            hasattr(vae, "use_tiling"),
            f"{model}'s VAE ({type(vae).__name__}) has no tiled decoding in diffusers: set vae_tiling: false",
        )
        vae.enable_tiling()
    if slicing:
        vae.enable_slicing()


class CpuOffload:
    """Model CPU offload for a DiffusersBackbone: `offload_parts()` lists its parts in call order."""

    cpu_offload: bool = False
    _execution_device: torch.device | None = None

    def offload_parts(self) -> list[nn.Module | None]:
        raise NotImplementedError

    def enable_cpu_offload(self, device: str | torch.device) -> None:
        """Keep every part on the CPU; each moves to `device` when it runs (the backbone's `device` becomes it)."""
        from accelerate import cpu_offload_with_hook

        device = torch.device(device)
        if self._execution_device == device:
            return
        hooks = []
        for part in (p for p in self.offload_parts() if p is not None):
            part.to("cpu")
            hooks.append(cpu_offload_with_hook(part, device, prev_module_hook=hooks[-1] if hooks else None)[1])
        hooks[0].hook.prev_module_hook = hooks[-1]  # the next clip's first part sends the last one back
        self._offload_hooks = hooks
        self._execution_device = device

    def offload_all(self) -> None:
        """Send every part back to the CPU (e.g. after a video, before something else uses the GPU)."""
        for hook in getattr(self, "_offload_hooks", []):
            hook.offload()

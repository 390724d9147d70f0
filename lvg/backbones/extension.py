"""Video-extension conditioning: condition latents and a binary mask concatenated on channels (error-free §3.3)."""

import torch
from torch import nn


def extension_in_channels(latent_channels: int) -> int:
    """Noise latent + condition latent + one mask channel."""
    return 2 * latent_channels + 1


def add_extension_channels(transformer: nn.Module, latent_channels: int) -> None:
    """Widen `patch_embedding` to take [x_t, cond, mask]; the new input weights start at zero (§3.3), so the model
    starts out computing exactly what it did before."""
    old: nn.Conv3d = transformer.patch_embedding
    new_in = extension_in_channels(latent_channels)
    if old.in_channels == new_in:
        return
    new = nn.Conv3d(
        new_in, old.out_channels, old.kernel_size, old.stride, dtype=old.weight.dtype, device=old.weight.device
    )
    with torch.no_grad():
        new.weight.zero_()
        new.weight[:, : old.in_channels] = old.weight
        new.bias.copy_(old.bias)
    transformer.patch_embedding = new
    transformer.register_to_config(in_channels=new_in)


def extension_input(x_t: torch.Tensor, cond_latents: torch.Tensor | None, mask: torch.Tensor | None) -> torch.Tensor:
    """[B, 2C+1, F, H, W] model input; no condition means zero latents and an all-zero mask. `cond_latents` go in as
    given (the method decides what frames without a condition hold: zeros, or a copy of a given frame)."""
    b, _, f, h, w = x_t.shape
    if cond_latents is None:
        cond_latents = torch.zeros_like(x_t)
        mask = torch.zeros(b, f, device=x_t.device, dtype=x_t.dtype)
    m = mask.to(x_t.dtype)[:, None, :, None, None]
    return torch.cat([x_t, cond_latents.to(x_t.dtype), m.expand(b, 1, f, h, w)], dim=1)

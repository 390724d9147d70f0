"""Classifier-free guidance on the condition frames of a video-extension model (an lvg option of `Extension`).

The error-free paper (§3.3) drops the condition frames with rate 0.1 in training but does not say how it samples;
dropping a condition at that rate is the classifier-free guidance recipe (Ho & Salimans, 2022, eq. 6), and Stable
Video Diffusion guides on its condition image the same way. With scale w the velocity is

    v = v(x_t, t | no frames) + w * (v(x_t, t | frames) - v(x_t, t | no frames)),

the unconditional branch being the `none` task of training: zero condition latents and mask, the prompt kept.
w = 1 is plain conditional sampling. Both branches run as one batch [unconditional; conditional].

Two known remedies for what a large w does to colours (measured on the toy world: the background darkens clip after
clip), both options:
- `rescale` (Lin et al., 2024, "Common Diffusion Noise Schedules and Sample Steps are Flawed", §3.4, eq. 15-16):
  the guided output's standard deviation is pulled back towards the conditional one's, by the given share. It is
  diffusers' `rescale_noise_cfg` (tested equal), written out because that lives in a pipeline module whose import
  pulls the image processors (and their warnings) into every `lvg` command;
- `min_t`: guidance only at flow times t >= min_t (1 is pure noise), as Kynkäänniemi et al. (2024, "Applying
  Guidance in a Limited Interval Improves Sample and Distribution Quality") limit it to an interval; below it the
  conditional branch alone is used.
"""

from __future__ import annotations

from dataclasses import replace

import torch

from lvg.backbones.base import Condition


def without_frames(cond: Condition) -> Condition:
    """The same condition with the given frames dropped (the `none` task): zero latents, zero mask."""
    return replace(cond, latents=torch.zeros_like(cond.latents), mask=torch.zeros_like(cond.mask))


def rescale_guided(guided: torch.Tensor, conditional: torch.Tensor, share: float) -> torch.Tensor:
    """Lin et al. eq. 15-16: `guided` scaled to the per-sample standard deviation of `conditional`, mixed in by
    `share` (0 leaves it unchanged)."""
    dims = list(range(1, guided.ndim))
    rescaled = guided * (conditional.std(dim=dims, keepdim=True) / guided.std(dim=dims, keepdim=True))
    return share * rescaled + (1 - share) * guided


def condition_guided_denoiser(backbone, cond: Condition, scale: float, rescale: float = 0.0, min_t: float = 0.0):
    """`denoise(x, t)` for a sampler: the backbone's denoiser on `cond`, guided on its frames with `scale`, `rescale`
    and `min_t` (module doc); scale 1 is the plain denoiser."""
    plain = backbone.denoiser(cond)
    if scale == 1.0:
        return plain
    both = backbone.denoiser(without_frames(cond).concat(cond))

    def guided(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if bool((t < min_t).all()):
            return plain(x, t)
        unconditional, conditional = both(torch.cat([x, x]), torch.cat([t, t])).chunk(2)
        w = torch.where(t >= min_t, scale, 1.0).to(conditional.dtype)[:, None, :, None, None]  # per frame
        v = unconditional + w * (conditional - unconditional)
        return rescale_guided(v, conditional, rescale) if rescale > 0 else v

    return guided

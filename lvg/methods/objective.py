"""The denoising objective of a backbone's own forward process, for a method's training loss: rectified flow for flow
backbones (toy, Wan), DDPM with v or epsilon targets for a backbone that gives its training `alphas_cumprod`
(CogVideoX: v-prediction over its scheduler's 1000 discrete timesteps).
"""

from __future__ import annotations

import torch

from lvg.contracts import TRAINABLE, Backbone
from lvg.errors import require
from lvg.noise.ddpm import ddpm_xt, v_target
from lvg.noise.flow_match import flow_match_target, flow_match_xt


def is_trainable(backbone: Backbone) -> bool:
    """Whether lvg can train `backbone`: it declares the `trainable` capability (a flow model, or a DDPM one with
    `alphas_cumprod`)."""
    return TRAINABLE in backbone.capabilities


def require_trainable(backbone: Backbone) -> None:
    """One line for a backbone whose training objective lvg does not have (e.g. SVD's EDM-style v-prediction)."""
    require(
        is_trainable(backbone),
        f"{type(backbone).__name__} is neither a rectified-flow model nor a DDPM one with a training schedule "
        f"(it predicts {backbone.prediction_type!r}): use it for generation only (training-free), "
        "or train a flow backbone (toy, Wan) or CogVideoX",
    )


def noised_and_target(
    backbone: Backbone, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(x_t, the regression target, the per-frame times t [B, F] to give `predict`) for clean x0 and noise.

    Flow: x_t = (1 - t) x0 + t n, target n - x0. DDPM: t in [0, 1) picks the discrete timestep k = floor(t N) of the
    backbone's N training timesteps (uniform t: k uniform, as CogVideoX's finetuning draws it), x_t = sqrt(a) x0 +
    sqrt(1 - a) n with a = alphas_cumprod[k] (Ho et al. eq. 4), target v = sqrt(a) n - sqrt(1 - a) x0 (Salimans & Ho
    §4) or n. The MSE on v equals diffusers' CogVideoX finetuning loss, the x0 error weighted by 1 / (1 - a)."""
    require_trainable(backbone)
    kind = backbone.prediction_type
    if kind == "flow":
        return flow_match_xt(x0, noise, t), flow_match_target(x0, noise), t
    alphas = backbone.alphas_cumprod.to(x0.device, torch.float64)
    n = len(alphas)
    k = (t.double() * n).floor().clamp(0, n - 1).long()
    alpha_bar = alphas[k].to(x0.dtype)
    target = v_target(x0, noise, alpha_bar) if kind == "v" else noise
    return ddpm_xt(x0, noise, alpha_bar), target, k.to(t.dtype) / n

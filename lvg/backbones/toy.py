"""The embedded toy backbone: a small WanTransformer3DModel in pixel space with sentence-embedding text input.

It is the same adapter as the real Wan2.1 (`lvg.backbones.Wan`); only the sizes, the absent VAE and the prompt
encoder differ. Saved in diffusers layout: `<path>/transformer` (safetensors), `<path>/scheduler`, `<path>/lvg.json`.

Output parameterisation (`output`): the network's raw output is either the flow velocity n - x0 (`velocity`, as Wan)
or the clean frames x0 (`x0`), turned into the velocity v = (x_t - x0) / max(t, min_t) before anyone sees it, so
methods, losses and samplers are unchanged (the loss stays on v). Predicting the clean image in pixel space is the
point of Li & He, "Back to Basics: Let Denoising Generative Models Denoise" (JiT, 2025, §3-4: x-prediction with a
v-loss, t clipped at 0.05 in the division). On the toy world the clean frames are nearly determined by the given
frames, so x0 is a far simpler function for a small network than the velocity, which must carry the input noise
through every block.

Two lvg options build on the condition latents (with `condition_fill: nearest`, each frame to generate holds a copy
of the nearest given frame, so only what moves has to be learned: the residual form of video prediction):
- `x0_residual` reads the output as x0 minus the condition latents, then as `x0`;
- `residual` is EDM's preconditioning around them (`lvg.noise.preconditioning`): unit-variance targets at every
  noise level, the condition plus a learned residual at high noise and x_t plus a correction at low noise, where a
  plain x0 output must learn to pass x_t through (measured: its estimate at t <= 0.1 was worse than x_t). A fresh
  model of this kind starts with a zero output layer, i.e. as the optimal linear denoiser around the copy.
Without a condition (the `none` task) both take zero as the base. Measured results: `train/README.md`.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from diffusers import FlowMatchEulerDiscreteScheduler, WanTransformer3DModel

from lvg.backbones.base import Condition
from lvg.backbones.extension import extension_in_channels
from lvg.backbones.speed import Speed
from lvg.backbones.text import SentenceEncoder
from lvg.backbones.wan_adapter import WanAdapter, tiny_wan_config
from lvg.contracts import PIXEL_SPACE
from lvg.errors import LvgError, require
from lvg.noise.preconditioning import preconditioned_velocity

PIXEL_CHANNELS = 3
OUTPUTS = ("velocity", "x0", "x0_residual", "residual")


class Toy(WanAdapter):
    """Pixel-space tiny Wan. `path=None` builds a fresh random model of the given size (to train from scratch).
    `text_clauses`: prompt tokens, one per " and " clause (`lvg.backbones.text.SentenceEncoder`; default: the
    checkpoint's, else 1). `speed`: diffusers' speed switches, as on Wan (`lvg.backbones.speed`)."""

    def __init__(
        self,
        path: str | None = None,
        width: int = 128,
        layers: int = 4,
        heads: int = 4,
        patch: tuple[int, int, int] = (1, 4, 4),
        text_encoder: str | None = None,
        text_clauses: int | None = None,
        shift: float = 1.0,
        output: str | None = None,
        min_t: float = 0.05,
        sigma_data: float = 0.5,
        speed: Speed | None = None,
    ) -> None:
        super().__init__()
        meta: dict = {}
        if path is not None:
            root = Path(path)
            require(
                (root / "transformer" / "config.json").is_file(),
                f"toy checkpoint {path!r} not found (no transformer/config.json): train one with "
                "`lvg fit --config configs/toy/extension.yaml` or give the right path",
            )
            meta = json.loads((root / "lvg.json").read_text()) if (root / "lvg.json").is_file() else {}
            self.transformer = WanTransformer3DModel.from_pretrained(str(root), subfolder="transformer")
            self.scheduler_config = dict(FlowMatchEulerDiscreteScheduler.load_config(str(root), subfolder="scheduler"))
            text_encoder = text_encoder or meta.get("text_encoder")
        else:
            self.scheduler_config = dict(FlowMatchEulerDiscreteScheduler(shift=shift).config)
        clauses = meta.get("text_clauses", 1) if text_clauses is None else text_clauses
        self.text_encoder = SentenceEncoder(text_encoder, clauses)
        if path is None:
            cfg = tiny_wan_config(
                extension_in_channels(PIXEL_CHANNELS),
                PIXEL_CHANNELS,
                self.text_encoder.dim,
                width,
                layers,
                heads,
                patch,
            )
            self.transformer = WanTransformer3DModel(**cfg)
            if output == "residual":  # start as the linear denoiser around the condition (module doc)
                torch.nn.init.zeros_(self.transformer.proj_out.weight)
                torch.nn.init.zeros_(self.transformer.proj_out.bias)
        self.output = output or meta.get("output", "velocity")
        require(self.output in OUTPUTS, f"toy output {self.output!r} is not one of {OUTPUTS}: pick one")
        require(0 < min_t < 1, f"min_t={min_t} must be in (0, 1): it bounds the division by t of the x0 output")
        self.min_t = float(meta.get("min_t", min_t)) if output is None else min_t
        self.sigma_data = float(meta.get("sigma_data", sigma_data)) if output is None else sigma_data
        require(
            self.sigma_data > 0, f"sigma_data={self.sigma_data} must be positive (the residual's standard deviation)"
        )
        if self.transformer.config.text_dim != self.text_encoder.dim:
            raise LvgError(
                f"text encoder {self.text_encoder.name!r} gives {self.text_encoder.dim}-dim embeddings but the model "
                f"expects {self.transformer.config.text_dim}: use the encoder it was trained with"
            )
        self.switch_on(speed)

    @property
    def capabilities(self) -> frozenset[str]:
        """Wan's, and pixel space: its latents are the frames themselves (no VAE)."""
        return super().capabilities | {PIXEL_SPACE}

    def predict(self, x_t: torch.Tensor, t: torch.Tensor, cond: Condition) -> torch.Tensor:
        """Velocity for x_t [B, C, F, H, W] at per-frame times t [B, F]; an x0 output is converted (module doc)."""
        out = super().predict(x_t, t, cond)
        if self.output == "velocity":
            return out
        base = 0.0 if cond.latents is None or self.output == "x0" else cond.latents.float()  # residual outputs
        if self.output == "residual":
            return preconditioned_velocity(out, x_t.float(), t.float()[:, None, :, None, None], base, self.sigma_data)
        out = out + base
        t = t.float().clamp(min=self.min_t)[:, None, :, None, None]
        return (x_t.float() - out) / t

    @property
    def text_clauses(self) -> int:
        """Prompt tokens per prompt, one per clause (the text encoder's)."""
        return self.text_encoder.clauses

    def metadata(self) -> dict:
        return {
            **super().metadata(),
            "output": self.output,
            "min_t": self.min_t,
            "sigma_data": self.sigma_data,
            "text_clauses": self.text_clauses,
        }

"""The embedded toy backbone: a small WanTransformer3DModel in pixel space with sentence-embedding text input.

It is the same adapter as the real Wan2.1 (`lvg.backbones.Wan`); only the sizes, the absent VAE and the prompt
encoder differ. Saved in diffusers layout: `<path>/transformer` (safetensors), `<path>/scheduler`, `<path>/lvg.json`.
"""

from __future__ import annotations

import json
from pathlib import Path

from diffusers import FlowMatchEulerDiscreteScheduler, WanTransformer3DModel

from lvg.backbones.extension import extension_in_channels
from lvg.backbones.text import SentenceEncoder
from lvg.backbones.wan_adapter import WanAdapter, tiny_wan_config
from lvg.errors import LvgError, require

PIXEL_CHANNELS = 3


class Toy(WanAdapter):
    """Pixel-space tiny Wan. `path=None` builds a fresh random model of the given size (to train from scratch)."""

    def __init__(
        self,
        path: str | None = None,
        width: int = 128,
        layers: int = 4,
        heads: int = 4,
        patch: tuple[int, int, int] = (1, 4, 4),
        text_encoder: str | None = None,
        shift: float = 1.0,
    ) -> None:
        super().__init__()
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
        self.text_encoder = SentenceEncoder(text_encoder)
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
        if self.transformer.config.text_dim != self.text_encoder.dim:
            raise LvgError(
                f"text encoder {self.text_encoder.name!r} gives {self.text_encoder.dim}-dim embeddings but the model "
                f"expects {self.transformer.config.text_dim}: use the encoder it was trained with"
            )

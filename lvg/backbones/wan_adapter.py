"""One adapter over diffusers' WanTransformer3DModel, shared by the toy model and the real Wan2.1.

Per-frame timesteps t [B, F] (flow time in [0, 1]) are expanded to the per-token timesteps [B, seq] the
transformer accepts (tokens ordered frame, height, width), scaled to the scheduler's 0..1000 range.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import diffusers
import torch
from diffusers import WanTransformer3DModel
from torch import nn

from lvg.backbones.base import Condition, DiffusersBackbone
from lvg.backbones.extension import extension_in_channels, extension_input
from lvg.backbones.loading import save_trained
from lvg.backbones.lora import Lora, add_lora, save_lora
from lvg.backbones.wan_rope import temporal_rope, temporal_shift
from lvg.contracts import CACHED_KV, CONDITION_FRAMES, FRAME_OFFSET, LORA, PER_FRAME_TIMES, TRAINABLE
from lvg.errors import require
from lvg.noise.timesteps import expand_to_tokens


class WanAdapter(DiffusersBackbone):
    """Backbone protocol over a Wan transformer, an optional VAE (None: pixel space) and a prompt encoder."""

    prediction_type = "flow"  # the model predicts the rectified-flow velocity n - x0

    @property
    def capabilities(self) -> frozenset[str]:
        """Per-frame times (per-token timesteps), cross-clip attention (RoPE offsets, cached K/V on `attn1`), LoRA,
        lvg's flow objective; condition frames when the patch embedding was widened for them (`extension`)."""
        own = {PER_FRAME_TIMES, FRAME_OFFSET, CACHED_KV, LORA, TRAINABLE}
        return frozenset(own | ({CONDITION_FRAMES} if self.is_extension else set())) | self.speed_capabilities

    def __init__(self) -> None:
        super().__init__()
        self.transformer: WanTransformer3DModel
        self.vae: nn.Module | None = None
        self.text_encoder = None  # not an nn.Module attribute: frozen, never saved with the checkpoint
        self.scheduler_config: dict = {}

    # --- shapes ---------------------------------------------------------------------------------------------
    @property
    def latent_channels(self) -> int:
        return self.transformer.config.out_channels

    @property
    def temporal_compression(self) -> int:
        return 1 if self.vae is None else int(self.vae.config.scale_factor_temporal)

    @property
    def spatial_compression(self) -> int:
        return 1 if self.vae is None else int(self.vae.config.scale_factor_spatial)

    @property
    def is_extension(self) -> bool:
        return self.transformer.config.in_channels == extension_in_channels(self.latent_channels)

    def latent_frames(self, frames: int) -> int:
        """Latent frames of a clip of `frames` pixel frames (causal VAE: 1 + (F - 1) / r)."""
        r = self.temporal_compression
        return frames if r == 1 else (frames - 1) // r + 1

    def check_clip(self, frames: int, height: int, width: int) -> None:
        """One clear error for a clip shape the VAE or the patch size cannot take."""
        r, s = self.temporal_compression, self.spatial_compression
        require(
            r == 1 or (frames - 1) % r == 0,
            f"frames_per_clip={frames} is not allowed by the VAE's temporal compression {r}: use {r}k+1 frames",
        )
        p_t, p_h, p_w = self.transformer.config.patch_size
        for name, size, p in (("height", height, p_h), ("width", width, p_w)):
            require(
                size % (s * p) == 0,
                f"{name} {size} is not divisible by VAE factor x patch size = {s * p}: use a multiple of {s * p}",
            )
        require(self.latent_frames(frames) % p_t == 0, f"latent frames must be a multiple of the patch size {p_t}")

    # --- VAE ------------------------------------------------------------------------------------------------
    def encode(self, video: torch.Tensor) -> torch.Tensor:
        """Video [B, 3, F, H, W] in [-1, 1] -> normalised latents [B, C, f, h, w] (identity in pixel space)."""
        if self.vae is None:
            return video
        dist = self.vae.encode(video.to(self.vae.dtype)).latent_dist
        mean, inv_std = self._latent_stats(video)
        return ((dist.mode() - mean) * inv_std).float()

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Latents -> video [B, 3, F, H, W] in [-1, 1]."""
        if self.vae is None:
            return latents.clamp(-1, 1)
        mean, inv_std = self._latent_stats(latents)
        video = self.vae.decode((latents / inv_std + mean).to(self.vae.dtype), return_dict=False)[0]
        return video.float().clamp(-1, 1)

    def _latent_stats(self, ref: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cfg = self.vae.config
        mean = torch.tensor(cfg.latents_mean, device=ref.device).view(1, cfg.z_dim, 1, 1, 1)
        inv_std = 1.0 / torch.tensor(cfg.latents_std, device=ref.device).view(1, cfg.z_dim, 1, 1, 1)
        return mean, inv_std

    # --- conditioning and prediction -------------------------------------------------------------------------
    def encode_prompts(self, prompts: list[str]) -> torch.Tensor:
        """Prompts -> text embeddings [B, L, D] on the model's device."""
        return self.text_encoder(prompts).to(self.device)

    def conditioning(
        self,
        prompts: list[str],
        cond_latents: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        guide: torch.Tensor | None = None,
        seed: int | None = None,
    ) -> Condition:
        """Text + (for extension models) condition latents and mask, as the model wants them. `guide` (the given
        pixel frames [B, 3, c, H, W] in [-1, 1]) is for backbones that embed the guide image themselves (SVD's CLIP
        image embedding); this one uses the latents."""
        return Condition(self.encode_prompts(prompts), cond_latents, mask)

    def predict(self, x_t: torch.Tensor, t: torch.Tensor, cond: Condition) -> torch.Tensor:
        """Model output (velocity) for x_t [B, C, F, H, W] at per-frame flow times t [B, F] in [0, 1]."""
        tr = self.transformer
        x_in = extension_input(x_t, cond.latents, cond.mask) if self.is_extension else x_t
        _, p_h, p_w = tr.config.patch_size
        tokens_per_frame = (x_t.shape[-2] // p_h) * (x_t.shape[-1] // p_w)
        timestep = expand_to_tokens(t.float() * self.num_train_timesteps, tokens_per_frame)
        dtype = tr.dtype
        with self.call_context(x_t, t):
            out = tr(
                hidden_states=x_in.to(dtype),
                timestep=timestep,
                encoder_hidden_states=cond.text.to(dtype),
                return_dict=False,
            )[0]
        return out.float()

    def denoiser(self, cond: Condition):
        """`denoise(x, t)` for a sampler, bound to one clip's condition."""
        return lambda x, t: self.predict(x, t, cond)

    def make_scheduler(self, shift: float | None = None):
        """A fresh scheduler of the checkpoint's own class (flow-match Euler, or UniPC with flow sigmas) from the
        backbone's config; `shift` overrides its shift (`flow_shift` for UniPC)."""
        cfg = dict(self.scheduler_config)
        cls = getattr(diffusers, cfg.get("_class_name", "FlowMatchEulerDiscreteScheduler"))
        if shift is not None:
            cfg["flow_shift" if "flow_shift" in cfg else "shift"] = shift
        return cls.from_config(cfg)

    def save_pretrained(self, path: str | Path) -> None:
        """Write the trained parts in diffusers layout: `transformer/` (safetensors), `scheduler/`, `lvg.json`."""
        root = Path(path)
        save_trained(self.transformer, root / "transformer")
        self.make_scheduler().save_pretrained(root / "scheduler")
        (root / "lvg.json").write_text(json.dumps(self.metadata(), indent=1))

    def metadata(self) -> dict:
        """What `lvg.json` records beside the weights (read back by the loader)."""
        return {"backbone": type(self).__name__.lower(), "text_encoder": getattr(self.text_encoder, "name", None)}

    def attention_modules(self) -> list[nn.Module]:
        """The self-attention modules (where a KV cache and LoRA attach)."""
        return [block.attn1 for block in self.transformer.blocks]

    def add_lora(self, spec: Lora) -> list[str]:
        """Add a peft LoRA adapter to the transformer (base frozen); returns the wrapped module names."""
        return add_lora(self.transformer, spec)

    def save_lora(self, path: str | Path) -> Path:
        """Write only the LoRA adapter, in diffusers' format (`WanPipeline.load_lora_weights(path)` reads it)."""
        return save_lora(self.transformer, path)

    def temporal_shift(self, delta: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(cos, sin) [head_dim] moving a cached key `delta` temporal positions (RoPE re-indexing)."""
        return temporal_shift(self.transformer.rope, delta)

    @contextmanager
    def frame_offset(self, offset: int) -> Iterator[None]:
        """Within the block, model calls place the clip's first latent frame at temporal RoPE position `offset`
        (error-free §3.3: RoPE extrapolated in time); any offset works, past the model's RoPE table too. Blocks nest:
        the innermost offset applies."""
        hook = self.transformer.rope.register_forward_hook(
            lambda rope, args, out: temporal_rope(rope, args[0], offset)
        )
        try:
            yield
        finally:
            hook.remove()


def tiny_wan_config(
    in_channels: int,
    out_channels: int,
    text_dim: int,
    width: int,
    layers: int,
    heads: int,
    patch: tuple[int, int, int],
) -> dict:
    """A small WanTransformer3DModel config; head dim = width / heads (RoPE splits it over t, h, w)."""
    require(width % heads == 0, f"width {width} must be divisible by heads {heads}")
    head_dim = width // heads
    require(head_dim >= 12 and head_dim % 2 == 0, f"head dim {head_dim} too small for RoPE: use fewer heads")
    return dict(
        patch_size=tuple(patch),
        num_attention_heads=heads,
        attention_head_dim=head_dim,
        in_channels=in_channels,
        out_channels=out_channels,
        text_dim=text_dim,
        freq_dim=max(32, 2 ** int(math.log2(width))),
        ffn_dim=3 * width,
        num_layers=layers,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        eps=1e-6,
        rope_max_seq_len=1024,
    )

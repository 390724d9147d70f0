"""Wan2.1 image-to-video through diffusers (Wan2.1-I2V-14B-480P/720P), used training-free as a chunk-wise backbone.

Loaded with `from_pretrained(path_or_id)` from a diffusers-layout folder (`transformer/`, `vae/`, `text_encoder/`,
`tokenizer/`, `image_encoder/`, `image_processor/`, `scheduler/`), e.g. Wan-AI/Wan2.1-I2V-14B-480P-Diffusers.
Everything a step needs mirrors diffusers' `WanImageToVideoPipeline`: UMT5 prompt embeddings, the guide image's CLIP
embedding (penultimate hidden states), the 20 condition channels (4 mask channels + the VAE latents of the guide
followed by black frames) concatenated to the noisy latents, classifier-free guidance, and the checkpoint's own
scheduler. The transformer is the T2V one with 36 input channels and an image embedder, so per-frame times reach it
as per-token timesteps exactly as in `WanAdapter`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import diffusers
import torch

from lvg.backbones.base import Condition, TensorFields
from lvg.backbones.loading import Layout, copy_frozen_parts, require_diffusers_scheduler, torch_dtype
from lvg.backbones.speed import Speed
from lvg.backbones.wan import Wan
from lvg.contracts import CONDITION_FRAMES, GUIDE_IMAGE, TEXT_GUIDANCE
from lvg.errors import LvgError, require
from lvg.noise.timesteps import expand_to_tokens

LAYOUT = Layout(
    "Wan image-to-video",
    ("transformer", "vae", "text_encoder", "tokenizer", "image_encoder", "image_processor", "scheduler"),
    "Wan-AI/Wan2.1-I2V-14B-480P-Diffusers",
)
MASK_CHANNELS = 4  # the pipeline's mask after folding the first frame's 4 (temporal compression) copies
TEXT_TOKENS = 512  # fixed by diffusers' Wan attention when the transformer has added K/V projections


@dataclass
class WanI2VCondition(TensorFields):
    """One clip's condition: prompt embeddings `text` [B, L, D], the negative prompt's `negative` [B, L, D] (None
    without guidance), the guide's CLIP hidden states `image_embeds` [B, N, D_img], and `latents` [B, 4 + C, f, h, w]:
    the 4-channel first-frame mask, then the normalised VAE latents of [guide, black frames] (the pipeline's
    `prepare_latents` condition)."""

    text: torch.Tensor
    image_embeds: torch.Tensor
    latents: torch.Tensor
    negative: torch.Tensor | None = None


class CLIPImages:
    """The pipeline's `encode_image`: the checkpoint's CLIPImageProcessor on the guide as an 8-bit image, then the
    CLIP vision tower's penultimate hidden states. Frozen, float32, not an nn.Module attribute of the backbone (never
    in its checkpoints); it follows the backbone's device when used."""

    def __init__(self, path: str) -> None:
        from transformers import CLIPImageProcessor, CLIPVisionModel

        self.processor = CLIPImageProcessor.from_pretrained(path, subfolder="image_processor")
        self.model = CLIPVisionModel.from_pretrained(path, subfolder="image_encoder", torch_dtype=torch.float32)
        self.model.eval().requires_grad_(False)

    @torch.no_grad()
    def __call__(self, images: torch.Tensor, device: torch.device) -> torch.Tensor:
        """Images [B, 3, H, W] in [-1, 1] -> [B, N, D] (rounded to 8 bits first, as a PIL guide would be)."""
        from PIL import Image

        pixels = ((images.detach().float().clamp(-1, 1) + 1) / 2 * 255).round().to(torch.uint8)
        pil = [Image.fromarray(p.permute(1, 2, 0).cpu().numpy()) for p in pixels]
        inputs = self.processor(images=pil, return_tensors="pt")
        if next(self.model.parameters()).device != device:
            self.model.to(device)
        out = self.model(pixel_values=inputs.pixel_values.to(device, self.model.dtype), output_hidden_states=True)
        return out.hidden_states[-2].float()


class WanI2V(Wan):
    """Backbone protocol over a Wan2.1 image-to-video checkpoint, generation as `WanImageToVideoPipeline` does it.

    Args:
        path: diffusers-layout folder or hub id (Wan-AI/Wan2.1-I2V-14B-480P-Diffusers).
        dtype: weights of the transformer (`bfloat16` for the 14B; `float32` for tests). The VAE, UMT5 and CLIP
            stay float32, as the model card loads the VAE and image encoder.
        guidance_scale: classifier-free guidance weight (the pipeline's default 5); <= 1 switches it off.
        negative_prompt: the unconditional prompt of guidance (the pipeline's default "").
        max_sequence_length: UMT5 tokens per prompt (512: fixed by the transformer's image cross-attention).
        vae_tiling, vae_slicing, cpu_offload: memory switches for generation, as `Wan` has them.
    """

    is_extension = False  # the guide enters through the I2V model's own 20 channels, not lvg's condition + mask

    @property
    def capabilities(self) -> frozenset[str]:
        """Wan's, less the condition frames, plus its own guide image and text guidance."""
        return (super().capabilities - {CONDITION_FRAMES}) | {GUIDE_IMAGE, TEXT_GUIDANCE}

    def __init__(
        self,
        path: str,
        dtype: str = "float32",
        guidance_scale: float = 5.0,
        negative_prompt: str = "",
        max_sequence_length: int = TEXT_TOKENS,
        vae_tiling: bool = False,
        vae_slicing: bool = False,
        cpu_offload: bool = False,
        speed: Speed | None = None,
    ) -> None:
        torch_dtype(dtype)  # an unknown dtype is reported before the layout, as Wan does
        path = str(path)
        LAYOUT.check(path)
        super().__init__(
            path,
            extension=False,
            dtype=dtype,
            max_sequence_length=max_sequence_length,
            vae_tiling=vae_tiling,
            vae_slicing=vae_slicing,
            cpu_offload=cpu_offload,
            speed=speed,
        )
        with LAYOUT.loading(path, "the CLIP image encoder of"):
            self.image_encoder = CLIPImages(path)
        cfg = self.transformer.config
        require(
            cfg.in_channels == 2 * cfg.out_channels + MASK_CHANNELS and cfg.image_dim is not None,
            f"{path!r} is not a Wan image-to-video transformer (in_channels {cfg.in_channels}, image_dim "
            f"{cfg.image_dim}): use an I2V checkpoint such as Wan-AI/Wan2.1-I2V-14B-480P-Diffusers",
        )
        require(
            cfg.added_kv_proj_dim is None or max_sequence_length == TEXT_TOKENS,
            f"max_sequence_length={max_sequence_length} but Wan I2V's cross-attention takes exactly {TEXT_TOKENS} "
            f"text tokens: set max_sequence_length: {TEXT_TOKENS}",
        )
        require_diffusers_scheduler(self.scheduler_config, path)
        self.guidance_scale = guidance_scale
        self.negative_prompt = negative_prompt
        self._negative: torch.Tensor | None = None

    # --- conditioning ---------------------------------------------------------------------------------------
    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """Guide images [B, 3, H, W] in [-1, 1] -> CLIP hidden states [B, N, D_img] on the model's device."""
        return self.image_encoder(images, self.device)

    def condition_latents(self, guide: torch.Tensor, latent_frames: int) -> torch.Tensor:
        """The pipeline's `prepare_latents` condition for guide images [B, 3, H, W]: the 4-channel mask (1 on the
        first latent frame) and the normalised VAE latents (posterior mode) of the guide followed by black frames,
        [B, 4 + C, f, h, w]."""
        b, _, height, width = guide.shape
        frames = (latent_frames - 1) * self.temporal_compression + 1
        video = guide.new_zeros(b, 3, frames, height, width)
        video[:, :, 0] = guide
        latents = self.encode(video)
        mask = latents.new_zeros(b, MASK_CHANNELS, *latents.shape[2:])
        mask[:, :, 0] = 1
        return torch.cat([mask, latents], dim=1)

    def conditioning(
        self,
        prompts: list[str],
        cond_latents: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        guide: torch.Tensor | None = None,
        seed: int | None = None,
        latent_frames: int | None = None,
    ) -> WanI2VCondition:
        """Prompt (+ negative prompt) embeddings, the guide's CLIP embedding and condition latents. The guide is the
        last frame of `guide` [B, 3, c, H, W] in [-1, 1]; lvg's condition latents and mask are not an input of this
        model (they only give the clip's latent frame count, unless `latent_frames` does)."""
        f = self.clip_latent_frames("Wan", guide, cond_latents, latent_frames)
        image = guide[:, :, -1].to(self.device)
        text, negative = self.prompt_embeddings(prompts)
        image_embeds = self.encode_image(image)
        if image_embeds.shape[0] != len(prompts):
            image_embeds = image_embeds.expand(len(prompts), -1, -1)
        latents = self.condition_latents(image, f)
        if latents.shape[0] != len(prompts):
            latents = latents.expand(len(prompts), -1, -1, -1, -1)
        return WanI2VCondition(text, image_embeds, latents, negative)

    # --- prediction -----------------------------------------------------------------------------------------
    def _timestep(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Per-frame flow times t [B, F] in [0, 1] -> per-token timesteps [B, F * tokens per frame] (0..1000)."""
        _, p_h, p_w = self.transformer.config.patch_size
        tokens_per_frame = (x.shape[-2] // p_h) * (x.shape[-1] // p_w)
        return expand_to_tokens(t.float() * self.num_train_timesteps, tokens_per_frame)

    def _forward(self, x: torch.Tensor, timestep: torch.Tensor, text: torch.Tensor, cond: WanI2VCondition):
        """The transformer as the pipeline's loop calls it: [latents, condition] on channels, the image embedding."""
        tr = self.transformer
        dtype = tr.dtype
        with self.call_context(x, timestep):
            out = tr(
                hidden_states=torch.cat([x, cond.latents.to(x.dtype)], dim=1).to(dtype),
                timestep=timestep,
                encoder_hidden_states=text.to(dtype),
                encoder_hidden_states_image=cond.image_embeds.to(dtype),
                return_dict=False,
            )[0]
        return out.float()

    def _check_condition(self, cond) -> None:
        if not isinstance(cond, WanI2VCondition):
            raise LvgError(
                "WanI2V takes the condition WanI2V.conditioning builds from the guide image, not "
                f"{type(cond).__name__}: build it with WanI2V.conditioning(prompts, guide=...) (lvg.methods.Extension "
                "and ChunkwiseI2V do so for training and generation)"
            )

    def predict(self, x_t: torch.Tensor, t: torch.Tensor, cond: WanI2VCondition | Condition) -> torch.Tensor:
        """Model output (velocity, unguided) for x_t [B, C, F, h, w] at per-frame flow times t [B, F] in [0, 1]."""
        self._check_condition(cond)
        return self._forward(x_t, self._timestep(t, x_t), cond.text, cond)

    def denoiser(self, cond: WanI2VCondition):
        """`denoise(x, t)` for a sampler, bound to one clip's condition: classifier-free guidance as the pipeline
        (a conditional and an unconditional call, uncond + scale * (cond - uncond)) when guidance_scale > 1."""
        self._check_condition(cond)
        if not self.guided:
            return lambda x, t: self.predict(x, t, cond)
        require(cond.negative is not None, "this condition has no negative prompt embeddings for guidance")

        def denoise(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            timestep = self._timestep(t, x)
            text = self._forward(x, timestep, cond.text, cond)
            uncond = self._forward(x, timestep, cond.negative, cond)
            return uncond + self.guidance_scale * (text - uncond)

        return denoise

    # --- scheduler and checkpoints ---------------------------------------------------------------------------
    def save_pretrained(self, path: str | Path) -> None:
        """A complete diffusers-layout checkpoint that `WanI2V(path)` and `WanImageToVideoPipeline` load: the
        trained `transformer/` + `scheduler/`, `lvg.json`, `model_index.json`, and the frozen `vae/`,
        `text_encoder/`, `tokenizer/`, `image_encoder/`, `image_processor/` (hard-linked or copied from the source
        folder, else saved from the loaded modules)."""
        super().save_pretrained(path)
        root = Path(path)
        loaded = {"image_encoder": self.image_encoder.model, "image_processor": self.image_encoder.processor}
        copy_frozen_parts(self.path, root, loaded)
        index = {
            "_class_name": "WanImageToVideoPipeline",
            "_diffusers_version": diffusers.__version__,
            "image_encoder": ["transformers", type(self.image_encoder.model).__name__],
            "image_processor": ["transformers", "CLIPImageProcessor"],
            "scheduler": ["diffusers", self.scheduler_config.get("_class_name", "UniPCMultistepScheduler")],
            "text_encoder": ["transformers", type(self.text_encoder.model).__name__],
            "tokenizer": ["transformers", type(self.text_encoder.tokenizer).__name__],
            "transformer": ["diffusers", type(self.transformer).__name__],
            "vae": ["diffusers", type(self.vae).__name__],
        }
        (root / "model_index.json").write_text(json.dumps(index, indent=2))

    def offload_parts(self) -> list:
        """WanImageToVideoPipeline's `model_cpu_offload_seq`: text_encoder -> image_encoder -> transformer -> vae."""
        return [getattr(self.text_encoder, "model", None), self.image_encoder.model, self.transformer, self.vae]

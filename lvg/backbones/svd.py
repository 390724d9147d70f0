"""Stable Video Diffusion (image-to-video) through diffusers, behind the backbone protocol, for training-free use.

Loaded with `from_pretrained(path_or_id)` from a diffusers-layout folder (`unet/`, `vae/`, `image_encoder/`,
`feature_extractor/` (optional), `scheduler/`), e.g. a local copy of stabilityai/stable-video-diffusion-img2vid-xt.
The guide image enters as diffusers' `StableVideoDiffusionPipeline` feeds it (CLIP image embedding, noise-augmented
VAE latents on the channels, fps / motion / noise micro-conditioning), and classifier-free guidance is the pipeline's
per-frame linear ramp, so one clip sampled here equals the pipeline's output for the same noise.

SVD's UNet takes one timestep per sample, so `predict` accepts per-frame times only when they are equal across
frames; the model is EDM-style v-prediction (not rectified flow), so methods that train with flow matching refuse it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import diffusers
import torch
from diffusers import AutoencoderKLTemporalDecoder, UNetSpatioTemporalConditionModel
from torch import nn

from lvg.backbones.base import DiffusersBackbone, TensorFields
from lvg.backbones.loading import Layout, save_trained, torch_dtype
from lvg.backbones.speed import Speed
from lvg.contracts import GUIDE_IMAGE
from lvg.errors import require
from lvg.seeding import stream_seed

# feature_extractor/ is optional (CLIP's mean/std otherwise)
LAYOUT = Layout(
    "SVD", ("unet", "vae", "image_encoder", "scheduler"), "stabilityai/stable-video-diffusion-img2vid-xt", "an"
)
CLIP_MEAN, CLIP_STD = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)


@dataclass
class SvdCondition(TensorFields):
    """One clip's SVD conditioning: the guide's CLIP image embedding `image_embeds` [B, 1, D], its noise-augmented
    VAE latents `image_latents` [B, C, h, w] (repeated over frames and concatenated on the channels at each call),
    and the micro-conditioning `added_time_ids` [B, 3] (fps - 1, motion bucket id, noise augmentation strength)."""

    image_embeds: torch.Tensor
    image_latents: torch.Tensor
    added_time_ids: torch.Tensor

    def unconditional(self) -> SvdCondition:
        """The pipeline's negative condition for classifier-free guidance: zero embedding, zero image latents."""
        return SvdCondition(
            torch.zeros_like(self.image_embeds), torch.zeros_like(self.image_latents), self.added_time_ids
        )

    @staticmethod
    def cat(conds: list[SvdCondition]) -> SvdCondition:
        return SvdCondition(
            torch.cat([c.image_embeds for c in conds]),
            torch.cat([c.image_latents for c in conds]),
            torch.cat([c.added_time_ids for c in conds]),
        )


class Svd(DiffusersBackbone):
    """Stable Video Diffusion (img2vid / img2vid-xt) as a backbone: the UNet predicts, the VAE and CLIP image
    encoder are frozen. Sampling settings mirror `StableVideoDiffusionPipeline.__call__`'s arguments.

    Args:
        path: local folder in diffusers layout or a (cached) hub id.
        dtype: UNet and image-encoder weights (`float16` on a GPU as SVD ships them); the VAE stays float32.
        fps: the frame rate the video is meant for; the UNet is conditioned on fps - 1 as in the pipeline.
        motion_bucket_id: SVD's motion conditioning (higher: more motion).
        noise_aug_strength: noise added to the guide before VAE encoding (also a micro-condition).
        min_guidance_scale, max_guidance_scale: the per-frame guidance ramp (first to last frame); guidance is off
            when max_guidance_scale <= 1.
        decode_chunk_size: frames per temporal-decoder call (the pipeline's `decode_chunk_size`: fewer frames, less
            memory, slightly different pixels; None decodes a clip's frames in one call). SVD's VAE has no tiling.
        cpu_offload: each part (CLIP image encoder, UNet, VAE) on the GPU only while it runs (lvg.backbones.memory).
        speed: `lvg.backbones.speed`; SVD's UNet takes torch.compile only (its attention does not dispatch through
            diffusers' backends, and it has no caching hooks: both refused in one line).
    """

    prediction_type = "epsilon"  # set from the scheduler config in __init__ ("v" for SVD's v-prediction)
    capabilities = frozenset({GUIDE_IMAGE})  # one timestep per sample, no LoRA, no lvg training objective
    network_name = "unet"
    temporal_compression = 1
    is_extension = False

    def __init__(
        self,
        path: str,
        dtype: str = "float32",
        fps: int = 7,
        motion_bucket_id: int = 127,
        noise_aug_strength: float = 0.02,
        min_guidance_scale: float = 1.0,
        max_guidance_scale: float = 3.0,
        decode_chunk_size: int | None = None,
        cpu_offload: bool = False,
        speed: Speed | None = None,
    ) -> None:
        super().__init__()
        weights = torch_dtype(dtype)
        require(noise_aug_strength >= 0, f"noise_aug_strength must be >= 0, got {noise_aug_strength}")
        from transformers import CLIPVisionModelWithProjection

        path = str(path)
        self.path = path
        LAYOUT.check(path)
        with LAYOUT.loading(path):
            self.unet = UNetSpatioTemporalConditionModel.from_pretrained(path, subfolder="unet", torch_dtype=weights)
            self.vae = AutoencoderKLTemporalDecoder.from_pretrained(path, subfolder="vae")
            self.image_encoder = CLIPVisionModelWithProjection.from_pretrained(
                path, subfolder="image_encoder", dtype=weights
            )
            sched_cfg = diffusers.EulerDiscreteScheduler.load_config(path, subfolder="scheduler")
        self.feature_extractor = _load_feature_extractor(path)
        self.vae.requires_grad_(False).eval()
        self.image_encoder.requires_grad_(False).eval()
        self.scheduler_config = dict(sched_cfg)
        self.prediction_type = "v" if self.scheduler_config.get("prediction_type") == "v_prediction" else "epsilon"
        self.fps, self.motion_bucket_id, self.noise_aug_strength = fps, motion_bucket_id, noise_aug_strength
        self.min_guidance_scale, self.max_guidance_scale = min_guidance_scale, max_guidance_scale
        require(decode_chunk_size is None or decode_chunk_size >= 1, "decode_chunk_size must be >= 1 (or null)")
        self.decode_chunk_size = decode_chunk_size
        self.cpu_offload = cpu_offload
        expected = self.unet.add_embedding.linear_1.in_features
        given = self.unet.config.addition_time_embed_dim * 3
        require(
            expected == given,
            f"{path!r}: the UNet embeds {expected} added-time values but SVD's 3 ids give {given}: not an SVD UNet",
        )
        self.switch_on(speed)

    # --- shapes ---------------------------------------------------------------------------------------------
    @property
    def latent_channels(self) -> int:
        return int(self.unet.config.out_channels)

    @property
    def spatial_compression(self) -> int:
        """The VAE scale factor, computed as the pipeline does (8 for SVD)."""
        return 2 ** (len(self.vae.config.block_out_channels) - 1)

    def latent_frames(self, frames: int) -> int:
        return frames  # the VAE encodes frame by frame

    def check_clip(self, frames: int, height: int, width: int) -> None:
        """One clear error for a clip shape the VAE x UNet downsampling cannot take (64 px for SVD)."""
        require(frames >= 1, f"frames_per_clip must be at least 1, got {frames}")
        m = self.spatial_compression * 2 ** (len(self.unet.config.down_block_types) - 1)
        for name, size in (("height", height), ("width", width)):
            require(
                size % m == 0,
                f"{name} {size} is not divisible by VAE factor x UNet downsampling = {m}: use a multiple of {m}",
            )

    # --- VAE ------------------------------------------------------------------------------------------------
    def encode(self, video: torch.Tensor) -> torch.Tensor:
        """Video [B, 3, F, H, W] in [-1, 1] -> latents [B, C, F, h, w] (VAE mode x scaling_factor, frame by frame)."""
        b, _, f = video.shape[:3]
        frames = video.permute(0, 2, 1, 3, 4).flatten(0, 1).to(self.vae.dtype)
        lat = self.vae.encode(frames).latent_dist.mode() * self.vae.config.scaling_factor
        return lat.unflatten(0, (b, f)).permute(0, 2, 1, 3, 4).float()

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Latents [B, C, F, h, w] -> video [B, 3, F, H, W] in [-1, 1]: the pipeline's `decode_latents` (all of a
        sample's frames in one temporal-decoder call unless `decode_chunk_size` is set), one sample at a time."""
        f = latents.shape[2]
        chunk = self.decode_chunk_size or f
        videos = []
        for z in latents:
            z = 1 / self.vae.config.scaling_factor * z.transpose(0, 1).to(self.vae.dtype)  # [F, C, h, w]
            parts = [
                self.vae.decode(z[i : i + chunk], num_frames=len(z[i : i + chunk])).sample for i in range(0, f, chunk)
            ]
            videos.append(torch.cat(parts).transpose(0, 1))  # [3, F, H, W]
        return torch.stack(videos).float().clamp(-1, 1)

    # --- conditioning and prediction -------------------------------------------------------------------------
    def encode_image(self, image: torch.Tensor) -> torch.Tensor:
        """Guide images [B, 3, H, W] in [-1, 1] -> CLIP image embeddings [B, 1, D], as the pipeline's `_encode_image`
        does for a PIL image: antialiased resize in [-1, 1], back to [0, 1], CLIP normalisation."""
        from diffusers.pipelines.stable_video_diffusion.pipeline_stable_video_diffusion import (
            _resize_with_antialiasing,
        )

        size = self.image_encoder.config.image_size  # the pipeline's fixed 224 for every released SVD
        x = _resize_with_antialiasing(image.float(), (size, size))
        x = (x + 1.0) / 2.0
        fe = self.feature_extractor
        mean = torch.tensor(fe.image_mean if fe is not None else CLIP_MEAN, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(fe.image_std if fe is not None else CLIP_STD, device=x.device).view(1, 3, 1, 1)
        x = ((x - mean) / std).to(self.image_encoder.dtype)
        return self.image_encoder(x).image_embeds.unsqueeze(1)

    def encode_guide_latents(self, image: torch.Tensor, seed: int) -> torch.Tensor:
        """Guide images [B, 3, H, W] in [-1, 1] -> noise-augmented VAE latents [B, C, h, w] (unscaled mode), as the
        pipeline's noise augmentation + `_encode_vae_image`, the noise drawn from a generator seeded `seed`."""
        from diffusers.utils.torch_utils import randn_tensor

        image = image.float()
        generator = torch.Generator().manual_seed(seed)
        noise = randn_tensor(image.shape, generator=generator, device=image.device, dtype=image.dtype)
        image = image + self.noise_aug_strength * noise
        return self.vae.encode(image.to(self.vae.dtype)).latent_dist.mode()

    def added_time_ids(self, batch: int) -> torch.Tensor:
        """[B, 3] micro-conditioning as the pipeline's `_get_add_time_ids` (SVD was trained on fps - 1)."""
        ids = [self.fps - 1, self.motion_bucket_id, self.noise_aug_strength]
        return torch.tensor([ids], dtype=self.unet.dtype, device=self.device).repeat(batch, 1)

    def conditioning(
        self,
        prompts: list[str],
        cond_latents: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        guide: torch.Tensor | None = None,
        seed: int | None = None,
    ) -> SvdCondition:
        """The guide's SVD conditioning. `guide` are the given pixel frames [B, 3, c, H, W] in [-1, 1]; the last one
        is the guide image. Prompts, condition latents and mask are ignored (SVD has no text; the guide is its
        condition). The guide's noise augmentation draws from the clip's own stream of `seed` (the clip's seed), so
        every chunk gets fresh augmentation noise, as a pipeline call per chunk with its own generator would; without
        a seed (a lone call) it draws from seed 0."""
        require(
            guide is not None,
            "SVD is image-to-video and needs the guide frames: use it with a method that passes guide= "
            "(e.g. lvg.methods.ChunkwiseI2V)",
        )
        image = guide[:, :, -1].to(self.device)
        embeds = self.encode_image(image)
        augmentation = 0 if seed is None else stream_seed(seed, "guide_augmentation")
        latents = self.encode_guide_latents(image, augmentation).to(embeds.dtype)
        return SvdCondition(embeds, latents, self.added_time_ids(image.shape[0]))

    def predict(self, x_t: torch.Tensor, t: torch.Tensor, cond: SvdCondition) -> torch.Tensor:
        """Model output (v for SVD) for x_t [B, C, F, h, w] at per-frame times t [B, F] (the scheduler's timestep /
        num_train_timesteps, equal across frames: SVD's UNet takes one timestep per sample)."""
        require(
            t.ndim == 2 and not bool((t != t[:, :1]).any()),
            "SVD's UNet takes one timestep per sample, but the per-frame timesteps differ across frames: use a "
            "method and sampler with equal per-frame timesteps (e.g. ChunkwiseI2V with SchedulerSampler)",
        )
        f = x_t.shape[2]
        dtype = self.unet.dtype
        sample = x_t.permute(0, 2, 1, 3, 4)  # the UNet's [B, F, C, h, w]
        image = cond.image_latents.unsqueeze(1).repeat(1, f, 1, 1, 1)
        sample = torch.cat([sample, image.to(sample.dtype)], dim=2)
        out = self.unet(
            sample.to(dtype),
            t[:, 0].float() * self.num_train_timesteps,
            encoder_hidden_states=cond.image_embeds.to(dtype),
            added_time_ids=cond.added_time_ids.to(dtype),
            return_dict=False,
        )[0]
        return out.permute(0, 2, 1, 3, 4).float()

    def denoiser(self, cond: SvdCondition):
        """`denoise(x, t)` for a sampler, bound to one clip's condition, with the pipeline's classifier-free guidance
        when max_guidance_scale > 1: one doubled batch (unconditional first), scale ramped linearly over frames."""
        if self.max_guidance_scale <= 1:
            return lambda x, t: self.predict(x, t, cond)
        both = SvdCondition.cat([cond.unconditional(), cond])

        def denoise(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            out = self.predict(torch.cat([x, x]), torch.cat([t, t]), both)
            uncond, text = out.chunk(2)
            scale = torch.linspace(self.min_guidance_scale, self.max_guidance_scale, x.shape[2])
            scale = scale.to(out.device, out.dtype).view(1, 1, -1, 1, 1)
            return uncond + scale * (text - uncond)

        return denoise

    def make_scheduler(self, shift: float | None = None):
        """A fresh scheduler of the checkpoint's own class (EulerDiscrete for SVD) from its saved config."""
        require(
            shift is None,
            f"shift={shift} is for flow-matching schedulers; SVD's {self.scheduler_config.get('_class_name')} has "
            "none: leave the sampler's shift unset",
        )
        cfg = dict(self.scheduler_config)
        cls = getattr(diffusers, cfg.get("_class_name", "EulerDiscreteScheduler"))
        return cls.from_config(cfg)

    def save_pretrained(self, path: str | Path) -> None:
        """Write the diffusers layout back (`unet/ vae/ image_encoder/ feature_extractor/ scheduler/` and
        `model_index.json`), loadable by `Svd(path)` and `StableVideoDiffusionPipeline.from_pretrained(path)`."""
        root = Path(path)
        save_trained(self.unet, root / "unet")
        save_trained(self.vae, root / "vae")
        self.image_encoder.save_pretrained(root / "image_encoder")
        if self.feature_extractor is not None:
            self.feature_extractor.save_pretrained(root / "feature_extractor")
        self.make_scheduler().save_pretrained(root / "scheduler")
        fe = self.feature_extractor
        index = {
            "_class_name": "StableVideoDiffusionPipeline",
            "_diffusers_version": diffusers.__version__,
            "feature_extractor": ["transformers", type(fe).__name__] if fe is not None else [None, None],
            "image_encoder": ["transformers", type(self.image_encoder).__name__],
            "scheduler": ["diffusers", self.scheduler_config.get("_class_name", "EulerDiscreteScheduler")],
            "unet": ["diffusers", type(self.unet).__name__],
            "vae": ["diffusers", type(self.vae).__name__],
        }
        (root / "model_index.json").write_text(json.dumps(index, indent=2))

    def attention_modules(self) -> list[nn.Module]:
        """The UNet's self-attention modules (`attn1` of every spatial and temporal transformer block)."""
        return [m for name, m in self.unet.named_modules() if name.endswith(".attn1")]

    def offload_parts(self) -> list:
        """StableVideoDiffusionPipeline's `model_cpu_offload_seq`: image_encoder -> unet -> vae."""
        return [self.image_encoder, self.unet, self.vae]


def _load_feature_extractor(path: str):
    """The checkpoint's CLIPImageProcessor (only its mean/std are used), or None where it has none."""
    from transformers import CLIPImageProcessor

    try:
        return CLIPImageProcessor.from_pretrained(path, subfolder="feature_extractor")
    except (OSError, ValueError):
        return None

"""A tiny seeded random Stable Video Diffusion in diffusers layout, built offline, in diffusers' own SVD test style.

`save_tiny_svd(path)` writes `unet/ vae/ image_encoder/ feature_extractor/ scheduler/ model_index.json` like
stabilityai/stable-video-diffusion-img2vid-xt (through `StableVideoDiffusionPipeline.save_pretrained`), so both
`lvg.backbones.Svd(path)` and `StableVideoDiffusionPipeline.from_pretrained(path)` load it.
Sizes: 4 latent channels, VAE factor 2, one UNet downsampling (clip sides a multiple of 4), CLIP at 224 px / patch 32
(the pipeline always resizes the guide to 224 x 224 for CLIP).
"""

from __future__ import annotations

from pathlib import Path

import torch

LATENT_CHANNELS = 4
EMBED_DIM = 32  # CLIP projection dim = the UNet's cross-attention dim
TIME_ID_DIM = 8  # addition_time_embed_dim; the UNet embeds 3 ids (fps, motion bucket, noise strength)

# The scheduler config of stabilityai/stable-video-diffusion-img2vid-xt (v-prediction, Karras sigmas, continuous t).
SVD_SCHEDULER = dict(
    beta_start=0.00085,
    beta_end=0.012,
    beta_schedule="scaled_linear",
    interpolation_type="linear",
    num_train_timesteps=1000,
    prediction_type="v_prediction",
    sigma_max=700.0,
    sigma_min=0.002,
    steps_offset=1,
    timestep_spacing="leading",
    timestep_type="continuous",
    trained_betas=None,
    use_karras_sigmas=True,
)


def tiny_unet_config() -> dict:
    """A UNetSpatioTemporalConditionModel of two blocks (one cross-attention block), 32 channels (GroupNorm's 32)."""
    return dict(
        block_out_channels=(32, 32),
        layers_per_block=1,
        sample_size=8,
        in_channels=2 * LATENT_CHANNELS,
        out_channels=LATENT_CHANNELS,
        down_block_types=("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
        up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"),
        cross_attention_dim=EMBED_DIM,
        num_attention_heads=2,
        projection_class_embeddings_input_dim=3 * TIME_ID_DIM,
        addition_time_embed_dim=TIME_ID_DIM,
        num_frames=4,
    )


def build_tiny_svd(seed: int = 0):
    """The tiny random StableVideoDiffusionPipeline (seeded), not saved."""
    from diffusers import (
        AutoencoderKLTemporalDecoder,
        EulerDiscreteScheduler,
        StableVideoDiffusionPipeline,
        UNetSpatioTemporalConditionModel,
    )
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(seed)
    unet = UNetSpatioTemporalConditionModel(**tiny_unet_config())
    torch.manual_seed(seed)
    vae = AutoencoderKLTemporalDecoder(
        block_out_channels=(32, 32),
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        latent_channels=LATENT_CHANNELS,
    )
    torch.manual_seed(seed)
    clip = CLIPVisionConfig(
        hidden_size=32, projection_dim=EMBED_DIM, num_hidden_layers=2, num_attention_heads=4,
        image_size=224, patch_size=32, intermediate_size=37,
    )  # fmt: skip
    image_encoder = CLIPVisionModelWithProjection(clip).eval()
    feature_extractor = CLIPImageProcessor(crop_size=224, size=224)
    return StableVideoDiffusionPipeline(
        vae=vae.eval(),
        image_encoder=image_encoder,
        unet=unet.eval(),
        scheduler=EulerDiscreteScheduler(**SVD_SCHEDULER),
        feature_extractor=feature_extractor,
    )


def save_tiny_svd(path: str | Path, seed: int = 0) -> Path:
    """Build the tiny random SVD (seeded) and save it into `path` in diffusers layout."""
    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    build_tiny_svd(seed).save_pretrained(root)
    return root

"""A tiny seeded random CogVideoX image-to-video model in diffusers layout, built offline (no hub downloads).

`save_tiny_cogvideox(path)` writes `transformer/ vae/ text_encoder/ tokenizer/ scheduler/ model_index.json` like
THUDM/CogVideoX-5b-I2V (same structure: learned + rotary positional embeddings, v-prediction CogVideoXDPMScheduler,
226 text tokens, VAE scaling 0.7), so `lvg.backbones.CogVideoX(path)` and
`CogVideoXImageToVideoPipeline.from_pretrained(path)` load it. Sizes: 4 latent channels, VAE factors 4 (time) x 8
(space), patch 2, clips of 9 frames at 32 x 48 (latent 3 x 4 x 6, the learned positional embeddings' size).

`version="1.5"` builds a THUDM/CogVideoX1.5-5B-I2V-style model instead: temporal patch 2 (9 frames are sampled as
1 + 3 latent frames, the pipeline's padding frame in front), `ofs` embedding, rotary embeddings only ("slice" grid
up to sample_height x sample_width), no patch bias, and a VAE with `invert_scale_latents`.
"""

from __future__ import annotations

from pathlib import Path

import torch
from helpers.tiny_wan import TEXT_DIM, tiny_text_encoder, tiny_tokenizer

LATENT_CHANNELS = 4
MAX_SEQUENCE_LENGTH = 226  # CogVideoX's text length
FRAMES, HEIGHT, WIDTH = 9, 32, 48
LATENT_SHAPE = (LATENT_CHANNELS, 3, HEIGHT // 8, WIDTH // 8)  # [C, f, h, w]

# THUDM/CogVideoX-5b-I2V's scheduler_config.json
SCHEDULER_CONFIG = dict(
    beta_end=0.012,
    beta_schedule="scaled_linear",
    beta_start=0.00085,
    clip_sample=False,
    clip_sample_range=1.0,
    num_train_timesteps=1000,
    prediction_type="v_prediction",
    rescale_betas_zero_snr=True,
    sample_max_value=1.0,
    set_alpha_to_one=True,
    snr_shift_scale=1.0,
    steps_offset=0,
    timestep_spacing="trailing",
    trained_betas=None,
)


def tiny_transformer_config(version: str = "1.0") -> dict:
    """A CogVideoXTransformer3DModel config shaped like CogVideoX-5B-I2V (head dim 16 for 3D RoPE), or like
    CogVideoX1.5-5B-I2V for `version="1.5"`."""
    config = dict(
        num_attention_heads=2,
        attention_head_dim=16,
        in_channels=2 * LATENT_CHANNELS,
        out_channels=LATENT_CHANNELS,
        time_embed_dim=8,
        text_embed_dim=TEXT_DIM,
        num_layers=2,
        sample_width=WIDTH // 8,
        sample_height=HEIGHT // 8,
        sample_frames=FRAMES,
        patch_size=2,
        temporal_compression_ratio=4,
        max_text_seq_length=MAX_SEQUENCE_LENGTH,
        use_rotary_positional_embeddings=True,
        use_learned_positional_embeddings=True,
    )
    if version == "1.5":
        config.update(patch_size_t=2, ofs_embed_dim=8, patch_bias=False, use_learned_positional_embeddings=False)
    return config


def save_tiny_cogvideox(path: str | Path, seed: int = 0, version: str = "1.0") -> Path:
    """Build the tiny random CogVideoX I2V (seeded; `version` "1.0" or "1.5") and save it into `path` in diffusers
    layout."""
    from diffusers import (
        AutoencoderKLCogVideoX,
        CogVideoXDPMScheduler,
        CogVideoXImageToVideoPipeline,
        CogVideoXTransformer3DModel,
    )

    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)

    torch.manual_seed(seed)
    transformer = CogVideoXTransformer3DModel(**tiny_transformer_config(version))

    torch.manual_seed(seed)
    vae = AutoencoderKLCogVideoX(
        block_out_channels=(8, 8, 8, 8),
        latent_channels=LATENT_CHANNELS,
        layers_per_block=1,
        norm_num_groups=2,
        temporal_compression_ratio=4,
        scaling_factor=0.7,
        invert_scale_latents=version == "1.5",
    )

    tokenizer = tiny_tokenizer()
    text_encoder = tiny_text_encoder(tokenizer, seed, t5=True)

    pipe = CogVideoXImageToVideoPipeline(
        tokenizer=tokenizer,
        text_encoder=text_encoder,
        vae=vae,
        transformer=transformer,
        scheduler=CogVideoXDPMScheduler(**SCHEDULER_CONFIG),
    )
    pipe.save_pretrained(root)
    return root

"""A tiny seeded random Wan2.1 image-to-video model in diffusers layout, built offline (no hub downloads).

`save_tiny_wan_i2v(path)` writes `transformer/ vae/ text_encoder/ tokenizer/ image_encoder/ image_processor/
scheduler/ model_index.json` like Wan-AI/Wan2.1-I2V-14B-480P-Diffusers (same structure: a 36-channel transformer input
= 16 noisy + 4 mask + 16 condition latents, a CLIP image embedder with added K/V projections in cross-attention, 512
text tokens, the UniPC flow scheduler the checkpoint ships), so `lvg.backbones.WanI2V(path)` and
`WanImageToVideoPipeline.from_pretrained(path)` load it. Sizes: VAE factors 4 (time) x 8 (space), patch (1, 2, 2),
clips of 5 frames at 32 x 48 (latent 2 x 4 x 6); the CLIP vision tower sees 32 x 32 crops.
"""

from __future__ import annotations

from pathlib import Path

import torch
from helpers.tiny_wan import LATENT_CHANNELS, tiny_text_encoder, tiny_tokenizer, tiny_transformer_config, tiny_vae

FRAMES, HEIGHT, WIDTH = 5, 32, 48
LATENT_SHAPE = (LATENT_CHANNELS, 2, HEIGHT // 8, WIDTH // 8)  # [C, f, h, w]
IMAGE_DIM = 16  # CLIP vision hidden size (1280 in the 14B checkpoint)
CLIP_SIZE = 32

# Wan2.1 diffusers checkpoints' scheduler/scheduler_config.json (UniPC with flow sigmas, shift 3)
SCHEDULER_CONFIG = dict(
    beta_end=0.02,
    beta_schedule="linear",
    beta_start=0.0001,
    disable_corrector=[],
    dynamic_thresholding_ratio=0.995,
    final_sigmas_type="zero",
    flow_shift=3.0,
    lower_order_final=True,
    num_train_timesteps=1000,
    predict_x0=True,
    prediction_type="flow_prediction",
    rescale_betas_zero_snr=False,
    sample_max_value=1.0,
    solver_order=2,
    solver_p=None,
    solver_type="bh2",
    steps_offset=0,
    thresholding=False,
    timestep_spacing="linspace",
    trained_betas=None,
    use_beta_sigmas=False,
    use_exponential_sigmas=False,
    use_flow_sigmas=True,
    use_karras_sigmas=False,
)


def tiny_i2v_transformer_config() -> dict:
    """The tiny Wan transformer of tests/helpers/tiny_wan.py as an I2V one: 36 input channels, image embedder."""
    cfg = tiny_transformer_config()
    inner = cfg["num_attention_heads"] * cfg["attention_head_dim"]
    cfg.update(in_channels=2 * LATENT_CHANNELS + 4, image_dim=IMAGE_DIM, added_kv_proj_dim=inner)
    return cfg


def save_tiny_wan_i2v(path: str | Path, seed: int = 0) -> Path:
    """Build the tiny random Wan2.1 I2V (seeded) and save it into `path` in diffusers layout."""
    from diffusers import UniPCMultistepScheduler, WanImageToVideoPipeline, WanTransformer3DModel
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel

    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)

    torch.manual_seed(seed)
    transformer = WanTransformer3DModel(**tiny_i2v_transformer_config())
    # the image embedder's K/V projections start at zero in diffusers: give them weight so the image path matters
    with torch.no_grad():
        for block in transformer.blocks:
            for layer in (block.attn2.add_k_proj, block.attn2.add_v_proj):
                layer.weight.normal_(0, 0.2)

    vae = tiny_vae(seed)

    tokenizer = tiny_tokenizer()
    text_encoder = tiny_text_encoder(tokenizer, seed)

    torch.manual_seed(seed)
    image_encoder = CLIPVisionModel(
        CLIPVisionConfig(
            hidden_size=IMAGE_DIM,
            projection_dim=IMAGE_DIM,
            num_hidden_layers=2,
            num_attention_heads=2,
            image_size=CLIP_SIZE,
            intermediate_size=32,
            patch_size=8,
        )
    ).eval()
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": CLIP_SIZE}, crop_size={"height": CLIP_SIZE, "width": CLIP_SIZE}
    )

    pipe = WanImageToVideoPipeline(
        tokenizer=tokenizer,
        text_encoder=text_encoder,
        vae=vae,
        scheduler=UniPCMultistepScheduler(**SCHEDULER_CONFIG),
        image_processor=image_processor,
        image_encoder=image_encoder,
        transformer=transformer,
    )
    pipe.save_pretrained(root)
    return root

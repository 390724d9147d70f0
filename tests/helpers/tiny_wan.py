"""A tiny seeded random Wan2.1 in diffusers layout, built offline (no hub downloads), in diffusers' own test style.

`save_tiny_wan(path)` writes `transformer/ vae/ text_encoder/ tokenizer/ scheduler/` like
Wan-AI/Wan2.1-T2V-1.3B-Diffusers, so `lvg.backbones.Wan(path)` and `WanPipeline.from_pretrained(path)` load it.
Sizes: 16 latent channels, VAE factors 4 (time) x 8 (space), patch (1, 2, 2), text dim 32.
"""

from __future__ import annotations

from pathlib import Path

import torch

LATENT_CHANNELS = 16
TEXT_DIM = 32
MAX_SEQUENCE_LENGTH = 512  # Wan's default prompt length

# A Unigram vocabulary that covers any lowercase text (single letters) plus a few whole words.
_WORDS = ["the", "a", "cat", "dog", "red", "blue", "ball", "runs", "jumps", "on", "grass", "video", "of", "in"]
_CHARS = list("abcdefghijklmnopqrstuvwxyz0123456789.,")


def tiny_transformer_config() -> dict:
    """The WanTransformer3DModel config of diffusers' Wan pipeline tests."""
    return dict(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=12,
        in_channels=LATENT_CHANNELS,
        out_channels=LATENT_CHANNELS,
        text_dim=TEXT_DIM,
        freq_dim=256,
        ffn_dim=32,
        num_layers=2,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=32,
    )


def tiny_tokenizer():
    """A T5 (Unigram) tokenizer built from an in-memory vocabulary: pad 0, eos 1, unk 2, no sentinels."""
    from transformers import T5Tokenizer

    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -2.0)]
    vocab += [(f"\u2581{w}", -1.0) for w in _WORDS]
    vocab += [(c, -3.0) for c in _CHARS]
    return T5Tokenizer(vocab=vocab, extra_ids=0, model_max_length=MAX_SEQUENCE_LENGTH)


def tiny_vae(seed: int):
    """The seeded random AutoencoderKLWan of diffusers' Wan tests (factors 4 in time, 8 in space)."""
    from diffusers import AutoencoderKLWan

    torch.manual_seed(seed)
    return AutoencoderKLWan(
        base_dim=3,
        z_dim=LATENT_CHANNELS,
        dim_mult=[1, 1, 1, 1],
        num_res_blocks=1,
        temperal_downsample=[False, True, True],
    )


def tiny_text_encoder(tokenizer, seed: int, t5: bool = False):
    """A seeded random 2-layer UMT5 (Wan) or, with `t5`, T5 (CogVideoX) encoder of width TEXT_DIM over `tokenizer`."""
    from transformers import T5Config, T5EncoderModel, UMT5Config, UMT5EncoderModel

    config_class, model_class = (T5Config, T5EncoderModel) if t5 else (UMT5Config, UMT5EncoderModel)
    torch.manual_seed(seed)
    config = config_class(
        vocab_size=len(tokenizer),
        d_model=TEXT_DIM,
        d_kv=8,
        d_ff=64,
        num_layers=2,
        num_heads=4,
        relative_attention_num_buckets=8,
        relative_attention_max_distance=32,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.pad_token_id,
    )
    return model_class(config).eval()


def save_tiny_wan(path: str | Path, seed: int = 0) -> Path:
    """Build the tiny random Wan2.1 (seeded) and save each part into `path` in diffusers layout."""
    from diffusers import FlowMatchEulerDiscreteScheduler, WanTransformer3DModel

    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)

    torch.manual_seed(seed)
    WanTransformer3DModel(**tiny_transformer_config()).save_pretrained(root / "transformer")

    tiny_vae(seed).save_pretrained(root / "vae")

    tokenizer = tiny_tokenizer()
    tokenizer.save_pretrained(root / "tokenizer")

    tiny_text_encoder(tokenizer, seed).save_pretrained(root / "text_encoder")

    FlowMatchEulerDiscreteScheduler(shift=3.0).save_pretrained(root / "scheduler")
    return root

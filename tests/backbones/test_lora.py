"""peft LoRA on the self-attention K/V of the latter half of the blocks: only those modules, only their gradients,
and diffusers' `WanPipeline.load_lora_weights` loads what we save and changes the output the same way."""

import pytest
import torch
from helpers.tiny_wan import LATENT_CHANNELS

from lvg.backbones import Lora, Toy, Wan
from lvg.errors import LvgError


def lora_modules(transformer) -> list[str]:
    return sorted(name for name, m in transformer.named_modules() if hasattr(m, "lora_A"))


def test_lora_wraps_only_the_latter_half_self_attention_k_v_and_only_they_learn(tiny_toy_dir):
    backbone = Toy(width=32, layers=4, heads=2)
    wrapped = backbone.add_lora(Lora(rank=4))
    expected = [f"blocks.{i}.attn1.{p}" for i in (2, 3) for p in ("to_k", "to_v")]
    assert sorted(wrapped) == expected and lora_modules(backbone.transformer) == expected
    trainable = {n for n, p in backbone.named_parameters() if p.requires_grad}
    assert trainable and all(".lora_" in n and ".attn1.to_" in n for n in trainable)
    assert {n.split(".")[2] for n in trainable} == {"2", "3"}

    for name, p in backbone.transformer.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(p, std=0.1)  # B starts at zero: give A a gradient too
    x = torch.randn(1, 3, 2, 16, 16)
    cond = backbone.conditioning(["a red ball"])
    backbone.predict(x, torch.full((1, 2), 0.5), cond).pow(2).mean().backward()
    with_grad = {n for n, p in backbone.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    assert with_grad == trainable


def test_configurable_blocks_and_targets():
    backbone = Toy(width=32, layers=4, heads=2)
    wrapped = backbone.add_lora(Lora(rank=2, blocks=[0], targets=["attn1.to_q", "ffn.net.2"]))
    assert sorted(wrapped) == ["blocks.0.attn1.to_q", "blocks.0.ffn.net.2"]


@pytest.mark.parametrize(
    "spec, message",
    [
        (dict(targets=["attn1.to_key"]), "match no linear module"),
        (dict(blocks=[7]), "LoRA blocks must be"),
        (dict(rank=0), "rank must be at least 1"),
    ],
)
def test_bad_lora_settings_are_one_line(spec, message):
    with pytest.raises(LvgError, match=message) as info:
        Toy(width=32, layers=2, heads=2).add_lora(Lora(**spec))
    assert "\n" not in str(info.value)
    if "targets" in spec:
        assert "attn1.to_k" in str(info.value) and "ffn.net.0.proj" in str(info.value)  # the available names


@torch.no_grad()
def test_saved_lora_loads_in_wan_pipeline_and_changes_the_output_the_same_way(tiny_wan_dir, tmp_path):
    from diffusers import AutoencoderKLWan, FlowMatchEulerDiscreteScheduler, WanPipeline, WanTransformer3DModel

    ours = Wan(str(tiny_wan_dir), extension=False)
    ours.add_lora(Lora(rank=4, alpha=8))
    g = torch.Generator().manual_seed(0)
    for name, p in ours.transformer.named_parameters():
        if "lora_" in name:
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)
    ours.save_lora(tmp_path / "lora")

    root = str(tiny_wan_dir)
    pipe = WanPipeline(  # the tiny Wan's parts; prompts go in as embeddings
        tokenizer=ours.text_encoder.tokenizer,
        text_encoder=ours.text_encoder.model,
        transformer=WanTransformer3DModel.from_pretrained(root, subfolder="transformer"),
        vae=AutoencoderKLWan.from_pretrained(root, subfolder="vae"),
        scheduler=FlowMatchEulerDiscreteScheduler.from_pretrained(root, subfolder="scheduler"),
    )
    pipe.set_progress_bar_config(disable=True)
    latents = torch.randn(1, LATENT_CHANNELS, 2, 2, 2, generator=torch.Generator().manual_seed(1))
    text = ours.encode_prompts(["a red cat runs on the grass"])
    common = dict(prompt_embeds=text, guidance_scale=1.0, num_inference_steps=3, height=16, width=16, num_frames=5)

    def run():
        return pipe(latents=latents.clone(), output_type="latent", **common).frames

    base = run()
    pipe.load_lora_weights(str(tmp_path / "lora"))
    theirs = run()
    pipe.transformer = ours.transformer  # our peft-wrapped transformer in the same pipeline
    mine = run()
    assert (theirs - base).abs().max() > 1e-3  # the adapter changes the output
    torch.testing.assert_close(theirs, mine, atol=1e-5, rtol=1e-4)

"""The cached-KV attention processor: exact with an empty cache, equal to block-causal attention over concatenated
clips, and cached keys at their true temporal RoPE positions (also past the model's RoPE table)."""

import pytest
import torch
from diffusers import WanTransformer3DModel
from diffusers.models.transformers.transformer_wan import WanAttnProcessor

from lvg.attention import CachedKVAttnProcessor, KVCache, install_cached_kv
from lvg.backbones import Condition, Toy
from lvg.backbones.wan_adapter import tiny_wan_config
from lvg.backbones.wan_rope import temporal_rope


@pytest.fixture(scope="module")
def transformer():
    torch.manual_seed(0)
    return WanTransformer3DModel(**tiny_wan_config(7, 3, 16, 24, 2, 2, (1, 4, 4))).eval()


def forward(model, x, seed=1):
    g = torch.Generator().manual_seed(seed)
    t = torch.rand(x.shape[0], generator=g) * 1000
    text = torch.randn(x.shape[0], 1, 16, generator=g)
    return model(hidden_states=x, timestep=t, encoder_hidden_states=text, return_dict=False)[0]


@torch.no_grad()
def test_empty_cache_equals_the_stock_processor_exactly(transformer):
    x = torch.randn(2, 7, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    stock = forward(transformer, x)
    modules = [b.attn1 for b in transformer.blocks]
    try:
        install_cached_kv(modules, KVCache())
        assert all(isinstance(m.processor, CachedKVAttnProcessor) for m in modules)
        assert torch.equal(forward(transformer, x), stock)
    finally:
        for m in modules:
            m.set_processor(WanAttnProcessor())


def rotary(transformer, frames, offset):
    return temporal_rope(transformer.rope, torch.zeros(1, 7, frames, 8, 8), offset)


@torch.no_grad()
def test_cached_attention_equals_block_causal_attention_over_concatenated_clips(transformer):
    """Clips 0, 1, 2 (2 latent frames each, consecutive positions); clip 2 attends to clip 0 only (selection)."""
    attn = transformer.blocks[0].attn1
    frames, tokens = 2, 2 * 4  # 8x8 latents, patch 4: 4 tokens per frame
    g = torch.Generator().manual_seed(5)
    clips = [torch.randn(1, tokens, 24, generator=g) for _ in range(3)]
    cache = KVCache()
    proc = CachedKVAttnProcessor(cache, layer=0)
    ours = []
    for i, sel in enumerate([[], [0], [0]]):
        cache.prepare(sel)
        with cache.recording(i):
            ours.append(proc(attn, clips[i], rotary_emb=rotary(transformer, frames, i * frames)))

    # reference: the stock processor over [clip 0; clip 1; clip 2] with a block-causal mask that also hides clip 1
    # from clip 2 (not selected)
    allowed = torch.tensor([[1, 0, 0], [1, 1, 0], [1, 0, 1]], dtype=torch.bool)
    mask = allowed.repeat_interleave(tokens, 0).repeat_interleave(tokens, 1)
    full = WanAttnProcessor()(attn, torch.cat(clips, 1), None, mask[None, None], rotary(transformer, 3 * frames, 0))
    for i in range(3):
        torch.testing.assert_close(ours[i], full[:, i * tokens : (i + 1) * tokens], atol=1e-6, rtol=1e-5)
    # and selection matters: clip 2 attending to clip 1 as well gives another output
    cache.prepare([0, 1])
    other = proc(attn, clips[2], rotary_emb=rotary(transformer, frames, 2 * frames))
    assert (other - ours[2]).abs().max() > 1e-4


def test_temporal_rope_gives_true_positions_and_extrapolates_past_the_table(transformer):
    long_video = torch.zeros(1, 7, 12, 8, 8)
    table_cos, table_sin = transformer.rope(long_video)  # positions 0..11 from diffusers' own table
    cos, sin = rotary(transformer, 4, 5)  # a 4-frame clip placed at frames 5..8
    assert torch.equal(cos, table_cos[:, 5 * 4 : 9 * 4]) and torch.equal(sin, table_sin[:, 5 * 4 : 9 * 4])
    assert torch.equal(rotary(transformer, 4, 0)[0], transformer.rope(torch.zeros(1, 7, 4, 8, 8))[0])
    # past the table (rope_max_seq_len = 1024): the same values as a model whose table is long enough
    big = WanTransformer3DModel(**{**tiny_wan_config(7, 3, 16, 24, 1, 2, (1, 4, 4)), "rope_max_seq_len": 1100})
    far_cos, _ = big.rope(torch.zeros(1, 7, 1080, 8, 8))
    assert torch.equal(rotary(transformer, 4, 1070)[0], far_cos[:, 1070 * 4 : 1074 * 4])


@torch.no_grad()
def test_a_cached_clip_keeps_the_positions_it_was_recorded_at(tiny_toy_dir):
    backbone = Toy(path=str(tiny_toy_dir))
    cache = KVCache()
    install_cached_kv(backbone.attention_modules(), cache)
    seen = []
    hook = backbone.transformer.blocks[0].attn1.register_forward_pre_hook(
        lambda m, args: seen.append(args[3][0].clone()), with_kwargs=False
    )
    x = torch.randn(1, 3, 4, 16, 16)
    cond = Condition(backbone.encode_prompts(["a red circle"]))
    try:
        with backbone.frame_offset(2000), cache.recording(7):  # far past the 1024-frame table
            backbone.predict(x, torch.zeros(1, 4), cond)
        backbone.predict(x, torch.zeros(1, 4), cond)  # outside the block: back to position 0
    finally:
        hook.remove()
    expected = temporal_rope(backbone.transformer.rope, x, 2000)[0]
    assert torch.equal(seen[0], expected)
    assert torch.equal(seen[1], backbone.transformer.rope(x)[0])
    assert cache.clips == [7] and len(cache.store[7]) == len(backbone.attention_modules())
    key = cache.store[7][0][0]
    assert key.shape == (1, 4 * 16, 2, 16)  # [B, tokens, heads, head_dim]

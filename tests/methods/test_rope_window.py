"""RoPE re-indexing of the causal-KV window (`CausalKV(positions="window")`): cached keys moved by a pure temporal
rotation, equal to absolute positions where the selection is the clips just before, bounded positions however long
the video, and refused in training where the two readings would differ."""

import pytest
import torch
from test_causal_kv import COMING_BACK, generate, long_batch, module

from lvg.attention import AllClips, PromptSimilarity, Recent
from lvg.attention.rotary import apply_rotary_emb
from lvg.backbones import Toy
from lvg.backbones.wan_rope import temporal_rope, temporal_shift
from lvg.errors import LvgError
from lvg.methods import CausalKV


@pytest.mark.parametrize("position, delta", [(0, 3), (7, -5), (2000, 11)])
def test_a_temporal_shift_moves_a_rotated_key_to_its_new_position(tiny_toy_dir, position, delta):
    rope = Toy(path=str(tiny_toy_dir)).transformer.rope
    hidden = torch.zeros(1, 3, 2, 16, 16)
    cos, sin = temporal_rope(rope, hidden, position)
    heads, dim = 2, cos.shape[-1]
    key = torch.randn(1, cos.shape[1], heads, dim, generator=torch.Generator().manual_seed(0))
    moved = apply_rotary_emb(apply_rotary_emb(key, cos, sin), *temporal_shift(rope, delta))
    direct = apply_rotary_emb(key, *temporal_rope(rope, hidden, position + delta))
    torch.testing.assert_close(moved, direct, atol=1e-5, rtol=0)
    assert not torch.allclose(moved, apply_rotary_emb(key, cos, sin), atol=1e-3)  # it did move


@torch.no_grad()
def test_the_window_equals_absolute_positions_when_it_holds_the_clips_just_before(tiny_toy_dir):
    prompts = ["a red circle", "a blue square", "a green triangle", "a red square", "a blue circle", "a red ball"]
    absolute, logs_a = generate(module(tiny_toy_dir, CausalKV(policy=Recent(2))), prompts)
    window, logs_w = generate(module(tiny_toy_dir, CausalKV(policy=Recent(2), positions="window")), prompts)
    torch.testing.assert_close(window, absolute, atol=1e-4, rtol=0)  # relative positions are unchanged
    stride = logs_a[1]["position"]
    assert [logs_a[i]["position"] for i in range(6)] == [i * stride for i in range(6)]
    assert [logs_w[i]["position"] for i in range(6)] == [0, stride] + [2 * stride] * 4  # never past 2 strides
    assert logs_w[5]["positions"] == "window"


@torch.no_grad()
def test_a_window_of_clips_far_apart_is_renumbered(tiny_toy_dir):
    absolute, logs_a = generate(module(tiny_toy_dir, CausalKV(policy=PromptSimilarity(2))), COMING_BACK)
    window, logs_w = generate(module(tiny_toy_dir, CausalKV(policy=PromptSimilarity(2), positions="window")),
                              COMING_BACK)  # fmt: skip
    assert logs_w[4]["selected"] == logs_a[4]["selected"] == [0, 1]  # "A1" attends to A and B
    assert logs_w[4]["position"] == 2 * logs_a[1]["position"] < logs_a[4]["position"]
    assert not torch.allclose(window[:, -2:], absolute[:, -2:], atol=1e-4)  # A sits closer now: another clip


def test_training_refuses_a_window_it_cannot_match(tiny_toy_dir):
    batch = long_batch(num_clips=4)
    generator = torch.Generator().manual_seed(0)
    fine = module(tiny_toy_dir, CausalKV(policy=AllClips(), positions="window"))
    assert torch.isfinite(fine.method.loss(fine.backbone, batch, generator)["loss"])  # adjacent: the same positions
    far = module(tiny_toy_dir, CausalKV(policy=PromptSimilarity(1), positions="window"))
    with pytest.raises(LvgError, match="positions: window renumbers clip .* non-adjacent"):
        for seed in range(8):  # some target clip selects a clip other than the one just before
            far.method.loss(far.backbone, batch, torch.Generator().manual_seed(seed))


def test_bad_positions_are_one_line():
    with pytest.raises(LvgError, match="positions must be one of"):
        CausalKV(positions="relative")

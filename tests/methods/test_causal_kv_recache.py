"""KV re-cache on a prompt switch (`CausalKV(recache_on_switch=True)`, LongLive): the selected clips' K/V are
recomputed under the new prompt before the clip, one pass each; nothing changes without a switch; resumes exactly."""

import torch
from test_causal_kv import generate, module

from lvg.attention import Recent
from lvg.methods import CausalKV, GenerationRequest


def count_predicts(m) -> list[int]:
    calls = [0]
    real = m.backbone.predict
    m.backbone.predict = lambda *a, **k: (calls.__setitem__(0, calls[0] + 1), real(*a, **k))[1]
    return calls


@torch.no_grad()
def test_without_a_prompt_switch_nothing_is_recomputed(tiny_toy_dir):
    same = ["a red circle moving right"] * 4
    plain, _ = generate(module(tiny_toy_dir, CausalKV(policy=Recent(2))), same)
    m = module(tiny_toy_dir, CausalKV(policy=Recent(2), recache_on_switch=True))
    calls = count_predicts(m)
    recached, logs = generate(m, same)
    assert torch.equal(recached, plain) and calls[0] == 4 * 2  # 2 steps per clip, no extra pass
    assert all(logs[i]["recached"] == [] for i in range(4))


@torch.no_grad()
def test_a_prompt_switch_recomputes_the_selected_clips_under_the_new_prompt(tiny_toy_dir):
    prompts = ["a red circle", "a red circle", "a blue square", "a blue square"]
    plain, _ = generate(module(tiny_toy_dir, CausalKV(policy=Recent(2))), prompts)
    m = module(tiny_toy_dir, CausalKV(policy=Recent(2), recache_on_switch=True))
    calls = count_predicts(m)
    recached, logs = generate(m, prompts)
    assert [logs[i]["recached"] for i in range(4)] == [[], [], [0, 1], []]  # the switch at clip 2
    assert calls[0] == 4 * 2 + 2  # one pass per recomputed clip
    assert torch.equal(recached[:, : 2 * 2], plain[:, : 2 * 2])  # clips before the switch (2 new frames each)
    assert not torch.allclose(recached[:, 4:6], plain[:, 4:6], atol=1e-5)  # clip 2 attends to re-cached K/V


@torch.no_grad()
def test_a_recaching_generation_resumes_exactly(tiny_toy_dir, tmp_path):
    prompts = ["a red circle", "a blue square", "a blue square", "a green star", "a green star"]
    m = module(tiny_toy_dir, CausalKV(policy=Recent(2), recache_on_switch=True))
    start = torch.zeros(1, 3, 2, 16, 16)
    whole = list(m.generate(GenerationRequest(start, prompts, 4, seed=4, scratch=str(tmp_path / "a"))))
    for result in m.generate(GenerationRequest(start, prompts, 4, seed=4, scratch=str(tmp_path / "b"))):
        if result.index == 1:
            carry = result.carry
            break
    assert carry["sources"]  # clip 1's latents wait in scratch for the switch at clip 3
    resumed = GenerationRequest(start, prompts, 4, seed=4, first_clip=2, carry=carry, scratch=str(tmp_path / "b"))
    rest = list(m.generate(resumed))
    assert all(torch.equal(a.frames, b.frames) for a, b in zip(rest, whole[3:]))

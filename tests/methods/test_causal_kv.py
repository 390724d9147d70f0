"""CausalKV: stage-2 loss uses the past clips' K/V computed in the same forward pass; generation conditions on the
selected cache, logs the selection, keeps the cache bounded by N, and refuses what it cannot do."""

import pytest
import torch

from lvg import LongVideoModule
from lvg.attention import AllClips, PromptSimilarity, Recent, SinkAndRecent
from lvg.backbones import Lora, Toy
from lvg.errors import LvgError
from lvg.methods import CausalKV, Extension, GenerationRequest
from lvg.sampling import SchedulerSampler

PROMPTS = ["a red circle", "a blue square", "a red circle moving left", "a green triangle", "a blue square"] * 2


def long_batch(num_clips=3, batch=2):
    from lvg.data import ToyWorldData

    dm = ToyWorldData(
        resolution=16, frames_per_clip=4, batch_size=batch, samples_per_epoch=batch, max_sprites=2,
        long_video=True, num_clips=num_clips, overlap=2,
    )  # fmt: skip
    return next(iter(dm.train_dataloader()))


def module(tiny_toy_dir, method, steps=2, lora=None):
    return LongVideoModule(
        Toy(path=str(tiny_toy_dir)), method, SchedulerSampler(steps), frames_per_clip=4, height=16, width=16, lora=lora
    )


def test_stage2_loss_depends_on_past_clips_and_trains_only_the_lora(tiny_toy_dir):
    m = module(tiny_toy_dir, CausalKV(policy=Recent(2)), lora=Lora(rank=2))
    batch = long_batch()
    gen = lambda: torch.Generator().manual_seed(3)  # noqa: E731 - the target clip is 1 or 2: either sees clip 0
    for name, p in m.backbone.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(p, std=0.5)
    loss = m.method.loss(m.backbone, batch, gen())["loss"]
    loss.backward()
    grads = {n for n, p in m.named_parameters() if p.grad is not None}
    assert grads and all("lora_" in n for n in grads)

    changed = {**batch, "clips": batch["clips"].clone()}
    changed["clips"][:, 0] = -changed["clips"][:, 0]  # another first clip: only reaches the target through K/V
    with torch.no_grad():
        assert abs(m.method.loss(m.backbone, changed, gen())["loss"] - loss.detach()) > 1e-5
        with_context = m.method.loss(m.backbone, batch, gen())["loss"]
        assert torch.equal(with_context, loss.detach())  # seeded: the same batch gives the same loss


def test_stage2_needs_long_videos_and_no_context_grad_with_checkpointing(tiny_toy_dir):
    m = module(tiny_toy_dir, CausalKV())
    with pytest.raises(LvgError, match="long videos"):
        m.method.loss(m.backbone, {"video": torch.zeros(1, 3, 4, 16, 16), "prompt": ["x"]}, torch.Generator())
    m.backbone.enable_gradient_checkpointing()
    with pytest.raises(LvgError, match="context_grad"):
        m.method.loss(m.backbone, long_batch(), torch.Generator())


def generate(m, prompts, searches=None, **kw):
    """The generated frames and each clip's context log; the search logs go into `searches` by clip."""
    start = torch.zeros(1, 3, 2, 16, 16)
    results = list(m.generate(GenerationRequest(start, list(prompts), 4, seed=4, **kw)))
    if searches is not None:
        searches.update({r.index: r.search for r in results if r.search is not None})
    return torch.cat([r.frames for r in results[1:]], dim=1), {r.index: r.context for r in results if r.context}


@torch.no_grad()
def test_first_clip_matches_plain_extension_and_later_clips_use_the_cache(tiny_toy_dir):
    causal, logs = generate(module(tiny_toy_dir, CausalKV(policy=Recent(2))), PROMPTS[:3])
    plain, _ = generate(module(tiny_toy_dir, Extension()), PROMPTS[:3])
    per_clip = 2  # 4 frames, 2 of them the condition
    assert torch.equal(causal[:, :per_clip], plain[:, :per_clip])  # clip 0 has no past: exactly the extension model
    assert (causal[:, per_clip:] - plain[:, per_clip:]).abs().max() > 1e-4
    assert [logs[i]["selected"] for i in range(3)] == [[], [0], [0, 1]]
    assert [logs[i]["position"] for i in range(3)] == [0, 2, 4]  # 4 frames, 2 shared with the previous clip


@torch.no_grad()
def test_prompt_similarity_selection_is_logged_with_scores(tiny_toy_dir):
    _, logs = generate(module(tiny_toy_dir, CausalKV(policy=PromptSimilarity(max_clips=1))), PROMPTS[:5])
    assert logs[2]["selected"] == [0]  # "a red circle moving left" -> "a red circle"
    assert logs[4]["selected"] == [1]  # "a blue square" again: the same prompt as clip 1
    assert logs[4]["scores"][0] == pytest.approx(1.0, abs=1e-5)
    assert logs[4]["cache_from"] == "last_step"


COMING_BACK = ["a red circle in a park", "a blue square on a table", "a blue square on a wooden table",
               "a blue square on a kitchen table", "a red circle in a green park"]  # fmt: skip


@torch.no_grad()
def test_a_clip_coming_back_to_earlier_content_selects_the_exact_top_n_over_all_history(tiny_toy_dir):
    """The paper's motivating case (§3.3): prompts A, B, B1, B2, A1 with at most 2 past clips. Clip "A1" attends to
    the exact top 2 over every past clip, A included, in generation as in training; the old bounded candidates (clips
    kept so far plus the newest) lost A for good once clips B1 and B2 had kept only B-like clips."""
    policy = PromptSimilarity(max_clips=2)
    exact = policy.select(COMING_BACK, 4, list(range(4)))
    assert 0 in exact.clips  # A is among the two most similar to A1
    _, logs = generate(module(tiny_toy_dir, CausalKV(policy=policy)), COMING_BACK)
    assert logs[4]["selected"] == exact.clips
    method = CausalKV(policy=PromptSimilarity(max_clips=2))
    m = module(tiny_toy_dir, method)
    seen: list = []
    prepare = method.cache.prepare
    method.cache.prepare = lambda rows, device=None: seen.append([list(r) for r in rows]) or prepare(rows, device)
    batch = {"clips": torch.zeros(1, 5, 3, 4, 16, 16), "prompts": [COMING_BACK]}
    generator = torch.Generator().manual_seed(0)
    while len(seen) < 5:  # draw training steps until the target is the last clip (4 past clips, then the target)
        seen.clear()
        method.loss(m.backbone, batch, generator)
    assert seen[-1] == [exact.clips]


@pytest.mark.parametrize(
    "policy", [Recent(2), SinkAndRecent(3), PromptSimilarity(max_clips=2), AllClips()], ids=lambda p: type(p).__name__
)
@torch.no_grad()
def test_memory_holds_only_what_later_clips_select(tiny_toy_dir, policy):
    """In memory: nothing but the prepared selection; in files: the K/V of clips a later clip selects; at the end:
    nothing."""
    method = CausalKV(policy=policy)
    m = module(tiny_toy_dir, method, steps=1)
    held, spilled = [], []
    prepare = method.cache.prepare

    def prepare_and_count(selection, device=None, shifts=None):
        prepare(selection, device, shifts)
        held.append(len(method.cache.store))
        spilled.append(sorted(method.cache.files))

    method.cache.prepare = prepare_and_count
    for _ in m.generate(GenerationRequest(torch.zeros(1, 3, 2, 16, 16), PROMPTS, 4)):
        pass
    plan = method.plan
    assert max(held) == 0  # every finished clip went to a file or was forgotten
    for i, files in enumerate(spilled):
        assert files == sorted(c for c in range(i) if any(c in plan[j].clips for j in range(i, len(plan))))
    assert method.cache.clips == []


@torch.no_grad()
def test_offloaded_cache_gives_the_same_video(tiny_toy_dir):
    method = CausalKV(policy=Recent(2), offload=True)
    offloaded, _ = generate(module(tiny_toy_dir, method), PROMPTS[:3])
    on_device, _ = generate(module(tiny_toy_dir, CausalKV(policy=Recent(2))), PROMPTS[:3])
    assert torch.equal(offloaded, on_device)


@torch.no_grad()
def test_last_step_kv_come_from_the_last_model_call_and_clean_kv_from_one_more_pass(tiny_toy_dir):
    calls = {"last_step": 0, "clean": 0}
    for source in calls:
        m = module(tiny_toy_dir, CausalKV(policy=Recent(2), cache_from=source), steps=3)
        predict = m.backbone.predict

        def counting(*a, source=source, predict=predict, **k):
            calls[source] += 1
            return predict(*a, **k)

        m.backbone.predict = counting
        generate(m, PROMPTS[:3])
    assert calls["last_step"] == 3 * 3 and calls["clean"] == 3 * 3 + 3  # the paper's saves a pass per clip
    last, _ = generate(module(tiny_toy_dir, CausalKV(policy=Recent(2))), PROMPTS[:3])
    clean, _ = generate(module(tiny_toy_dir, CausalKV(policy=Recent(2), cache_from="clean")), PROMPTS[:3])
    assert torch.equal(last[:, :2], clean[:, :2]) and not torch.equal(last[:, 2:], clean[:, 2:])  # clip 0 alike


@torch.no_grad()
@pytest.mark.parametrize("positions", ["absolute", "window"])
def test_a_generation_resumes_from_its_carry_exactly(tiny_toy_dir, tmp_path, positions):
    m = module(tiny_toy_dir, CausalKV(policy=PromptSimilarity(max_clips=2), positions=positions))
    start = torch.zeros(1, 3, 2, 16, 16)
    whole = list(m.generate(GenerationRequest(start, COMING_BACK, 4, seed=4, scratch=str(tmp_path / "a"))))
    request = GenerationRequest(start, COMING_BACK, 4, seed=4, scratch=str(tmp_path / "b"))
    for result in m.generate(request):
        if result.index == 2:
            carry = result.carry  # a crash after clip 2: the log keeps this, the K/V files stay in scratch
            break
    assert carry["kv_files"] and all((tmp_path / "b" / name).is_file() for name in carry["kv_files"].values())
    resumed = GenerationRequest(start, COMING_BACK, 4, seed=4, first_clip=3, carry=carry, scratch=str(tmp_path / "b"))
    rest = list(m.generate(resumed))
    assert [r.index for r in rest] == [3, 4]
    assert all(torch.equal(a.frames, b.frames) for a, b in zip(rest, whole[4:]))


@torch.no_grad()
def test_combines_with_kstep_noise_search(tiny_toy_dir):
    from lvg.search import KStepSearch

    m = LongVideoModule(
        Toy(path=str(tiny_toy_dir)), CausalKV(policy=Recent(2)), SchedulerSampler(2), KStepSearch(candidates=3, k=1),
        frames_per_clip=4, height=16, width=16,
    )  # fmt: skip
    searches = {}
    video, logs = generate(m, PROMPTS[:3], searches)
    assert sorted(searches) == [0, 1, 2] and all(len(s["scores"]) == 3 for s in searches.values())
    assert logs[2]["selected"] == [0, 1] and torch.isfinite(video).all()

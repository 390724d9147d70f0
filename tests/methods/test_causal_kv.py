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
    exact = PromptSimilarity(max_clips=1, keep_all_candidates=True)
    _, logs = generate(module(tiny_toy_dir, CausalKV(policy=exact)), PROMPTS[:5])
    assert logs[2]["selected"] == [0]  # "a red circle moving left" -> "a red circle"
    assert logs[4]["selected"] == [1]  # "a blue square" again: the same prompt as clip 1
    assert logs[4]["scores"][0] == pytest.approx(1.0, abs=1e-5)
    # bounded (default): clip 1 was dropped when clip 2 kept only clip 0, so clip 4 cannot pick it any more
    _, bounded = generate(module(tiny_toy_dir, CausalKV(policy=PromptSimilarity(max_clips=1))), PROMPTS[:5])
    assert bounded[2]["selected"] == [0] and bounded[4]["selected"] != [1]


@pytest.mark.parametrize(
    "policy, bound",
    [(Recent(2), 2), (SinkAndRecent(3), 3), (PromptSimilarity(max_clips=2), 2), (AllClips(), None)],
    ids=lambda v: type(v).__name__ if not isinstance(v, int | type(None)) else str(v),
)
@torch.no_grad()
def test_cache_memory_is_bounded_by_n_except_for_all(tiny_toy_dir, policy, bound):
    method = CausalKV(policy=policy)
    m = module(tiny_toy_dir, method, steps=1)
    sizes = []
    start = torch.zeros(1, 3, 2, 16, 16)
    record_clip = method.record_clip

    def record_and_count(*args):  # before a clip's K/V join the cache: what the clip attended to is all it holds
        sizes.append(len(method.cache.clips))
        record_clip(*args)

    method.record_clip = record_and_count
    for _ in m.generate(GenerationRequest(start, PROMPTS, 4)):
        pass
    if bound is None:
        assert sizes == list(range(len(PROMPTS)))  # everything kept
    else:
        assert max(sizes) == bound == sizes[-1]  # what clip i attends to is all that is kept: N clips at most
    assert method.cache.clips == []  # freed at the end


@torch.no_grad()
def test_offloaded_cache_gives_the_same_video(tiny_toy_dir):
    method = CausalKV(policy=Recent(2), offload=True)
    offloaded, _ = generate(module(tiny_toy_dir, method), PROMPTS[:3])
    on_device, _ = generate(module(tiny_toy_dir, CausalKV(policy=Recent(2))), PROMPTS[:3])
    assert torch.equal(offloaded, on_device)


def test_resuming_is_refused_with_one_line(tiny_toy_dir):
    m = module(tiny_toy_dir, CausalKV())
    req = GenerationRequest(
        torch.zeros(1, 3, 2, 16, 16), PROMPTS[:3], 4, first_clip=1, carry=torch.zeros(1, 3, 2, 16, 16)
    )
    with pytest.raises(LvgError, match="--resume false"):
        next(m.generate(req))


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

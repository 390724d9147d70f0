"""Clip-selection policies on hand-made prompt lists: similarity with the earlier-clip tie rule, windows, bad N."""

import pytest

from lvg.attention import AllClips, PromptSimilarity, Recent, SinkAndRecent
from lvg.attention.selection import select_by_score
from lvg.errors import LvgError

PROMPTS = [
    "a red ball bounces on the floor",  # 0
    "a dog runs across a green park",  # 1
    "stock prices fell sharply on monday",  # 2
    "a red ball bounces on the floor",  # 3: the same prompt as clip 0 (an exact tie)
    "a dog is running through a park",  # 4: a paraphrase of clip 1
    "the red ball keeps bouncing on the floor",  # 5: current
]


def test_prompt_similarity_keeps_the_most_similar_clips_and_prefers_the_earlier_on_ties():
    policy = PromptSimilarity(max_clips=2)
    sel = policy.select(PROMPTS, 5, list(range(5)))
    # clips 0 and 3 score the same: both are the two most similar; with N = 1 the earlier one wins
    assert sel.clips == [0, 3]
    assert sel.scores[0] == pytest.approx(sel.scores[1], abs=1e-6) and sel.scores[0] > 0.6
    assert PromptSimilarity(max_clips=1).select(PROMPTS, 5, list(range(5))).clips == [0]
    # the paraphrase of the dog prompt picks the dog clip, not the unrelated ones
    assert PromptSimilarity(max_clips=1).select(PROMPTS, 4, list(range(4))).clips == [1]


def test_tolerance_makes_near_ties_go_to_the_earlier_clip():
    clips, scores = [0, 1, 2, 3], [0.50, 0.79, 0.80, 0.10]
    assert select_by_score(clips, scores, 1, tolerance=0.0).clips == [2]
    assert select_by_score(clips, scores, 1, tolerance=0.02).clips == [1]  # 0.79 is within 0.02 of 0.80
    assert select_by_score(clips, scores, 2, tolerance=0.02).clips == [1, 2]
    assert select_by_score(clips, scores, 9, tolerance=0.02).clips == [0, 1, 2, 3]


def test_prompt_similarity_only_picks_among_candidates_and_embeds_each_prompt_once(monkeypatch):
    from lvg.backbones import text

    model = text.load_sentence_transformer(None)
    encoded = []
    real = type(model).encode

    def counting(self, sentences, **kw):
        encoded.extend(sentences)
        return real(self, sentences, **kw)

    monkeypatch.setattr(type(model), "encode", counting)
    policy = PromptSimilarity(max_clips=2)
    for current in range(1, len(PROMPTS)):
        sel = policy.select(PROMPTS, current, [c for c in range(current) if c != 0])
        assert 0 not in sel.clips and all(c < current for c in sel.clips)
    assert sorted(encoded) == sorted(set(PROMPTS))  # 5 distinct prompts, each embedded exactly once


def test_window_policies():
    past = list(range(9))
    assert Recent(3).select(PROMPTS, 9, past).clips == [6, 7, 8]
    assert Recent(3).select(PROMPTS, 2, [0, 1]).clips == [0, 1]
    assert SinkAndRecent(3).select(PROMPTS, 9, past).clips == [0, 7, 8]
    assert SinkAndRecent(1).select(PROMPTS, 9, past).clips == [0]
    assert SinkAndRecent(3).select(PROMPTS, 1, [0]).clips == [0]
    assert [SinkAndRecent(5).select(PROMPTS, i, list(range(i))).clips for i in (3, 4, 5, 6)] == [
        [0, 1, 2], [0, 1, 2, 3], [0, 1, 2, 3, 4], [0, 2, 3, 4, 5],
    ]  # fmt: skip
    assert [Recent(3).select(PROMPTS, i, list(range(i))).clips for i in (1, 2, 3, 4)] == [
        [0], [0, 1], [0, 1, 2], [1, 2, 3],
    ]  # fmt: skip
    assert AllClips().select(PROMPTS, 9, past).clips == past
    assert Recent(2).select(PROMPTS, 0, []).clips == []


@pytest.mark.parametrize("policy", [Recent, SinkAndRecent, PromptSimilarity])
@pytest.mark.parametrize("n", [0, -1])
def test_fewer_than_one_clip_is_bad_input(policy, n):
    with pytest.raises(LvgError, match="max_clips must be at least 1"):
        policy(max_clips=n)

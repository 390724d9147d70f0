"""The one seeding scheme (lvg/seeding.py), pinned: a change to any rule moves these values and must be a decision
(every resume log, k-step search log and evaluation figure depends on them)."""

import torch

from lvg.seeding import (
    STREAMS,
    candidate_seed,
    clip_seed,
    evaluation_seed,
    generator,
    step_seed,
    stream_seed,
)


def test_golden_seeds():
    clip = clip_seed(3, 7)
    assert clip == 3 * 1_000_003 + 7 == 3000016
    assert candidate_seed(clip, 0) == clip  # candidate 0 is the plain run: m = 1 is the naive baseline
    assert candidate_seed(clip, 2) == 4354685564939845370
    assert stream_seed(clip, "replacement_noise") == 1988326761850324688
    assert stream_seed(clip, "cache_noise") == 4165669544318747365
    assert evaluation_seed(1, 900_000) == 1900003
    assert step_seed(0, 2, 5, 0, 1) == 8811453061698038494
    assert torch.randn(3, generator=generator(clip)).tolist() == [1.8105124235153198, -2.967244863510132,
                                                                   0.3239854574203491]  # fmt: skip


def test_streams_never_collide_with_a_search_candidate_or_the_next_clip():
    clip = clip_seed(0, 4)
    candidates = {candidate_seed(clip, j) for j in range(1024)}
    streams = {stream_seed(clip, name) for name in STREAMS}
    assert len(streams) == len(STREAMS) and not streams & candidates
    assert clip_seed(0, 5) not in streams  # the causal-KV cache's re-noising used to draw the next clip's noise

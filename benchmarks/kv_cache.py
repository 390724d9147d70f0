"""Causal cross-clip KV cache (error-free paper §3.3) on the toy checkpoint: speed and memory.

python benchmarks/kv_cache.py [--quick]

- time per clip at clip 20 with the cache (each past clip's K/V computed once, when it finishes) against recomputing
  the selected past clips' K/V at every denoising step (a forward pass over each selected clip's latents per step);
- KV memory (bytes held by the cache: kept clips plus the selection prepared for the current clip, at its peak) at
  10 and 100 clips for each selection policy: flat for all but `AllClips`.

`records(quick)` returns the report records (the harness adds machine and commit); run as a script it prints them
as JSON lines. Not a test: the numbers depend on the machine.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lvg.attention import AllClips, PromptSimilarity, Recent, SinkAndRecent  # noqa: E402
from lvg.methods import CausalKV, GenerationRequest  # noqa: E402

CHECKPOINT = REPO / "checkpoints" / "toy"
MAX_CLIPS = 5
TIMED_CLIP = 20


class RecomputeKV(CausalKV):
    """The baseline: keep the past clips' latents and condition, and recompute the selected clips' K/V before every
    denoising step (each selected clip attending to itself only), instead of reusing cached K/V. Only from clip
    `from_clip` on (the clips before it only set up the state to time)."""

    def __init__(self, from_clip: int = 0, **kw) -> None:
        super().__init__(**kw)
        self.kept: dict[int, tuple] = {}
        self.from_clip = from_clip

    def record_clip(self, backbone, x0, cond, clip, seed) -> None:
        super().record_clip(backbone, x0, cond, clip, seed)
        self.kept[clip] = (x0, cond)
        self.kept = {c: v for c, v in self.kept.items() if c in self.cache.clips or c == clip}

    def clip_denoiser(self, backbone, cond, selected):
        if max(self.kept, default=-1) + 1 < self.from_clip:  # the current clip follows the last one recorded
            return super().clip_denoiser(backbone, cond, selected)
        stride = self.clip_stride(backbone, next(iter(self.kept.values()))[0].shape[2]) if self.kept else 0

        def make_denoise(n):
            base = backbone.denoiser(cond.repeat(n))

            def denoise(x, t):
                self.cache.prepare([])
                for c in selected:
                    x0, c_cond = self.kept[c]
                    t0 = torch.zeros(x0.shape[0], x0.shape[2], device=x0.device)
                    with backbone.frame_offset(c * stride), self.cache.recording(c):
                        backbone.predict(x0, t0, c_cond)
                self.cache.prepare(selected, backbone.device)
                return base(x, t)

            return denoise

        return make_denoise


def toy_module(method, steps: int, size: int, tiny: bool):
    """The toy checkpoint (or, `tiny`, a small random toy model: the quick mode's stand-in)."""
    from lvg import LongVideoModule
    from lvg.backbones import Toy
    from lvg.sampling import SchedulerSampler

    if tiny or not (CHECKPOINT / "transformer").is_dir():
        torch.manual_seed(0)
        backbone = Toy(width=64, layers=2, heads=2)
    else:
        backbone = Toy(path=str(CHECKPOINT))
    return LongVideoModule(backbone, method, SchedulerSampler(steps), frames_per_clip=8, height=size, width=size)


def toy_prompts(num_clips: int, size: int) -> tuple[torch.Tensor, list[str]]:
    from lvg.data.toy_world import toy_start

    start, prompts, _ = toy_start(0, num_clips, 8, 2, size)
    return start, list(prompts)


@torch.no_grad()
def clip_seconds(method, steps: int, size: int, tiny: bool) -> float:
    """Seconds to generate clip TIMED_CLIP (0-based) after the clips before it."""
    module = toy_module(method, steps, size, tiny)
    start, prompts = toy_prompts(TIMED_CLIP + 1, size)
    stream = module.generate(GenerationRequest(start, prompts, 8, seed=0))
    next(stream)  # the start frames
    for _ in range(TIMED_CLIP):
        next(stream)
    tic = time.perf_counter()
    next(stream)
    return time.perf_counter() - tic


@torch.no_grad()
def peak_kv_bytes(policy, num_clips: int, size: int, tiny: bool) -> int:
    """Peak bytes held by the KV cache over a `num_clips`-clip generation (1 sampling step per clip: memory only)."""
    peak = {"bytes": 0}

    class Measured(CausalKV):
        def record_clip(self, *args) -> None:
            super().record_clip(*args)
            peak["bytes"] = max(peak["bytes"], self.cache.nbytes())

    method = Measured(policy=policy, condition_fill="nearest")
    module = toy_module(method, 1, size, tiny)
    start, prompts = toy_prompts(num_clips, size)
    for _ in module.generate(GenerationRequest(start, prompts, 8, seed=0)):
        pass
    return peak["bytes"]


def record(name, value, unit, lower_is_better, notes) -> dict:
    return {
        "name": f"kv_cache/{name}",
        "value": value,
        "unit": unit,
        "lower_is_better": lower_is_better,
        "notes": notes,
    }


def measure(quick: bool) -> Iterator[dict]:
    """The records one by one, as they are measured."""
    steps, size = (4, 16) if quick else (20, 32)
    model = "tiny random toy (width 64, 2 layers)" if quick else "toy checkpoint"
    note = f"{model}, {size}x{size}x8, {steps} steps, Recent({MAX_CLIPS}) selection, clip {TIMED_CLIP}"
    policy = Recent(MAX_CLIPS)
    cached = clip_seconds(CausalKV(policy=policy, condition_fill="nearest"), steps, size, quick)
    yield record("clip20_seconds_cached", cached, "s", True, note + "; K/V cached once per clip")
    baseline = RecomputeKV(from_clip=TIMED_CLIP, policy=policy, condition_fill="nearest")
    recompute = clip_seconds(baseline, steps, size, quick)
    yield record("clip20_seconds_recompute", recompute, "s", True, note + "; selected K/V recomputed every step")
    yield record("clip20_recompute_over_cached", recompute / cached, "ratio", False, "the cache's speed-up")
    policies = {
        "prompt_similarity": lambda: PromptSimilarity(MAX_CLIPS),
        "recent": lambda: Recent(MAX_CLIPS),
        "sink_and_recent": lambda: SinkAndRecent(MAX_CLIPS),
        "all": AllClips,
    }
    kv_note = f"peak KV cache bytes, {model} at {size}x{size}x8, N={MAX_CLIPS} (all: unbounded)"
    for name, make in policies.items():
        mb = {}
        for n in (10, 100):
            mb[n] = peak_kv_bytes(make(), n, size, quick) / 2**20
            yield record(f"memory_mb_{name}_{n}_clips", mb[n], "MB", True, kv_note)
        yield record(f"memory_ratio_{name}_100_over_10", mb[100] / mb[10], "ratio", True, "flat: 1.0")


def records(quick: bool) -> list[dict]:
    torch.set_num_threads(1)  # one thread: two stall on OpenMP barriers on a busy machine
    return list(measure(quick))


if __name__ == "__main__":
    torch.set_num_threads(1)  # one thread: two stall on OpenMP barriers on a busy machine
    for r in measure(quick="--quick" in sys.argv):
        print(json.dumps(r), flush=True)

"""Causal cross-clip KV cache (error-free paper §3.3) on the toy: speed, the cost of re-selection, memory, drift.

python benchmarks/kv_cache.py [--quick] [--lora runs/toy-causal-kv/lora]

- time per clip at clip 20 with the K/V of the last denoising step (`cache_from: last_step`, the paper's), with one
  extra pass over the finished latents (`clean`), and recomputing the selected clips' K/V before every step;
- the re-cache on a prompt switch (LongLive): seconds per clip with it against without;
- re-selection: prompts whose topics come back, so `PromptSimilarity` selects clips long out of the recent window;
  the seconds per clip spent mapping the selected clips' spilled K/V back (`KVCache.prepare`);
- peak RSS of a fresh process generating 10 and 100 such clips (target: ratio <= 1.05), and the bytes the cache
  holds in memory per selection policy;
- drift on held-out toy worlds (`evaluate_toy_drift`) for both `cache_from` readings, given a stage-2 toy LoRA
  (`lvg fit --config configs/toy/causal_kv.yaml`); without one these records are None with the reason.

`records(quick)` returns the records (the harness adds machine and commit); as a script it prints them as JSON
lines as they are measured. Not a test: the numbers depend on the machine.
"""

from __future__ import annotations

import json
import resource
import subprocess
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
LORA = REPO / "runs" / "toy-causal-kv" / "lora"
MAX_CLIPS = 5
TIMED_CLIP = 20
TOPICS = (
    "a red ball rolls across a field",
    "a blue square slides along a wall",
    "a green star spins in the sky",
    "a yellow car drives down a road",
    "a purple kite flies over the sea",
    "an orange fish swims in a tank",
    "a white bird lands on a branch",
    "a black cat walks on a fence",
)


class RecomputeKV(CausalKV):
    """The baseline: keep the past clips' latents and condition, and recompute the selected clips' K/V before every
    denoising step (each selected clip attending to itself only), instead of reusing cached K/V. Only from clip
    `from_clip` on (the clips before it only set up the state to time)."""

    def __init__(self, from_clip: int = 0, **kw) -> None:
        super().__init__(cache_from="clean", **kw)
        self.kept: dict[int, tuple] = {}
        self.from_clip = from_clip

    def record_clip(self, backbone, x0, cond, clip, seed) -> None:
        super().record_clip(backbone, x0, cond, clip, seed)
        self.kept[clip] = (x0, cond)

    def clip_denoiser(self, backbone, cond, selected):
        if max(self.kept, default=-1) + 1 < self.from_clip:  # the current clip follows the last one recorded
            return super().clip_denoiser(backbone, cond, selected)
        stride = self.clip_stride(backbone, next(iter(self.kept.values()))[0].shape[2]) if self.kept else 0

        def make_denoise(n):
            base = super(RecomputeKV, self).clip_denoiser(backbone, cond, selected)(n)

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


class Timed(CausalKV):
    """CausalKV that adds up the seconds spent preparing each clip's selection (mapping spilled K/V back) and keeping
    its own K/V for later clips (spilling them, forgetting the rest)."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.prepare_seconds: list[float] = []
        self.keep_seconds: list[float] = []
        self.peak_bytes = 0
        real = self.cache.prepare

        def prepare(selection, device=None, shifts=None):
            tic = time.perf_counter()
            real(selection, device, shifts)
            if selection:
                self.prepare_seconds.append(time.perf_counter() - tic)

        self.cache.prepare = prepare

    def keep_what_is_selected_later(self, index: int, source: tuple | None = None) -> None:
        self.peak_bytes = max(self.peak_bytes, self.cache.nbytes())  # the clip's own K/V and its selection
        tic = time.perf_counter()
        super().keep_what_is_selected_later(index, source)
        self.keep_seconds.append(time.perf_counter() - tic)


def toy_module(method, steps: int, size: int, tiny: bool, lora: str | None = None):
    """The toy checkpoint (or, `tiny`, a small random toy model: the quick mode's stand-in), with a stage-2 LoRA."""
    from lvg import LongVideoModule
    from lvg.backbones import Lora, Toy
    from lvg.sampling import SchedulerSampler

    if tiny or not (CHECKPOINT / "transformer").is_dir():
        torch.manual_seed(0)
        backbone = Toy(width=64, layers=2, heads=2)
    else:
        backbone = Toy(path=str(CHECKPOINT))
    adapter = Lora(path=lora) if lora else None
    return LongVideoModule(
        backbone, method, SchedulerSampler(steps), frames_per_clip=8, height=size, width=size, lora=adapter
    )


def returning_prompts(num_clips: int) -> list[str]:
    """Topics that come back every len(TOPICS) > MAX_CLIPS clips, each time worded a little differently."""
    return [f"{TOPICS[i % len(TOPICS)]}, take {i // len(TOPICS) + 1}" for i in range(num_clips)]


def toy_start(size: int) -> torch.Tensor:
    from lvg.data.toy_world import toy_start as world_start

    return world_start(0, 1, 8, 2, size)[0]


def run_clips(method, num_clips: int, steps: int, size: int, tiny: bool, lora: str | None = None) -> list[float]:
    """Generate `num_clips` clips on returning prompts; the seconds of each clip."""
    module = toy_module(method, steps, size, tiny, lora)
    stream = module.generate(GenerationRequest(toy_start(size), returning_prompts(num_clips), 8, seed=0))
    next(stream)  # the start frames
    seconds = []
    with torch.no_grad():
        for _ in range(num_clips):
            tic = time.perf_counter()
            next(stream)
            seconds.append(time.perf_counter() - tic)
    return seconds


def peak_rss_mb(num_clips: int, quick: bool) -> float:
    """Peak RSS (MB) of this process after generating `num_clips` clips with the paper's policy."""
    run_clips(CausalKV(policy=PromptSimilarity(MAX_CLIPS), condition_fill="nearest"), num_clips, 1, 16, quick)
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def in_fresh_process(num_clips: int, quick: bool) -> float:
    code = (
        f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import torch; torch.set_num_threads(1); "
        f"from kv_cache import peak_rss_mb; print(peak_rss_mb({num_clips}, {quick}))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def record(name, value, unit, lower_is_better, notes) -> dict:
    return {"name": f"kv_cache/{name}", "value": value, "unit": unit, "lower_is_better": lower_is_better,
            "notes": notes}  # fmt: skip


def speed(quick: bool, steps: int, size: int, note: str) -> Iterator[dict]:
    """Clip TIMED_CLIP's seconds for each way of getting the past clips' K/V."""
    policy = lambda: PromptSimilarity(MAX_CLIPS)  # noqa: E731
    ways = {
        "last_step": CausalKV(policy=policy(), condition_fill="nearest"),
        "clean": CausalKV(policy=policy(), condition_fill="nearest", cache_from="clean"),
        "recompute": RecomputeKV(from_clip=TIMED_CLIP, policy=policy(), condition_fill="nearest"),
    }
    seconds = {}
    for name, method in ways.items():
        seconds[name] = run_clips(method, TIMED_CLIP + 1, steps, size, quick)[TIMED_CLIP]
        yield record(f"clip20_seconds_{name}", seconds[name], "s", True, f"{note}; K/V: {name}")
    yield record("clip20_clean_over_last_step", seconds["clean"] / seconds["last_step"], "ratio", True,
                 "the extra pass of cache_from: clean (about (steps + 1) / steps)")  # fmt: skip
    yield record("clip20_recompute_over_last_step", seconds["recompute"] / seconds["last_step"], "ratio", False,
                 "the cache's speed-up over recomputing the selected clips every step")  # fmt: skip


def reselection(quick: bool, steps: int, size: int, note: str) -> Iterator[dict]:
    """Seconds per clip to map the selected clips' spilled K/V back, and their share of the clip's time."""
    method = Timed(policy=PromptSimilarity(MAX_CLIPS), condition_fill="nearest")
    clip_seconds = run_clips(method, 2 * len(TOPICS) + 1, steps, size, quick)
    returning = [i for i in range(len(TOPICS), len(clip_seconds)) if method.plan[i].clips[0] <= i - len(TOPICS)]
    prepare = sum(method.prepare_seconds) / len(method.prepare_seconds)
    why = f"{note}; mean over clips; {len(returning)} clips re-selected a clip out of the recent window"
    yield record("reselection_prepare_seconds", prepare, "s", True, why)
    mean_clip = sum(clip_seconds[1:]) / len(clip_seconds[1:])
    yield record("reselection_share_of_clip", prepare / mean_clip, "ratio", True, "prepare / clip seconds")
    yield from split(method, steps, size, quick, mean_clip, prepare, note)


def split(method: Timed, steps: int, size: int, quick: bool, clip: float, gather: float, note: str) -> Iterator[dict]:
    """A cached clip's seconds split: selection (the plan, per clip), gather (`prepare`), the attention over the past
    clips' K/V (one model call with the selection against one without, times the steps) and recording (keeping the
    clip's K/V for later clips: spill and forget)."""
    prompts = returning_prompts(2 * len(TOPICS) + 1)
    policy = PromptSimilarity(MAX_CLIPS)
    policy.embed(prompts)  # the embedding model's load is a one-off, not a per-clip cost
    tic = time.perf_counter()
    for i in range(len(prompts)):
        policy.select(prompts, i, list(range(i)))
    selection = (time.perf_counter() - tic) / len(prompts)
    module = toy_module(Timed(policy=policy, condition_fill="nearest"), steps, size, quick)
    backbone = module.backbone
    past = list(range(MAX_CLIPS))
    run_clips(module.method, MAX_CLIPS + 1, 1, size, quick)  # records clip K/V to attend to
    x = torch.randn(1, 3, 8, size, size)
    cond = backbone.conditioning(["a red ball"], torch.zeros_like(x), torch.zeros(1, 8))
    t = torch.full((1, 8), 0.5)
    seconds = {}
    with torch.no_grad():
        for name, selected in (("with", past), ("without", [])):
            module.method.cache.reset()
            for c in past:  # K/V of the same size as a clip's, in memory
                with module.method.cache.recording(c), backbone.frame_offset(c * 6):
                    backbone.predict(x, t, cond)
            module.method.cache.prepare(selected)
            backbone.predict(x, t, cond)  # warm
            tic = time.perf_counter()
            for _ in range(steps):
                backbone.predict(x, t, cond)
            seconds[name] = time.perf_counter() - tic
    attention = seconds["with"] - seconds["without"]
    recording = sum(method.keep_seconds) / len(method.keep_seconds)
    parts = {"selection": selection, "gather": gather, "attention": attention, "recording": recording}
    words = ", ".join(f"{k} {v:.4f} s ({v / clip:.1%})" for k, v in parts.items())
    for name, value in parts.items():
        yield record(f"split_{name}_seconds", value, "s", True, f"{note}; per clip of {clip:.3f} s: {words}")


def recache(quick: bool, steps: int, size: int, note: str) -> Iterator[dict]:
    """Seconds per clip with LongLive's re-cache on a prompt switch (every clip of the returning prompts switches)
    against without, over the clips whose selection is full."""
    seconds = {}
    for on in (False, True):
        method = CausalKV(policy=PromptSimilarity(MAX_CLIPS), condition_fill="nearest", recache_on_switch=on)
        seconds[on] = run_clips(method, MAX_CLIPS + 4, steps, size, quick)[MAX_CLIPS:]
    plain, recached = (sum(seconds[on]) / len(seconds[on]) for on in (False, True))
    yield record("recache_seconds_per_clip", recached, "s", True, f"{note}; a prompt switch at every clip")
    yield record("recache_over_plain", recached / plain, "ratio", True,
                 f"about 1 + {MAX_CLIPS} / steps: one pass per selected clip at each switch")  # fmt: skip


def memory(quick: bool, size: int, model: str) -> Iterator[dict]:
    rss = {n: in_fresh_process(n, quick) for n in (10, 100)}
    for n, mb in rss.items():
        yield record(f"peak_rss_mb_{n}_clips", mb, "MB", True, "fresh process, PromptSimilarity(5), returning prompts")
    yield record("peak_rss_ratio_100_over_10", rss[100] / rss[10], "ratio", True, "target <= 1.05")
    policies = {"prompt_similarity": lambda: PromptSimilarity(MAX_CLIPS), "recent": lambda: Recent(MAX_CLIPS),
                "sink_and_recent": lambda: SinkAndRecent(MAX_CLIPS), "all": AllClips}  # fmt: skip
    kv_note = f"peak KV bytes in memory, {model} at {size}x{size}x8, N={MAX_CLIPS} (all: unbounded)"
    for name, make in policies.items():
        mb = {}
        for n in (10, 100):
            method = Timed(policy=make(), condition_fill="nearest")
            run_clips(method, n, 1, size, quick)
            mb[n] = method.peak_bytes / 2**20
            yield record(f"memory_mb_{name}_{n}_clips", mb[n], "MB", True, kv_note)
        yield record(f"memory_ratio_{name}_100_over_10", mb[100] / mb[10], "ratio", True, "flat: 1.0")


def drift(quick: bool, lora: str | None) -> Iterator[dict]:
    """Last-clip sprite mass and position error on held-out worlds, for both `cache_from` readings."""
    from lvg.evaluation.toy_quality import evaluate_toy_drift

    worlds, clips = (2, 4) if quick else (8, 8)
    for reading in ("last_step", "clean"):
        names = [f"drift_mass_last_clip_{reading}", f"drift_position_last_clip_{reading}"]
        if not lora or not Path(lora, "adapter_config.json").is_file():
            why = f"needs the stage-2 toy LoRA at {lora} (lvg fit --config configs/toy/causal_kv.yaml)"
            yield from (record(n, None, "", True, why) for n in names)
            continue
        method = CausalKV(policy=PromptSimilarity(MAX_CLIPS), condition_fill="nearest", cache_from=reading)
        curves = evaluate_toy_drift(toy_module(method, 20, 32, False, lora), worlds, clips)["curves"]
        note = f"{worlds} held-out worlds x {clips} clips, 20 steps"
        yield record(names[0], curves["mass"][-1], "share", False, note)
        yield record(names[1], curves["position"][-1], "px", True, note)


def measure(quick: bool, lora: str | None = None) -> Iterator[dict]:
    """The records one by one, as they are measured."""
    steps, size = (4, 16) if quick else (20, 32)
    model = "tiny random toy (width 64, 2 layers)" if quick else "toy checkpoint"
    note = f"{model}, {size}x{size}x8, {steps} steps, PromptSimilarity({MAX_CLIPS}) on returning prompts"
    yield from speed(quick, steps, size, note + f", clip {TIMED_CLIP}")
    yield from reselection(quick, steps, size, note)
    yield from recache(quick, steps, size, note)
    yield from memory(quick, size, model)
    yield from drift(quick, lora)


def records(quick: bool) -> list[dict]:
    torch.set_num_threads(1)  # one thread: two stall on OpenMP barriers on a busy machine
    return list(measure(quick, str(LORA)))


if __name__ == "__main__":
    torch.set_num_threads(1)  # one thread: two stall on OpenMP barriers on a busy machine
    lora = sys.argv[sys.argv.index("--lora") + 1] if "--lora" in sys.argv else str(LORA)
    for r in measure(quick="--quick" in sys.argv, lora=lora):
        print(json.dumps(r), flush=True)

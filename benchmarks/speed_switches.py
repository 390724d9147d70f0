"""diffusers' speed switches (`lvg.backbones.speed`) on the toy: what each buys in time and costs in pixels.

python benchmarks/speed_switches.py [--quick]

For each switch, one toy video (extension method, plain sampling) is generated with and without it from the same
seed, interleaved repeat by repeat: seconds per clip, and how far its frames land from the exact video's (max and
mean absolute difference of frames in [-1, 1]). Exact switches should give 0 (or rounding); the caching hooks
approximate, so their difference is the price of their speed. Full: the toy checkpoint, 32x32x8, 20 steps, 4 clips,
3 repeats; quick: a tiny random toy of 3 blocks, 16x16x8, 8 steps, 2 clips, 1 repeat. Not a test.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lvg.backbones.speed import Speed  # noqa: E402

CHECKPOINT = REPO / "checkpoints" / "toy"
WAN = [r"blocks\.\d+\.attn1", r"blocks\.\d+\.attn2", r"blocks\.\d+\.ffn"]  # TaylorSeer's defaults miss Wan's
SWITCHES = {
    "attention_native_math": Speed(attention_backend="_native_math"),
    "first_block_0.05": Speed(cache="first_block", cache_options={"threshold": 0.05}),
    "first_block_0.2": Speed(cache="first_block", cache_options={"threshold": 0.2}),
    "taylorseer_interval_3": Speed(cache="taylorseer", cache_options={"cache_interval": 3, "cache_identifiers": WAN}),
    "compile_inductor": Speed(compile=True),
}


def toy(speed: Speed | None, quick: bool):
    from lvg.backbones import Toy

    if quick or not (CHECKPOINT / "transformer").is_dir():
        torch.manual_seed(0)
        return Toy(width=64, layers=3, heads=2, speed=speed)
    return Toy(path=str(CHECKPOINT), speed=speed)


def one_video(speed: Speed | None, quick: bool) -> tuple[torch.Tensor, float]:
    """The frames and seconds per clip of one toy video with `speed`."""
    from lvg import LongVideoModule
    from lvg.data.toy_world import toy_start
    from lvg.methods import Extension, GenerationRequest
    from lvg.sampling import SchedulerSampler

    size, steps, clips = (16, 8, 2) if quick else (32, 20, 4)
    module = LongVideoModule(toy(speed, quick), Extension(condition_frames=2, condition_fill="nearest"),
                             SchedulerSampler(steps), frames_per_clip=8, height=size, width=size)  # fmt: skip
    start, prompts, _ = toy_start(0, clips, 8, 2, size)
    request = GenerationRequest(start, list(prompts), 8, seed=0)
    with torch.no_grad():
        stream = module.generate(request)
        frames = [next(stream).frames]
        tic = time.perf_counter()
        frames += [r.frames for r in stream]
    return torch.cat(frames, dim=1), (time.perf_counter() - tic) / clips


def record(name, value, unit, lower_is_better, notes) -> dict:
    return {"name": f"speed_switches/{name}", "value": value, "unit": unit, "lower_is_better": lower_is_better,
            "notes": notes}  # fmt: skip


def measure(quick: bool):
    repeats = 1 if quick else 3
    model = "tiny random toy (3 blocks), 16x16x8, 8 steps, 2 clips" if quick else "toy checkpoint, 32x32x8, 20 steps"
    for name, speed in SWITCHES.items():
        exact_s, fast_s = [], []
        for _ in range(repeats):  # interleaved, so load changes hit both alike
            exact, seconds = one_video(None, quick)
            exact_s.append(seconds)
            fast, seconds = one_video(speed, quick)
            fast_s.append(seconds)
        diff = (fast - exact).abs()
        note = f"{model}; median of {repeats}"
        yield record(f"{name}/seconds_per_clip", sorted(fast_s)[repeats // 2], "s", True, note)
        why = note + "; exact seconds over the switch's (compile: the first clip's compile included)"
        yield record(
            f"{name}/speedup", sorted(exact_s)[repeats // 2] / sorted(fast_s)[repeats // 2], "ratio", False, why
        )
        yield record(f"{name}/max_abs_diff", float(diff.max()), "pixel", True, "frames in [-1, 1] vs the exact video")
        yield record(f"{name}/mean_abs_diff", float(diff.mean()), "pixel", True, "frames in [-1, 1]")


def records(quick: bool) -> list[dict]:
    torch.set_num_threads(1)  # one thread: two stall on OpenMP barriers on a busy machine
    return list(measure(quick))


if __name__ == "__main__":
    torch.set_num_threads(1)
    for r in measure(quick="--quick" in sys.argv):
        print(json.dumps(r), flush=True)

"""T-RFlow on the toy default: model calls and wall time per clip against plain Euler, and the calibration's cost.

python benchmarks/trflow.py [--quick]

- model calls per clip: Euler over s steps calls the model s times; T-RFlow [0.3, 0.7] stops after its last kept
  step (no call below t_low), so it saves the steps with t < 0.3;
- seconds per clip: one toy clip (8 frames, 32x32, the committed checkpoint) sampled by each, median of repeats;
- calibration: wall time of `calibrate_trflow` over every t_high above 0.3 (one recorded run per world, reweighted).
Not a test: the times depend on the machine.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
CHECKPOINT = REPO / "checkpoints" / "toy"


def toy_module(sampler):
    from lvg import LongVideoModule
    from lvg.backbones import Toy
    from lvg.methods import Extension

    return LongVideoModule(Toy(path=str(CHECKPOINT)), Extension(condition_fill="nearest"), sampler)


@torch.no_grad()
def clip_cost(module, repeats: int) -> tuple[float, int]:
    """Median seconds of one toy clip (one world, one prompt), and the model calls it made."""
    from lvg.data.toy_world import toy_start
    from lvg.methods.base import GenerationRequest

    start, prompts, _ = toy_start(900_000, 1, module.frames_per_clip, module.method.condition_frames, module.height)
    calls = []
    request = GenerationRequest(start, prompts, module.frames_per_clip, on_step=lambda i, t, x: calls.append(i))
    seconds = []
    for _ in range(repeats):
        calls.clear()
        tic = time.perf_counter()
        list(module.generate(request))
        seconds.append(time.perf_counter() - tic)
    return statistics.median(seconds), len(calls)


def records(quick: bool) -> list[dict]:
    from lvg.calibrate_trflow import calibrate_trflow
    from lvg.sampling import TRFlowSampler

    steps, repeats, seeds = (20, 2, 1) if quick else (50, 3, 4)
    out = []
    costs = {}
    for name, (low, high) in {"euler": (0.0, 1.0), "0.3_0.7": (0.3, 0.7)}.items():
        seconds, calls = clip_cost(toy_module(TRFlowSampler(steps, low, high)), repeats)
        costs[name] = seconds
        note = f"{steps}-step schedule, toy clip 8x32x32"
        out.append(rec(f"trflow/model_calls_per_clip_{name}", calls, "calls", True, note))
        out.append(rec(f"trflow/seconds_per_clip_{name}", seconds, "s", True, f"{note}, median of {repeats}"))
    out.append(rec("trflow/speedup_0.3_0.7_over_euler", costs["euler"] / costs["0.3_0.7"], "x", False, "seconds"))
    module = toy_module(TRFlowSampler(steps))
    tic = time.perf_counter()
    result = calibrate_trflow(module, seeds=seeds)
    note = (
        f"{len(result['curve'])} candidate t_high, {seeds} worlds x 1 clip, {steps} steps; picked {result['t_high']}"
    )
    out.append(rec("trflow/calibration_seconds", time.perf_counter() - tic, "s", True, note))
    return out


def rec(name: str, value: float | None, unit: str, lower_is_better: bool, notes: str) -> dict:
    return {"name": name, "value": value, "unit": unit, "lower_is_better": lower_is_better, "notes": notes}


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    for record in records(parser.parse_args().quick):
        print(json.dumps(record))

"""`lvg calibrate-trflow`: pick a T-RFlow threshold by matching AF (error-free paper §3.4, eq. 6).

Which threshold (the mapping, stated here once). §3.4 first sets a threshold that drops the late, high-frequency
terms ("to suppress most of the accumulated degradation"), then adds a second that drops the early, low-frequency
terms "to compensate", calibrated against AF (table 3 goes [0, 0.7] -> [0.3, 0.7] on the paper's noise-to-clean
axis). lvg's time runs from t = 1 (noise) to 0 (`lvg.sampling.trflow`), so the first cut is our `t_low` (0.3: drop
t < 0.3, the late steps) and the compensating one is our `t_high` (0.7: drop t > 0.7, the early steps). So the
default search (`search="t_high"`) fixes t_low and picks t_high; `search="t_low"` is the other reading (fix t_high,
pick t_low).

For each candidate (by default every step time of the schedule on the searched side: values between two step times
keep the same terms), videos are sampled with T-RFlow over the candidate interval on a set of starts, prompts and
seeds, and their AF is compared with that of videos sampled over a reference interval; the candidate with the
smallest gap wins. The curve searched is returned (and written as JSON).

Which reference: the paper's sentence is garbled ("the AF of the video generated within the interval [.] matches
that of the video generated within the interval [.]"). Matching [0, t_high] is degenerate: t_low at or below the
last step time keeps exactly the same terms, so the gap is zero there whatever the model does. The default
`reference="full"` matches the untruncated sampler [0, 1] instead: dropping the late terms (t < t_low) lowers the
high-frequency content that dropping the early terms (t > t_high) raised, and the calibration finds where the two
balance (the paper's stated aim: "re-balances the spectral content"). `reference="t_high"` is the literal reading:
the interval with only the other cut ([0, t_high] when searching t_low, [t_low, 1] when searching t_high), degenerate
in the same way at the far end.
"""

from __future__ import annotations

from pathlib import Path

import torch

from lvg.data.toy_world import toy_start
from lvg.errors import require
from lvg.generate import load_start_frames, plan_prompts
from lvg.methods.base import GenerationRequest
from lvg.metrics.af import average_frequency
from lvg.sampling.scheduler_loop import SchedulerSampler
from lvg.sampling.trflow import TRFlowSampler, TRFlowState, kept_steps, trflow_weights
from lvg.search.gaussian import GaussianNoise
from lvg.seeding import evaluation_seed
from lvg.video import write_json_atomic

REFERENCES = ("full", "t_high")


def schedule_times(backbone, num_steps: int, shift: float | None) -> list[float]:
    """The step times t_0 > ... > t_{s-1} of the backbone's scheduler (the model is never called at t_s)."""
    scheduler = backbone.make_scheduler(shift)
    scheduler.set_timesteps(num_steps)
    return scheduler.sigmas.tolist()


def calibration_starts(module, seeds: int, num_clips: int, toy_seed: int, guide, prompt, prompt_file) -> list:
    """(start frames, prompts) per calibration world: toy worlds toy_seed, toy_seed + 1, ..., or the guide with the
    given prompts for every seed."""
    h, w, frames = module.height, module.width, module.frames_per_clip
    c = module.method.condition_frames
    if guide is not None:
        start = load_start_frames(guide, h, w, c)
        return [(start, plan_prompts(num_clips, prompt, prompt_file, None))] * seeds
    require(h == w, f"the toy world makes square frames, the model is {h}x{w}: give --guide")
    worlds = []
    for s in range(toy_seed, toy_seed + seeds):
        start, toy_prompts, _ = toy_start(s, num_clips, frames, c, h)
        worlds.append((start, plan_prompts(num_clips, prompt, prompt_file, toy_prompts)))
    return worlds


class RecordingSampler(TRFlowSampler):
    """Plain Euler ([0, 1]) keeping every step's estimate; remembers each run's final state."""

    def __init__(self, num_steps: int, shift: float | None, estimate: str) -> None:
        super().__init__(num_steps, 0.0, 1.0, shift, estimate, keep_estimates=True)
        self.runs: list[TRFlowState] = []

    def run(self, *args, **kwargs) -> TRFlowState:
        state = super().run(*args, **kwargs)
        self.runs.append(state)
        return state


class ReplaySampler(TRFlowSampler):
    """T-RFlow over [t_low, t_high] from a recorded Euler run: the trajectory does not depend on the interval, only
    the weights of eq. 3 do, so the result is the recorded estimates reweighted, with no model call."""

    def __init__(self, recorded: TRFlowState, t_low: float, t_high: float) -> None:
        super().__init__(len(recorded.scheduler.timesteps), t_low, t_high)
        self.recorded = recorded

    def run(
        self, denoise, x, backbone, generator=None, callback=None, num_steps=None, stop=None, times=None
    ) -> TRFlowState:
        rec = self.recorded
        if not (torch.is_tensor(x) and stop is None and torch.equal(x.cpu(), rec.noise.cpu())):
            raise RuntimeError("replay of a different run: calibrate with the sampler itself (num_clips > 1)")
        weights = trflow_weights(rec.scheduler.sigmas.tolist(), self.t_low, self.t_high)
        result = sum(w * rec.estimates[i].estimate for i, w in weights.items()).to(x.device)
        return TRFlowState(result, rec.scheduler, len(rec.scheduler.timesteps), rec.x0, rec.noise, result, 1.0)


@torch.no_grad()
def world_af(module, sampler: TRFlowSampler, start: torch.Tensor, prompts: list[str], seed: int) -> float:
    """AF of the frames `module` generates (start frames excluded) from `start` and `prompts` with `sampler`."""
    module.sampler = sampler
    request = GenerationRequest(start, prompts, module.frames_per_clip, seed=seed)
    clips = [clip.frames for clip in module.generate(request) if clip.index >= 0]
    return average_frequency(torch.cat(clips, dim=1).float().cpu())  # over frames and channels


def intervals_af(module, intervals: list, world: tuple, seed: int, base: SchedulerSampler, estimate: str) -> list:
    """AF of one world's video for each interval. A single clip with plain noise is sampled once (Euler, every
    estimate recorded) and each interval reweights it; otherwise each interval samples the video anew (later clips
    depend on the earlier clips' results, and a noise search's winner on the interval)."""
    start, prompts = world
    if len(prompts) == 1 and type(module.noise_init) is GaussianNoise:
        recorder = RecordingSampler(base.num_steps, base.shift, estimate)
        world_af(module, recorder, start, prompts, seed)
        (recorded,) = recorder.runs
        return [world_af(module, ReplaySampler(recorded, lo, hi), start, prompts, seed) for lo, hi in intervals]
    samplers = [TRFlowSampler(base.num_steps, lo, hi, base.shift, estimate) for lo, hi in intervals]
    return [world_af(module, sampler, start, prompts, seed) for sampler in samplers]


SEARCHES = ("t_high", "t_low")


def candidate_intervals(times: list[float], search: str, t_low: float, t_high: float, candidates) -> list:
    """(value, interval) per candidate threshold: every step time on the searched side by default (module doc)."""
    if search == "t_high":
        values = candidates or sorted({round(t, 6) for t in times[:-1] if t > t_low + 1e-6} | {1.0})
        for t in values:
            require(t_low < t <= 1.0, f"every t_high must be in (t_low={t_low}, 1], got {t}")
        return [(t, (t_low, t)) for t in values]
    values = candidates or sorted({round(t, 6) for t in times[:-1] if t < t_high - 1e-6})
    for t in values:
        require(0.0 <= t < t_high, f"every t_low must be in [0, t_high={t_high}), got {t}")
    return [(t, (t, t_high)) for t in values]


def calibrate_trflow(
    module,
    t_high: float = 0.7,
    reference: str = "full",
    candidates: list[float] | None = None,
    search: str = "t_high",
    t_low: float = 0.3,
    seeds: int = 4,
    num_clips: int = 1,
    toy_seed: int = 0,
    seed: int = 0,
    guide: str | None = None,
    prompt: str | None = None,
    prompt_file: str | None = None,
    output: str | None = None,
) -> dict:
    """Search the `search` threshold (the other held at `t_low` / `t_high`) so AF over the candidate interval matches
    AF over the reference; the curve and the pick.

    The module's sampler gives the steps and shift (and, for a T-RFlow sampler, its estimate reading); it is put
    back afterwards. Every interval, the reference included, is T-RFlow, so [0, 1] is plain Euler on the schedule
    (the scheduler sampler itself for flow-match Euler; not UniPC's multistep update). Deterministic: every video
    is sampled from seeds derived from `seed` and the world index."""
    require(search in SEARCHES, f"search must be one of {SEARCHES}, not {search!r}")
    require(0.0 < t_high <= 1.0, f"t_high must be in (0, 1], got {t_high}")
    require(0.0 <= t_low < 1.0, f"t_low must be in [0, 1), got {t_low}")
    require(reference in REFERENCES, f"reference must be one of {REFERENCES}, not {reference!r}")
    require(seeds >= 1 and num_clips >= 1, f"seeds and num_clips must be at least 1, got {seeds} and {num_clips}")
    base = module.sampler
    require(isinstance(base, SchedulerSampler), "calibration needs the module's sampler to give num_steps and shift")
    estimate = base.estimate if isinstance(base, TRFlowSampler) else "euler"
    times = schedule_times(module.backbone, base.num_steps, base.shift)
    searched = candidate_intervals(times, search, t_low, t_high, candidates)
    require(bool(searched), f"no step of the {base.num_steps}-step schedule to search {search} over: use more steps")
    for _, (lo, hi) in searched:
        require(bool(kept_steps(times, lo, hi)), f"[{lo}, {hi}] holds no step of the schedule: drop that candidate")
    literal = (0.0, t_high) if search == "t_low" else (t_low, 1.0)  # the interval with the first cut only
    ref = (0.0, 1.0) if reference == "full" else literal
    worlds = calibration_starts(module, seeds, num_clips, toy_seed, guide, prompt, prompt_file)

    intervals = [ref] + [interval for _, interval in searched]
    try:
        per_world = [
            intervals_af(module, intervals, world, evaluation_seed(seed, index), base, estimate)
            for index, world in enumerate(worlds)
        ]
    finally:
        module.sampler = base
    ref_af = [row[0] for row in per_world]
    curve = []
    for column, (value, (lo, hi)) in enumerate(searched, start=1):
        af = [row[column] for row in per_world]
        gap = sum(af) / len(af) - sum(ref_af) / len(ref_af)
        kept = len(kept_steps(times, lo, hi))
        curve.append({search: value, "t_low": lo, "t_high": hi, "af": sum(af) / len(af), "gap": gap,
                      "kept_steps": kept, "af_per_world": af})  # fmt: skip
    best = min(curve, key=lambda row: abs(row["gap"]))
    result = {
        "search": search,
        "t_low": best["t_low"],
        "t_high": best["t_high"],
        "reference": list(ref),
        "reference_af": sum(ref_af) / len(ref_af),
        "reference_af_per_world": ref_af,
        "num_steps": base.num_steps,
        "shift": base.shift,
        "estimate": estimate,
        "seeds": seeds,
        "num_clips": num_clips,
        "seed": seed,
        "start": {"guide": guide} if guide else {"toy_seeds": [toy_seed, toy_seed + seeds - 1]},
        "curve": curve,
    }
    if output is not None:
        write_json_atomic(curve_path(output), result)
    return result


def curve_path(output: str) -> str:
    """Where the curve goes: `output` if it is a .json file; beside it as `<name>.trflow_calibration.json` otherwise
    (a generate config's `output: video.mp4` then names the calibration of that video's settings)."""
    path = Path(output)
    return str(path if path.suffix.lower() == ".json" else path.with_suffix(".trflow_calibration.json"))


def format_curve(result: dict) -> str:
    """The searched curve as a few readable lines (the JSON holds everything)."""
    lo, hi = result["reference"]
    name = result["search"]
    lines = [f"reference [{lo}, {hi}]: AF {result['reference_af']:.4f}", f"{name:7s}  kept  AF      gap"]
    for row in result["curve"]:
        mark = f"  <- {name}" if row[name] == result[name] else ""
        lines.append(f"{row[name]:.4f}  {row['kept_steps']:4d}  {row['af']:.4f}  {row['gap']:+.4f}{mark}")
    return "\n".join(lines)

"""k-step noise search on the toy default: cost per chunk, scorer quality, effect on drift, memory.

python benchmarks/search.py [--quick] [--out benchmarks/search_report.json]
(or through the harness, without the drift curves: python benchmarks/run.py --only search)

- cost: wall time of one chunk (s = 50, k = 8, m = 10) with the batched search, the sequential loop over candidates
  (max_batch = 1) and the prefix strategy, each over the naive chunk (m = 1); the paper's sequential cost model is
  (s + m k) / s = 2.6;
- scorer: Spearman rank correlation, over candidates, between a candidate's preview score and the ground-truth
  quality of its full run (sprite-colour mass kept in the chunk's last frame), averaged over held-out worlds;
- drift: naive vs k-step over 12 chunks on 16 held-out worlds (x `--noise_seeds` noise seeds), paired; per-chunk
  means of the sprite mass kept and the paired difference with its standard error;
- memory: peak RSS of a fresh process generating 5 vs 50 chunks with the search (flat: ratio <= 1.05).
Not a test: the numbers depend on the machine; the report names it.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import REPO, commit, machine  # noqa: E402

CHECKPOINT = str(REPO / "checkpoints" / "toy")


def toy_module(steps: int, search: dict | None, checkpoint: str = CHECKPOINT):
    """The toy chunk-wise module of configs/toy/generate_chunkwise_kstep.yaml (its method, guidance included), with
    `steps` sampling steps and the search `search` (None: naive)."""
    import yaml

    from lvg import LongVideoModule
    from lvg.backbones import Toy
    from lvg.methods import ChunkwiseI2V
    from lvg.sampling import SchedulerSampler
    from lvg.search import KStepSearch

    config = yaml.safe_load((REPO / "configs" / "toy" / "generate_chunkwise_kstep.yaml").read_text())
    method = ChunkwiseI2V(**config["model"]["init_args"]["method"]["init_args"])
    noise_init = KStepSearch(**search) if search else None
    return LongVideoModule(Toy(path=checkpoint), method, SchedulerSampler(steps), noise_init)


def first_chunk_context(module, world_seed: int):
    """The search context of a held-out world's first chunk, and its true clip."""
    from lvg.data.toy_world import toy_start
    from lvg.methods.base import GenerationRequest, clip_context

    bb, method = module.backbone, module.method
    start, prompts, clips = toy_start(world_seed, 1, module.frames_per_clip, 1, module.height)
    latents, mask = method.clip_condition(bb, start, bb.latent_frames(module.frames_per_clip))
    cond = bb.conditioning(prompts[:1], latents, mask)
    request = GenerationRequest(start, prompts[:1], module.frames_per_clip, seed=world_seed)
    ctx = clip_context(request, 0, bb, module.sampler, tuple(latents.shape), method.guided_denoiser(bb, cond), start,
                       method.clip_times(bb, module.sampler, latents.shape[2]))  # fmt: skip
    return ctx, clips[0]


@torch.no_grad()
def bench_cost(steps: int, k: int, m: int, repeats: int) -> list[dict]:
    """Seconds of one chunk (search + full run) per configuration, over the naive chunk."""
    from lvg.methods.base import sample_clip

    configs = {
        "naive": None,
        "restart_batched": {"candidates": m, "k": k},
        "restart_sequential": {"candidates": m, "k": k, "max_batch": 1},
        "prefix_batched": {"candidates": m, "k": k, "strategy": "prefix"},
    }
    runs = {}
    for name, search in configs.items():
        module = toy_module(steps, search)
        ctx, _ = first_chunk_context(module, 900_000)
        sample_clip(ctx, module.noise_init)  # warm-up
        runs[name] = (ctx, module.noise_init)
    seconds = dict.fromkeys(configs, 0.0)
    for _ in range(repeats):  # configurations interleaved: a machine whose speed drifts biases no ratio
        for name, (ctx, noise_init) in runs.items():
            tic = time.perf_counter()
            sample_clip(ctx, noise_init)
            seconds[name] += (time.perf_counter() - tic) / repeats
    naive = seconds["naive"]
    records = [record("search/naive_chunk_seconds", naive, "s", True, f"s={steps}, one chunk, toy checkpoint")]
    for name in ("restart_batched", "restart_sequential", "prefix_batched"):
        note = f"m={m}, k={k}, s={steps}; paper's sequential cost model (s + m k) / s = {(steps + m * k) / steps:.2f}"
        records.append(record(f"search/{name}_over_naive", seconds[name] / naive, "ratio", True, note))
    return records


def spearman(a: torch.Tensor, b: torch.Tensor) -> float:
    ra, rb = a.argsort().argsort().float(), b.argsort().argsort().float()
    ra, rb = ra - ra.mean(), rb - rb.mean()
    return float((ra * rb).sum() / (ra.norm() * rb.norm()).clamp(min=1e-12))


@torch.no_grad()
def bench_scorer(steps: int, k: int, m: int, worlds: int) -> list[dict]:
    """Per strategy, the rank correlation over m candidates between preview scores and the ground-truth sprite mass
    kept by the full runs (in the chunk's last frame, and in its worst frame as eq. 4 reduces), mean over worlds; and
    the mass kept in the last frame by the candidate the scorer picks, against candidate 0 (naive) and the best."""
    from lvg.metrics.toy_drift import sprite_mass_kept
    from lvg.search import KStepSearch
    from lvg.search.base import draw_noise

    module = toy_module(steps, None)  # one backbone; each strategy's previews run on the same chunk contexts
    searches = {s: KStepSearch(candidates=m, k=k, strategy=s) for s in ("restart", "prefix")}
    rhos = {(s, t): [] for s in searches for t in ("last", "worst")}
    picked, first, best = {s: [] for s in searches}, [], []
    for w in range(worlds):
        ctx, clip = first_chunk_context(module, 900_000 + w)
        drawn = [draw_noise(ctx, j) for j in range(m)]  # the full runs are the same for both strategies
        noise = torch.cat([n for n, _ in drawn])
        full = module.sampler.run(ctx.make_denoise(m), noise, ctx.backbone, [g for _, g in drawn]).x
        frames = (module.backbone.decode(full)[:, :, ctx.keep_from :] + 1) / 2  # [m, 3, F, H, W]
        kept = torch.stack([sprite_mass_kept(frames[j].transpose(0, 1), clip.frames[0]) for j in range(m)])
        truth = {"last": kept[:, -1], "worst": kept.min(1).values}
        first.append(truth["last"][0])
        best.append(truth["last"].max())
        for strategy, search in searches.items():
            scores = search.preview(ctx, list(range(m)))[0]
            picked[strategy].append(truth["last"][int(scores.argmax())])
            for t, values in truth.items():
                if values.std() > 0 and scores.std() > 0:
                    rhos[strategy, t].append(spearman(scores, values))
    setting = f"{worlds} worlds, m={m}, k={k} of s={steps}, colour-consistency scorer"
    records = []
    for (strategy, t), values in rhos.items():
        name = f"search/scorer_spearman_{strategy}" + ("_worst_frame" if t == "worst" else "")
        note = f"{len(values)} worlds with distinct scores, m={m}, k={k} of s={steps}; truth: mass kept, {t} frame"
        records.append(record(name, sum(values) / max(len(values), 1), "rho", False, note + "; aim >= 0.5"))
    mean = lambda xs: float(torch.stack(xs).mean())  # noqa: E731
    records.append(record("search/first_chunk_mass_candidate0", mean(first), "mass kept", False, setting))
    for strategy in searches:
        records.append(
            record(f"search/first_chunk_mass_picked_{strategy}", mean(picked[strategy]), "mass kept", False, setting)
        )
    records.append(record("search/first_chunk_mass_best_of_m", mean(best), "mass kept", False, setting))
    return records


@torch.no_grad()
def bench_drift(steps: int, k: int, m: int, seeds: int, clips: int, noise_seeds: int = 1) -> tuple[list[dict], dict]:
    """Naive vs k-step over `clips` chunks on `seeds` held-out worlds x `noise_seeds` noise seeds: per-chunk means and
    differences paired over (world, noise seed)."""
    from lvg.evaluation.toy_quality import evaluate_toy_drift

    def runs(search) -> dict:
        return evaluate_toy_drift(toy_module(steps, search), num_seeds=seeds, num_clips=clips, noise_seeds=noise_seeds)

    naive, kstep = runs(None), runs({"candidates": m, "k": k})
    a, b = torch.tensor(naive["per_seed"]["mass"]), torch.tensor(kstep["per_seed"]["mass"])  # rows: (world, seed)
    diff = b - a
    se = diff.std(0) / math.sqrt(len(diff))
    curves = {
        "naive_mass": a.mean(0).tolist(),
        "kstep_mass": b.mean(0).tolist(),
        "kstep_minus_naive": diff.mean(0).tolist(),
        "standard_error": se.tolist(),
        "true_mass": naive["curves"]["true_mass"],
    }
    note = f"{seeds} worlds x {noise_seeds} noise seeds, {clips} chunks, m={m}, k={k}, s={steps}; paired"
    records = [
        record("search/drift_mass_last_chunk_naive", a[:, -1].mean().item(), "mass kept", False, note),
        record("search/drift_mass_last_chunk_kstep", b[:, -1].mean().item(), "mass kept", False, note),
        record("search/drift_mass_mean_gain", diff.mean().item(), "mass kept", False, note + ", mean over chunks"),
    ]
    return records, curves


def peak_rss_of(num_clips: int, steps: int, k: int, m: int) -> float:
    code = (
        "import json, resource, sys, tempfile; sys.path.insert(0, 'benchmarks'); from search import toy_module; "
        "from lvg.generate import generate_video; "
        f"mod = toy_module({steps}, {{'candidates': {m}, 'k': {k}}}); d = tempfile.mkdtemp(); "
        f"generate_video(mod, d + '/v.mp4', num_clips={num_clips}, progress=False); "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def record(name: str, value: float, unit: str, lower_is_better: bool, notes: str) -> dict:
    print(f"{name:45s} {value:10.3f} {unit}", flush=True)  # as it is measured: a long run shows progress
    return {"name": name, "value": value, "unit": unit, "lower_is_better": lower_is_better, "notes": notes}


def measure(
    quick: bool,
    only: list[str],
    worlds: int = 16,
    seeds: int = 16,
    clips: int = 12,
    threads: int = 2,
    noise_seeds: int = 1,
) -> tuple[list, dict]:
    """The chosen parts' records, and the drift curves (when drift ran). Quick: s = 20, k = 4, m = 4, 3 worlds."""
    torch.set_num_threads(threads)
    s, k, m = (20, 4, 4) if quick else (50, 8, 10)
    records, extra = [], {}
    if "cost" in only:
        records += bench_cost(s, k, m, repeats=1 if quick else 3)
    if "scorer" in only:
        records += bench_scorer(s, k, 8, worlds=3 if quick else worlds)
    if "drift" in only:
        drift, extra["drift_curves"] = bench_drift(
            s, k, m, seeds=3 if quick else seeds, clips=3 if quick else clips, noise_seeds=noise_seeds
        )
        records += drift
    if "memory" in only:
        few, many = (2, 6) if quick else (5, 50)
        small, large = peak_rss_of(few, 20, 4, 4), peak_rss_of(many, 20, 4, 4)
        note = "fresh process, m=4, k=4, s=20; target <= 1.05"
        records += [
            record(f"search/peak_rss_{few}_chunks", small, "MB", True, note),
            record(f"search/peak_rss_{many}_chunks", large, "MB", True, note),
            record("search/peak_rss_ratio_many_over_few", large / small, "ratio", True, note),
        ]
    return records, extra


def records(quick: bool) -> list[dict]:
    """The harness entry (benchmarks/run.py): every part, full or quick (a few minutes on 2 cores)."""
    return measure(quick, PARTS)[0]


PARTS = ["cost", "scorer", "drift", "memory"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer worlds, chunks and steps (a few minutes)")
    p.add_argument("--only", nargs="*", default=PARTS)
    p.add_argument("--worlds", type=int, default=16, help="held-out worlds for the scorer's rank correlation")
    p.add_argument("--seeds", type=int, default=16, help="held-out worlds for the drift comparison")
    p.add_argument("--clips", type=int, default=12, help="chunks per world for the drift comparison")
    p.add_argument("--noise_seeds", type=int, default=1, help="noise seeds per world for the drift comparison")
    p.add_argument("--threads", type=int, default=2, help="torch threads (1 when two parts run side by side)")
    p.add_argument("--out", default=str(REPO / "benchmarks" / "search_report.json"))
    args = p.parse_args()
    records, extra = measure(
        args.quick, args.only, args.worlds, args.seeds, args.clips, args.threads, args.noise_seeds
    )
    where = {"machine": machine(), "commit": commit()}
    records = [{**r, **where} for r in records]
    Path(args.out).write_text(json.dumps({"records": records, **extra}, indent=1))
    if extra:
        print(json.dumps(extra, indent=None))


if __name__ == "__main__":
    main()

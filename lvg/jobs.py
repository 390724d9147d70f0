"""Many videos in parallel: `lvg generate --jobs jobs.jsonl` shards a manifest of generation jobs over processes.

The manifest is JSON lines, one job per line: `{"output": "grid/a.mp4", "prompt": "...", "guide": "g.png",
"seed": 3}` with any of JOB_KEYS (the `lvg generate` arguments of one video; missing ones take the command's
values). Process `rank` of `world` takes the jobs with index i % world == rank, so evaluation grids scale out over
torchrun / srun processes (ranks from Lightning's cluster environments) or over hand-started shells (`--shard 1/4`).
Each job writes its own mp4 and JSON sidecar; a job whose two files exist is skipped, and an interrupted one
continues from its resume log, so rerunning the same command finishes what is left.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

from lvg.errors import LvgError, require
from lvg.options import GenerationOptions
from lvg.output_check import check_output

JOB_KEYS = ("output", "prompt", "prompt_file", "guide", "num_clips", "seed", "toy_seed", "fps")  # GenerationOptions


def read_jobs(path: str) -> list[dict]:
    """The manifest's jobs in order (blank lines and `#` comments skipped), each checked for its keys."""
    p = Path(path)
    require(p.is_file(), f"jobs manifest {path!r} does not exist: give a JSON-lines file, one job per line")
    jobs: list[dict] = []
    for number, line in enumerate(p.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        where = f"{path}:{number}"
        try:
            job = json.loads(line)
        except json.JSONDecodeError as e:
            raise LvgError(f'{where} is not JSON ({e.msg}): write one object per line with an "output"') from e
        require(isinstance(job, dict), f"{where} is not a JSON object: write one object per line")
        unknown = sorted(set(job) - set(JOB_KEYS))
        require(not unknown, f"{where} has unknown keys {unknown}: use {', '.join(JOB_KEYS)}")
        require(isinstance(job.get("output"), str), f'{where} has no "output": give the mp4 path of each job')
        jobs.append(job)
    require(bool(jobs), f"jobs manifest {path!r} has no jobs: write one JSON object per line")
    outputs = [str(Path(j["output"]).resolve()) for j in jobs]
    duplicate = next((o for o in outputs if outputs.count(o) > 1), None)
    require(duplicate is None, f"two jobs of {path!r} write {duplicate}: give every job its own output")
    return jobs


def parse_shard(shard: str) -> tuple[int, int]:
    """`"rank/world"` (e.g. `"1/4"`) -> (1, 4)."""
    try:
        rank, world = (int(x) for x in shard.split("/"))
    except ValueError as e:
        raise LvgError(f"shard {shard!r} must be RANK/WORLD, e.g. 0/4") from e
    require(world >= 1 and 0 <= rank < world, f"shard {shard!r} needs 0 <= RANK < WORLD, e.g. 0/4")
    return rank, world


def process_rank() -> tuple[int, int]:
    """(rank, world size) of this process: torchrun's RANK / WORLD_SIZE, srun's SLURM_PROCID / SLURM_NTASKS (each
    launcher detected as Lightning detects it), or (0, 1) when it was started alone. Jobs are independent, so any
    task layout works (Lightning's SLURMEnvironment would insist on --ntasks-per-node for training)."""
    from lightning.fabric.plugins.environments import SLURMEnvironment, TorchElasticEnvironment

    if TorchElasticEnvironment.detect():
        return int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    if SLURMEnvironment.detect():
        return int(os.environ["SLURM_PROCID"]), int(os.environ["SLURM_NTASKS"])
    return 0, 1


def is_done(output: str) -> bool:
    """A job is done when its mp4 and sidecar both exist (both are written atomically, the sidecar last)."""
    out = Path(output)
    return out.is_file() and out.with_suffix(".json").is_file()


def run_jobs(
    module, manifest: str, shard: str | None, defaults: GenerationOptions, config: dict | None, progress: bool
) -> dict:
    """Generate this process's share of the manifest's jobs (each a `defaults` with the job's fields replaced);
    returns what was made and skipped."""
    from lvg.generate import write_long_video

    jobs = read_jobs(manifest)
    rank, world = parse_shard(shard) if shard else process_rank()
    mine = [(i, job) for i, job in enumerate(jobs) if i % world == rank]
    for i, job in mine:  # every output this process will write, checked before the first video is generated
        try:
            check_output(job["output"])
        except LvgError as e:
            raise LvgError(f"{manifest}: job {i}: {e}") from None
    made, skipped = [], []
    for i, job in mine:
        if is_done(job["output"]):
            skipped.append(job["output"])
            continue
        options = dataclasses.replace(defaults, **job)
        write_long_video(module, options, {**(config or {}), "job": {"index": i, **job}}, progress)
        made.append(job["output"])
    return {"rank": rank, "world_size": world, "jobs": len(jobs), "made": made, "skipped": skipped}

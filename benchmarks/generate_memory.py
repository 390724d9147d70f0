"""Peak memory of `lvg generate` for every toy generate config, short against long videos: flat in video length?

python benchmarks/generate_memory.py [--quick] [--only generate_causal_kv ...]

Each config in configs/toy/generate*.yaml runs as a user runs it, `lvg generate --config ...`, in a fresh process,
once for a short and once for a long video; the peak resident memory of that process (its own `wait4` rusage) is
recorded, and the ratio long / short (target <= 1.05: nothing that grows with the clip count stays in memory).
Sampling steps are cut to a few per clip (memory does not depend on them); configs whose backbone is a finetune
lvg would train first run on the committed toy checkpoint instead. Full: every config, 10 vs 100 clips; quick: the
default and the causal-KV config (whose cache is what could grow), 5 vs 20 clips.
Not a test: the numbers depend on the machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIGS = sorted((REPO / "configs" / "toy").glob("generate*.yaml"))
CHECKPOINT = "checkpoints/toy"
STEPS = "--model.init_args.sampler.init_args.num_steps"
FEW_STEPS = {  # per config: the overrides that keep each clip cheap and the config valid
    "generate_chunkwise_kstep": [STEPS, "4", "--model.init_args.noise_init.init_args.k", "2"],
    "generate_progressive": [STEPS, "3"],  # a multiple of the window's chunks
    "generate_replacement_clean": [STEPS, "3"],
    "generate_replacement_noise": [STEPS, "3"],
    "generate_trflow": [STEPS, "4"],  # the interval [0.3, 0.7] holds a step of 4
}
FINETUNED = ("generate_progressive", "generate_replacement_clean", "generate_replacement_noise")


def command(config: Path, clips: int, output: Path) -> list[str]:
    args = [sys.executable, "-m", "lvg.cli", "generate", "--config", str(config), "--num_clips", str(clips),
            "--output", str(output), *FEW_STEPS.get(config.stem, [STEPS, "2"])]  # fmt: skip
    if config.stem in FINETUNED:
        args += ["--model.init_args.backbone.init_args.path", CHECKPOINT]
    return args


def peak_rss_mb(config: Path, clips: int) -> float:
    """Peak RSS (MB) of one `lvg generate` process writing `clips` clips of `config`."""
    with tempfile.TemporaryDirectory(prefix="lvg-memory-") as tmp:
        proc = subprocess.Popen(command(config, clips, Path(tmp) / "v.mp4"), cwd=REPO, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, env={**os.environ, "OMP_NUM_THREADS": "1"})  # fmt: skip
        _, status, usage = os.wait4(proc.pid, 0)
        stderr = proc.stderr.read().decode(errors="replace").strip()
        proc.stderr.close()
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            raise RuntimeError(f"{config.name} --num_clips {clips} exited {code}: {stderr.splitlines()[-1:]}")
    return usage.ru_maxrss / 1024


def record(name, value, unit, notes) -> dict:
    return {"name": f"generate_memory/{name}", "value": value, "unit": unit, "lower_is_better": True, "notes": notes}


def measure(quick: bool, only: list[str] | None = None):
    short, long = (5, 20) if quick else (10, 100)
    only = only or (["generate", "generate_causal_kv"] if quick else None)
    for config in CONFIGS:
        if only and config.stem not in only:
            continue
        few, many = peak_rss_mb(config, short), peak_rss_mb(config, long)
        note = f"lvg generate --config configs/toy/{config.name}, fresh process, few steps per clip"
        yield record(f"{config.stem}/peak_rss_mb_{short}_clips", few, "MB", note)
        yield record(f"{config.stem}/peak_rss_mb_{long}_clips", many, "MB", note)
        yield record(f"{config.stem}/peak_rss_ratio_{long}_over_{short}", many / few, "ratio", "target <= 1.05")


def records(quick: bool) -> list[dict]:
    return list(measure(quick))


if __name__ == "__main__":
    only = sys.argv[sys.argv.index("--only") + 1 :] if "--only" in sys.argv else None
    for r in measure(quick="--quick" in sys.argv, only=only):
        print(json.dumps(r), flush=True)

"""The toy default: training steps/s, generated frames/s, peak memory at few vs many clips.

python benchmarks/toy.py [--quick]      (or through the harness: python benchmarks/run.py --only toy)

Each memory figure is the peak resident set size of a fresh process that loads the model and generates N clips,
so the many/few ratio says whether anything grows with the video (target: at most 1.05).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHECKPOINT = REPO / "checkpoints" / "toy"


def toy_module(checkpoint: str | None, steps: int):
    from lvg import LongVideoModule
    from lvg.backbones import Toy
    from lvg.methods import Extension
    from lvg.sampling import SchedulerSampler

    backbone = Toy(path=checkpoint) if checkpoint else Toy(width=192, layers=6, heads=6)
    return LongVideoModule(backbone, Extension(condition_frames=2), SchedulerSampler(steps))


def bench_training(n_steps: int) -> dict:
    """Optimizer steps per second of LongVideoModule's training step on toy batches (batch 8, 8x32x32)."""
    import torch

    from lvg.data import ToyWorldData

    module = toy_module(None, 20)
    batches = iter(ToyWorldData(max_sprites=3, samples_per_epoch=8 * (n_steps + 2)).train_dataloader())
    opt = torch.optim.AdamW(module.parameters(), lr=1e-4)
    for i in range(n_steps + 1):
        if i == 1:
            tic = time.perf_counter()  # the first step warms up
        loss = module.method.loss(module.backbone, next(batches), torch.Generator().manual_seed(i))["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    return {"name": "toy/train_steps_per_s", "value": n_steps / (time.perf_counter() - tic), "unit": "steps/s",
            "lower_is_better": False, "notes": "batch 8, 8 frames 32x32, width 192, 6 layers, AdamW"}  # fmt: skip


def generate_clips(checkpoint: str | None, num_clips: int, steps: int) -> dict:
    """Generate `num_clips` clips into a throwaway mp4; report frames/s and this process's peak RSS."""
    import tempfile

    from lvg.generate import generate_video

    module = toy_module(checkpoint, steps)
    with tempfile.TemporaryDirectory() as tmp:
        tic = time.perf_counter()
        side = generate_video(module, f"{tmp}/v.mp4", num_clips=num_clips, progress=False)
        seconds = time.perf_counter() - tic
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"frames": side["frames"], "seconds": seconds, "peak_mb": peak_mb}


def in_fresh_process(checkpoint: str | None, num_clips: int, steps: int) -> dict:
    code = (
        f"import json, sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); from toy import generate_clips; "
        f"print(json.dumps(generate_clips({checkpoint!r}, {num_clips}, {steps})))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def records(quick: bool) -> list[dict]:
    """Full: 20 training steps, 5 vs 50 clips of 20 sampling steps; quick: 5 steps, 3 vs 30 clips of 10 steps."""
    ckpt = str(CHECKPOINT) if (CHECKPOINT / "transformer").is_dir() else None
    steps = 10 if quick else 20
    few, many = (3, 30) if quick else (5, 50)
    out = [bench_training(5 if quick else 20)]
    small, large = in_fresh_process(ckpt, few, steps), in_fresh_process(ckpt, many, steps)
    out += [
        {"name": "toy/generate_frames_per_s", "value": large["frames"] / large["seconds"], "unit": "frames/s",
         "lower_is_better": False, "notes": f"{many} clips, {steps} steps per clip, incl. mp4 encoding"},
        {"name": f"toy/peak_rss_{few}_clips", "value": small["peak_mb"], "unit": "MB", "lower_is_better": True,
         "notes": "fresh process: load + generate"},
        {"name": f"toy/peak_rss_{many}_clips", "value": large["peak_mb"], "unit": "MB", "lower_is_better": True,
         "notes": "fresh process: load + generate"},
        {"name": "toy/peak_rss_ratio_many_over_few", "value": large["peak_mb"] / small["peak_mb"], "unit": "ratio",
         "lower_is_better": True, "notes": f"{many} vs {few} clips; target <= 1.05 (memory flat in video length)"},
    ]  # fmt: skip
    return out


if __name__ == "__main__":
    for r in records(quick="--quick" in sys.argv):
        print(json.dumps(r))

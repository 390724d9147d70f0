"""Progressive sampling (PA-VDM, Algorithm 1) against chunk-by-chunk extension on the toy model: speed and memory.

python benchmarks/progressive.py [--quick]

- speed: generated frames per second of `Progressive` (window: a clean front chunk + 3 chunks of 2 frames) and of
  `Extension` (8-frame clips continuing the last 2 frames, 6 new frames per clip) at equal denoising steps per frame:
  every new frame gets `steps` model evaluations in both (progressive: steps = 3 stages x steps/3 per stage). Both
  call the model on 8 frames, so the compute per frame is the same; the figures show the progressive loop's overhead.
  Timed on `module.generate` alone (no mp4 encoding), after a warm-up.
- memory: peak RSS of a fresh process that runs `lvg generate` with the progressive method for 10 and for 100 clips'
  worth of frames (a clip's worth is the extension baseline's 6 new frames, so 30 and 300 chunks); flat if the
  ratio is near 1.
The toy checkpoint is an extension model, untrained for progressive levels: these are speed and memory figures only.
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
NEW_FRAMES_PER_CLIP = 6  # the extension baseline: 8-frame clips, 2 carried
CHUNK = 2  # frames per progressive chunk (a clip of `lvg generate`)


def toy_module(method: str, steps: int):
    import torch

    from lvg import LongVideoModule
    from lvg.backbones import Toy
    from lvg.methods import Extension, Progressive
    from lvg.sampling import SchedulerSampler

    torch.set_num_threads(2)
    trained = (CHECKPOINT / "transformer").is_dir()
    backbone = Toy(path=str(CHECKPOINT)) if trained else Toy(width=192, layers=6, heads=6)
    chosen = Progressive(chunk_size=CHUNK) if method == "progressive" else Extension(condition_frames=2)
    return LongVideoModule(backbone, chosen, SchedulerSampler(steps), frames_per_clip=8, height=32, width=32)


def frames_per_second(module, frames: int) -> float:
    """New frames per second of `module.generate` for about `frames` new frames of one prompt."""
    from lvg.data.toy_world import toy_start
    from lvg.methods import GenerationRequest

    per_clip = CHUNK if type(module.method).__name__ == "Progressive" else NEW_FRAMES_PER_CLIP
    start, prompts, _ = toy_start(0, 1, 8, 2, 32)
    request = GenerationRequest(start, prompts * max(1, frames // per_clip), 8, seed=1)
    tic = time.perf_counter()
    new = sum(p.frames.shape[1] for p in module.generate(request) if p.index >= 0)
    return new / (time.perf_counter() - tic)


def generate_chunks(num_chunks: int, steps: int) -> dict:
    """`lvg generate` of `num_chunks` progressive chunks from a guide image and one prompt into a throwaway mp4 (no toy
    world is rendered, so only the sampler's memory can grow); this process's peak RSS."""
    import tempfile

    from PIL import Image

    from lvg.data.toy_world import toy_start
    from lvg.generate import generate_video
    from lvg.video import to_uint8

    module = toy_module("progressive", steps)
    start, prompts, _ = toy_start(0, 1, 8, 2, 32)
    with tempfile.TemporaryDirectory() as tmp:
        Image.fromarray(to_uint8(start[0])[-1]).save(f"{tmp}/guide.png")
        side = generate_video(
            module, f"{tmp}/v.mp4", num_clips=num_chunks, prompt=prompts[0], guide=f"{tmp}/guide.png", progress=False
        )
    return {"frames": side["frames"], "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def in_fresh_process(num_chunks: int, steps: int) -> dict:
    code = (
        "import json, sys; sys.path.insert(0, 'benchmarks'); from progressive import generate_chunks; "
        f"print(json.dumps(generate_chunks({num_chunks}, {steps})))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def records(quick: bool) -> list[dict]:
    steps = 6 if quick else 18  # steps per frame: a multiple of the 3 stages
    frames, repeats = (60, 2) if quick else (120, 3)
    modules = {name: toy_module(name, steps) for name in ("progressive", "extension")}
    best = {name: 0.0 for name in modules}
    for module in modules.values():
        frames_per_second(module, CHUNK)  # warm-up
    for _ in range(repeats):  # alternate, so a change in machine load hits both
        for name, module in modules.items():
            best[name] = max(best[name], frames_per_second(module, frames))
    prog, ext = best["progressive"], best["extension"]
    speed_notes = (
        f"toy 32x32, {steps} denoising steps per frame, {frames} new frames of one prompt, module.generate only, "
        f"best of {repeats}"
    )
    few, many = (10 * NEW_FRAMES_PER_CLIP // CHUNK, 100 * NEW_FRAMES_PER_CLIP // CHUNK)
    small, large = in_fresh_process(few, steps), in_fresh_process(many, steps)
    mem_notes = f"fresh process, lvg generate with the progressive method, {steps} steps per frame"
    return [
        {"name": "progressive/progressive_frames_per_s", "value": prog, "unit": "frames/s", "lower_is_better": False,
         "notes": speed_notes},
        {"name": "progressive/extension_frames_per_s", "value": ext, "unit": "frames/s", "lower_is_better": False,
         "notes": speed_notes + "; 8-frame clips, 6 new frames each"},
        {"name": "progressive/progressive_over_extension", "value": prog / ext, "unit": "ratio",
         "lower_is_better": False, "notes": "same model evaluations per frame on 8-frame inputs: ~1 expected"},
        {"name": "progressive/peak_rss_10_clips", "value": small["peak_mb"], "unit": "MB", "lower_is_better": True,
         "notes": f"{mem_notes}; {few} chunks, {small['frames']} frames"},
        {"name": "progressive/peak_rss_100_clips", "value": large["peak_mb"], "unit": "MB", "lower_is_better": True,
         "notes": f"{mem_notes}; {many} chunks, {large['frames']} frames"},
        {"name": "progressive/peak_rss_ratio_100_over_10", "value": large["peak_mb"] / small["peak_mb"],
         "unit": "ratio", "lower_is_better": True, "notes": "target <= 1.05 (memory flat in video length)"},
    ]  # fmt: skip


if __name__ == "__main__":
    for record in records(quick="--quick" in sys.argv[1:]):
        print(json.dumps(record))

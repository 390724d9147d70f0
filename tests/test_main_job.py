"""The README's main job (the set-up command's `lvg generate`), run as written in a fresh process on the committed
checkpoint: the 12-clip video and sidecar it promises (on the first held-out world), and the README's frame strip made
from that video."""

import json
import shlex

import numpy as np
from helpers.fresh import lvg_process
from helpers.scripts import load_infer_script
from PIL import Image
from tests_paths import REPO

from lvg.data.toy_world import HELD_OUT_SEEDS
from lvg.video import read_video

README = (REPO / "README.md").read_text()
frame_strip = load_infer_script("frame_strip")


def main_job_args() -> list[str]:
    """The set-up command's last part, `lvg generate --config configs/toy/generate.yaml`, as arguments."""
    setup = next(x for x in README.splitlines() if x.startswith("python3 -m venv .venv"))
    job = setup.split("&&")[-1].strip()
    assert job.startswith("lvg generate "), setup
    return shlex.split(job)[1:]


def test_the_main_job_writes_twelve_clips_and_the_committed_strip_shows_them(tmp_path):
    """Run where a fresh clone's root would be (its configs and checkpoint linked in). The strip in the README
    (`checkpoints/toy/strip.png`) must be the one `infer/frame_strip.py` makes from this video: a retrained checkpoint
    with a stale strip fails here. Pixels, not PNG bytes, are compared; a sampling difference of a few low bits
    between CPUs would change a handful of pixels by a level or two, a stale strip changes the sprites."""
    for name in ("configs", "checkpoints"):
        (tmp_path / name).symlink_to(REPO / name)
    done = lvg_process(tmp_path, main_job_args())
    assert done.returncode == 0, done.stderr[-2000:]
    video = tmp_path / "outputs" / "toy_long_video.mp4"
    sidecar = json.loads(video.with_suffix(".json").read_text())
    assert len(sidecar["clips"]) == 12 and len({c["prompt"] for c in sidecar["clips"]}) > 1  # the prompts change
    assert sidecar["start"] == {"toy_seed": HELD_OUT_SEEDS[0]}  # the README: a world the checkpoint never trained on
    assert len(read_video(video)) == sidecar["clips"][-1]["frames"][1]
    made = np.asarray(frame_strip.strip(video), dtype=np.int16)
    committed = np.asarray(Image.open(REPO / "checkpoints" / "toy" / "strip.png").convert("RGB"), dtype=np.int16)
    assert made.shape == committed.shape
    differ = np.abs(made - committed).max(axis=-1) > 8
    assert differ.mean() < 0.01, f"{differ.mean():.3f} of the strip differs: regenerate checkpoints/toy/strip.png"

"""A frame strip of a toy video `lvg generate` wrote: the last frame of every clip, generated above the toy world's
true continuation below (PNG), so a reader sees at a glance whether the sprites move and keep shape and colour.

python infer/frame_strip.py outputs/toy_long_video.mp4 --out docs/toy_strip.png [--scale 3]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image

from lvg.metrics.per_clip import given_frames
from lvg.metrics.toy_ground_truth import toy_truth
from lvg.video import read_video


def strip(video: Path, scale: int = 3, gap: int = 2) -> Image.Image:
    """[2 rows x clips] of last frames: generated (top), true (bottom); the given start frame first."""
    sidecar = json.loads(video.with_suffix(".json").read_text())
    frames = read_video(video)
    c, clips = given_frames(sidecar), len(sidecar["clips"])
    start = sidecar["start"]
    truth = toy_truth(int(start["toy_seed"]), clips, int(sidecar["frames_per_clip"]), c, int(sidecar["height"]))
    true = (truth.frames.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)
    ends = [c - 1] + [int(clip["frames"][1]) - 1 for clip in sidecar["clips"]]  # each clip's last frame
    h, w = frames.shape[1:3]
    canvas = np.full((2 * h + gap, len(ends) * (w + gap) - gap, 3), 255, np.uint8)
    for i, end in enumerate(ends):
        x = i * (w + gap)
        canvas[:h, x : x + w] = frames[end]
        canvas[h + gap :, x : x + w] = true[min(end, len(true) - 1)]
    image = Image.fromarray(canvas)
    return image.resize((image.width * scale, image.height * scale), Image.NEAREST)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("video", type=Path, help="an mp4 from lvg generate on the toy world, with its .json sidecar")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--scale", type=int, default=3)
    args = p.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    strip(args.video, args.scale).save(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

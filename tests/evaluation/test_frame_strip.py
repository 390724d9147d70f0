"""infer/frame_strip.py: the README's frame strip, from a video `lvg generate` wrote on the toy world."""

import json

import numpy as np
from helpers.scripts import load_infer_script
from PIL import Image

from lvg.video import read_video

frame_strip = load_infer_script("frame_strip")


def test_the_strip_shows_each_clips_last_frame_above_the_true_one(videos, tmp_path):
    video = videos / "extension_s1.mp4"
    clips = len(json.loads(video.with_suffix(".json").read_text())["clips"])
    image = np.asarray(frame_strip.strip(video, scale=1, gap=2))
    frames = read_video(video)
    h, w = frames.shape[1:3]
    assert image.shape == (2 * h + 2, (clips + 1) * (w + 2) - 2, 3)  # the start frame and one frame per clip
    assert np.array_equal(image[:h, -w:], frames[-1])  # top right: the video's last frame
    assert not np.array_equal(image[h + 2 :, -w:], image[:h, -w:])  # below it: the truth, not a copy
    out = tmp_path / "strip.png"
    frame_strip.strip(video, scale=2).save(out)
    assert Image.open(out).size == (2 * image.shape[1], 2 * image.shape[0])

"""VP9 WebM encoding for the HTML report, run in a fresh process (`python lvg/evaluation/webm.py JOBS.json`; run as
a script, it imports only numpy and PyAV, not the lvg package).

Why a process of its own: once decord is loaded, PyAV can no longer open the libvpx-vp9 encoder in that process
(decord's bundled FFmpeg libraries shadow PyAV's; measured with decord 0.6 and av 18). The job file lists
{"frames": <.npy of uint8 [F, H, W, 3]>, "output": <.webm>, "fps": <float>, "scale": <int>} entries.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np


def encode_webm_file(frames: np.ndarray, output: str | Path, fps: float, scale: int = 1) -> None:
    """Write uint8 frames [F, H, W, 3] as VP9 WebM (sizes padded to even, optionally upscaled by pixel repetition)."""
    import av

    if scale > 1:
        frames = frames.repeat(scale, axis=1).repeat(scale, axis=2)
    h, w = frames.shape[1:3]
    frames = np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    with av.open(str(output), mode="w", format="webm") as container:
        stream = container.add_stream("libvpx-vp9", rate=int(round(fps)))
        stream.width, stream.height, stream.pix_fmt = int(frames.shape[2]), int(frames.shape[1]), "yuv420p"
        stream.options = {"crf": "20", "b": "0", "deadline": "realtime", "cpu-used": "8"}  # constant quality
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")))
        container.mux(stream.encode())


def encode_many(videos: list[tuple[np.ndarray, float, int]]) -> list[bytes]:
    """WebM bytes of each (frames, fps, scale), encoded in one fresh process."""
    with tempfile.TemporaryDirectory() as tmp:
        jobs = []
        for i, (frames, fps, scale) in enumerate(videos):
            np.save(Path(tmp) / f"{i}.npy", frames)
            jobs.append({"frames": f"{tmp}/{i}.npy", "output": f"{tmp}/{i}.webm", "fps": fps, "scale": scale})
        (Path(tmp) / "jobs.json").write_text(json.dumps(jobs))
        done = subprocess.run([sys.executable, __file__, f"{tmp}/jobs.json"], capture_output=True, text=True)
        if done.returncode:
            from lvg.errors import LvgError

            tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise LvgError(f"could not encode the report's WebM videos (PyAV with libvpx-vp9): {tail}")
        return [Path(job["output"]).read_bytes() for job in jobs]


if __name__ == "__main__":
    for job in json.loads(Path(sys.argv[1]).read_text()):
        encode_webm_file(np.load(job["frames"]), job["output"], job["fps"], job["scale"])

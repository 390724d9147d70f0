"""`python -m lvg.encode_worker OUT FPS CRF WIDTH HEIGHT`: encode raw RGB frames from stdin into an H.264 mp4.

lvg encodes in this separate, fresh process because x264's output depends on the floating-point state of the thread
that drives it (denormal flushing that torch's matrix kernels leave set): encoded in the process that generated the
frames, the same frames gave different bytes from run to run. Here nothing else runs, so the same frames give the same
file. Frames arrive as WIDTH x HEIGHT x 3 uint8 (already padded to even sizes) until stdin closes.
"""

from __future__ import annotations

import sys


def encode(out: str, fps: int, crf: int, width: int, height: int, source) -> int:
    """Encode frames read from the binary stream `source` into `out`; returns the number of frames."""
    import av
    import numpy as np

    av.logging.set_level(av.logging.PANIC)
    size = width * height * 3
    count = 0
    with av.open(out, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": str(crf)}
        while chunk := source.read(size):
            if len(chunk) != size:
                raise ValueError(f"a frame of {len(chunk)} bytes, expected {size}")
            frame = np.frombuffer(chunk, np.uint8).reshape(height, width, 3)
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
            count += 1
        for packet in stream.encode():
            container.mux(packet)
    return count


def main() -> None:
    out, fps, crf, width, height = sys.argv[1], *map(int, sys.argv[2:6])
    try:
        encode(out, fps, crf, width, height, sys.stdin.buffer)
    except Exception as e:  # noqa: BLE001 - the parent reports it as one line
        print(f"{type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()

import numpy as np
import pytest

from lvg.errors import LvgError
from lvg.video import VideoSink, read_video, write_json_atomic


def frames(n, seed=0, size=32):
    return np.random.default_rng(seed).integers(0, 255, (n, size, size, 3), dtype=np.uint8)


def test_streamed_mp4_reads_back_with_decord(tmp_path):
    out = tmp_path / "v.mp4"
    with VideoSink(out, fps=8) as sink:
        for i in range(3):
            sink.write(frames(4, i))
    video = read_video(out)
    assert video.shape == (12, 32, 32, 3)
    assert sink.frames_written == 12


def test_nothing_appears_under_the_name_until_complete(tmp_path):
    out = tmp_path / "v.mp4"
    with VideoSink(out) as sink:
        sink.write(frames(2))
        assert not out.exists()
    assert out.exists()
    assert out.stat().st_mode & 0o044  # readable by others, like a normally created file (not mkstemp's 0600)


def test_an_error_midway_leaves_no_file_and_keeps_an_older_one(tmp_path):
    out = tmp_path / "v.mp4"
    with VideoSink(out) as sink:
        sink.write(frames(2))
    old = out.read_bytes()
    with pytest.raises(RuntimeError), VideoSink(out) as sink:
        sink.write(frames(3, seed=1))
        raise RuntimeError("crash")
    assert out.read_bytes() == old
    assert [p.name for p in tmp_path.iterdir()] == ["v.mp4"]


def test_odd_sizes_are_padded_and_bad_names_rejected(tmp_path):
    with VideoSink(tmp_path / "odd.mp4") as sink:
        sink.write(frames(2, size=33))
    assert read_video(tmp_path / "odd.mp4").shape[1:3] == (34, 34)
    with pytest.raises(LvgError, match=".mp4"):
        VideoSink(tmp_path / "v.avi")
    with pytest.raises(LvgError, match="cannot read video"):
        (tmp_path / "junk.mp4").write_bytes(b"junk")
        read_video(tmp_path / "junk.mp4")


def test_json_written_atomically(tmp_path):
    write_json_atomic(tmp_path / "a" / "s.json", {"x": 1})
    assert (tmp_path / "a" / "s.json").read_text().strip().startswith("{")
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["s.json"]

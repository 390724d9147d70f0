"""VideoFolderData: real (synthetic) mp4 files, CSV/JSONL indexes, resampling, resizing, bad files, long videos."""

import json
import os
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from helpers.videos import frame_indices, green_fraction, write_video

from lvg.data import VideoFolderData
from lvg.errors import LvgError

SEGMENTS = [{"start": 0, "end": 0.3, "prompt": "first"}, {"start": 0.3, "end": 0.6, "prompt": "second"}]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Four 1-second 24 fps videos (24 frames, 40x56), a 3-frame one, a corrupt one; no index."""
    root = tmp_path_factory.mktemp("videos")
    for name in "abcd":
        write_video(root / f"{name}.mp4")
    write_video(root / "short.mp4", num_frames=3)
    (root / "corrupt.mp4").write_bytes(os.urandom(4096))
    return root


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def data(folder, tmp_path, rows, **kwargs):
    kwargs = {"frames_per_clip": 4, "fps": 8, "batch_size": 2, "val_fraction": 0.25, **kwargs}
    return VideoFolderData(str(folder), index=write_jsonl(tmp_path / "index.jsonl", rows), **kwargs)


def rows(names="abcd"):
    return [{"path": f"{n}.mp4", "caption": f"video {n}"} for n in names]


def test_csv_index_and_batch_shapes(folder, tmp_path):
    index = tmp_path / "captions.csv"  # the segments column holds JSON text, CSV-quoted as the docstring shows
    seg = '"[{""start"": 0, ""end"": 0.3, ""prompt"": ""a dog runs""}]"'
    index.write_text(f'path,caption,segments\na.mp4,video a,{seg}\nb.mp4,"video b, again",\n{folder}/c.mp4,c,\n')
    dm = VideoFolderData(str(folder), index=str(index), frames_per_clip=4, fps=8, batch_size=2, val_fraction=0.3)
    dm.setup("fit")
    assert (len(dm.train_dataset), len(dm.val_dataset)) == (4, 2)  # 2 videos x 2 clips; 1 video x 2 clips
    batch = next(iter(dm.train_dataloader()))
    assert batch["video"].shape == (2, 3, 4, 32, 32) and batch["video"].dtype == torch.float32
    assert batch["video"].min() >= -1 and batch["video"].max() <= 1 and batch["video"].std() > 0.1
    assert len(batch["prompt"]) == 2 and all(isinstance(p, str) for p in batch["prompt"])
    prompts = {(item["path"].split("/")[-1], item["prompt"]) for item in [*dm.train_dataset, *dm.val_dataset]}
    assert prompts == {("a.mp4", "a dog runs"), ("a.mp4", "video a"), ("b.mp4", "video b, again"), ("c.mp4", "c")}


def test_jsonl_index_found_in_root(folder, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    write_video(root / "x.mp4")
    write_jsonl(root / "captions.jsonl", [{"path": "x.mp4", "caption": "a cat", "segments": SEGMENTS}])
    dm = VideoFolderData(str(root), frames_per_clip=4, fps=8, val_fraction=0.5)
    dm.setup()
    assert len(dm.val_dataset) == 0 and [it["prompt"] for it in dm.train_dataset] == ["first", "a cat"]
    assert dm.train_dataset[0]["path"] == str(root / "x.mp4")


def test_fps_resampling_picks_frames_by_time(folder, tmp_path):
    indices = {}
    for fps in (8, 12, None):
        dm = data(folder, tmp_path, rows("a"), fps=fps, val_fraction=0)
        dm.setup()
        indices[fps] = [frame_indices(item["video"]) for item in dm.train_dataset]
    assert indices[8] == [[0, 3, 6, 9], [12, 15, 18, 21]]  # 24 fps source at 8 fps: every third frame
    assert indices[12] == [[0, 2, 4, 6], [8, 10, 12, 14], [16, 18, 20, 22]]
    assert indices[None] == [[4 * c + k for k in range(4)] for c in range(6)]  # native rate: consecutive frames


def test_resize_crop_keeps_aspect_stretch_does_not(folder, tmp_path):
    # 40x56 source, green bands over 20/56 of the width; crop scales to 32x45 and drops ~6.5 columns a side
    crop, stretch = (data(folder, tmp_path, rows("a"), resize=mode, val_fraction=0) for mode in ("crop", "stretch"))
    for dm in (crop, stretch):
        dm.setup()
    crop_clip, stretch_clip = crop.train_dataset[0]["video"], stretch.train_dataset[0]["video"]
    assert crop_clip.shape == stretch_clip.shape == (3, 4, 32, 32)
    assert green_fraction(stretch_clip) == pytest.approx(20 / 56, abs=0.03)
    assert green_fraction(crop_clip) == pytest.approx(3 / 32, abs=0.03)
    assert frame_indices(crop_clip) == frame_indices(stretch_clip) == [0, 3, 6, 9]


def test_bad_files_are_skipped_with_one_warning_each(folder, tmp_path, capsys):
    listed = rows("ab") + rows(["corrupt", "missing", "short"])
    dm = data(folder, tmp_path, listed, val_fraction=0)
    dm.setup()
    messages = capsys.readouterr().err.strip().splitlines()  # one `lvg: warning:` line each, nothing else
    assert len(messages) == 3 and all(m.startswith("lvg: warning: skipping video") for m in messages)
    assert any("not found" in m for m in messages) and any("shorter than one clip" in m for m in messages)
    assert sorted(p.split("/")[-1] for p in dm.skipped) == ["corrupt.mp4", "missing.mp4", "short.mp4"]
    assert sorted({it["path"].split("/")[-1] for it in dm.train_dataset}) == ["a.mp4", "b.mp4"]


def test_all_bad_files_raise_a_helpful_error(folder, tmp_path):
    dm = data(folder, tmp_path, rows(["corrupt", "missing"]))
    with warnings.catch_warnings(), pytest.raises(LvgError, match="none of the 2 videos .* can be used") as err:
        warnings.simplefilter("ignore")
        dm.setup()
    assert "\n" not in str(err.value) and "fix the paths" in str(err.value)


@pytest.mark.parametrize(
    "problem, match",
    [
        ("no root", "does not exist"),
        ("no index", "no captions.csv or captions.jsonl"),
        ("empty index", "lists no videos"),
        ("bad json", r"index.jsonl:2: not valid JSON"),
        ("no caption", r"index.jsonl:1: missing 'caption'"),
        ("bad segments", r"'segments' must be a list"),
    ],
)
def test_bad_root_or_index_raise(folder, tmp_path, problem, match):
    index = tmp_path / "index.jsonl"
    text = {"empty index": "", "bad json": '{"path": "a.mp4", "caption": "x"}\n{oops\n', "no caption": '{"path": "a"}'}
    index.write_text(text.get(problem, json.dumps({"path": "a.mp4", "caption": "x", "segments": [{"start": 1}]})))
    root = tmp_path / "nowhere" if problem == "no root" else (tmp_path if problem == "no index" else folder)
    dm = VideoFolderData(str(root), index=None if problem == "no index" else str(index))
    with pytest.raises(LvgError, match=match):
        dm.setup()


def test_long_video_mode_gives_overlapping_clips_with_segment_prompts(folder, tmp_path):
    listed = [{"path": "a.mp4", "caption": "a cat", "segments": SEGMENTS}, *rows("b")]
    dm = data(folder, tmp_path, listed, long_video=True, num_clips=3, overlap=2, val_fraction=0)
    dm.setup()
    item = next(it for it in dm.train_dataset if it["path"].endswith("a.mp4"))
    assert item["clips"].shape == (3, 3, 4, 32, 32)
    assert [frame_indices(c) for c in item["clips"]] == [[0, 3, 6, 9], [6, 9, 12, 15], [12, 15, 18, 21]]
    assert torch.equal(item["clips"][0][:, 2:], item["clips"][1][:, :2])
    assert item["prompts"] == ["first", "second", "a cat"]  # clip middles at 0.19 s, 0.44 s, 0.69 s
    batch = next(iter(dm.train_dataloader()))
    assert batch["clips"].shape == (2, 3, 3, 4, 32, 32) and len(batch["prompts"]) == 2
    assert sorted(len(p) for p in batch["prompts"]) == [3, 3]


def test_two_setups_give_identical_data(folder, tmp_path):
    first, second = (data(folder, tmp_path, rows(), seed=3) for _ in range(2))
    batches = []
    for dm in (first, second):
        dm.setup()
        batches.append((next(iter(dm.train_dataloader())), next(iter(dm.val_dataloader()))))
    assert [v.path for v, _ in first.val_dataset.items] == [v.path for v, _ in second.val_dataset.items]
    for a, b in zip(*batches):
        assert torch.equal(a["video"], b["video"]) and a["path"] == b["path"] and a["prompt"] == b["prompt"]


def test_a_file_decord_mis_sizes_is_read_with_pyav(tmp_path):
    """decord fails on valid 48x32 H.264 ("from_size == to_size"): the module falls back to PyAV, same frames."""
    import decord

    from lvg.data.frames import read_frames

    path = write_video(tmp_path / "odd.mp4", num_frames=12, height=32, width=48)
    with pytest.raises(Exception, match="from_size"):
        decord.VideoReader(str(path), num_threads=1).get_batch([0])  # the decord bug this fallback is for
    frames = read_frames(str(path), [5, 0, 5, 11])
    assert frames.shape == (4, 32, 48, 3) and torch.equal(frames[0], frames[2])
    clip = frames.permute(3, 0, 1, 2).float() / 127.5 - 1
    assert frame_indices(clip) == [5, 0, 5, 11]

    dm = VideoFolderData(str(tmp_path), index=write_jsonl(tmp_path / "i.jsonl", [{"path": "odd.mp4", "caption": "x"}]),
                         frames_per_clip=4, fps=None, batch_size=1, val_fraction=0.0)  # fmt: skip
    dm.setup("fit")
    assert dm.skipped == []
    windows = sorted(frame_indices(b["video"][0]) for b in dm.train_dataloader())
    assert windows == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]


def test_a_video_whose_body_is_corrupt_is_replaced_at_read_time_counted_and_reported(folder, tmp_path, capsys):
    """An intact header over a corrupt body passes the probe; reading it gives another sample, and each epoch's end
    reports how many were replaced (the run goes on)."""
    from lvg.callbacks.data_report import UnreadableVideoReport

    corrupt_body(write_noise_video(folder / "broken.mp4", frames=48))
    dm = data(folder, tmp_path, rows("ab") + rows(["broken"]), val_fraction=0, batch_size=1)
    dm.setup()
    assert "broken.mp4" in {Path(v.path).name for v, _ in dm.train_dataset.items}  # the probe let it through
    samples = [dm.train_dataset[i] for i in range(len(dm.train_dataset))]
    replaced = [s for s in samples if s["unreadable"]]
    assert replaced and all(Path(s["path"]).name != "broken.mp4" for s in replaced)  # its readable windows stay
    report = UnreadableVideoReport()
    trainer = SimpleNamespace(current_epoch=0, is_global_zero=True)
    report.on_train_epoch_start(trainer, None)
    for i, sample in enumerate(samples):
        report.on_train_batch_end(trainer, None, None, {"unreadable": [sample["unreadable"]]}, i)
    report.on_train_epoch_end(trainer, None)
    (line,) = capsys.readouterr().err.strip().splitlines()
    failed = sum(len(s["unreadable"]) for s in samples)
    assert line.startswith(f"lvg: warning: epoch 0: {failed} windows of 1 videos could not be decoded and were")


def corrupt_body(video):
    """The same file with the last ~30% of its frame data garbage; the header and first frames intact."""
    data_bytes = bytearray(video.read_bytes())
    start, end = data_bytes.find(b"mdat"), data_bytes.find(b"moov")  # the frames, then the index (header) after
    a, b = start + int((end - start) * 0.7), start + int((end - start) * 0.97)
    data_bytes[a:b] = np.random.default_rng(0).integers(0, 256, b - a, dtype=np.uint8).tobytes()
    video.write_bytes(bytes(data_bytes))
    return video


def test_a_corrupt_body_passes_pyav_probe_when_decord_probe_fails(tmp_path, monkeypatch):
    """decord's threaded decoder can meet a corrupt body before it returns frame 0 (seen under load); PyAV's probe
    then reads the header and first frame only, so the file's verdict does not depend on thread timing."""
    import lvg.data.frames as frames

    video = corrupt_body(write_noise_video(tmp_path / "broken.mp4", frames=48))
    monkeypatch.setattr(frames, "_decord_probe", lambda path: (_ for _ in ()).throw(RuntimeError("threaded decoder")))
    assert frames.probe(str(video))[0] == 48


def write_noise_video(path, frames: int, height: int = 40, width: int = 56):
    """An H.264 mp4 of random frames (every frame its own large packet, so a corrupt byte range hits a few)."""
    import av

    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        rng = np.random.default_rng(0)
        for _ in range(frames):
            frame = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return path


def test_every_video_unreadable_at_read_time_is_one_clear_error(folder, tmp_path):
    dm = data(folder, tmp_path, rows("ab"), val_fraction=0)
    dm.setup()
    for name in ("a.mp4", "b.mp4"):
        (folder / name).write_bytes(b"\x00" * 4096)
    with pytest.raises(LvgError, match="none of the 2 videos can be decoded"):
        dm.train_dataset[0]

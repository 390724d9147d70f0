"""`lvg evaluate --protocol vbench-long` (fixed-length clips, the long-range consistency branch fused with
VBench-Long's weights) and `--video_drift_error` (LV-Bench's VDE of every metric), as a user runs them."""

import csv
import json

import numpy as np
import pytest
from helpers.cli import run_lvg

from lvg.evaluation.protocols import clip_frames, first_frames, fixed_length_ranges, fuse
from lvg.metrics.drift import VideoDriftError, chunk_ranges, video_drift_error
from lvg.metrics.subject_consistency import SubjectConsistency
from lvg.metrics.temporal_flickering import TemporalFlickering
from lvg.video import read_video

METRICS = "[subject_consistency,temporal_flickering,toy_mass_kept]"


def test_fixed_length_clips_keep_a_short_last_clip_from_two_frames():
    assert fixed_length_ranges(1, 11, 4) == [(1, 5), (5, 9), (9, 11)]
    assert fixed_length_ranges(1, 10, 4) == [(1, 5), (5, 9)]  # a one-frame remainder is not a clip
    assert clip_frames(16, 2.0) == 32 and clip_frames(8, 0.1) == 2
    assert fuse("subject_consistency", 0.9, 0.5) == pytest.approx(0.7 * 0.9 + 0.3 * 0.5)
    assert fuse("background_consistency", 0.9, 0.5) == pytest.approx(0.8 * 0.9 + 0.2 * 0.5)
    assert fuse("temporal_flickering", 0.9, 0.5) == 0.9  # no long-range branch in VBench-Long


def test_vbench_long_protocol_scores_fixed_clips_and_fuses_the_long_range_branch(videos, tmp_path, capsys):
    out = tmp_path / "eval"
    code, _, err = run_lvg([
        "evaluate", videos / "extension_s1.mp4", "--output", out, "--html", "false", "--progress", "false",
        "--metrics", METRICS, "--protocol", "vbench-long", "--clip_seconds", "0.25",
    ], capsys)  # fmt: skip
    assert code == 0, err
    report = json.loads((out / "report.json").read_text())
    assert report["protocol"]["name"] == "vbench-long" and report["protocol"]["clip_seconds"] == 0.25
    (row,) = report["videos"]
    frames = read_video(videos / "extension_s1.mp4")
    clips = fixed_length_ranges(row["scored_from"], len(frames), 2)  # 8 fps x 0.25 s
    assert len(clips) >= 3 and len(row["clips"]["temporal_flickering"]) == len(clips)
    flicker = [TemporalFlickering().compute([frames[s:e]])[0] for s, e in clips]
    assert row["clips"]["temporal_flickering"] == pytest.approx(flicker)
    assert row["whole"]["temporal_flickering"] == pytest.approx(np.mean(flicker))  # the clips' average
    subject = [SubjectConsistency().compute([frames[s:e]])[0] for s, e in clips]
    long_range = SubjectConsistency().compute([first_frames(frames, clips)])[0]
    branches = row["long_range"]["subject_consistency"]
    assert branches["clip_average"] == pytest.approx(np.mean(subject))
    assert branches["long_range"] == pytest.approx(long_range)
    assert row["whole"]["subject_consistency"] == pytest.approx(0.7 * np.mean(subject) + 0.3 * long_range)


def test_bad_protocol_is_one_line_and_writes_nothing(videos, tmp_path, capsys):
    out = tmp_path / "eval"
    code, _, err = run_lvg(["evaluate", videos, "--output", out, "--protocol", "vbench"], capsys)
    assert code == 2 and err.strip().startswith("lvg: error:") and "vbench-long" in err
    assert not out.exists()


def test_video_drift_error_is_reported_beside_every_metric(videos, tmp_path, capsys):
    out = tmp_path / "eval"
    code, _, err = run_lvg([
        "evaluate", videos, "--output", out, "--html", "false", "--progress", "false", "--metrics", METRICS,
        "--video_drift_error", "true", "--drift_chunks", "3",
    ], capsys)  # fmt: skip
    assert code == 0, err
    report = json.loads((out / "report.json").read_text())
    assert report["protocol"]["video_drift_error"] == {"chunks": 3}
    for name in ("subject_consistency", "temporal_flickering", "toy_mass_kept"):
        entry = report["metrics"][f"vde_{name}"]
        assert entry["higher_is_better"] is False and "VDE over 3 chunks" in entry["source"]
        assert entry["judges_toy_video"] is True  # steady < decaying (lvg.evaluation.trust.judge_drift)
    row = next(r for r in report["videos"] if r["video"].startswith("extension_s1"))
    frames = read_video(videos / "extension_s1.mp4")
    ranges = chunk_ranges(row["scored_from"], len(frames), 3)
    per_chunk = [TemporalFlickering().compute([frames[s:e]])[0] for s, e in ranges]
    assert row["whole"]["vde_temporal_flickering"] == pytest.approx(video_drift_error(per_chunk))
    assert VideoDriftError(TemporalFlickering(), 3).score(frames, 0, 5) is None  # one frame a chunk
    lines = [r for r in csv.DictReader(open(out / "metrics.csv")) if r["metric"] == "vde_toy_mass_kept"]
    assert {r["clip"] for r in lines} >= {"all"} and len({r["video"] for r in lines}) == 4
    assert not (out / "plots" / "vde_toy_mass_kept.png").exists()  # 4-frame clips: no chunk of 2 frames, no plot
    assert (out / "plots" / "toy_mass_kept.png").exists()

"""`lvg evaluate` end to end on videos `lvg generate` wrote with the tiny toy model: report files, per-clip curves,
variance over noises, bad input, W&B offline, and the HTML report played in headless Chromium."""

import csv
import json
import shutil

import pytest
from helpers.chromium import CHROMIUM, Chromium
from helpers.cli import run_lvg


def test_evaluate_writes_json_csv_plots_and_html(videos, tmp_path, capsys):
    out = tmp_path / "eval"
    code, stdout, err = run_lvg(["evaluate", videos, "--output", out, "--progress", "false"], capsys)
    assert code == 0, err
    report = json.loads((out / "report.json").read_text())
    assert set(report["per_method"]) == {"Extension", "ChunkwiseI2V"}
    ext = report["per_method"]["Extension"]
    assert ext["videos"] == 2
    for name in ("subject_consistency", "temporal_flickering", "dynamic_degree", "toy_mass_kept"):
        assert len(ext["clips"][name]) == 3  # one point per clip
        assert (out / "plots" / f"{name}.png").stat().st_size > 1000
    assert report["metrics"]["subject_consistency"]["source"].startswith("pixels")
    assert report["metrics"]["dynamic_degree"]["source"].startswith("farneback")
    assert {s["metric"] for s in report["skipped"]["metrics"]} == {"aesthetic_quality", "imaging_quality"}
    assert "aesthetic_quality" in stdout  # the skip is said, not only written
    variance = [r for r in report["variance_over_noises"] if r["metric"] == "temporal_flickering"]
    assert {r["method"] for r in variance} == {"Extension", "ChunkwiseI2V"}
    assert all(r["noises"] == 2 and r["range"] == pytest.approx(r["max"] - r["min"]) for r in variance)
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    assert {r["clip"] for r in rows} == {"all", "0", "1", "2"}
    assert len({r["video"] for r in rows}) == 4
    assert (out / "variance.csv").read_text().startswith("method,metric")
    assert (out / "report.html").stat().st_size > 10_000
    # toy videos: the report says which weight-free paths cannot judge them (the degenerate-case check)
    assert report["metrics"]["subject_consistency"]["judges_toy_video"] is False
    assert "cannot judge a toy video" in report["metrics"]["subject_consistency"]["note"]
    assert report["metrics"]["toy_mass_kept"]["judges_toy_video"] is True
    assert "cannot judge a toy video" in (out / "report.html").read_text()


def test_per_clip_scores_are_the_metric_on_each_clips_frames(videos, tmp_path, capsys):
    from lvg.metrics.temporal_flickering import TemporalFlickering
    from lvg.video import read_video

    out = tmp_path / "eval"
    assert run_lvg(["evaluate", videos / "chunkwise_s1.mp4", "--output", out, "--html", "false",
                     "--metrics", "[temporal_flickering]", "--progress", "false"], capsys)[0] == 0  # fmt: skip
    report = json.loads((out / "report.json").read_text())
    sidecar = json.loads((videos / "chunkwise_s1.json").read_text())
    frames = read_video(videos / "chunkwise_s1.mp4")
    (row,) = report["videos"]
    for (start, end), value in zip([c["frames"] for c in sidecar["clips"]], row["clips"]["temporal_flickering"]):
        assert value == pytest.approx(TemporalFlickering().compute([frames[start:end]])[0])
    assert row["whole"]["temporal_flickering"] == pytest.approx(TemporalFlickering().compute([frames[1:]])[0])


def test_bad_inputs_are_named_in_the_report(videos, tmp_path, capsys):
    folder = tmp_path / "mixed"
    shutil.copytree(videos, folder)
    (folder / "broken.mp4").write_bytes(b"not a video")
    (folder / "extension_s2.json").unlink()
    code, stdout, err = run_lvg(
        ["evaluate", folder, "--output", tmp_path / "eval", "--models.dino", tmp_path / "no_dino", "--html", "false",
         "--progress", "false"], capsys)  # fmt: skip
    assert code == 0, err
    report = json.loads((tmp_path / "eval" / "report.json").read_text())
    skipped = report["skipped"]["inputs"] + report["skipped"]["metrics"]
    reasons = {s.get("input", s.get("metric")).split("/")[-1]: s["reason"] for s in skipped}
    assert "cannot read video" in reasons["broken.mp4"]
    assert "sidecar" in reasons["extension_s2.mp4"]
    assert "not found" in reasons["subject_consistency"]
    assert len(report["videos"]) == 4
    no_sidecar = next(r for r in report["videos"] if r["video"] == "extension_s2.mp4")
    assert no_sidecar["method"] == "unknown" and no_sidecar["clips"]["temporal_flickering"] == []


@pytest.mark.parametrize("what", ["empty folder", "only broken"])
def test_nothing_to_evaluate_is_one_line_and_exit_2(what, tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    if what == "only broken":
        (folder / "broken.mp4").write_bytes(b"not a video")
    code, _, err = run_lvg(["evaluate", folder, "--output", tmp_path / "eval", "--progress", "false"], capsys)
    assert code == 2
    assert err.startswith("lvg: error: nothing could be evaluated") and err.count("\n") == 1
    assert ("no videos" if what == "empty folder" else "cannot read video") in err


def test_wandb_gets_tables_and_plots_offline(videos, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    out = tmp_path / "eval"
    args = ["evaluate", videos / "extension_s1.mp4", "--output", out, "--metrics", "[temporal_flickering]"]
    code, _, err = run_lvg([*args, "--wandb", "true", "--html", "false", "--progress", "false"], capsys)
    assert code == 0, err
    assert len(list((out / "wandb").glob("offline-run-*"))) == 1
    (table,) = out.rglob("media/table/evaluate/videos_*.table.json")
    data = json.loads(table.read_text())
    assert data["columns"] == ["video", "method", "seed", "clip", "metric", "value"] and len(data["data"]) == 4
    assert len(list(out.rglob("media/images/evaluate/plot/temporal_flickering_*.png"))) == 1


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_html_report_videos_load_and_play_in_step_in_chromium(videos, tmp_path, capsys):
    out = tmp_path / "eval"
    code, _, err = run_lvg(["evaluate", videos, "--output", out, "--metrics", "[temporal_flickering]",
                             "--progress", "false"], capsys)  # fmt: skip
    assert code == 0, err
    with Chromium("--autoplay-policy=no-user-gesture-required", "--mute-audio") as browser:
        page = browser.open((out / "report.html").as_uri() + "#selftest")
        result = json.loads(browser.wait_for(page, "document.getElementById('selftest').textContent", timeout=60))
    assert "exception" not in result, result
    assert result["ready"] == [4] * 4 and result["errors"] == [0] * 4  # all four decoded (VP9 WebM)
    frames = [r["frames"] for r in json.loads((out / "report.json").read_text())["videos"]]
    assert result["durations"] == [pytest.approx(f / 8, abs=0.05) for f in frames]  # every frame, at 8 fps
    assert result["seek_gap"] < 0.05 and all(t > 0.3 for t in result["after_seek"])  # the scrubber moves all
    assert all(result["playing"]) and all(t > 0.2 for t in result["after_play"])  # they play...
    assert result["play_gap"] < 0.15  # ...in step


def test_a_comparison_that_mixes_solvers_is_warned_in_one_line(capsys):
    from lvg.evaluation.run import warn_mixed_solvers

    warn_mixed_solvers({"a.mp4": {"solver": "euler"}, "b.mp4": {"solver": "euler"}})
    assert capsys.readouterr().err == ""
    warn_mixed_solvers({"a.mp4": {"solver": "euler"}, "b.mp4": {"solver": "UniPCMultistepScheduler"}})
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("lvg: warning: the compared videos were sampled with different solvers")
    assert "UniPCMultistepScheduler" in line and "EulerSampler" in line


def test_sidecars_name_the_solver(videos):
    sidecar = json.loads(next(videos.glob("*.json")).read_text())
    assert sidecar["solver"] == "euler"  # the toy checkpoint's scheduler is flow-match Euler

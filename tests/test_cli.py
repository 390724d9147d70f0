"""The `lvg` command end to end: training smoke of every toy config, `lvg generate`, and bad input (exit 2)."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
import yaml
from helpers.cli import run_main
from tests_paths import REPO, TINY_CONFIG

from lvg.cli import main
from lvg.video import read_video

TOY_FIT_CONFIGS = sorted(p for p in (REPO / "configs" / "toy").glob("*.yaml") if not p.name.startswith("generate"))
GENERATE_CONFIG = REPO / "configs" / "toy" / "generate.yaml"


@pytest.mark.parametrize("config", TOY_FIT_CONFIGS, ids=lambda p: p.name)
def test_every_toy_config_trains(config, tmp_path, capsys, tiny_toy_dir):
    args = ["fit", "--config", config, "--trainer.fast_dev_run", "1", "--trainer.default_root_dir", tmp_path]
    if "path" in yaml.safe_load(config.read_text())["model"]["init_args"]["backbone"].get("init_args", {}):
        args += ["--model.init_args.backbone.init_args.path", tiny_toy_dir]  # a finetuning stage: start from a model
    code, err = run_main(args, capsys)
    assert code == 0, err
    assert not (tmp_path / "backbone").exists()


def generate_args(tiny_toy_dir, out, *extra):
    return [
        "generate", "--config", GENERATE_CONFIG,
        "--model.init_args.backbone.init_args.path", tiny_toy_dir,
        "--model.init_args.frames_per_clip", "4",
        "--model.init_args.sampler.init_args.num_steps", "2", "--progress", "false", "--output", out, *extra,
    ]  # fmt: skip


def test_generate_writes_a_readable_streamed_mp4_and_sidecar(tiny_toy_dir, tmp_path, capsys):
    out = tmp_path / "videos" / "long.mp4"
    code, err = run_main(generate_args(tiny_toy_dir, out, "--num_clips", "3", "--seed", "5"), capsys)
    assert code == 0, err
    frames = read_video(out)
    assert frames.shape == (
        2 + 3 * 2,
        32,
        32,
        3,
    )  # 32 px: decord 0.6 mis-decodes 16 px widths  # 2 start frames + 3 clips x 2 new frames
    assert frames.std(axis=0).mean() > 1  # not a constant video
    side = json.loads(out.with_suffix(".json").read_text())
    assert side["frames"] == 8 and side["seed"] == 5 and len(side["clips"]) == 3
    assert len({c["prompt"] for c in side["clips"]}) == 3  # toy world: the prompt changes per clip
    assert side["config"]["model"]["init_args"]["frames_per_clip"] == 4
    assert sorted(p.name for p in out.parent.iterdir()) == ["long.json", "long.mp4"]  # no temp files left


def test_generate_from_prompt_file_and_guide_image(tiny_toy_dir, tmp_path, capsys):
    from PIL import Image

    guide = tmp_path / "guide.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 30, 3), dtype=np.uint8)).save(guide)
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a red circle moving right\n\na blue square moving up\n")
    out = tmp_path / "g.mp4"
    code, err = run_main(generate_args(tiny_toy_dir, out, "--guide", guide, "--prompt_file", prompts), capsys)
    assert code == 0, err
    assert read_video(out).shape[0] == 1 + 3 + 2  # guide, clip 1 adds 3 frames (1 given), clip 2 adds 2 (2 given)
    assert [c["prompt"] for c in json.loads(out.with_suffix(".json").read_text())["clips"]] == [
        "a red circle moving right",
        "a blue square moving up",
    ]


def test_generate_continues_a_given_video(tiny_toy_dir, tmp_path, capsys):
    from lvg.video import VideoSink

    start = tmp_path / "start.mp4"
    with VideoSink(start) as sink:
        sink.write(
            np.random.default_rng(1).integers(0, 255, (5, 40, 56, 3), dtype=np.uint8)
        )  # decord 0.6 fails on 48 px widths
    out = tmp_path / "continued.mp4"
    code, err = run_main(
        generate_args(tiny_toy_dir, out, "--guide", start, "--prompt", "a red circle", "--num_clips", "2"), capsys
    )
    assert code == 0, err
    assert read_video(out).shape[:2] == (2 + 2 * 2, 32)  # the video's last 2 frames, then 2 clips x 2 new frames


def test_generate_is_reproducible_by_seed(tiny_toy_dir, tmp_path, capsys):
    outs = [tmp_path / f"{name}.mp4" for name in ("a", "b", "c")]
    for out, seed in zip(outs, (1, 1, 2)):
        assert run_main(generate_args(tiny_toy_dir, out, "--num_clips", "2", "--seed", seed), capsys)[0] == 0
    a, b, c = (read_video(o) for o in outs)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def _bad_inputs(tiny_toy_dir, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n")
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    fit = ["fit", "--config", TINY_CONFIG, "--trainer.fast_dev_run", "1"]
    return {
        "missing checkpoint": (
            ["generate", "--config", GENERATE_CONFIG, "--model.init_args.backbone.init_args.path", tmp_path / "no"],
            "not found",
        ),
        "missing config": (["generate", "--config", tmp_path / "nope.yaml"], "does not exist"),
        "resolution vs patch": (
            [*fit, "--model.init_args.height", "18", "--data.init_args.resolution", "18"],
            "divisib",
        ),
        "empty prompt file": (generate_args(tiny_toy_dir, tmp_path / "o.mp4", "--prompt_file", empty), "empty"),
        "unreadable guide": (
            generate_args(tiny_toy_dir, tmp_path / "o.mp4", "--guide", broken),
            "not a readable image",
        ),
        "zero clips": (generate_args(tiny_toy_dir, tmp_path / "o.mp4", "--num_clips", "0"), "num_clips"),
        "data/model mismatch": ([*fit, "--data.init_args.frames_per_clip", "6"], "agree"),
    }


@pytest.mark.parametrize(
    "case",
    ["missing checkpoint", "missing config", "resolution vs patch", "empty prompt file", "unreadable guide",
     "zero clips", "data/model mismatch"],
)  # fmt: skip
def test_bad_input_gets_one_line_and_exit_2_and_leaves_nothing(case, tiny_toy_dir, tmp_path, capsys):
    args, expected = _bad_inputs(tiny_toy_dir, tmp_path)[case]
    before = set(tmp_path.rglob("*"))
    code, err = run_main(args, capsys)
    assert code == 2
    lines = [line for line in err.splitlines() if line.startswith("lvg: error:")]
    assert len(lines) == 1 and expected in lines[0], err
    assert "Traceback" not in err
    assert not {p for p in set(tmp_path.rglob("*")) - before if p.suffix in (".mp4", ".json")}


def test_failure_during_generation_keeps_the_previous_video(tiny_toy_dir, tmp_path, capsys, monkeypatch):
    out = tmp_path / "keep.mp4"
    assert run_main(generate_args(tiny_toy_dir, out, "--num_clips", "1"), capsys)[0] == 0
    before = out.read_bytes()
    from lvg.methods.extension import Extension

    def crash(*args, **kwargs):
        yield from ()
        raise RuntimeError("disk full")

    monkeypatch.setattr(Extension, "generate", crash)
    with pytest.raises(RuntimeError):
        main([str(a) for a in generate_args(tiny_toy_dir, out, "--num_clips", "3")])
    assert out.read_bytes() == before
    # no half-written video is left; only the resume log, which lets the same command continue
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == [".keep.mp4.resume"]


def test_console_script_exit_code(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "lvg.cli", "generate", "--config", str(tmp_path / "missing.yaml")],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("lvg: error: config file")
    assert len(proc.stderr.strip().splitlines()) == 1


def test_generate_loads_weights_from_a_fit_checkpoint(tiny_toy_dir, tmp_path, capsys):
    fit = ["fit", "--config", TINY_CONFIG, "--trainer.max_epochs", "1", "--trainer.default_root_dir", tmp_path]
    size = ["--model.init_args.height", "32", "--model.init_args.width", "32", "--data.init_args.resolution", "32"]
    assert run_main([*fit, *size], capsys)[0] == 0
    ckpt = next(tmp_path.rglob("*.ckpt"))
    plain, trained = tmp_path / "plain.mp4", tmp_path / "trained.mp4"
    assert run_main(generate_args(tiny_toy_dir, plain, "--num_clips", "1"), capsys)[0] == 0
    assert run_main(generate_args(tiny_toy_dir, trained, "--num_clips", "1", "--ckpt_path", ckpt), capsys)[0] == 0
    assert not np.array_equal(read_video(plain), read_video(trained))
    code, err = run_main(generate_args(tiny_toy_dir, tmp_path / "x.mp4", "--ckpt_path", tmp_path / "no.ckpt"), capsys)
    assert code == 2 and "does not exist" in err


def test_an_interrupted_generation_resumes_to_the_same_video(tiny_toy_dir, tmp_path, capsys, monkeypatch):
    whole, resumed = tmp_path / "whole.mp4", tmp_path / "resumed.mp4"
    assert run_main(generate_args(tiny_toy_dir, whole, "--num_clips", "4", "--seed", "2"), capsys)[0] == 0

    from lvg.methods.extension import Extension

    real = Extension.clip_condition
    calls = {"n": 0}

    def crash_in_third_clip(self, *args):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("power cut")
        return real(self, *args)

    monkeypatch.setattr(Extension, "clip_condition", crash_in_third_clip)
    with pytest.raises(RuntimeError, match="power cut"):
        main([str(a) for a in generate_args(tiny_toy_dir, resumed, "--num_clips", "4", "--seed", "2")])
    assert not resumed.exists()
    log = tmp_path / ".resumed.mp4.resume"
    assert (log / "state.pt").is_file()
    monkeypatch.undo()

    calls["n"] = 0
    monkeypatch.setattr(
        Extension, "clip_condition", lambda self, *a: (calls.update(n=calls["n"] + 1), real(self, *a))[1]
    )
    assert run_main(generate_args(tiny_toy_dir, resumed, "--num_clips", "4", "--seed", "2"), capsys)[0] == 0
    assert calls["n"] == 2  # only clips 3 and 4 were generated again
    assert np.array_equal(read_video(resumed), read_video(whole))
    assert not log.exists()
    side = json.loads(resumed.with_suffix(".json").read_text())
    assert len(side["clips"]) == 4 and all(c["seconds"] is not None for c in side["clips"])


@pytest.mark.parametrize("subcommand", ["validate", "test"])
def test_validate_and_test_subcommands_report_a_loss(subcommand, tmp_path):
    from lvg.cli import run_cli

    cli = run_cli([subcommand, "--config", str(TINY_CONFIG), "--trainer.default_root_dir", str(tmp_path)])
    key = "val/loss" if subcommand == "validate" else "test/loss"
    assert torch.isfinite(cli.trainer.callback_metrics[key])

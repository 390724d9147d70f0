"""The progressive and replacement configs through `lvg`: toy generation and resume, bad input, Wan on a tiny model.

(Fitting with the toy fit configs is covered for every configs/toy/*.yaml by tests/test_cli.py.)
"""

import json

import numpy as np
import pytest
import torch
import yaml
from helpers.cli import run_main
from tests_paths import REPO

from lvg.cli import main, run_cli
from lvg.video import read_video

TOY = REPO / "configs" / "toy"
WAN = REPO / "configs" / "wan"
METHODS = ("progressive", "replacement_noise", "replacement_clean")


def toy_generate_args(name, tiny_toy_dir, out, steps, *extra):
    return [
        "generate", "--config", TOY / f"generate_{name}.yaml",
        "--model.init_args.backbone.init_args.path", tiny_toy_dir,
        "--model.init_args.sampler.init_args.num_steps", steps, "--progress", "false", "--output", out, *extra,
    ]  # fmt: skip


@pytest.mark.parametrize("name", METHODS)
def test_toy_generate_configs_write_the_planned_frames(name, tiny_toy_dir, tmp_path, capsys):
    fit = yaml.safe_load((TOY / f"{name}.yaml").read_text())["model"]["init_args"]
    gen = yaml.safe_load((TOY / f"generate_{name}.yaml").read_text())["model"]["init_args"]
    assert gen["method"]["class_path"] == fit["method"]["class_path"]
    assert all(fit["method"]["init_args"][k] == v for k, v in gen["method"]["init_args"].items())
    assert gen["frames_per_clip"] == fit["frames_per_clip"] and gen["sampler"] == fit["sampler"]
    out = tmp_path / f"{name}.mp4"
    code, err = run_main(toy_generate_args(name, tiny_toy_dir, out, 3, "--num_clips", "3"), capsys)
    assert code == 0, err
    side = json.loads(out.with_suffix(".json").read_text())
    # progressive: 2 start frames + 3 chunks of 2 frames; replacement: 2 start frames + 3 clips of 6 new frames
    expected = 2 + 3 * (2 if name == "progressive" else 6)
    assert side["frames"] == expected == read_video(out).shape[0] and len(side["clips"]) == 3


def test_progressive_generation_resumes_to_the_same_video(tiny_toy_dir, tmp_path, capsys, monkeypatch):
    whole, resumed = tmp_path / "whole.mp4", tmp_path / "resumed.mp4"
    args = ("--num_clips", "5", "--seed", "2")
    assert run_main(toy_generate_args("progressive", tiny_toy_dir, whole, 3, *args), capsys)[0] == 0

    from lvg.methods.progressive import Progressive

    real = Progressive.generate

    def crash_after_two_chunks(self, *a, **k):
        for i, part in enumerate(real(self, *a, **k)):
            if i == 3:
                raise RuntimeError("killed")
            yield part

    monkeypatch.setattr(Progressive, "generate", crash_after_two_chunks)
    with pytest.raises(RuntimeError):
        main([str(a) for a in toy_generate_args("progressive", tiny_toy_dir, resumed, 3, *args)])
    monkeypatch.setattr(Progressive, "generate", real)
    from lvg.sampling import SchedulerSampler

    iterations = []
    real_walk = SchedulerSampler.walk
    monkeypatch.setattr(SchedulerSampler, "walk", lambda *a, **k: iterations.append(1) or real_walk(*a, **k))
    assert run_main(toy_generate_args("progressive", tiny_toy_dir, resumed, 3, *args), capsys)[0] == 0
    assert len(iterations) == 3  # of the 5 + 3 - 1 iterations, only those after the second chunk ran again
    assert np.array_equal(read_video(whole), read_video(resumed))


def _bad(tiny_toy_dir, tmp_path):
    fit = ["fit", "--config", TOY / "progressive.yaml", "--model.init_args.backbone.init_args.path", tiny_toy_dir,
           "--trainer.fast_dev_run", "1", "--trainer.default_root_dir", tmp_path]  # fmt: skip
    return {
        "window vs chunk": ([*fit, "--model.init_args.method.init_args.chunk_size", "3"], "multiple of chunk_size=3"),
        "steps vs window": ([*fit, "--model.init_args.sampler.init_args.num_steps", "20"], "multiple of 3"),
        "negative shift": ([*fit, "--model.init_args.method.init_args.shift_scale", "-1"], "shift_scale must be >= 0"),
        "steps, generate": (toy_generate_args("progressive", tiny_toy_dir, tmp_path / "o.mp4", 4), "num_steps=4"),
    }


@pytest.mark.parametrize("case", ["window vs chunk", "steps vs window", "negative shift", "steps, generate"])
def test_bad_progressive_settings_are_one_line_and_exit_2(case, tiny_toy_dir, tmp_path, capsys):
    args, expected = _bad(tiny_toy_dir, tmp_path)[case]
    code, err = run_main(args, capsys)
    assert code == 2
    lines = [line for line in err.splitlines() if line.startswith("lvg: error:")]
    assert len(lines) == 1 and expected in lines[0], err
    assert "Traceback" not in err and not list(tmp_path.rglob("*.mp4"))


# --- Wan2.1: the configs build and run on a tiny random Wan (VAE 4x in time, 8x in space) ------------------------
# tiny settings per method: chunks of 1 latent frame, a front chunk + 2 stages (3 latents = 9 frames)
STEPS = ["--model.init_args.sampler.init_args.num_steps", "2"]
TINY_WAN = {
    "progressive": ["--model.init_args.method.init_args.chunk_size", "1", *STEPS],
    "replacement_noise": ["--model.init_args.method.init_args.condition_frames", "5", *STEPS],
    "replacement_clean": ["--model.init_args.method.init_args.condition_frames", "5", *STEPS],
}


def wan_common(config, tiny_wan_dir):
    return [
        "--config", str(config), "--model.init_args.backbone.init_args.path", str(tiny_wan_dir),
        "--model.init_args.backbone.init_args.dtype", "float32", "--model.init_args.frames_per_clip", "9",
        "--model.init_args.height", "16", "--model.init_args.width", "16",
    ]  # fmt: skip


@pytest.mark.parametrize("name", METHODS)
def test_wan_fit_configs_train_a_step(name, tiny_wan_dir, video_folder, monkeypatch):
    raw = yaml.safe_load((WAN / f"{name}.yaml").read_text())["model"]["init_args"]
    assert raw["backbone"]["init_args"]["extension"] is False  # plain T2V Wan: no condition channels
    if name == "progressive":
        assert raw["method"]["init_args"]["chunk_size"] == 5 and raw["sampler"]["init_args"]["num_steps"] == 50
        assert (raw["frames_per_clip"] - 1) // 4 + 1 == 55  # the paper's 55 latent frames (§4.1)
    monkeypatch.setattr("sys.argv", ["lvg"])
    cli = run_cli([
        "fit", *wan_common(WAN / f"{name}.yaml", tiny_wan_dir), *TINY_WAN[name],
        "--data.init_args.root", str(video_folder), "--data.init_args.frames_per_clip", "9",
        "--data.init_args.resolution", "[16, 16]", "--data.init_args.fps", "null",
        "--trainer.precision", "32-true", "--trainer.fast_dev_run", "1", "--trainer.accumulate_grad_batches", "1",
        "--trainer.default_root_dir", str(video_folder / "run"),
    ])  # fmt: skip
    assert torch.isfinite(cli.trainer.callback_metrics["train/loss"])


@pytest.mark.parametrize("name", METHODS)
def test_wan_generate_configs_run(name, tiny_wan_dir, video_folder, tmp_path, monkeypatch):
    monkeypatch.setattr("sys.argv", ["lvg"])
    out = tmp_path / f"{name}.mp4"
    run_cli([
        "generate", *wan_common(WAN / f"generate_{name}.yaml", tiny_wan_dir), *TINY_WAN[name],
        "--guide", str(video_folder / "a.mp4"), "--prompt", "a cat", "--num_clips", "2", "--output", str(out),
        "--trainer.accelerator", "cpu", "--progress", "false",
    ])  # fmt: skip
    side = json.loads(out.with_suffix(".json").read_text())
    # progressive: 1 start frame (a chunk of 1 latent) + 2 chunks of 4 frames; replacement: 5 start + 2 x 4 new
    assert side["frames"] == (1 + 2 * 4 if name == "progressive" else 5 + 2 * 4)
    assert len(side["clips"]) == 2

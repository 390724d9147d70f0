"""The README's generation promises, run as a user runs them (fresh processes, real kills): the same command writes the
same mp4 byte for byte; a killed run resumes to that same video; a resume never splices other inputs into it; a kill
leaves no stray files behind for long."""

import json
import shlex
import subprocess

import pytest
import torch
from helpers.fresh import lvg_process
from tests_paths import REPO

README = (REPO / "README.md").read_text()
TIMING = ("seconds", "search_seconds")


def readme_generate_line() -> list[str]:
    """The README's `lvg generate --config configs/toy/generate.yaml --num_clips 24 ...` line, as arguments."""
    line = next(
        x for x in README.splitlines() if x.startswith("lvg generate --config configs/toy/generate.yaml --num")
    )
    args = shlex.split(line.split("#")[0])[1:]
    return [str(REPO / a) if a.startswith("configs/") else a for a in args]


def command(tiny_toy_dir, output, clips=4, *extra) -> list[str]:
    """The README's line on the tiny model (4-frame clips, 2 steps), writing `output`."""
    args = readme_generate_line()
    args[args.index("--num_clips") + 1] = str(clips)
    args[args.index("--output") + 1] = str(output)
    tiny = ["--model.init_args.backbone.init_args.path", str(tiny_toy_dir), "--model.init_args.frames_per_clip", "4",
            "--model.init_args.sampler.init_args.num_steps", "2"]  # fmt: skip
    return [*args, *tiny, *extra]


def lvg(cwd, args, kill: tuple[str, str] | None = None) -> subprocess.CompletedProcess:
    return lvg_process(cwd, args, kill)


def sidecar_without_timing(path) -> dict:
    def strip(node):
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if k not in TIMING and k not in ("video", "output")}
        return [strip(v) for v in node] if isinstance(node, list) else node

    return strip(json.loads(path.read_text()))


@pytest.fixture(scope="module")
def reference(tiny_toy_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("reference")
    done = lvg(root, command(tiny_toy_dir, root / "a.mp4"))
    assert done.returncode == 0, done.stderr[-2000:]
    return root / "a.mp4"


def test_the_same_command_writes_the_same_bytes_in_a_fresh_process(tiny_toy_dir, tmp_path, reference):
    done = lvg(tmp_path, command(tiny_toy_dir, tmp_path / "b.mp4"))  # progress bars on, as a user runs it
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "b.mp4").read_bytes() == reference.read_bytes()
    assert sidecar_without_timing(tmp_path / "b.json") == sidecar_without_timing(reference.with_suffix(".json"))


def test_a_killed_generation_resumes_to_the_same_bytes_and_leaves_nothing_stray(tiny_toy_dir, tmp_path, reference):
    out = tmp_path / "a.mp4"
    killed = lvg(tmp_path, command(tiny_toy_dir, out), kill=("SIGKILL", "clip:2"))
    assert killed.returncode == -9
    assert not out.exists() and (tmp_path / ".a.mp4.resume").is_dir()
    assert len(list(tmp_path.glob(".a.*.partial.mp4"))) == 1  # the killed process's temp file
    resumed = lvg(tmp_path, command(tiny_toy_dir, out))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert out.read_bytes() == reference.read_bytes()
    assert sidecar_without_timing(out.with_suffix(".json")) == sidecar_without_timing(reference.with_suffix(".json"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "a.mp4"]  # the stale temp file is gone too


def test_a_resume_with_other_weights_or_settings_is_refused_in_one_line(tiny_toy_dir, tmp_path):
    from lvg.backbones import Toy

    torch.manual_seed(1)
    other = Toy(width=32, layers=1, heads=2, patch=(1, 4, 4))
    ckpt = tmp_path / "other.ckpt"
    torch.save({"state_dict": {f"backbone.{k}": v for k, v in other.state_dict().items()}}, ckpt)
    out = tmp_path / "a.mp4"
    assert lvg(tmp_path, command(tiny_toy_dir, out), kill=("SIGKILL", "clip:2")).returncode == -9
    swapped = lvg(tmp_path, command(tiny_toy_dir, out, 4, "--ckpt_path", ckpt))
    assert swapped.returncode == 2
    assert swapped.stderr.strip().splitlines() == [swapped.stderr.strip()]
    assert swapped.stderr.startswith("lvg: error:") and "weights changed" in swapped.stderr
    assert "--resume false" in swapped.stderr
    steps = lvg(tmp_path, command(tiny_toy_dir, out, 4, "--model.init_args.sampler.init_args.num_steps", "3"))
    assert steps.returncode == 2 and "config changed" in steps.stderr
    assert not out.exists()
    fresh = lvg(tmp_path, command(tiny_toy_dir, out, 4, "--ckpt_path", ckpt, "--resume", "false"))
    assert fresh.returncode == 0, fresh.stderr[-2000:]
    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert sidecar["config"]["ckpt_path"] == str(ckpt) and sidecar["weights"]

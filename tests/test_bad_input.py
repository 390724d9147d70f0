"""Bad input, as a new user would give it, to every command: exit code 2, exactly one visible stderr line starting
`lvg: error:`, no traceback, and nothing new in the output location (no half-written file, no config.yaml, no log
folder). A progress bar cleared before the error (carriage returns) is not a visible line; anything else is."""

import os
import pickle
import re
import subprocess
import sys
import zipfile

import pytest
import torch
from tests_paths import REPO, TINY_CONFIG

from lvg.cli import main

GENERATE = REPO / "configs" / "toy" / "generate.yaml"
TRFLOW = REPO / "configs" / "toy" / "generate_trflow.yaml"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def visible_lines(stderr: str) -> list[str]:
    """What a terminal shows: per line, the text after its last carriage return, escape codes removed."""
    return [s for line in stderr.split("\n") if (s := ANSI.sub("", line.split("\r")[-1]).strip())]


def tree(root) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


class Setup:
    """What the cases build in the working folder (tmp_path): files that are wrong in one way each."""

    def __init__(self, root, tiny_toy_dir):
        self.root, self.tiny = root, tiny_toy_dir
        (root / "folder.mp4").mkdir()
        (root / "a_file").write_text("not a folder")
        (root / "side.json").mkdir()
        (root / "notes.txt").write_text("hello")
        (root / "fake.png").write_text("not an image")
        (root / "prompts_empty.txt").write_text("\n\n")
        (root / "prompts_binary.txt").write_bytes(bytes(range(256)) * 4)
        (root / "prompts_two.txt").write_text("a red circle\na blue square\n")
        (root / "bad.yaml").write_text("model: [1\n")
        (root / "empty.yaml").write_text("")
        (root / "typo.yaml").write_text(GENERATE.read_text().replace("output:", "outptu:"))
        (root / "jobs_bad.jsonl").write_text('{"output": "a.mp4"}\n{not json}\n')
        (root / "jobs_key.jsonl").write_text('{"output": "a.mp4", "promt": "x"}\n')
        (root / "jobs_nooutput.jsonl").write_text('{"prompt": "x"}\n')
        (root / "jobs_folder.jsonl").write_text('{"output": "folder.mp4"}\n')
        (root / "jobs_ok.jsonl").write_text('{"output": "out/a.mp4"}\n')
        (root / "empty_dir").mkdir()
        self.text_ckpt = root / "text.ckpt"
        self.text_ckpt.write_text("definitely not a checkpoint")
        good = root / "good.ckpt"
        torch.save({"state_dict": {}}, good)
        data = good.read_bytes()
        good.unlink()
        self.truncated = root / "truncated.ckpt"
        self.truncated.write_bytes(data[: len(data) // 2])
        self.evil = root / "evil.ckpt"
        self.marker = root / "PWNED"
        torch.save({"state_dict": Evil(str(self.marker))}, self.evil)
        assert zipfile.is_zipfile(self.evil)

    def generate(self, *extra) -> list:
        return ["generate", "--config", GENERATE, "--model.init_args.backbone.init_args.path", self.tiny,
                "--model.init_args.frames_per_clip", "4", "--model.init_args.sampler.init_args.num_steps", "2",
                "--output", "out/video.mp4", *extra]  # fmt: skip

    def fit(self, *extra) -> list:
        return ["fit", "--config", TINY_CONFIG, "--trainer.default_root_dir", "runs", *extra]

    def calibrate(self, *extra) -> list:
        return ["calibrate-trflow", "--config", TRFLOW, "--model.init_args.backbone.init_args.path", self.tiny,
                "--model.init_args.frames_per_clip", "4", "--model.init_args.sampler.init_args.num_steps", "4",
                "--output", "out/calibration.json", *extra]  # fmt: skip


class Evil:
    """A pickle that would run a shell command when loaded with weights_only=False."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


CASES = {
    # lvg generate: where it writes
    "output is a folder": lambda s: s.generate("--output", "folder.mp4"),
    "output's folder is a file": lambda s: s.generate("--output", "a_file/video.mp4"),
    "output under /proc": lambda s: s.generate("--output", "/proc/lvg/video.mp4"),
    "output not mp4": lambda s: s.generate("--output", "out/video.avi"),
    "sidecar path is a folder": lambda s: s.generate("--output", "side.mp4"),
    # lvg generate: what it reads
    "guide missing": lambda s: s.generate("--guide", "missing.png"),
    "guide is a folder": lambda s: s.generate("--guide", "empty_dir"),
    "guide not an image": lambda s: s.generate("--guide", "fake.png"),
    "prompt file missing": lambda s: s.generate("--prompt_file", "missing.txt"),
    "prompt file empty": lambda s: s.generate("--prompt_file", "prompts_empty.txt"),
    "prompt file binary": lambda s: s.generate("--prompt_file", "prompts_binary.txt"),
    "prompt file shorter than num_clips": lambda s: s.generate("--prompt_file", "prompts_two.txt", "--num_clips", 3),
    "prompt and prompt file": lambda s: s.generate("--prompt", "x", "--prompt_file", "prompts_two.txt"),
    "empty prompt": lambda s: s.generate("--prompt", " "),
    # lvg generate: values
    "num_clips 0": lambda s: s.generate("--num_clips", 0),
    "num_clips abc": lambda s: s.generate("--num_clips", "abc"),
    "fps 0": lambda s: s.generate("--fps", 0),
    "resume maybe": lambda s: s.generate("--resume", "maybe"),
    "seed abc": lambda s: s.generate("--seed", "abc"),
    "height the patch cannot divide": lambda s: s.generate("--model.init_args.height", 18),
    "unknown method option": lambda s: s.generate("--model.init_args.method.init_args.condition_framez", 2),
    "unknown class": lambda s: s.generate("--model.init_args.method", "lvg.methods.Extensio"),
    # lvg generate: checkpoints
    "generate ckpt missing": lambda s: s.generate("--ckpt_path", "missing.ckpt"),
    "generate ckpt is text": lambda s: s.generate("--ckpt_path", s.text_ckpt),
    "generate ckpt truncated": lambda s: s.generate("--ckpt_path", s.truncated),
    "generate ckpt runs code": lambda s: s.generate("--ckpt_path", s.evil),
    "generate ckpt is a folder": lambda s: s.generate("--ckpt_path", "empty_dir"),
    # configs
    "config missing": lambda s: ["generate", "--config", "missing.yaml"],
    "config not YAML": lambda s: ["generate", "--config", "bad.yaml"],
    "config empty": lambda s: ["fit", "--config", "empty.yaml"],
    "config with a mistyped key": lambda s: ["generate", "--config", "typo.yaml"],
    "training config to generate": lambda s: ["generate", "--config", REPO / "configs/toy/causal_kv.yaml"],
    "generation config to fit": lambda s: ["fit", "--config", GENERATE],
    "unknown command": lambda s: ["generat", "--config", GENERATE],
    # --jobs
    "jobs manifest missing": lambda s: s.generate("--jobs", "missing.jsonl"),
    "jobs line not JSON": lambda s: s.generate("--jobs", "jobs_bad.jsonl"),
    "jobs unknown key": lambda s: s.generate("--jobs", "jobs_key.jsonl"),
    "jobs without output": lambda s: s.generate("--jobs", "jobs_nooutput.jsonl"),
    "jobs output is a folder": lambda s: s.generate("--jobs", "jobs_folder.jsonl"),
    "shard out of range": lambda s: s.generate("--jobs", "jobs_ok.jsonl", "--shard", "5/2"),
    "shard without jobs": lambda s: s.generate("--shard", "0/2"),
    # lvg fit
    "fit ckpt missing": lambda s: s.fit("--ckpt_path", "missing.ckpt"),
    "fit ckpt is text": lambda s: s.fit("--ckpt_path", s.text_ckpt),
    "fit ckpt truncated": lambda s: s.fit("--ckpt_path", s.truncated),
    "fit max_epochs abc": lambda s: s.fit("--trainer.max_epochs", "abc"),
    "fit mistyped model option": lambda s: s.fit("--model.init_args.lrr", 3),
    "fit CSVLogger without save_dir": lambda s: s.fit("--trainer.logger", "lightning.pytorch.loggers.CSVLogger"),
    "fit unknown logger class": lambda s: s.fit("--trainer.logger", "lightning.pytorch.loggers.CSVLoger"),
    "fit contradicting trainer options": lambda s: s.fit("--trainer.enable_checkpointing", "false"),
    # lvg evaluate
    "evaluate a text file": lambda s: ["evaluate", "notes.txt", "--output", "out/eval"],
    "evaluate a missing path": lambda s: ["evaluate", "missing.mp4", "--output", "out/eval"],
    "evaluate an empty folder": lambda s: ["evaluate", "empty_dir", "--output", "out/eval"],
    "evaluate an unknown metric": lambda s: ["evaluate", "empty_dir", "--metrics", "[sharpness]"],
    "evaluate a bad option": lambda s: ["evaluate", "empty_dir", "--html", "maybe"],
    # lvg calibrate-trflow
    "calibrate t_high above 1": lambda s: s.calibrate("--t_high", 1.5),
    "calibrate zero seeds": lambda s: s.calibrate("--seeds", 0),
    "calibrate unknown reference": lambda s: s.calibrate("--reference", "middle"),
    "calibrate t_low above t_high": lambda s: s.calibrate("--search", "t_low", "--candidates", "[0.9]"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_one_line_exit_2_and_leaves_nothing(case, tiny_toy_dir, tmp_path, capfd, monkeypatch):
    monkeypatch.chdir(tmp_path)
    setup = Setup(tmp_path, tiny_toy_dir)
    before = tree(tmp_path)
    args = [str(a) for a in CASES[case](setup)]
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    err = capfd.readouterr().err
    lines = visible_lines(err)
    assert exit_info.value.code == 2, err
    assert len(lines) == 1 and lines[0].startswith("lvg: error: "), err
    assert "Traceback" not in err
    assert tree(tmp_path) == before, tree(tmp_path) - before
    assert not setup.marker.exists()  # nothing ran from a checkpoint


def test_there_are_at_least_40_cases_over_every_command():
    commands = {case.split()[0] for case in CASES}
    assert len(CASES) >= 40
    assert {"fit", "evaluate", "calibrate", "jobs", "generate"} <= commands | {"generate"}


def test_a_checkpoint_that_would_run_code_is_refused_in_a_fresh_process(tiny_toy_dir, tmp_path):
    setup = Setup(tmp_path, tiny_toy_dir)
    args = [str(a) for a in setup.generate("--ckpt_path", setup.evil)]
    done = subprocess.run([sys.executable, "-m", "lvg.cli", *args], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 2 and not setup.marker.exists()
    assert visible_lines(done.stderr) == [done.stderr.strip()]
    assert "needs to run code to load (it names posix.system)" in done.stderr


def test_the_evil_checkpoint_really_would_run_code(tmp_path):
    """The case above is only a test if the file is dangerous: unpickled without weights_only, it runs its command."""
    marker = tmp_path / "ran"
    data = pickle.dumps(Evil(str(marker)))
    pickle.loads(data)
    assert marker.exists()

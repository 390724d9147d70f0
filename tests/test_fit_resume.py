"""The README's training lines, run as written in fresh processes, killed for real (SIGKILL, SIGTERM) in the middle
of an epoch and resumed with `--ckpt_path last`: the same per-step losses as an uninterrupted run, logged in the same
version folder (CSV) or the same W&B run."""

import csv
import re
import shlex
import subprocess

import pytest
from helpers.fresh import lvg_process
from tests_paths import REPO

README = (REPO / "README.md").read_text()
SHRINK = (
    "--model.init_args.backbone.init_args.width 32 --model.init_args.backbone.init_args.layers 1 "
    "--model.init_args.backbone.init_args.heads 2 --model.init_args.frames_per_clip 4 --model.init_args.height 16 "
    "--model.init_args.width 16 --model.init_args.sampler.init_args.num_steps 2 --data.init_args.resolution 16 "
    "--data.init_args.frames_per_clip 4 --data.init_args.batch_size 2 --data.init_args.samples_per_epoch 6 "
    "--data.init_args.val_samples 2 --trainer.max_epochs 3 --trainer.log_every_n_steps 1"
).split()  # the same configs at a size a test can train: 3 epochs of 3 steps


def readme_line(comment: str) -> list[str]:
    """The README's `lvg fit --config configs/toy/extension.yaml ...` line with this comment, as arguments."""
    line = next(
        x for x in README.splitlines() if x.startswith("lvg fit --config configs/toy/extension.yaml") and comment in x
    )
    args = shlex.split(line.split("#")[0])[1:]
    return [str(REPO / a) if a.startswith("configs/") else a for a in args]


CSV_LINE = readme_line("# CSV, no W&B")
RESUME_LINE = readme_line("# resume after a kill")


def lvg(cwd, args, kill: tuple[str, int] | None = None) -> subprocess.CompletedProcess:
    """`lvg ARGS` in a fresh process (or killed by `kill` = (signal, step) from inside training), W&B offline."""
    return lvg_process(cwd, args, kill, env={"WANDB_MODE": ""}, drop=("WANDB_API_KEY",))


def losses(root) -> dict[int, float]:
    """Per-step training losses of the run's one CSV log; a step logged twice fails the test."""
    (path,) = root.glob("runs/toy-extension/lightning_logs/version_*/metrics.csv")
    rows = [r for r in csv.DictReader(open(path)) if r.get("train/loss")]
    steps = [int(r["step"]) for r in rows]
    assert len(steps) == len(set(steps)), f"a step logged twice: {steps}"
    return {int(r["step"]): float(r["train/loss"]) for r in rows}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    root = tmp_path_factory.mktemp("uninterrupted")
    done = lvg(root, [*CSV_LINE, *SHRINK])
    assert done.returncode == 0, done.stderr[-2000:]
    result = losses(root)
    assert sorted(result) == list(range(9))
    return result


def test_the_readme_resume_line_continues_a_killed_run_exactly(tmp_path, reference):
    killed = lvg(tmp_path, [*CSV_LINE, *SHRINK], kill=("SIGKILL", 7))  # in the middle of the third epoch
    assert killed.returncode == -9
    resumed = lvg(tmp_path, [*CSV_LINE, *SHRINK, "--ckpt_path", "last"])
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert [p.name for p in (tmp_path / "runs/toy-extension/lightning_logs").iterdir()] == ["version_0"]
    assert losses(tmp_path) == reference  # bit for bit, every step, one row each


def test_sigterm_saves_a_resumable_checkpoint_and_exits_143(tmp_path, reference):
    stopped = lvg(tmp_path, [*CSV_LINE, *SHRINK], kill=("SIGTERM", 7))
    assert stopped.returncode == 143, stopped.stderr[-2000:]
    last = stopped.stderr.strip().splitlines()[-1]
    assert last.startswith("lvg: stopped by SIGTERM after step 7") and "--ckpt_path last" in last
    assert (tmp_path / "runs/toy-extension/lightning_logs/version_0/checkpoints/last.ckpt").is_file()
    resumed = lvg(tmp_path, [*CSV_LINE, *SHRINK, "--ckpt_path", "last"])
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert losses(tmp_path) == reference  # from the middle of the epoch: step 7 is the next batch


def test_the_readme_resume_line_continues_the_same_wandb_run(tmp_path):
    killed = lvg(tmp_path, [*RESUME_LINE[:3], *SHRINK], kill=("SIGKILL", 4))  # the config's W&B logger, offline
    assert killed.returncode == -9
    resumed = lvg(tmp_path, [*RESUME_LINE, *SHRINK])
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    runs = sorted((tmp_path / "runs/toy-extension/wandb").glob("offline-run-*"))
    ids = {re.sub(r"^offline-run-\d+_\d+-", "", p.name) for p in runs}
    assert len(runs) == 2 and len(ids) == 1, [p.name for p in runs]
    (checkpoints,) = (tmp_path / "runs/toy-extension/lvg").glob("*/checkpoints")
    assert checkpoints.parent.name in ids and (checkpoints / "last.ckpt").is_file()


def test_last_without_a_checkpoint_says_so_and_starts_from_step_0(tmp_path):
    fresh = lvg(tmp_path, [*CSV_LINE, *SHRINK, "--trainer.max_epochs", "1", "--ckpt_path", "last"])
    assert fresh.returncode == 0, fresh.stderr[-2000:]
    assert "lvg: warning: --ckpt_path last: no last.ckpt under" in fresh.stderr
    assert sorted(losses(tmp_path)) == [0, 1, 2]

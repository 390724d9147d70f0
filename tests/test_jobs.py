"""`lvg generate --jobs`: a manifest of videos sharded over processes (simulated ranks), resumable, bad manifests."""

import json

import pytest
from tests_paths import REPO

from lvg.cli import main
from lvg.jobs import process_rank

GENERATE_CONFIG = REPO / "configs" / "toy" / "generate.yaml"


def generate(tiny_toy_dir, *extra) -> list[str]:
    return [
        "generate", "--config", str(GENERATE_CONFIG), "--model.init_args.backbone.init_args.path", str(tiny_toy_dir),
        "--model.init_args.frames_per_clip", "4", "--model.init_args.sampler.init_args.num_steps", "2",
        "--progress", "false", "--num_clips", "1", *map(str, extra),
    ]  # fmt: skip


def run(args, capsys) -> tuple[int, str]:
    try:
        main(args)
    except SystemExit as e:
        return e.code or 0, capsys.readouterr().err
    return 0, capsys.readouterr().err


@pytest.fixture()
def manifest(tmp_path):
    jobs = [
        {"output": str(tmp_path / "grid" / "a.mp4"), "prompt": "a red circle", "seed": 1},
        {"output": str(tmp_path / "grid" / "b.mp4"), "prompt": "a blue square", "seed": 2, "num_clips": 2},
        {"output": str(tmp_path / "grid" / "c.mp4"), "toy_seed": 3},
    ]
    path = tmp_path / "jobs.jsonl"
    path.write_text("# an evaluation grid\n" + "\n".join(json.dumps(j) for j in jobs) + "\n\n")
    return path, [tmp_path / "grid" / n for n in ("a.mp4", "b.mp4", "c.mp4")]


def test_two_ranks_split_the_jobs_and_a_rerun_skips_what_is_done(tiny_toy_dir, manifest, capsys):
    path, (a, b, c) = manifest
    assert run(generate(tiny_toy_dir, "--jobs", path, "--shard", "0/2"), capsys)[0] == 0
    assert a.is_file() and c.is_file() and not b.exists()  # rank 0 takes jobs 0 and 2
    assert run(generate(tiny_toy_dir, "--jobs", path, "--shard", "1/2"), capsys)[0] == 0
    assert b.is_file()
    sides = {p.stem: json.loads(p.with_suffix(".json").read_text()) for p in (a, b, c)}
    assert sides["a"]["seed"] == 1 and sides["a"]["clips"][0]["prompt"] == "a red circle"
    assert len(sides["b"]["clips"]) == 2 and sides["b"]["seed"] == 2  # the job's values win over the command's
    assert sides["c"]["start"] == {"toy_seed": 3} and sides["c"]["config"]["job"]["index"] == 2
    before = {p: p.stat().st_mtime_ns for p in (a, b, c)}
    assert run(generate(tiny_toy_dir, "--jobs", path), capsys)[0] == 0  # one process, everything done: all skipped
    assert {p: p.stat().st_mtime_ns for p in (a, b, c)} == before
    c.unlink()
    assert run(generate(tiny_toy_dir, "--jobs", path), capsys)[0] == 0
    assert c.is_file() and a.stat().st_mtime_ns == before[a]  # only the missing job is made again


def test_ranks_come_from_the_launcher(monkeypatch):
    for key in ("TORCHELASTIC_RUN_ID", "SLURM_NTASKS", "SLURM_PROCID", "SLURM_JOB_NAME"):
        monkeypatch.delenv(key, raising=False)
    assert process_rank() == (0, 1)
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "x")  # torchrun
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "4")
    assert process_rank() == (3, 4)
    monkeypatch.delenv("TORCHELASTIC_RUN_ID")
    monkeypatch.setenv("SLURM_NTASKS", "8")  # srun
    monkeypatch.setenv("SLURM_PROCID", "5")
    monkeypatch.setenv("SLURM_JOB_NAME", "eval")
    assert process_rank() == (5, 8)


@pytest.mark.parametrize(
    "lines, shard, expected",
    [
        (None, None, "does not exist"),
        (['{"output": "a.mp4"', ""], None, ":1 is not JSON"),
        (['{"output": "a.mp4", "promt": "x"}'], None, "unknown keys ['promt']"),
        (['{"prompt": "x"}'], None, 'no "output"'),
        (['{"output": "a.mp4"}', '{"output": "./a.mp4"}'], None, "two jobs"),
        (["", "# nothing"], None, "has no jobs"),
        (['{"output": "a.mp4"}'], "2/2", "0 <= RANK < WORLD"),
    ],
)
def test_a_bad_manifest_or_shard_is_one_line_exit_2(
    lines, shard, expected, tiny_toy_dir, tmp_path, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "jobs.jsonl"
    if lines is not None:
        path.write_text("\n".join(lines))
    code, err = run(generate(tiny_toy_dir, "--jobs", path, *(["--shard", shard] if shard else [])), capsys)
    errors = [line for line in err.splitlines() if line.startswith("lvg: error:")]
    assert code == 2 and len(errors) == 1 and expected in errors[0], err
    assert not list(tmp_path.glob("*.mp4"))

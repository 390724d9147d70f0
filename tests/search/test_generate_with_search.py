"""`lvg generate` with the chunk-wise configs: the search log lands in the sidecar, bad settings are one line."""

import json

import pytest
from helpers.cli import run_main
from tests_paths import REPO

from lvg.video import read_video

CONFIGS = REPO / "configs" / "toy"


def args(config, tiny_toy_dir, out, *extra):
    return [
        "generate", "--config", CONFIGS / config,
        "--model.init_args.backbone.init_args.path", tiny_toy_dir,
        "--model.init_args.frames_per_clip", "4", "--model.init_args.sampler.init_args.num_steps", "3",
        "--progress", "false", "--output", out, "--num_clips", "2", *extra,
    ]  # fmt: skip


def test_kstep_config_logs_every_chunks_search_in_the_sidecar(tiny_toy_dir, tmp_path, capsys):
    out = tmp_path / "kstep.mp4"
    extra = ["--model.init_args.noise_init.init_args.k", "2", "--model.init_args.noise_init.init_args.candidates", "3"]
    code, err = run_main(args("generate_chunkwise_kstep.yaml", tiny_toy_dir, out, *extra), capsys)
    assert code == 0, err
    assert read_video(out).shape[0] == 1 + 2 * 3  # the guide frame, then 3 new frames per chunk
    clips = json.loads(out.with_suffix(".json").read_text())["clips"]
    assert len(clips) == 2
    for clip in clips:
        search = clip["search"]
        assert (search["m"], search["k"], search["s"]) == (3, 2, 3)
        assert search["winner"] == max(range(3), key=lambda j: search["scores"][j])


def test_naive_config_has_no_search_log(tiny_toy_dir, tmp_path, capsys):
    out = tmp_path / "naive.mp4"
    code, err = run_main(args("generate_chunkwise_naive.yaml", tiny_toy_dir, out), capsys)
    assert code == 0, err
    assert all("search" not in c for c in json.loads(out.with_suffix(".json").read_text())["clips"])


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--model.init_args.noise_init.init_args.k", "9"], "k=9 is more than the sampler's 3 steps"),
        (["--model.init_args.noise_init.init_args.candidates", "0"], "candidates"),
        (
            ["--model.init_args.noise_init.init_args.scorer", "lvg.search.CLIPScorer",
             "--model.init_args.noise_init.init_args.scorer.init_args.path", "/no/such/clip"],
            "not found",
        ),
    ],
)  # fmt: skip
def test_bad_search_settings_exit_2_with_one_line(extra, message, tiny_toy_dir, tmp_path, capsys):
    out = tmp_path / "bad.mp4"
    code, err = run_main(args("generate_chunkwise_kstep.yaml", tiny_toy_dir, out, *extra), capsys)
    assert code == 2
    assert message in err and err.strip().count("\n") == 0
    assert not any(tmp_path.iterdir())


def test_an_interrupted_search_run_resumes_to_the_same_video_and_logs(tiny_toy_dir, tmp_path, capsys, monkeypatch):
    from lvg.cli import main
    from lvg.search import KStepSearch

    extra = ["--num_clips", "4", "--model.init_args.noise_init.init_args.k", "2"]
    whole, resumed = tmp_path / "whole.mp4", tmp_path / "resumed.mp4"
    assert run_main(args("generate_chunkwise_kstep.yaml", tiny_toy_dir, whole, *extra), capsys)[0] == 0
    real, calls = KStepSearch.__call__, {"n": 0}

    def crash_in_third_chunk(self, ctx):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("power cut")
        return real(self, ctx)

    monkeypatch.setattr(KStepSearch, "__call__", crash_in_third_chunk)
    with pytest.raises(RuntimeError, match="power cut"):
        main([str(a) for a in args("generate_chunkwise_kstep.yaml", tiny_toy_dir, resumed, *extra)])
    assert not resumed.exists()
    monkeypatch.undo()
    assert run_main(args("generate_chunkwise_kstep.yaml", tiny_toy_dir, resumed, *extra), capsys)[0] == 0
    assert (read_video(resumed) == read_video(whole)).all()

    def searches(out):
        clips = json.loads(out.with_suffix(".json").read_text())["clips"]
        return [{k: v for k, v in c["search"].items() if k != "search_seconds"} for c in clips]

    assert len(searches(resumed)) == 4 and searches(resumed) == searches(whole)


def test_search_results_go_to_a_wandb_table(tiny_toy_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc login: offline
    extra = [
        "--model.init_args.noise_init.init_args.k", "2", "--model.init_args.noise_init.init_args.candidates", "3",
        "--trainer.logger", "lvg.tracking.AutoWandbLogger", "--trainer.logger.save_dir", tmp_path,
    ]  # fmt: skip
    code, err = run_main(args("generate_chunkwise_kstep.yaml", tiny_toy_dir, tmp_path / "v.mp4", *extra), capsys)
    assert code == 0, err
    tables = list(tmp_path.rglob("media/table/generate/search_*.table.json"))
    assert len(tables) == 1
    table = json.loads(tables[0].read_text())
    assert len(table["data"]) == 2 * 3  # 2 chunks x 3 candidates
    winners = [row for row in table["data"] if row[table["columns"].index("winner")]]
    assert len(winners) == 2

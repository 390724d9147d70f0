"""AF-matched T-RFlow threshold (error-free paper §3.4): `calibrate_trflow` and `lvg calibrate-trflow`."""

import json

import pytest
from helpers.cli import run_lvg
from tests_paths import REPO

from lvg import LongVideoModule
from lvg.backbones import Toy
from lvg.calibrate_trflow import calibrate_trflow, calibration_starts, intervals_af
from lvg.errors import LvgError
from lvg.methods import Extension
from lvg.sampling import TRFlowSampler
from lvg.search import GaussianNoise

STEPS = 6
CONFIG = REPO / "configs" / "toy" / "generate_trflow.yaml"


@pytest.fixture()
def module(tiny_toy_dir):
    return LongVideoModule(
        Toy(path=str(tiny_toy_dir)), Extension(), TRFlowSampler(STEPS), frames_per_clip=4, height=16, width=16
    )


def test_by_default_the_compensating_threshold_t_high_is_searched_with_t_low_fixed(module):
    """§3.4's calibrated threshold drops the early, low-frequency terms: on lvg's axis (t = 1 is noise) that is
    t_high, searched over every step time above the fixed t_low (and 1, no cut)."""
    result = calibrate_trflow(module, seeds=1)
    assert result["search"] == "t_high" and result["t_low"] == 0.3
    times = module.backbone.make_scheduler()
    times.set_timesteps(STEPS)
    above = sorted({round(t, 6) for t in times.sigmas[:-1].tolist() if t > 0.3} | {1.0})
    assert [row["t_high"] for row in result["curve"]] == pytest.approx(above, abs=1e-6)
    assert all(row["t_low"] == 0.3 for row in result["curve"]) and result["reference"] == [0.0, 1.0]
    assert result["t_high"] == min(result["curve"], key=lambda row: abs(row["gap"]))["t_high"]


def test_calibration_picks_a_t_low_inside_the_interval_deterministically(module):
    sampler = module.sampler
    first = calibrate_trflow(module, search="t_low", t_high=0.7, seeds=2)
    again = calibrate_trflow(module, search="t_low", t_high=0.7, seeds=2)
    other = calibrate_trflow(module, search="t_low", t_high=0.7, seeds=2, seed=1)
    assert module.sampler is sampler  # put back
    assert 0.0 <= first["t_low"] < 0.7
    times = module.backbone.make_scheduler()
    times.set_timesteps(STEPS)
    below = sorted(t for t in times.sigmas[:-1].tolist() if t < 0.7)  # every distinct truncation
    assert [row["t_low"] for row in first["curve"]] == pytest.approx(below, abs=1e-6)
    assert [row["kept_steps"] for row in first["curve"]] == list(range(len(below), 0, -1))
    best = min(first["curve"], key=lambda row: abs(row["gap"]))
    assert best["t_low"] == first["t_low"] and len({row["af"] for row in first["curve"]}) == 4
    assert first == again
    assert other["reference_af"] != first["reference_af"]


def test_reweighting_one_recorded_run_equals_sampling_each_interval(module):
    """A single clip's trajectory does not depend on the interval: the fast path (one Euler run, reweighted) gives
    what sampling every interval anew gives."""
    world = calibration_starts(module, 1, 1, 3, None, None, None)[0]
    intervals = [(0.0, 1.0), (0.0, 0.7), (0.3, 0.7), (0.5, 1.0)]
    fast = intervals_af(module, intervals, world, 7, module.sampler, "euler")
    module.noise_init = type("PlainNoise", (GaussianNoise,), {})()  # not the plain class: no replay
    slow = intervals_af(module, intervals, world, 7, module.sampler, "euler")
    assert fast == pytest.approx(slow, rel=1e-4) and len(set(fast)) == 4


def test_the_literal_reference_is_degenerate_at_the_last_step(module):
    result = calibrate_trflow(module, search="t_low", t_high=0.7, reference="t_high", candidates=[0.0, 0.5], seeds=1)
    assert result["reference"] == [0.0, 0.7]
    assert result["curve"][0]["gap"] == 0.0 and result["t_low"] == 0.0  # [0, 0.7] against itself


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"t_high": 1.5}, "t_high"),
        ({"search": "t_low", "candidates": [0.8]}, "t_low"),
        ({"candidates": [0.2]}, "t_high"),
        ({"reference": "half"}, "reference"),
        ({"search": "both"}, "search"),
    ],
)
def test_bad_calibration_input_is_refused(module, kwargs, match):
    with pytest.raises(LvgError, match=match):
        calibrate_trflow(module, **kwargs)


def tiny_args(tiny_toy_dir, *extra):
    return [
        "--config", CONFIG, "--model.init_args.backbone.init_args.path", tiny_toy_dir,
        "--model.init_args.frames_per_clip", "4", "--model.init_args.sampler.init_args.num_steps", str(STEPS), *extra,
    ]  # fmt: skip


def test_cli_writes_the_searched_curve(tiny_toy_dir, tmp_path, capsys):
    out = tmp_path / "curve.json"
    extra = ["--seeds", "1", "--search", "t_low", "--candidates", "[0.2, 0.4]", "--output", out]
    code, stdout, err = run_lvg(["calibrate-trflow", *tiny_args(tiny_toy_dir, *extra)], capsys)
    assert code == 0, err
    result = json.loads(out.read_text())
    assert result["t_low"] in (0.2, 0.4) and len(result["curve"]) == 2
    assert f"t_low = {result['t_low']}" in stdout


def test_cli_generates_with_trflow(tiny_toy_dir, tmp_path, capsys):
    out = tmp_path / "v.mp4"
    code, _, err = run_lvg(["generate", *tiny_args(tiny_toy_dir, "--num_clips", "1", "--output", out)], capsys)
    assert code == 0, err
    assert json.loads(out.with_suffix(".json").read_text())["config"]["model"]["init_args"]["sampler"]["init_args"][
        "t_low"
    ] == pytest.approx(0.3)


@pytest.mark.parametrize(
    "extra",
    [
        ["--model.init_args.sampler.init_args.t_low", "0.8"],  # t_low >= t_high
        ["--model.init_args.sampler.init_args.t_high", "1.2"],  # outside [0, 1]
        ["--model.init_args.sampler.init_args.t_low", "0.55", "--model.init_args.sampler.init_args.t_high", "0.6"],
    ],
)
def test_cli_bad_interval_is_one_line_exit_2(tiny_toy_dir, tmp_path, capsys, extra):
    out = tmp_path / "v.mp4"
    args = ["generate", *tiny_args(tiny_toy_dir, "--num_clips", "1", "--output", out, *extra)]
    code, _, err = run_lvg(args, capsys)
    assert code == 2
    assert err.startswith("lvg: error: T-RFlow") and err.count("\n") == 1
    assert not out.exists()

"""infer/trflow_ablation.py (tables 3 and 4 of the error-free paper, their shape) on the tiny toy model."""

from types import SimpleNamespace

import pytest
from helpers.scripts import load_infer_script
from tests_paths import REPO

ablation = load_infer_script("trflow_ablation")


def test_recipe_builds_each_configs_method_and_measures_every_interval(tiny_toy_dir):
    args = SimpleNamespace(
        configs=[
            f"extension={REPO / 'configs/toy/generate.yaml'}",
            f"trflow={REPO / 'configs/toy/generate_trflow.yaml'}",
        ],
        intervals=["0,1", "0.3,0.7"],
        checkpoint=str(tiny_toy_dir),
        seeds=1,
        clips=2,
        steps=3,
        stretches=2,
        seed=0,
    )
    saved = []
    results = ablation.run(args, save=lambda r: saved.append(len(r["per_world"])))
    assert saved == [1, 2, 3, 4]  # every world's curves are handed over as they are measured
    rows = results["rows"]
    assert [(r["method"], r["interval"]) for r in rows] == [
        ("extension", [0.0, 1.0]),
        ("extension", [0.3, 0.7]),
        ("trflow", [0.0, 1.0]),
        ("trflow", [0.3, 0.7]),
    ]
    assert all(len(r["curves"]["mass"]) == 2 and len(r["mass_per_stretch"]) == 2 for r in rows)
    assert rows[0]["curves"] == rows[2]["curves"]  # the config's own sampler is replaced: same method, same video
    assert rows[0]["curves"] != rows[1]["curves"]
    table = ablation.markdown(results)
    assert "| extension | [0.3, 0.7] |" in table and "clips 1-1 | clips 2-2" in table


def test_worlds_measured_by_an_earlier_run_with_the_same_settings_are_reused(monkeypatch):
    args = SimpleNamespace(
        configs=["extension=unused.yaml"],
        intervals=["0,1"],
        checkpoint=None,
        seeds=2,
        clips=2,
        steps=3,
        seed=0,
        stretches=2,
    )
    curves = {"mass": [0.4, 0.2], "background": [0.1, 0.3], "histogram": [0.0, 0.0], "true_mass": [1.0, 1.0]}
    worlds = {f"extension [0.0, 1.0] world {w}": curves for w in (900_000, 900_001)}
    previous = {"clips": 2, "steps": 3, "seed": 0, "per_world": worlds}
    monkeypatch.setattr(ablation, "build_module", lambda *a: (_ for _ in ()).throw(AssertionError("rebuilt")))
    (row,) = ablation.run(args, previous)["rows"]
    assert row["mass_kept"] == pytest.approx(0.3) and row["curves"]["background"] == [0.1, 0.3]
    with pytest.raises(AssertionError, match="rebuilt"):
        ablation.run(args, {**previous, "steps": 4})  # other settings: measured again
    with pytest.raises(AssertionError, match="rebuilt"):
        ablation.run(SimpleNamespace(**{**vars(args), "seeds": 3}), previous)  # a third world is missing


def test_per_step_estimates_recipe_decodes_every_step(tiny_toy_dir, tmp_path):
    estimates = load_infer_script("trflow_estimates")
    from lvg import LongVideoModule
    from lvg.backbones import Toy
    from lvg.methods import Extension
    from lvg.sampling import TRFlowSampler

    module = LongVideoModule(
        Toy(path=str(tiny_toy_dir)), Extension(), TRFlowSampler(3), frames_per_clip=4, height=16, width=16
    )
    rows = estimates.step_estimates(module, 3)
    assert len(rows) == 3 and rows[0]["t"] == pytest.approx(1.0)
    assert sum(r["weight"] for r in rows) == pytest.approx(1.0)
    assert all(r["frames"].shape == (3, 2, 16, 16) for r in rows)  # the clip's 2 new frames per step
    estimates.plot(rows, tmp_path / "grid.png")
    assert (tmp_path / "grid.png").stat().st_size > 1000


def test_paired_difference_against_the_first_interval():
    per_world = {"a0": {"mass": [0.2, 0.4]}, "a1": {"mass": [0.5]}, "b0": {"mass": [0.5, 0.5]}, "b1": {"mass": [0.4]}}
    d = ablation.paired_difference(per_world, ["b0", "b1"], ["a0", "a1"], "mass")
    assert d["mean"] == pytest.approx(0.05) and d["higher_in"] == 1 and d["worlds"] == 2
    assert d["se"] == pytest.approx(0.15)  # differences 0.2 and -0.1: sd 0.212, over sqrt(2)

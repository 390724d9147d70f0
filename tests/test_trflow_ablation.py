"""infer/trflow_ablation.py (tables 3 and 4 of the error-free paper, their shape) on the tiny toy model."""

import importlib.util
import sys
from types import SimpleNamespace

import pytest
from tests_paths import REPO

spec = importlib.util.spec_from_file_location("trflow_ablation", REPO / "infer" / "trflow_ablation.py")
ablation = importlib.util.module_from_spec(spec)
sys.modules["trflow_ablation"] = ablation
spec.loader.exec_module(ablation)


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

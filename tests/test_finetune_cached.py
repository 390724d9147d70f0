"""finetune_cached: a short `lvg fit` exported once, then reused while its settings and base checkpoint stay."""

import json

import pytest
from tests_paths import TINY_CONFIG

from lvg.errors import LvgError
from lvg.finetune_cached import finetune_cached, finetune_seconds


def test_finetune_exports_then_reuses_and_retrains_on_new_settings(tmp_path, tiny_toy_dir):
    base = ["--model.init_args.backbone.init_args.path", str(tiny_toy_dir)]
    out = tmp_path / "ft"
    folder = finetune_cached(str(TINY_CONFIG), str(out), 2, overrides=base, base=str(tiny_toy_dir))
    assert (folder / "transformer" / "config.json").is_file()
    record = json.loads((out / "finetune.json").read_text())
    assert record["settings"]["steps"] == 2 and finetune_seconds(str(out)) == record["seconds"]
    stamp = (folder / "transformer" / "diffusion_pytorch_model.safetensors").stat().st_mtime_ns

    assert finetune_cached(str(TINY_CONFIG), str(out), 2, overrides=base, base=str(tiny_toy_dir)) == folder
    assert (folder / "transformer" / "diffusion_pytorch_model.safetensors").stat().st_mtime_ns == stamp  # reused

    finetune_cached(str(TINY_CONFIG), str(out), 3, overrides=base, base=str(tiny_toy_dir))
    assert json.loads((out / "finetune.json").read_text())["settings"]["steps"] == 3  # retrained


def test_finetune_refuses_bad_input(tmp_path):
    with pytest.raises(LvgError, match="steps"):
        finetune_cached(str(TINY_CONFIG), str(tmp_path), 0)
    with pytest.raises(LvgError, match="does not exist"):
        finetune_cached(str(tmp_path / "missing.yaml"), str(tmp_path), 1)


def test_a_finetune_stopped_early_is_not_cached(tmp_path, tiny_toy_dir):
    base = ["--model.init_args.backbone.init_args.path", str(tiny_toy_dir), "--trainer.max_time", "00:00:00:00"]
    with pytest.raises(LvgError, match="stopped at step"):
        finetune_cached(str(TINY_CONFIG), str(tmp_path / "ft"), 5, overrides=base)
    assert not (tmp_path / "ft" / "finetune.json").exists()

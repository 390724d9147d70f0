"""infer/toy_quality.py samples as the config it is given samples (the quality bar's "default settings")."""

import importlib.util

from tests_paths import REPO

spec = importlib.util.spec_from_file_location("toy_quality_script", REPO / "infer" / "toy_quality.py")
toy_quality = importlib.util.module_from_spec(spec)
spec.loader.exec_module(toy_quality)


def test_the_quality_check_takes_the_main_jobs_sampler_settings(tiny_toy_dir):
    config = str(REPO / "configs/toy/generate.yaml")
    module = toy_quality.build_module(config, str(tiny_toy_dir))
    assert (module.sampler.num_steps, module.sampler.shift) == (20, 5.0)  # configs/toy/generate.yaml's
    assert module.method.condition_fill == "nearest"
    override = toy_quality.build_module(config, str(tiny_toy_dir), steps=6, shift=1.0)
    assert (override.sampler.num_steps, override.sampler.shift) == (6, 1.0)

"""infer/toy_quality.py samples as the config it is given samples (the quality bar's "default settings")."""

import json

from helpers.scripts import load_infer_script
from tests_paths import REPO

toy_quality = load_infer_script("toy_quality")


def test_the_quality_check_takes_the_main_jobs_sampler_settings(tiny_toy_dir):
    config = str(REPO / "configs/toy/generate.yaml")
    module = toy_quality.build_module(config, str(tiny_toy_dir))
    assert (module.sampler.num_steps, module.sampler.shift) == (20, 5.0)  # configs/toy/generate.yaml's
    assert module.method.condition_fill == "nearest"
    override = toy_quality.build_module(config, str(tiny_toy_dir), steps=6, shift=1.0)
    assert (override.sampler.num_steps, override.sampler.shift) == (6, 1.0)


def test_the_config_decides_every_part_of_the_module(tiny_toy_dir):
    """module_from_config builds what the config names, not a fixed method: the chunk-wise config gives ChunkwiseI2V
    with its guidance and its own steps, on the checkpoint given."""
    from lvg.module_config import module_from_config

    module = module_from_config(REPO / "configs/toy/generate_chunkwise_naive.yaml", str(tiny_toy_dir), {"shift": 2.0})
    assert type(module.method).__name__ == "ChunkwiseI2V" and module.method.condition_guidance == 3.0
    assert (module.sampler.num_steps, module.sampler.shift) == (50, 2.0)
    tiny = json.loads((tiny_toy_dir / "transformer" / "config.json").read_text())
    assert (
        module.backbone.transformer.config.num_layers == tiny["num_layers"]
    )  # the given checkpoint, not the config's

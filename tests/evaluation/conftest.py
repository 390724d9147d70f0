"""The videos `lvg evaluate`'s tests score: written by `lvg generate` with the tiny toy model."""

import pytest
from tests_paths import REPO

from lvg.cli import main

CONFIGS = {"extension": "generate.yaml", "chunkwise": "generate_chunkwise_naive.yaml"}


@pytest.fixture(scope="session")
def videos(tiny_toy_dir, tmp_path_factory):
    """Two methods x two noise seeds, 3 clips each, from the same toy world."""
    folder = tmp_path_factory.mktemp("generated")
    for method, config in CONFIGS.items():
        for seed in (1, 2):
            main([
                "generate", "--config", str(REPO / "configs" / "toy" / config),
                "--model.init_args.backbone.init_args.path", str(tiny_toy_dir),
                "--model.init_args.frames_per_clip", "4", "--model.init_args.sampler.init_args.num_steps", "2",
                "--num_clips", "3", "--seed", str(seed), "--progress", "false",
                "--output", str(folder / f"{method}_s{seed}.mp4"),
            ])  # fmt: skip
    return folder

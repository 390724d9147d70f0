"""Fixtures the backbone tests share: a tiny seeded random CogVideoX-5B-I2V saved like a real checkpoint, loaded once
per test module."""

from pathlib import Path

import pytest

from lvg.backbones import CogVideoX


@pytest.fixture(scope="module")
def tiny_cog_dir(tmp_path_factory) -> Path:
    from helpers.tiny_cogvideox import save_tiny_cogvideox

    return save_tiny_cogvideox(tmp_path_factory.mktemp("tiny_cogvideox"))


@pytest.fixture(scope="module")
def cog(tiny_cog_dir) -> CogVideoX:
    return CogVideoX(str(tiny_cog_dir))

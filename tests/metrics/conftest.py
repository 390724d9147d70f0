import pytest


@pytest.fixture(scope="session")
def tiny_clip_encoder(tmp_path_factory):
    from helpers.tiny_encoders import save_tiny_clip

    return str(save_tiny_clip(tmp_path_factory.mktemp("tiny_clip_encoder")))


@pytest.fixture(scope="session")
def tiny_dino_encoder(tmp_path_factory):
    from helpers.tiny_encoders import save_tiny_dino

    return str(save_tiny_dino(tmp_path_factory.mktemp("tiny_dino_encoder")))

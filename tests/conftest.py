"""Shared test setup: offline hubs and W&B, few threads, tiny seeded models."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(2)

REPO = Path(__file__).resolve().parents[1]
TINY_CONFIG = REPO / "tests" / "configs" / "tiny_toy.yaml"


@pytest.fixture(scope="session")
def tiny_toy_dir(tmp_path_factory) -> Path:
    """A tiny random toy backbone (16x16, 1 layer) saved in diffusers layout, loaded by path like a user's."""
    from lvg.backbones import Toy

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny_toy")
    Toy(width=32, layers=1, heads=2, patch=(1, 4, 4)).save_pretrained(path)
    return path


@pytest.fixture()
def tiny_module(tiny_toy_dir):
    """A LongVideoModule over the tiny toy backbone: 4 frames per clip, 2 condition frames, 3 sampling steps."""
    from lvg import LongVideoModule
    from lvg.backbones import Toy
    from lvg.methods import Extension
    from lvg.sampling import SchedulerSampler

    return LongVideoModule(
        Toy(path=str(tiny_toy_dir)),
        Extension(condition_frames=2),
        SchedulerSampler(3),
        frames_per_clip=4,
        height=16,
        width=16,
    )


@pytest.fixture(scope="session")
def tiny_wan_dir(tmp_path_factory) -> Path:
    """A tiny seeded random Wan2.1 (transformer, VAE, UMT5, tokenizer, scheduler) saved in diffusers layout."""
    from helpers.tiny_wan import save_tiny_wan

    return save_tiny_wan(tmp_path_factory.mktemp("tiny_wan"))


@pytest.fixture()
def video_folder(tmp_path) -> Path:
    """Two 12-frame mp4 files (40x56) with a captions.csv index, for the video-folder data module."""
    from helpers.videos import write_video

    for name in ("a", "b"):
        write_video(tmp_path / f"{name}.mp4", num_frames=12)
    (tmp_path / "captions.csv").write_text("path,caption\na.mp4,a grey ramp\nb.mp4,another grey ramp\n")
    return tmp_path

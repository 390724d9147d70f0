"""configs/wan/extension.yaml end to end on a tiny random Wan2.1 and a folder of real mp4 files."""

import pytest
import torch
from tests_paths import REPO

from lvg.cli import main, run_cli

WAN_CONFIG = REPO / "configs" / "wan" / "extension.yaml"


def wan_args(tiny_wan_dir, root, frames="5"):
    return [
        "fit", "--config", str(WAN_CONFIG),
        "--model.init_args.backbone.init_args.path", str(tiny_wan_dir),
        "--model.init_args.backbone.init_args.dtype", "float32",
        "--model.init_args.method.init_args.condition_frames", "1",
        "--model.init_args.frames_per_clip", frames, "--model.init_args.height", "16", "--model.init_args.width", "16",
        "--data.init_args.root", str(root), "--data.init_args.frames_per_clip", frames,
        "--data.init_args.resolution", "[16, 16]", "--data.init_args.fps", "null",
        "--trainer.precision", "32-true", "--trainer.fast_dev_run", "1", "--trainer.accumulate_grad_batches", "1",
        "--trainer.default_root_dir", str(root / "run"),
    ]  # fmt: skip


def test_wan_extension_finetunes_on_a_video_folder(tiny_wan_dir, video_folder):
    cli = run_cli(wan_args(tiny_wan_dir, video_folder))
    backbone = cli.model.backbone
    assert backbone.transformer.config.in_channels == 33  # 16 latent + 16 condition + 1 mask
    assert backbone.transformer.gradient_checkpointing
    assert torch.isfinite(cli.trainer.callback_metrics["train/loss"])
    assert backbone.transformer.patch_embedding.weight[:, 16:].abs().sum() > 0  # the new channels learn


def test_wan_frame_count_the_vae_cannot_take_is_one_line_exit_2(tiny_wan_dir, video_folder, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(wan_args(tiny_wan_dir, video_folder, frames="8"))
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert err.strip().splitlines()[-1].startswith("lvg: error: frames_per_clip=8") and "4k+1" in err

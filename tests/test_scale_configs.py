"""configs/scale/ (DDP, FSDP, DeepSpeed ZeRO overlays) over the Wan training configs, and strategies a machine cannot
run: one line, exit 2 (lvg.scale)."""

import pytest
import torch
import yaml
from jsonargparse import ArgumentParser
from lightning.pytorch.strategies import DDPStrategy, Strategy
from tests_paths import REPO

from lvg import LongVideoModule
from lvg.cli import LvgCLI, LvgTrainer, main, run_cli
from lvg.scale import check_strategy, strategy_name

SCALE = REPO / "configs" / "scale"
WAN_CONFIGS = [REPO / "configs" / "wan" / "extension.yaml", REPO / "configs" / "wan" / "extension_14b.yaml"]


def tiny_wan_fit(config, overlay, tiny_wan_dir, root, *extra):
    """`lvg fit` of a real-size Wan config + a scale overlay, with the tiny Wan and 16x16 clips substituted."""
    return [
        "fit", "--config", str(config), "--config", str(overlay),
        "--model.init_args.backbone.init_args.path", str(tiny_wan_dir),
        "--model.init_args.backbone.init_args.dtype", "float32",
        "--model.init_args.method.init_args.condition_frames", "1",
        "--model.init_args.frames_per_clip", "5", "--model.init_args.height", "16", "--model.init_args.width", "16",
        "--data.init_args.root", str(root), "--data.init_args.frames_per_clip", "5",
        "--data.init_args.resolution", "[16, 16]", "--data.init_args.fps", "null",
        "--trainer.precision", "32-true", "--trainer.fast_dev_run", "1", "--trainer.accumulate_grad_batches", "1",
        "--trainer.default_root_dir", str(root / "run"), "--trainer.logger", "false", *extra,
    ]  # fmt: skip


@pytest.mark.parametrize("config", WAN_CONFIGS, ids=lambda p: p.name)
def test_ddp_overlay_trains_a_wan_config_step_under_the_ddp_strategy(config, tiny_wan_dir, video_folder):
    cpu = ["--trainer.accelerator", "cpu", "--trainer.devices", "1"]
    cli = run_cli(tiny_wan_fit(config, SCALE / "ddp.yaml", tiny_wan_dir, video_folder, *cpu))
    assert isinstance(cli.trainer.strategy, DDPStrategy)
    assert cli.model.backbone.transformer.gradient_checkpointing
    assert torch.isfinite(cli.trainer.callback_metrics["train/loss"])


def strategy_of(overlay):
    """The overlay's strategy block as jsonargparse (LightningCLI's parser) builds it."""
    parser = ArgumentParser()
    parser.add_argument("--strategy", type=Strategy)
    block = yaml.safe_load(overlay.read_text())["trainer"]["strategy"]
    return parser.instantiate(parser.parse_object({"strategy": block})).strategy


def test_fsdp_overlay_builds_a_sharded_strategy_wrapping_wan_blocks():
    from diffusers.models.transformers.transformer_wan import WanTransformerBlock
    from lightning.pytorch.strategies import FSDPStrategy

    strategy = strategy_of(SCALE / "fsdp.yaml")
    assert isinstance(strategy, FSDPStrategy) and strategy._state_dict_type == "sharded"
    assert strategy.sharding_strategy.name == "FULL_SHARD"
    assert strategy.kwargs["auto_wrap_policy"]._module_classes == {WanTransformerBlock}
    assert strategy.kwargs["use_orig_params"]  # frozen VAE and trained transformer share the root unit


def test_fsdp2_overlay_builds_lightnings_model_parallel_strategy_for_sharding_only():
    from lightning.pytorch.strategies import ModelParallelStrategy

    strategy = strategy_of(SCALE / "fsdp2.yaml")
    assert isinstance(strategy, ModelParallelStrategy) and strategy._save_distributed_checkpoint
    assert strategy._tensor_parallel_size == 1 and strategy._data_parallel_size == 8


@pytest.mark.parametrize("overlay", ["ddp", "fsdp", "fsdp2", "deepspeed_zero2", "deepspeed_zero3"])
def test_every_overlay_sets_bf16_mixed_on_gpus(overlay):
    trainer = yaml.safe_load((SCALE / f"{overlay}.yaml").read_text())["trainer"]
    assert trainer["precision"] == "bf16-mixed" and trainer["accelerator"] == "gpu"
    stage = {"deepspeed_zero2": 2, "deepspeed_zero3": 3}.get(overlay)
    if stage:
        assert trainer["strategy"]["init_args"]["stage"] == stage


@pytest.mark.parametrize(
    "overlay, expected",
    [("fsdp", "needs CUDA GPUs"), ("deepspeed_zero3", "deepspeed")],
)
def test_a_strategy_this_machine_cannot_run_is_one_line_exit_2(overlay, expected, tiny_wan_dir, video_folder, capsys):
    if torch.cuda.is_available() and overlay == "fsdp":
        pytest.skip("this machine can run FSDP")
    args = tiny_wan_fit(WAN_CONFIGS[1], SCALE / f"{overlay}.yaml", tiny_wan_dir, video_folder)
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("lvg: error:")]
    assert exit_info.value.code == 2 and len(lines) == 1 and expected in lines[0], err
    assert "Traceback" not in err


def test_strategy_checks_name_what_is_missing(monkeypatch):
    assert strategy_name({"class_path": "lightning.pytorch.strategies.FSDPStrategy"}) == "fsdpstrategy"
    assert strategy_name(None) == "auto" and strategy_name("DDP") == "ddp"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    check_strategy({"strategy": "ddp", "accelerator": "cpu", "devices": 2})  # runs on CPU processes
    with pytest.raises(ValueError, match="needs CUDA GPUs"):
        check_strategy({"strategy": "fsdp", "accelerator": "auto"})
    with pytest.raises(ValueError, match="no CUDA GPU"):
        check_strategy({"strategy": "ddp", "accelerator": "gpu"})
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    check_strategy({"strategy": "fsdp", "accelerator": "gpu"})  # a GPU machine: Lightning takes over


class ParseOnly(LvgCLI):
    """The CLI's parser and config merging, without building anything (FSDP and DeepSpeed cannot be built here)."""

    def before_instantiate_classes(self) -> None:
        pass

    def instantiate_classes(self) -> None:
        pass


@pytest.mark.parametrize("overlay", ["ddp", "fsdp", "fsdp2", "deepspeed_zero2", "deepspeed_zero3"])
@pytest.mark.parametrize("config", WAN_CONFIGS, ids=lambda p: p.name)
def test_overlays_merge_with_the_wan_configs(config, overlay):
    cli = ParseOnly(LongVideoModule, trainer_class=LvgTrainer, subclass_mode_model=True, subclass_mode_data=True,
                    run=False, args=["--config", str(config), "--config", str(SCALE / f"{overlay}.yaml")],
                    auto_configure_optimizers=False)  # fmt: skip
    trainer, model = cli.config.trainer, cli.config.model.init_args
    assert trainer.precision == "bf16-mixed" and model.gradient_checkpointing
    assert model.backbone.init_args.dtype == "bfloat16"
    callbacks = [c.class_path.rsplit(".", 1)[-1] for c in trainer.callbacks]
    # a sharded run cannot export the backbone's shards as they are: its overlay keeps only the checkpoints
    assert callbacks == (["ModelCheckpoint", "ExportBackbone"] if overlay == "ddp" else ["ModelCheckpoint"])


def test_the_torchrun_recipe_without_a_gpu_is_one_line_exit_2(tmp_path):
    import shutil
    import subprocess

    if shutil.which("nvidia-smi"):
        pytest.skip("this machine has GPUs")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    cmd = ["bash", str(REPO / "train" / "torchrun.sh"), "configs/wan/extension.yaml", "configs/scale/ddp.yaml"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=30)
    assert proc.returncode == 2 and proc.stderr.strip().startswith("train/torchrun.sh: error: no GPU found")
    assert len(proc.stderr.strip().splitlines()) == 1

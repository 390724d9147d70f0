"""LoRA finetuning from config: configs/wan/extension*_lora.yaml train only the adapter and the widened
patch_embedding (float32 adapters over a bf16 base), export both and reload them; LoRA on another method's Wan config
from the command line; bad LoRA settings and a strategy that cannot shard a LoRA run are one line."""

import pytest
import torch
from tests_paths import REPO

from lvg.backbones import Lora, Toy, Wan
from lvg.backbones.lora import TRAINED_MODULES_FILE
from lvg.cli import main, run_cli
from lvg.errors import LvgError
from lvg.scale import check_strategy

WAN = REPO / "configs" / "wan"
LORA_CONFIGS = [WAN / "extension_lora.yaml", WAN / "extension_14b_lora.yaml"]


def tiny_fit(config, tiny_wan_dir, root, *extra):
    """`lvg fit` of a real-size Wan config with the tiny Wan and 16x16 clips of 5 frames substituted."""
    return [
        "fit", "--config", str(config),
        "--model.init_args.backbone.init_args.path", str(tiny_wan_dir),
        "--model.init_args.method.init_args.condition_frames", "1",
        "--model.init_args.frames_per_clip", "5", "--model.init_args.height", "16", "--model.init_args.width", "16",
        "--model.init_args.lora.init_args.rank", "4", "--model.init_args.warmup_steps", "1",
        "--data.init_args.root", str(root), "--data.init_args.frames_per_clip", "5",
        "--data.init_args.resolution", "[16, 16]", "--data.init_args.fps", "null",
        "--trainer.accumulate_grad_batches", "1", "--trainer.logger", "false",
        "--trainer.enable_progress_bar", "false",
        "--trainer.default_root_dir", str(root / "run"), *extra,
    ]  # fmt: skip


@pytest.mark.parametrize("config", LORA_CONFIGS, ids=lambda p: p.name)
def test_wan_lora_configs_train_only_the_adapter_and_patch_embedding(config, tiny_wan_dir, video_folder, monkeypatch):
    monkeypatch.chdir(video_folder)  # the config's runs/ (export, checkpoints) land here
    start = Wan(str(tiny_wan_dir), extension=True, dtype="bfloat16").transformer.state_dict()
    # the config's own dtype (bf16 weights) and precision (bf16-mixed), 2 optimizer steps
    cli = run_cli(tiny_fit(config, tiny_wan_dir, video_folder, "--trainer.max_steps", "2"))
    model, transformer = cli.model, cli.model.backbone.transformer
    assert transformer.is_gradient_checkpointing and cli.trainer.global_step == 2
    assert torch.isfinite(cli.trainer.callback_metrics["train/loss"])

    trainable = {n for n, p in transformer.named_parameters() if p.requires_grad}
    assert trainable == {n for n in trainable if "lora_" in n} | {"patch_embedding.weight", "patch_embedding.bias"}
    wrapped = {n.split(".lora_")[0] for n in trainable if "lora_" in n}
    assert len(wrapped) == 2 * 8  # every block (the tiny Wan has 2), attn1 and attn2 q, k, v, out
    assert all(p.dtype == torch.float32 for n, p in transformer.named_parameters() if "lora_" in n)
    assert transformer.blocks[0].attn1.to_q.base_layer.weight.dtype == torch.bfloat16

    now = {n.replace(".base_layer", ""): p for n, p in transformer.state_dict().items() if "lora_" not in n}
    assert now.keys() == start.keys()
    changed = {n for n in now if not torch.equal(now[n], start[n])}
    assert changed == {"patch_embedding.weight", "patch_embedding.bias"}  # the frozen base did not move
    assert now["patch_embedding.weight"][:, 16:].abs().sum() > 0  # the zero-initialised condition channels learn
    assert all(p.abs().sum() > 0 for n, p in transformer.named_parameters() if "lora_B" in n)  # B starts at zero

    name = "wan14b-extension-lora" if "14b" in config.name else "wan-extension-lora"
    cli.trainer.save_checkpoint(video_folder / "step2.ckpt")  # through the config's callbacks (ExportLora)
    ckpt = torch.load(video_folder / "step2.ckpt", weights_only=False)
    assert {k.removeprefix("backbone.transformer.") for k in ckpt["state_dict"]} == trainable  # adapter-only
    export = video_folder / "runs" / name / "lora"
    assert (export / "pytorch_lora_weights.safetensors").is_file() and (export / TRAINED_MODULES_FILE).is_file()

    # a fresh backbone with the exported adapter and patch_embedding predicts what the trained one does
    loaded = Wan(str(tiny_wan_dir), extension=True, dtype="bfloat16")
    targets = [f"attn{a}.{p}" for a in (1, 2) for p in ("to_q", "to_k", "to_v", "to_out.0")]
    loaded.add_lora(Lora(rank=4, blocks="all", targets=targets, train_modules=["patch_embedding"], path=str(export)))
    x, t = torch.randn(1, 16, 2, 2, 2), torch.full((1, 2), 0.5)
    with torch.no_grad():
        cond = model.backbone.conditioning(["a cat"], torch.randn(1, 16, 2, 2, 2), torch.tensor([[1.0, 0.0]]))
        torch.testing.assert_close(loaded.predict(x, t, cond), model.backbone.predict(x, t, cond))


def test_lora_on_another_methods_wan_config_from_the_command_line(tiny_wan_dir, video_folder):
    lora = ["--model.init_args.lora", "lvg.backbones.Lora", "--model.init_args.lora.init_args.rank", "4",
            "--model.init_args.lora.init_args.blocks", "all"]  # fmt: skip
    cli = run_cli([
        "fit", "--config", str(WAN / "replacement_noise.yaml"), *lora,
        "--model.init_args.backbone.init_args.path", str(tiny_wan_dir),
        "--model.init_args.backbone.init_args.dtype", "float32", "--model.init_args.frames_per_clip", "9",
        "--model.init_args.height", "16", "--model.init_args.width", "16",
        "--model.init_args.method.init_args.condition_frames", "5",
        "--data.init_args.root", str(video_folder), "--data.init_args.frames_per_clip", "9",
        "--data.init_args.resolution", "[16, 16]", "--data.init_args.fps", "null",
        "--trainer.precision", "32-true", "--trainer.fast_dev_run", "1", "--trainer.accumulate_grad_batches", "1",
        "--trainer.default_root_dir", str(video_folder / "run"),
    ])  # fmt: skip
    trainable = [n for n, p in cli.model.named_parameters() if p.requires_grad]
    assert trainable and all(".lora_" in n for n in trainable)
    assert torch.isfinite(cli.trainer.callback_metrics["train/loss"])


@pytest.mark.parametrize(
    "spec, message",
    [
        (dict(train_modules=["patch_embed"]), "are not modules with weights in the transformer: use one of"),
        (dict(train_modules=["blocks.1"]), "hold modules the adapter wraps"),
    ],
)
def test_bad_train_modules_are_one_line(spec, message):
    with pytest.raises(LvgError, match=message) as info:
        Toy(width=32, layers=2, heads=2).add_lora(Lora(rank=2, **spec))
    assert "\n" not in str(info.value)


def test_exported_train_modules_missing_from_the_folder_is_one_line(tmp_path):
    backbone = Toy(width=32, layers=2, heads=2)
    backbone.add_lora(Lora(rank=2))
    backbone.save_lora(tmp_path / "lora")  # written without train_modules
    with pytest.raises(LvgError, match=f"{TRAINED_MODULES_FILE} not found"):
        Toy(width=32, layers=2, heads=2).add_lora(
            Lora(rank=2, path=str(tmp_path / "lora"), train_modules=["patch_embedding"])
        )


def test_lora_over_bf16_under_fsdp1_is_one_line_exit_2(tiny_wan_dir, video_folder, capsys):
    args = tiny_fit(LORA_CONFIGS[1], tiny_wan_dir, video_folder, "--config", str(REPO / "configs/scale/fsdp.yaml"))
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("lvg: error:")]
    assert exit_info.value.code == 2 and len(lines) == 1 and "fsdp2.yaml" in lines[0], err
    # a float32 base is fine under FSDP1 (one dtype): past the LoRA check, only the missing GPU stops it
    lora = {"init_args": {"lora": {"class_path": "lvg.backbones.Lora"}, "backbone": {"init_args": {}}}}
    with pytest.raises(LvgError, match="needs CUDA GPUs"):
        check_strategy({"strategy": "fsdp", "accelerator": "cpu"}, lora)
    check_strategy({"strategy": "ddp", "accelerator": "cpu"}, lora)


def test_wan_error_recycling_config_trains_the_adapter_and_banks_the_models_errors(
    tiny_wan_dir, video_folder, monkeypatch
):
    monkeypatch.chdir(video_folder)
    config = WAN / "extension_error_recycling.yaml"
    cli = run_cli(tiny_fit(config, tiny_wan_dir, video_folder, "--trainer.max_steps", "2"))
    recycling = cli.model.method.error_recycling
    assert cli.trainer.global_step == 2 and torch.isfinite(cli.trainer.callback_metrics["train/loss"])
    assert len(recycling.bank) >= 1 and recycling.probs == {"latent": 0.9, "noise": 0.9, "condition": 0.9}
    trainable = {n for n, p in cli.model.backbone.transformer.named_parameters() if p.requires_grad}
    assert trainable == {n for n in trainable if "lora_" in n} | {"patch_embedding.weight", "patch_embedding.bias"}

"""The causal-KV configs end to end: toy generation logs each clip's selected clips (sidecar, W&B), prompt files,
the toy stage-2 run saves only the LoRA adapter, and the Wan2.1 stage-2 config runs on a tiny random Wan."""

import json

import pytest
import torch
from helpers.cli import run_main
from helpers.videos import write_video
from tests_paths import REPO

from lvg.cli import run_cli

TOY = REPO / "configs" / "toy"


def generate_args(tiny_toy_dir, out, *extra):
    return [
        "generate", "--config", TOY / "generate_causal_kv.yaml",
        "--model.init_args.backbone.init_args.path", tiny_toy_dir,
        "--model.init_args.frames_per_clip", "4", "--model.init_args.method.init_args.policy.init_args.max_clips", "2",
        "--model.init_args.sampler.init_args.num_steps", "2", "--progress", "false", "--output", out, *extra,
    ]  # fmt: skip


def test_generate_logs_each_clips_selection_in_the_sidecar_and_wandb(tiny_toy_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the offline W&B run lands here
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a red circle\na blue square\na red circle moving left\na blue square\n")
    out = tmp_path / "kv.mp4"
    extra = ["--prompt_file", prompts, "--trainer.logger", "lvg.tracking.AutoWandbLogger",
             "--trainer.logger.init_args.save_dir", tmp_path]  # fmt: skip
    code, err = run_main(generate_args(tiny_toy_dir, out, *extra), capsys)
    assert code == 0, err
    clips = json.loads(out.with_suffix(".json").read_text())["clips"]
    assert [c["context"]["selected"] for c in clips] == [[], [0], [0, 1], [0, 1]]
    assert clips[3]["context"]["scores"][1] == pytest.approx(1.0, abs=1e-4)  # the same prompt as clip 1
    assert [c["context"]["position"] for c in clips] == [0, 2, 4, 6]
    tables = list((tmp_path / "wandb").glob("offline-run-*/files/media/table/generate/context*.table.json"))
    assert tables and len(json.loads(tables[0].read_text())["data"]) == 4


def test_a_prompt_file_shorter_than_the_clips_is_one_line_unless_asked_to_repeat(tiny_toy_dir, tmp_path, capsys):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a red circle\na blue square\n")
    out = tmp_path / "short.mp4"
    code, err = run_main(generate_args(tiny_toy_dir, out, "--prompt_file", prompts, "--num_clips", "3"), capsys)
    assert code == 2 and "has 2 lines but num_clips=3" in err and "--repeat_last_prompt" in err
    assert err.strip().splitlines()[-1].startswith("lvg: error: prompt file") and not out.exists()
    extra = ["--prompt_file", prompts, "--num_clips", "3", "--repeat_last_prompt", "true"]
    code, err = run_main(generate_args(tiny_toy_dir, out, *extra), capsys)
    assert code == 0, err
    assert [c["prompt"] for c in json.loads(out.with_suffix(".json").read_text())["clips"]] == [
        "a red circle", "a blue square", "a blue square",
    ]  # fmt: skip


def test_max_clips_below_one_is_one_line_exit_2(tiny_toy_dir, tmp_path, capsys):
    args = generate_args(tiny_toy_dir, tmp_path / "x.mp4", "--num_clips", "2")
    args[args.index("--model.init_args.method.init_args.policy.init_args.max_clips") + 1] = "0"
    code, err = run_main(args, capsys)
    assert code == 2 and err.strip().splitlines()[-1].startswith("lvg: error: max_clips must be at least 1")


def test_toy_stage2_saves_only_the_lora_adapter_and_resumes_from_it(tiny_toy_dir, tmp_path):
    from lvg.backbones import Lora, Toy

    root = tmp_path / "run"
    args = [
        "fit", "--config", str(TOY / "causal_kv.yaml"),
        "--model.init_args.backbone.init_args.path", str(tiny_toy_dir),
        "--model.init_args.frames_per_clip", "4", "--model.init_args.height", "16", "--model.init_args.width", "16",
        "--data.init_args.resolution", "16", "--data.init_args.frames_per_clip", "4",
        "--data.init_args.batch_size", "2", "--data.init_args.samples_per_epoch", "4",
        "--data.init_args.val_samples", "2", "--data.init_args.num_clips", "3",
        "--trainer.max_epochs", "1", "--trainer.logger", "false", "--trainer.enable_progress_bar", "false",
        "--trainer.limit_val_batches", "0", "--trainer.num_sanity_val_steps", "0",
        "--trainer.default_root_dir", str(root),
        "--trainer.callbacks", json.dumps([
            {"class_path": "lightning.pytorch.callbacks.ModelCheckpoint", "init_args": {"save_last": True}},
            {"class_path": "lvg.callbacks.ExportLora", "init_args": {"dirpath": str(root / "lora")}},
        ]),
    ]  # fmt: skip
    cli = run_cli(args)
    assert torch.isfinite(cli.trainer.callback_metrics["train/loss"])
    ckpt = torch.load(next(root.rglob("last.ckpt")), weights_only=False)
    assert ckpt["state_dict"] and all("lora_" in k for k in ckpt["state_dict"])  # adapter-only checkpoint
    assert (root / "lora" / "pytorch_lora_weights.safetensors").is_file()

    trained = cli.model.backbone
    loaded = Toy(path=str(tiny_toy_dir))
    loaded.add_lora(Lora(rank=16, path=str(root / "lora")))
    x, t = torch.randn(1, 3, 4, 16, 16), torch.full((1, 4), 0.5)
    with torch.no_grad():
        cond = trained.conditioning(["a red circle"])
        torch.testing.assert_close(loaded.predict(x, t, cond), trained.predict(x, t, cond))

    # resuming from the adapter-only checkpoint: the base comes from the config, the adapter and optimizer from it
    last = next(root.rglob("last.ckpt"))
    resumed = run_cli([*args, "--trainer.max_epochs", "2", "--ckpt_path", str(last)])
    assert resumed.trainer.current_epoch == 2 and resumed.trainer.global_step == 2 * cli.trainer.global_step


@pytest.fixture()
def long_video_folder(tmp_path):
    for name in ("a", "b"):
        write_video(tmp_path / f"{name}.mp4", num_frames=16)
    segments = (
        '"[{""start"": 0, ""end"": 1, ""prompt"": ""a dog""}, {""start"": 1, ""end"": 9, ""prompt"": ""a cat""}]"'
    )
    (tmp_path / "captions.csv").write_text(f"path,caption,segments\na.mp4,a ramp,{segments}\nb.mp4,a ramp,\n")
    return tmp_path


def test_wan_stage2_config_runs_on_a_tiny_wan(tiny_wan_dir, long_video_folder):
    cli = run_cli([
        "fit", "--config", str(REPO / "configs" / "wan" / "causal_kv.yaml"),
        "--model.init_args.backbone.init_args.path", str(tiny_wan_dir),
        "--model.init_args.backbone.init_args.dtype", "float32",
        "--model.init_args.frames_per_clip", "9", "--model.init_args.height", "16", "--model.init_args.width", "16",
        "--model.init_args.lora.init_args.rank", "4",
        "--data.init_args.root", str(long_video_folder), "--data.init_args.frames_per_clip", "9",
        "--data.init_args.num_clips", "2", "--data.init_args.resolution", "[16, 16]", "--data.init_args.fps", "null",
        "--trainer.precision", "32-true", "--trainer.fast_dev_run", "1", "--trainer.accumulate_grad_batches", "1",
        "--trainer.default_root_dir", str(long_video_folder / "run"),
    ])  # fmt: skip
    transformer = cli.model.backbone.transformer
    assert transformer.is_gradient_checkpointing and cli.model.method.cache.offload
    assert torch.isfinite(cli.trainer.callback_metrics["train/loss"])
    lora = sorted({n.rsplit(".lora_", 1)[0] for n, p in transformer.named_parameters() if p.requires_grad})
    assert lora == ["blocks.1.attn1.to_k", "blocks.1.attn1.to_v"]  # 2 blocks: the latter half is block 1

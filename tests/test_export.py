"""ExportBackbone: the shippable checkpoint folder gets the permissions any folder the user creates gets."""

import os
import stat
from types import SimpleNamespace

from lvg.backbones import Toy
from lvg.callbacks.export import ExportBackbone


def test_the_exported_folder_and_its_files_get_the_users_umask_not_temp_file_modes(tiny_toy_dir, tmp_path):
    """mkdtemp makes the temp folder 0700 and safetensors writes its file 0600: a checkpoint that others in the
    user's group could not read. The export gives every folder 0777 and every file 0666 less the umask."""
    old = os.umask(0o022)
    try:
        out = tmp_path / "runs" / "backbone"
        trainer = SimpleNamespace(global_rank=0, fast_dev_run=False)
        ExportBackbone(str(out)).on_train_end(trainer, SimpleNamespace(backbone=Toy(path=str(tiny_toy_dir))))
    finally:
        os.umask(old)
    modes = {p.relative_to(out).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in [out, *out.rglob("*")]}
    assert "transformer/diffusion_pytorch_model.safetensors" in modes
    expected = {name: 0o755 if (out / name).is_dir() else 0o644 for name in modes}
    assert modes == expected
    assert Toy(path=str(out)).state_dict().keys() == Toy(path=str(tiny_toy_dir)).state_dict().keys()


def test_the_export_records_no_local_folder_it_was_trained_from(tiny_toy_dir, tmp_path):
    """A model loaded from a path and saved again: diffusers would record that path (`_name_or_path`) in the
    transformer's config, so the same weights would export different bytes from another folder."""
    out = tmp_path / "export"
    Toy(path=str(tiny_toy_dir)).save_pretrained(out)
    saved = (out / "transformer" / "config.json").read_text()
    assert "_name_or_path" not in saved and str(tiny_toy_dir) not in saved
    assert saved == (tiny_toy_dir / "transformer" / "config.json").read_text()  # as a fresh model's save writes it
    assert (
        Toy(path=str(out)).transformer.config.num_layers == Toy(path=str(tiny_toy_dir)).transformer.config.num_layers
    )


def test_frozen_parts_hard_linked_from_the_source_keep_the_sources_modes(tmp_path):
    from lvg.callbacks.export import give_default_modes

    source = tmp_path / "source.safetensors"
    source.write_bytes(b"frozen")
    os.chmod(source, 0o444)
    folder = tmp_path / "export"
    folder.mkdir(mode=0o700)
    os.link(source, folder / "vae.safetensors")
    (folder / "mine.json").write_text("{}")
    os.chmod(folder / "mine.json", 0o600)
    old = os.umask(0o022)
    try:
        give_default_modes(folder)
    finally:
        os.umask(old)
    assert stat.S_IMODE(source.stat().st_mode) == 0o444
    assert stat.S_IMODE((folder / "mine.json").stat().st_mode) == 0o644
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755


def test_the_export_holds_the_weights_training_ends_with_after_every_callback(tmp_path, capsys):
    """Lightning's own EMA/SWA callback (`WeightAveraging`), appended after the export as `--trainer.callbacks+=`
    does, copies the averaged weights into the model at the end of training: the export must be those weights
    (the ones `last.ckpt` holds), not the raw weights an export run before that copy would write."""
    import torch
    from helpers.cli import run_main
    from safetensors.torch import load_file
    from tests_paths import TINY_CONFIG

    out = tmp_path / "backbone"
    args = ["fit", "--config", TINY_CONFIG, "--trainer.default_root_dir", tmp_path,
            "--trainer.callbacks+=lvg.callbacks.ExportBackbone", "--trainer.callbacks.dirpath", out,
            "--trainer.callbacks+=lightning.pytorch.callbacks.WeightAveraging"]  # fmt: skip
    code, err = run_main(args, capsys)
    assert code == 0, err
    exported = load_file(out / "transformer" / "diffusion_pytorch_model.safetensors")
    last = torch.load(next(tmp_path.rglob("last.ckpt")), map_location="cpu", weights_only=False)
    prefix = "backbone.transformer."
    averaged = {k[len(prefix) :]: v for k, v in last["state_dict"].items() if k.startswith(prefix)}
    raw = {k[len(prefix) :]: v for k, v in last["current_model_state"].items() if k.startswith(prefix)}
    assert exported.keys() == averaged.keys()
    assert any(not torch.equal(averaged[k], raw[k]) for k in averaged)  # averaging changed the weights
    assert all(torch.equal(exported[k], averaged[k]) for k in averaged)

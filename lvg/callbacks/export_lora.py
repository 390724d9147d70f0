"""LoRA runs save only the adapter (DESIGN.md invariant): in diffusers' LoRA format, and in Lightning checkpoints."""

from __future__ import annotations

from pathlib import Path

import lightning as L

from lvg.callbacks.export import ExportBackbone


class ExportLora(ExportBackbone):
    """At the end of `fit`, write the backbone's LoRA adapter to `dirpath` (`pytorch_lora_weights.safetensors`, which
    `WanPipeline.load_lora_weights(dirpath)` and `lvg.backbones.lora.Lora(path=dirpath)` load), atomically.

    With `adapter_only_checkpoints`, Lightning checkpoints keep only the trainable (LoRA) weights too; resuming loads
    them over the base model built from the config (the module loads checkpoints non-strictly)."""

    def __init__(self, dirpath: str, adapter_only_checkpoints: bool = True) -> None:
        super().__init__(dirpath)
        self.adapter_only_checkpoints = adapter_only_checkpoints

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if self.adapter_only_checkpoints:
            pl_module.strict_loading = False

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict) -> None:
        if self.adapter_only_checkpoints:
            trainable = {name for name, p in pl_module.named_parameters() if p.requires_grad}
            checkpoint["state_dict"] = {k: v for k, v in checkpoint["state_dict"].items() if k in trainable}

    def write(self, pl_module: L.LightningModule, folder: Path) -> None:
        pl_module.backbone.save_lora(folder)

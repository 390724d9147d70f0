"""LoRA on a diffusers transformer with peft (error-free paper §3.3, §4.1), saved in diffusers' LoRA format.

The paper injects LoRA only into the self-attention of the latter half of the transformer blocks and trains only the
key and value projections; those are the defaults. Only the adapter is trained (the base is frozen) and saved:
`save_lora` writes `pytorch_lora_weights.safetensors` that `WanPipeline.load_lora_weights(dir)` loads.

A plain LoRA finetune (any method, `blocks: all` and more targets) may also train a few whole modules next to the
adapter (`train_modules`): the video-extension model's widened `patch_embedding` must learn, since its condition
channels start at zero (§3.3) and LoRA on the blocks alone would never read the condition. Those modules' weights are
saved beside the adapter in `lvg_trained_modules.safetensors` (lvg's own file: diffusers' LoRA loader does not read
it, and WanPipeline cannot run an extension model anyway); `Lora(path=...)` loads both.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from lvg.errors import LvgError, require

DEFAULT_TARGETS = ("attn1.to_k", "attn1.to_v")
ADAPTER = "default"
TRAINED_MODULES_FILE = "lvg_trained_modules.safetensors"


class Lora:
    """What LoRA to add (a LongVideoModule argument; LightningCLI builds it from `class_path`/`init_args`).

    Args:
        rank, alpha: LoRA rank and scale numerator (alpha / rank scales the update; alpha defaults to the rank).
        blocks: `latter_half` (the paper), `all`, or a list of block indices.
        targets: module names inside a block, e.g. `attn1.to_k` (self-attention key); the paper's K and V by default.
        dropout: LoRA dropout.
        path: a folder written by `save_lora` (or any diffusers LoRA folder) to load the adapter's weights from.
        train_modules: whole modules of the transformer trained next to the adapter, e.g. `patch_embedding` (needed
            when LoRA-finetuning the video-extension model from a text-to-video checkpoint: see the module docstring).
    """

    def __init__(
        self,
        rank: int = 16,
        alpha: float | None = None,
        blocks: str | list[int] = "latter_half",
        targets: list[str] | tuple[str, ...] = DEFAULT_TARGETS,
        dropout: float = 0.0,
        path: str | None = None,
        train_modules: list[str] | tuple[str, ...] = (),
    ) -> None:
        require(rank >= 1, f"LoRA rank must be at least 1, got {rank}")
        require(bool(targets), "LoRA targets are empty: name modules inside a block, e.g. attn1.to_k")
        self.rank = rank
        self.alpha = float(rank if alpha is None else alpha)
        self.blocks = blocks
        self.targets = tuple(targets)
        self.dropout = dropout
        self.path = path
        self.train_modules = tuple(train_modules)


def block_indices(num_blocks: int, blocks: str | list[int]) -> list[int]:
    if blocks == "latter_half":
        return list(range(num_blocks // 2, num_blocks))
    if blocks == "all":
        return list(range(num_blocks))
    require(
        not isinstance(blocks, str) and all(0 <= int(b) < num_blocks for b in blocks) and len(blocks) > 0,
        f"LoRA blocks must be 'latter_half', 'all' or indices in [0, {num_blocks}), got {blocks!r}",
    )
    return sorted({int(b) for b in blocks})


def lora_module_names(transformer: nn.Module, spec: Lora) -> list[str]:
    """Full module names `blocks.{i}.{target}` for the spec; LvgError listing the available names if one is absent."""
    modules = dict(transformer.named_modules())
    indices = block_indices(len(transformer.blocks), spec.blocks)
    names = [f"blocks.{i}.{t}" for i in indices for t in spec.targets]
    missing = [n for n in names if not isinstance(modules.get(n), nn.Linear)]
    if missing:
        available = sorted(
            n[len("blocks.0.") :] for n, m in modules.items() if n.startswith("blocks.0.") and isinstance(m, nn.Linear)
        )
        raise LvgError(
            f"LoRA targets {sorted({n.split('.', 2)[2] for n in missing})} match no linear module in the blocks: "
            f"use names among {', '.join(available)}"
        )
    return names


def trained_module_names(transformer: nn.Module, spec: Lora, wrapped: list[str]) -> list[str]:
    """The spec's `train_modules`, checked: each names a module of the transformer holding parameters, and holds no
    module the adapter wraps (`wrapped`)."""
    modules = dict(transformer.named_modules())
    missing = [n for n in spec.train_modules if n not in modules or not any(True for _ in modules[n].parameters())]
    if missing:
        top = ", ".join(n for n, m in transformer.named_children() if any(True for _ in m.parameters()))
        raise LvgError(
            f"LoRA train_modules {missing} are not modules with weights in the transformer: use one of {top}"
        )
    overlap = sorted({t for t in spec.train_modules for w in wrapped if w == t or w.startswith(f"{t}.")})
    require(not overlap, f"LoRA train_modules {overlap} hold modules the adapter wraps: train one or the other")
    return list(spec.train_modules)


def add_lora(transformer: nn.Module, spec: Lora) -> list[str]:
    """Wrap the spec's modules with a peft LoRA adapter (loaded from `spec.path` if given) and freeze everything else
    but the spec's `train_modules`; returns the wrapped module names."""
    from peft import LoraConfig

    names = lora_module_names(transformer, spec)
    trained = trained_module_names(transformer, spec, names)
    config = LoraConfig(r=spec.rank, lora_alpha=spec.alpha, lora_dropout=spec.dropout, target_modules=names)
    transformer.add_adapter(config, adapter_name=ADAPTER)
    if spec.path is not None:
        load_lora_weights(transformer, spec.path)
        load_trained_modules(transformer, spec.path, trained)
    for name, param in transformer.named_parameters():
        param.requires_grad_("lora_" in name or any(name.startswith(f"{m}.") for m in trained))
        if "lora_" in name and param.dtype != torch.float32:
            param.data = param.data.float()  # adapters train in float32 over a bf16 base, as diffusers' LoRA scripts
    transformer.lvg_trained_modules = trained  # what save_lora writes beside the adapter
    return names


def load_lora_weights(transformer: nn.Module, path: str) -> None:
    """Load a diffusers-format LoRA file (`save_lora`'s) into the already added adapter."""
    from diffusers import WanPipeline
    from peft import set_peft_model_state_dict

    require(Path(path).exists(), f"LoRA weights {path!r} not found: give the folder `lvg fit` exported the LoRA to")
    state = WanPipeline.lora_state_dict(path)
    state = {k.removeprefix("transformer."): v for k, v in state.items()}
    result = set_peft_model_state_dict(transformer, state, adapter_name=ADAPTER)
    unexpected = list(getattr(result, "unexpected_keys", []))
    if unexpected:
        raise LvgError(f"LoRA weights {path!r} do not fit this adapter (e.g. {unexpected[0]}): match its targets")


def load_trained_modules(transformer: nn.Module, path: str, names: list[str]) -> None:
    """Load the `train_modules` weights `save_lora` wrote beside the adapter (none asked: nothing to load)."""
    if not names:
        return
    from safetensors.torch import load_file

    file = Path(path) / TRAINED_MODULES_FILE
    require(file.is_file(), f"{file} not found: train_modules {names} need the folder `lvg fit` exported the LoRA to")
    state = load_file(file)
    for name in names:
        module = transformer.get_submodule(name)
        prefix = f"{name}."
        part = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
        require(bool(part), f"{file} holds no weights for train_modules entry {name!r}: match the trained run's")
        module.load_state_dict(part)


def save_lora(transformer: nn.Module, path: str | Path) -> Path:
    """Write the adapter, in the format `WanPipeline.load_lora_weights(path)` reads, and the `train_modules` weights
    (if any) beside it."""
    from diffusers import WanPipeline
    from peft.utils import get_peft_model_state_dict
    from safetensors.torch import save_file

    state = get_peft_model_state_dict(transformer, adapter_name=ADAPTER)
    metadata = transformer.peft_config[ADAPTER].to_dict()
    WanPipeline.save_lora_weights(path, transformer_lora_layers=state, transformer_lora_adapter_metadata=metadata)
    trained = getattr(transformer, "lvg_trained_modules", [])
    if trained:
        full = {
            f"{name}.{k}": v.detach().cpu().contiguous()
            for name in trained
            for k, v in transformer.get_submodule(name).state_dict().items()
        }
        save_file(full, str(Path(path) / TRAINED_MODULES_FILE))
    return Path(path)

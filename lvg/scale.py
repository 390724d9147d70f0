"""Distributed training checks: a strategy this machine cannot run gets one line before Lightning starts.

The strategies themselves are Lightning's (DDP, FSDP, DeepSpeed; configs/scale/ holds their trainer blocks); this
only names what is missing in words a user can act on, instead of a traceback from deep in the accelerator set-up.
"""

from __future__ import annotations

import importlib.util

import torch

from lvg.errors import require


def release_process_group() -> None:
    """Destroy the default process group after a command that finished, on every rank (PyTorch's documented shutdown).

    Lightning does this at exit only for NCCL; a Gloo (CPU) process that exits with its group alive can abort with
    "terminate called without an active exception" (SIGABRT) while the interpreter tears down (pytorch/pytorch#190489).
    Called on success only: after an error, another rank may still be inside a collective and would hang here."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def shard_backbone(backbone, mesh) -> None:
    """FSDP2 (`fully_shard`) over the backbone's trained network on `mesh`: each block diffusers marks unsplittable
    (`_no_split_modules`, e.g. WanTransformerBlock) is one shard unit, the network's remaining parameters the root
    unit. Frozen parts (VAE, encoders) stay whole on every rank. Used under Lightning's ModelParallelStrategy."""
    from torch.distributed.fsdp import fully_shard

    require(
        "tensor_parallel" not in (mesh.mesh_dim_names or ()) or mesh["tensor_parallel"].size() == 1,
        "lvg shards with FSDP2 only, not tensor parallelism: set the strategy's tensor_parallel_size: 1 and "
        "data_parallel_size to the number of processes",
    )
    mesh = mesh["data_parallel"] if "data_parallel" in (mesh.mesh_dim_names or ()) else mesh
    network = backbone.network
    unsplit = set(getattr(network, "_no_split_modules", None) or [])
    for block in [m for m in network.modules() if type(m).__name__ in unsplit]:
        fully_shard(block, mesh=mesh)
    fully_shard(network, mesh=mesh)


def strategy_name(strategy) -> str:
    """The strategy's short name: a registered string as given (`fsdp`, `deepspeed_stage_2`), or the class name of a
    `class_path` block (`FSDPStrategy`), lower-cased; "auto" when none is set."""
    if strategy is None:
        return "auto"
    if isinstance(strategy, str):
        return strategy.lower()
    class_path = strategy.get("class_path", "") if hasattr(strategy, "get") else type(strategy).__name__
    return str(class_path).rsplit(".", 1)[-1].lower()


def uses_cuda(accelerator) -> bool:
    """Whether the trainer would run on CUDA here: a CUDA device exists and the accelerator is not `cpu`."""
    return torch.cuda.is_available() and str(accelerator or "auto").lower() in ("auto", "gpu", "cuda")


def _init_args(block) -> dict:
    args = block.get("init_args") if hasattr(block, "get") else None
    return args if hasattr(args, "get") else {}


def lora_over_low_precision(model) -> bool:
    """Whether the config's `model` block (a LongVideoModule's) asks for LoRA over a backbone loaded in a dtype other
    than float32 (lvg's adapters are float32 whatever the base's dtype)."""
    args = _init_args(model)
    dtype = _init_args(args.get("backbone")).get("dtype")
    return bool(args.get("lora")) and dtype not in (None, "float32", "fp32")


def check_strategy(trainer: dict, model=None) -> None:
    """One clear error for a strategy (or accelerator) this machine cannot run (trainer: the config's `trainer`), or
    one that cannot run the model (`model`: the config's `model` block): LoRA over bf16 weights under FSDP1, whose flat
    parameters need one dtype while lvg trains float32 adapters (lvg.backbones.lora)."""
    name = strategy_name(trainer.get("strategy"))
    require(
        not (name.startswith("fsdp") and lora_over_low_precision(model)),
        f"strategy {name!r} (FSDP1) cannot shard LoRA over low-precision weights: it flattens the float32 adapters "
        "and a block's base weights into one tensor of one dtype; use configs/scale/fsdp2.yaml (FSDP2) or ddp.yaml",
    )
    accelerator = str(trainer.get("accelerator") or "auto").lower()
    if "deepspeed" in name:
        require(
            importlib.util.find_spec("deepspeed") is not None,
            f"strategy {name!r} needs the deepspeed package, which is not installed: `pip install deepspeed` on a "
            "CUDA machine, or use configs/scale/ddp.yaml or fsdp.yaml",
        )
        require(
            uses_cuda(accelerator),
            f"strategy {name!r} needs CUDA GPUs and this run has none: run it on GPUs, or use --trainer.strategy ddp",
        )
    if name.startswith("fsdp"):
        require(
            uses_cuda(accelerator),
            f"strategy {name!r} needs CUDA GPUs (Lightning's FSDP does not run on CPU processes) and this run has "
            "none: run it on GPUs, or use --trainer.strategy ddp --trainer.accelerator cpu",
        )
    require(
        accelerator not in ("gpu", "cuda") or torch.cuda.is_available(),
        f"the config asks for accelerator {accelerator!r} but this machine has no CUDA GPU: run it on a GPU machine, "
        "or add --trainer.accelerator cpu",
    )

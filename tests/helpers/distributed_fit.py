"""`lvg fit` under a multi-process strategy, then each rank saves its parameters (run as a script, not imported).

python tests/helpers/distributed_fit.py OUT_DIR fit --config ... --trainer.strategy ddp --trainer.devices 2

Lightning's launcher starts the other ranks by running this same command again; every rank writes
OUT_DIR/rank<r>.pt (its full parameter dict and global step) so a test can check the ranks agree.
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "offline")

import torch  # noqa: E402

from lvg.cli import main, run_cli  # noqa: E402
from lvg.scale import release_process_group  # noqa: E402


def full_state(cli) -> dict[str, torch.Tensor]:
    """The module's parameters as plain CPU tensors (gathered first under a sharding strategy)."""
    from torch.distributed.tensor import DTensor

    state = cli.trainer.lightning_module.state_dict()
    full = {k: v.full_tensor() if isinstance(v, DTensor) else v for k, v in state.items()}  # gathers shards
    return {k: v.detach().cpu().clone() for k, v in full.items()}


if __name__ == "__main__":
    torch.set_num_threads(1)
    out, argv = Path(sys.argv[1]), sys.argv[2:]
    try:
        cli = run_cli(argv)
    except SystemExit:
        raise
    except Exception:
        main(argv)  # prints an LvgError as one line and exits 2 (re-raises anything else)
        raise
    state = full_state(cli)
    if state:
        out.mkdir(parents=True, exist_ok=True)
        torch.save({"state": state, "global_step": cli.trainer.global_step}, out / f"rank{cli.trainer.global_rank}.pt")
    release_process_group()  # as `lvg` does after a command (a Gloo process exiting with its group alive can abort)

"""Loading checkpoint files without running code from them: `torch.load(weights_only=True)` (tensors, containers and
plain numbers only), with one clear line for each way a file can be wrong. No lvg code unpickles anything else."""

from __future__ import annotations

import pickle
import re
import zipfile
from pathlib import Path

from lvg.errors import LvgError


def check_checkpoint_file(path: str | Path, what: str = "checkpoint") -> Path:
    """One line unless `path` is an existing, complete PyTorch checkpoint file (a zip archive: torch's format)."""
    p = Path(path)
    if not p.exists():
        raise LvgError(f"{what} {str(path)!r} does not exist: give the path of a .ckpt written by `lvg fit`")
    if p.is_dir():
        raise LvgError(f"{what} {str(path)!r} is a folder, not a checkpoint file: give a .ckpt written by `lvg fit`")
    if not zipfile.is_zipfile(p):
        kind = "is empty" if p.stat().st_size == 0 else "is not a PyTorch checkpoint (or is truncated)"
        raise LvgError(f"{what} {str(path)!r} {kind}: give a complete .ckpt written by `lvg fit`")
    return p


def load_weights_only(path: str | Path, what: str = "checkpoint") -> dict:
    """The checkpoint's contents, loaded with `weights_only=True`; a file that needs more (a pickled object that would
    run code) is refused in one line."""
    import torch

    p = check_checkpoint_file(path, what)
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        name = re.search(r"GLOBAL ([\w.]+)", str(e))
        needs = f" (it names {name.group(1)})" if name else ""
        raise LvgError(
            f"{what} {str(path)!r} needs to run code to load{needs}; lvg loads weights only and refuses it: "
            "use a checkpoint written by `lvg fit`"
        ) from e
    except (RuntimeError, OSError, EOFError, ValueError) as e:
        raise LvgError(f"{what} {str(path)!r} is corrupt ({type(e).__name__}): give a complete .ckpt") from e
    if not isinstance(state, dict):
        raise LvgError(f"{what} {str(path)!r} holds a {type(state).__name__}, not a checkpoint dictionary")
    return state

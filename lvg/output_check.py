"""Where `lvg generate` will write, checked before any model is built: one line for an output that cannot be written
(a folder at its name or at its sidecar's, a file where its folder should be, a folder that refuses writes, a
system path such as /proc), instead of an OSError after every clip was generated."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from lvg.errors import LvgError, require


def _nearest_existing(path: Path) -> Path:
    for parent in [path, *path.parents]:
        if parent.exists():
            return parent
    return Path(".")


def check_output(output: str) -> Path:
    """The output path, after checking that it and its sidecar can be written (module doc)."""
    out = Path(output)
    require(out.suffix.lower() == ".mp4", f"output {output!r} must end in .mp4: e.g. outputs/video.mp4")
    require(not out.is_dir(), f"output {output!r} is a folder: give a file name ending in .mp4 inside it")
    side = out.with_suffix(".json")
    require(not side.is_dir(), f"the sidecar {str(side)!r} of output {output!r} is a folder: remove it or rename it")
    folder = _nearest_existing(out.parent)
    require(
        folder.is_dir(),
        f"output {output!r} cannot be written: {str(folder)!r} is a file, not a folder; choose another path",
    )
    try:  # the one test that tells what this process may create there (permissions, read-only and system mounts)
        fd, probe = tempfile.mkstemp(prefix=".lvg-write-check.", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise LvgError(
            f"output {output!r} cannot be written: {str(folder)!r} refuses new files ({e.strerror or e}); "
            "choose a folder you can write to"
        ) from e
    return out

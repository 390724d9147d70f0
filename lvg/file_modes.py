"""The mode a file or folder created normally gets: 0666 or 0777 less the process's umask (temp files and folders are
made 0600 / 0700, and safetensors writes 0600)."""

from __future__ import annotations

import os


def default_mode(directory: bool = False) -> int:
    """0777 (a folder) or 0666 (a file) less the current umask, read without changing it for good."""
    umask = os.umask(0)
    os.umask(umask)
    return (0o777 if directory else 0o666) & ~umask

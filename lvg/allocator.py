"""A fixed glibc mmap threshold for `lvg generate`, so that peak memory stays flat as a video grows.

glibc raises its mmap threshold each time a large block is freed (up to 32 MB on 64-bit), after which such blocks
come from the heap instead of their own mappings. A long generation frees and reallocates the same activation-sized
tensors clip after clip (k-step search's batched candidate previews most of all); on the heap their freed blocks
fragment, and the peak of a 100-clip run caught transients up to 1.07x a 10-clip run's
(benchmarks/generate_memory.py). With the threshold fixed at 4 MB (which also switches the dynamic raise off) the
larger blocks are mapped and unmapped whole and the ratio is 1.017; the trim threshold is raised with it, so the
heap's top is kept. 128 KB (glibc's starting value) gave 1.013 but cost about 40% of the time, faulting in every
activation; 4 MB costs about 7% (figures in benchmarks/README.md). A process-wide setting: the command makes it,
the library (`lvg.generate` in a notebook) leaves its host's allocator alone. Where glibc is not the C library the
call is not made.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameter numbers (malloc.h)
GENERATION_MMAP_THRESHOLD = 4 << 20  # bytes, held fixed
GENERATION_TRIM_THRESHOLD = 256 << 20  # bytes: the heap's top is not handed back and faulted in again at every step


def fix_mmap_threshold(threshold: int = GENERATION_MMAP_THRESHOLD, trim: int = GENERATION_TRIM_THRESHOLD) -> bool:
    """Hold glibc's mmap threshold at `threshold` bytes (and its trim threshold at `trim`) for this process; False
    where they cannot be set."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return False
    if not hasattr(libc, "gnu_get_libc_version"):  # glibc only (musl's mallopt does nothing)
        return False
    return bool(libc.mallopt(M_MMAP_THRESHOLD, int(threshold))) and bool(libc.mallopt(M_TRIM_THRESHOLD, int(trim)))

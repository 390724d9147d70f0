"""`lvg generate` holds glibc's mmap threshold fixed (lvg.allocator): a block freed after a large one is still mapped
on its own, where glibc's dynamic threshold would have moved it onto the fragmenting heap."""

import ctypes
import ctypes.util
import subprocess
import sys

import pytest

PROBE = """
import ctypes, ctypes.util, sys
from lvg.allocator import fix_mmap_threshold
libc = ctypes.CDLL(ctypes.util.find_library("c"))
class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in
                "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]
libc.mallinfo2.restype = MallInfo2
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
if sys.argv[1] == "fixed":
    assert fix_mmap_threshold()
libc.free(libc.malloc(16 << 20))  # a large mapped block freed: glibc's dynamic threshold rises to 16 MB
before = libc.mallinfo2().hblks
block = libc.malloc(8 << 20)
print(libc.mallinfo2().hblks - before)  # 1: the 8 MB block has its own mapping; 0: it came from the heap
"""


def mapped_blocks_after_a_large_free(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True)
    return int(out.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux") or not ctypes.util.find_library("c"), reason="glibc only")
def test_fixed_threshold_keeps_activation_sized_blocks_off_the_heap():
    if not hasattr(ctypes.CDLL(ctypes.util.find_library("c")), "mallinfo2"):
        pytest.skip("mallinfo2 needs glibc >= 2.33")
    assert mapped_blocks_after_a_large_free("dynamic") == 0
    assert mapped_blocks_after_a_large_free("fixed") == 1


def test_generate_fixes_the_threshold(monkeypatch):
    """The `generate` subcommand makes the call (a grep would pass on a comment; this runs the method's body)."""
    import lvg.allocator

    calls = []
    monkeypatch.setattr(lvg.allocator, "fix_mmap_threshold", lambda *a: calls.append(a) or True)
    from lvg.cli import LvgTrainer

    trainer = LvgTrainer(logger=False, enable_progress_bar=False, enable_checkpointing=False)
    with pytest.raises(AttributeError):  # no model: fails after the allocator call, which comes first
        trainer.generate(None)
    assert calls == [()]

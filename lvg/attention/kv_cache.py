"""The cross-clip KV cache (error-free paper §3.3, eq. 5): keys and values of finished clips, per attention layer.

Keys are stored after their norm and RoPE, so a cached clip keeps the temporal position it was generated at. While
`recording(clip)` is open, every model call stores its self-attention K/V as that clip's (a later call overwrites an
earlier one: the last denoising step's K/V remain). `prepare(selection)` gathers the selected clips' K/V once per
clip, so each denoising step only concatenates them in front of the current clip's own.

Memory stays bounded whatever the video's length: a finished clip that a later clip will select is written to a
folder (`spill`; one file per clip, memory-mapped back when selected) and nothing else is kept but the prepared
selection (at most N clips, on the model's device).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from lvg.attention.rotary import apply_rotary_emb

KV = tuple[torch.Tensor, torch.Tensor]


def write_tensors(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    """CPU copies of `tensors` written to `path` whole or not at all (beside, then renamed); read back with
    `torch.load(..., weights_only=True)`."""
    tmp = path.with_suffix(".tmp")
    torch.save({k: t.detach().cpu().contiguous() for k, t in tensors.items()}, tmp)
    tmp.replace(path)


class KVCache:
    """Per clip and layer, K/V [B, S, heads, head_dim]: in memory while recorded, then spilled to files."""

    def __init__(self, offload: bool = False) -> None:
        self.offload = offload
        self.store: dict[int, dict[int, KV]] = {}
        self.files: dict[int, Path] = {}
        self.past: dict[int, KV] = {}
        self.selection: list[list[int]] = []
        self._recording: int | None = None

    def reset(self) -> None:
        self.store, self.files, self.past, self.selection, self._recording = {}, {}, {}, [], None

    @property
    def clips(self) -> list[int]:
        """Every clip whose K/V are held (in memory or in a file)."""
        return sorted(set(self.store) | set(self.files))

    @contextmanager
    def recording(self, clip: int) -> Iterator[None]:
        """Model calls inside the block store their self-attention K/V as clip `clip`'s (the last call's remain)."""
        self._recording = clip
        self.store[clip] = {}
        try:
            yield
        finally:
            self._recording = None

    def put(self, layer: int, key: torch.Tensor, value: torch.Tensor) -> None:
        """Called by every layer's processor; stores only while recording."""
        if self._recording is None:
            return
        if self.offload:
            key, value = key.to("cpu", non_blocking=True), value.to("cpu", non_blocking=True)
        self.store[self._recording][layer] = (key, value)

    def keep_row(self, clip: int, row: int = -1) -> None:
        """Keep one batch row of a clip's K/V (the conditional half of a guided call is the last row)."""
        self.store[clip] = {layer: (k[row : row + 1 if row != -1 else None], v[row : row + 1 if row != -1 else None])
                            for layer, (k, v) in self.store[clip].items()}  # fmt: skip

    def spill(self, clip: int, folder: str | Path) -> Path:
        """Write a recorded clip's K/V to `folder` and drop them from memory; `prepare` maps them back."""
        path = Path(folder) / f"kv_clip_{clip:06d}.pt"
        layers = self.store.pop(clip)
        flat = {f"{layer}.{part}": t[i].detach().cpu().contiguous() for layer, t in layers.items()
                for i, part in enumerate(("k", "v"))}  # fmt: skip
        write_tensors(path, flat)
        self.files[clip] = path
        return path

    def adopt(self, files: dict[int, str | Path]) -> None:
        """Take over K/V files a previous run spilled (a resumed generation)."""
        self.files.update({int(c): Path(p) for c, p in files.items()})

    def forget(self, clip: int) -> None:
        """Drop a clip's K/V everywhere (no later clip selects it)."""
        self.store.pop(clip, None)
        path = self.files.pop(clip, None)
        if path is not None:
            path.unlink(missing_ok=True)

    def _layers(self, clip: int) -> dict[int, KV]:
        if clip in self.store:
            return self.store[clip]
        flat = torch.load(self.files[clip], map_location="cpu", weights_only=True, mmap=True)
        layers = sorted({int(name.split(".")[0]) for name in flat})
        return {layer: (flat[f"{layer}.k"], flat[f"{layer}.v"]) for layer in layers}

    def prepare(
        self,
        selection: list[int] | list[list[int]],
        device: torch.device | None = None,
        shifts: dict[int, tuple[torch.Tensor, torch.Tensor]] | None = None,
    ) -> None:
        """Make the next model calls attend to the selected clips: one list (shared by the batch) or one per batch row
        (all of the same length). Stored clips recorded with batch 1 serve every row. `shifts` rotates a clip's keys
        by (cos, sin) [head_dim] (RoPE re-indexing: the clip moved to another temporal position)."""
        rows = [list(r) for r in selection] if selection and isinstance(selection[0], list) else [list(selection)]
        if len({len(r) for r in rows}) > 1:
            raise ValueError(f"every batch row must select the same number of clips, got {[len(r) for r in rows]}")
        self.selection = rows
        self.past = {}
        if not rows[0]:
            return
        loaded = {c: self._layers(c) for c in {c for row in rows for c in row}}
        for c, (cos, sin) in (shifts or {}).items():
            if c in loaded:
                loaded[c] = {layer: (apply_rotary_emb(k, cos.to(k.device), sin.to(k.device)), v)
                             for layer, (k, v) in loaded[c].items()}  # fmt: skip
        for layer in loaded[rows[0][0]]:
            kv = []
            for part in (0, 1):
                per_row = [torch.cat([self._row(loaded[c][layer][part], b) for c in row], dim=0)
                           for b, row in enumerate(rows)]  # fmt: skip
                stacked = torch.stack(per_row)
                kv.append(stacked if device is None else stacked.to(device))
            self.past[layer] = (kv[0], kv[1])

    @staticmethod
    def _row(x: torch.Tensor, b: int) -> torch.Tensor:
        return x[0] if x.shape[0] == 1 else x[b]

    def past_kv(self, layer: int, batch: int) -> KV | None:
        """The selected clips' K/V for `layer`, [batch, k * S, heads, head_dim], or None when nothing is selected."""
        kv = self.past.get(layer)
        if kv is None:
            return None
        k, v = kv
        if k.shape[0] != batch:
            k, v = k.expand(batch, *k.shape[1:]), v.expand(batch, *v.shape[1:])
        return k, v

    def keep_only(self, clips: set[int]) -> None:
        """Drop every held clip not in `clips`."""
        for clip in [c for c in self.clips if c not in clips]:
            self.forget(clip)

    def nbytes(self, device_only: bool = False) -> int:
        """Bytes held in memory: clips being recorded or not yet spilled (unless `device_only` and offloaded) plus
        the prepared selection. Spilled clips live in files."""
        tensors = [t for layers in self.store.values() for kv in layers.values() for t in kv]
        if device_only and self.offload:
            tensors = []
        tensors += [t for kv in self.past.values() for t in kv]
        return sum(t.numel() * t.element_size() for t in tensors)

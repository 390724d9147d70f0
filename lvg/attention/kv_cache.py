"""The cross-clip KV cache (error-free paper §3.3, eq. 5): keys and values of finished clips, per attention layer.

Keys are stored after their norm and RoPE, so a cached clip keeps the temporal position it was generated at. A clip's
K/V are recorded in one model pass (`recording(clip)`); `prepare(selection)` gathers the selected clips' K/V once per
clip, so each denoising step only concatenates them in front of the current clip's own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

KV = tuple[torch.Tensor, torch.Tensor]


class KVCache:
    """Per clip and layer, K/V [B, S, heads, head_dim]. `offload`: keep stored clips in CPU memory (only the selected
    ones go to the model's device, for the clip that attends to them)."""

    def __init__(self, offload: bool = False) -> None:
        self.offload = offload
        self.store: dict[int, dict[int, KV]] = {}
        self.past: dict[int, KV] = {}
        self.selection: list[list[int]] = []
        self._recording: int | None = None

    def reset(self) -> None:
        self.store, self.past, self.selection, self._recording = {}, {}, [], None

    @property
    def clips(self) -> list[int]:
        return sorted(self.store)

    @contextmanager
    def recording(self, clip: int) -> Iterator[None]:
        """Model calls inside the block store their self-attention K/V as clip `clip`'s."""
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

    def prepare(self, selection: list[int] | list[list[int]], device: torch.device | None = None) -> None:
        """Make the next model calls attend to the selected clips: one list (shared by the batch) or one per batch row
        (all of the same length). Stored clips recorded with batch 1 serve every row."""
        rows = [list(r) for r in selection] if selection and isinstance(selection[0], list) else [list(selection)]
        if len({len(r) for r in rows}) > 1:
            raise ValueError(f"every batch row must select the same number of clips, got {[len(r) for r in rows]}")
        self.selection = rows
        self.past = {}
        if not rows[0]:
            return
        layers = self.store[rows[0][0]].keys()
        for layer in layers:
            kv = []
            for part in (0, 1):
                per_row = [
                    torch.cat([self._row(self.store[c][layer][part], b) for c in row], dim=0)
                    for b, row in enumerate(rows)
                ]
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
        """Drop every stored clip not in `clips` (what keeps memory bounded by the selection size)."""
        for clip in [c for c in self.store if c not in clips]:
            del self.store[clip]

    def nbytes(self, device_only: bool = False) -> int:
        """Bytes held: stored clips (unless `device_only` and offloaded) plus the prepared selection."""
        tensors = [t for layers in self.store.values() for kv in layers.values() for t in kv]
        if device_only and self.offload:
            tensors = []
        tensors += [t for kv in self.past.values() for t in kv]
        return sum(t.numel() * t.element_size() for t in tensors)

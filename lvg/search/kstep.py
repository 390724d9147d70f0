"""k-step noise search (chunk-wise paper, Algorithm 1 and §3.4-3.5), usable by any method that starts from noise.

`restart` (the paper): m candidate noises are each denoised with only k steps, as one batch (split into sub-batches
of `max_batch`); the previews are scored against the guide; the best noise is sampled again with the full s steps,
from a freshly seeded generator as in §4.1, so it follows its preview's trajectory. k = s is the paper's brute-force
search: the winning preview already is the full run and is returned as it is. m = 1 is the naive baseline (no
preview is run).

`prefix` (an lvg ablation): the candidates run the first k steps of the full s-step schedule; the model's clean
prediction x0 at step k is scored; the winner continues from its state, so its first k steps are not recomputed.
"""

from __future__ import annotations

import time

import torch

from lvg.contracts import ClipContext, ClipStart, Parts
from lvg.errors import LvgError, require
from lvg.search.base import NoiseInit, draw_noise
from lvg.search.scorers import ColourConsistencyScorer, Scorer

STRATEGIES = ("restart", "prefix")


class KStepSearch(NoiseInit):
    """Choose each clip's starting noise among `candidates` by a `k`-step preview scored by `scorer`.

    Args:
        candidates: m, the number of candidate noises (paper's cost example: 10; 1 = naive).
        k: preview steps (paper: 8 of s = 50); s is the sampler's `num_steps`. k = s is brute force.
        scorer: the evaluator f of Algorithm 1. Default: eq. 4's CLIP scorer for a real backbone, which needs its
            model path (`lvg.search.CLIPScorer` with `path`; refused in one line without it), and the toy world's
            colour-consistency proxy for the toy backbone (`ColourConsistencyScorer`, best given explicitly).
        strategy: `restart` (Algorithm 1) or `prefix` (score x0 after the schedule's first k steps, continue).
        max_batch: candidates denoised together at most (a memory budget); None = all m in one batch.
    """

    def __init__(
        self,
        candidates: int = 10,
        k: int = 8,
        scorer: Scorer | None = None,
        strategy: str = "restart",
        max_batch: int | None = None,
    ) -> None:
        require(candidates >= 1, f"candidates (m) must be at least 1, got {candidates}")
        require(k >= 1, f"k must be at least 1, got {k}")
        require(strategy in STRATEGIES, f"strategy must be one of {STRATEGIES}, not {strategy!r}")
        require(max_batch is None or max_batch >= 1, f"max_batch must be at least 1 (or null), got {max_batch}")
        self.candidates = candidates
        self.k = k
        self.scorer = scorer
        self.strategy = strategy
        self.max_batch = max_batch

    def check(self, parts: Parts) -> None:
        """Refuse, at build: more preview steps than the sampler takes, a preview schedule the sampler cannot run
        (T-RFlow's interval must hold a step of the k-step schedule too), and a method whose clips are not sampled
        whole from noise (PA-VDM's windows draw each chunk's noise as it enters)."""
        self.resolve_scorer(parts.backbone)
        s = parts.sampler.num_steps
        require(self.k <= s, f"k={self.k} is more than the sampler's {s} steps: use 1 <= k <= s (k = s: brute force)")
        if self.strategy == "restart" and self.k < s and self.candidates > 1:
            try:
                parts.sampler.check_steps(parts.backbone, self.k)
            except LvgError as e:
                names = parts.names(self, parts.sampler)
                raise LvgError(f"{names}: the {self.k}-step previews cannot run: {e}") from e
        if parts.method.trajectory != "whole":
            why = {
                "windowed": "draws each chunk's noise as it enters its window",
                "asynchronous": "steps its frames at different times, which a k-step preview cannot stop midway",
            }
            raise LvgError(
                f"{parts.names(self, parts.method)}: the search chooses a whole clip's starting noise, but this "
                f"method {why[parts.method.trajectory]}: drop noise_init (or use GaussianNoise)"
            )  # fmt: skip

    def resolve_scorer(self, backbone) -> Scorer:
        """The scorer given, else the default for `backbone` (eq. 4's CLIP needs its path: one line without it)."""
        if self.scorer is None:
            from lvg.backbones.toy import Toy

            require(
                isinstance(backbone, Toy),
                f"KStepSearch on {type(backbone).__name__} scores candidates with eq. 4's CLIP scorer, which "
                "needs its model: give --model.init_args.noise_init.init_args.scorer lvg.search.CLIPScorer and "
                "--model.init_args.noise_init.init_args.scorer.init_args.path /path/to/clip-vit-large-patch14",
            )
            self.scorer = ColourConsistencyScorer()
        return self.scorer

    def __call__(self, ctx: ClipContext) -> ClipStart:
        s = ctx.sampler.num_steps
        if self.candidates == 1:
            noise, generator = draw_noise(ctx)
            return ClipStart(noise, generator, self._log([None], 0, 0.0, s))
        began = time.perf_counter()
        keep_state = self.strategy == "prefix" or self.k == s
        scores, best = [], None  # best: (score, row, state of that row, its generator), kept only when continued
        size = self.max_batch or self.candidates
        for first in range(0, self.candidates, size):
            rows = list(range(first, min(first + size, self.candidates)))
            sub_scores, state, generators = self.preview(ctx, rows)
            scores.append(sub_scores)
            top = int(sub_scores.argmax())
            if keep_state and (best is None or float(sub_scores[top]) > best[0]):
                # only the leading candidate's rows survive a sub-batch: memory stays one candidate, not m
                best = (float(sub_scores[top]), rows[top], state.select([top]), generators[top])
            del state
        scores = torch.cat(scores)
        winner = int(scores.argmax())
        log = self._log(scores.tolist(), winner, time.perf_counter() - began, s)
        if keep_state:
            # continue the winner's own state; its generator is where the batched run left it
            return ClipStart(best[2], best[3], log)
        noise, generator = draw_noise(ctx, winner)
        return ClipStart(noise, generator, log)

    @torch.no_grad()
    def preview(self, ctx: ClipContext, rows: list[int]):
        """Denoise candidates `rows` as one batch; their preview scores [len(rows)], the batch's state and the
        candidates' generators (where their step noise stands)."""
        drawn = [draw_noise(ctx, j) for j in rows]
        noise = torch.cat([n for n, _ in drawn]).to(ctx.backbone.device)
        generators = [g for _, g in drawn]
        denoise = ctx.make_denoise(len(rows))
        if self.strategy == "restart":
            state = ctx.sampler.walk(denoise, noise, ctx.times(self.k), ctx.backbone, generators)
            preview = state.x
        else:
            state = ctx.sampler.walk(denoise, noise, ctx.times(), ctx.backbone, generators, stop=self.k)
            preview = state.x0
        frames = ctx.backbone.decode(preview)[:, :, ctx.keep_from :]
        scores = self.resolve_scorer(ctx.backbone)(frames, ctx.guide.to(frames.device))
        return scores.float().cpu(), state, generators

    def _log(self, scores: list, winner: int, seconds: float, s: int) -> dict:
        return {
            "strategy": self.strategy,
            "m": self.candidates,
            "k": self.k,
            "s": s,
            "scores": scores,
            "winner": winner,
            "search_seconds": seconds,
        }

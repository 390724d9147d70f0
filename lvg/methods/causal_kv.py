"""Video extension with causal cross-clip attention over a KV cache (error-free paper §3.3, §4.1).

Each clip is conditioned on its own prompt, the last frames of the previous clip (channel-concatenated, as
`Extension`), and the keys/values of selected past clips (eq. 5): within a clip attention stays bidirectional, across
clips it is causal. Temporal RoPE positions keep increasing from clip to clip (clip i starts where its condition
frames sat in clip i - 1), so cached keys keep their true positions.

Which past clips: the policy selects among every past clip (§3.3: "the highest semantic similarity to the current
clip"; training selects the same way), and since prompts are known in advance the whole plan is computed before the
first clip, so a clip's K/V are kept exactly as long as a later clip will select them: spilled to files
(`KVCache.spill`) and mapped back when selected, so memory stays flat however long the video.

Whose K/V: by default a past clip's K/V are those of its last denoising step, recorded during that model call
(eq. 5: "the latents ... from the last denoising step, which approximate the clean latent", "avoiding redundant
computation"); `cache_from: clean` is lvg's other reading, one extra model pass over the finished latents at
`cache_t`. A generation resumes exactly: its carry names the spilled K/V files, which live in the resume log's folder.

Training (stage 2) runs on long videos cut into clips with per-clip prompts (`clips` [B, N, 3, F, H, W], consecutive
clips overlapping by `condition_frames` frames): one target clip per step is denoised while attending to the K/V of
its selected past clips, computed in the same forward pass from their clean latents.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

import torch

from lvg.attention import ClipSelection, KVCache, PromptSimilarity, install_cached_kv
from lvg.attention.kv_cache import write_tensors
from lvg.contracts import (
    CACHED_KV,
    FRAME_OFFSET,
    SKIPS_BLOCKS,
    ClipResult,
    Condition,
    GenerationRequest,
    Parts,
    refuse_capability,
    require_capability,
)
from lvg.errors import require
from lvg.methods.base import MadeClip, clip_context, sample_clip
from lvg.methods.error_recycling import ErrorRecycling
from lvg.methods.extension import Extension
from lvg.noise.flow_match import flow_match_target, flow_match_xt
from lvg.noise.timesteps import logit_normal_t, uniform_rows
from lvg.seeding import clip_seed, stream_seed

CACHE_SOURCES = ("last_step", "clean")
POSITIONS = ("absolute", "window")


class CausalKV(Extension):
    """Extension model + KV cache of selected past clips.

    Args:
        policy: which past clips each clip attends to (default: `PromptSimilarity(max_clips=5)`, the paper's).
        condition_frames, min_condition_frames, task_probs, timestep_sampling, condition_fill: as for `Extension`
            (stage 2 conditions on the first frames of each clip by default, as generation does).
        cache_from: `last_step` (the paper's, default): a clip's K/V from its last denoising step's model call;
            `clean`: one more model pass over the finished latents at `cache_t` (module doc).
        cache_t: with `cache_from: clean`, the flow time of that pass: 0 takes the clean latents, a small value
            re-noises them with the clip's own seeded noise. Training always computes past clips' K/V from their
            clean latents at `cache_t` (the paper's approximation of the last step).
        offload: record K/V straight into CPU memory; only the selected clips move to the model's device.
        context_grad: in training, let gradients flow through the past clips' K/V (not with gradient checkpointing).
        condition_guidance, guidance_rescale, guidance_min_t: as for `Extension` (both branches attend to the same
            past clips; it needs a `none` task in `task_probs` when finetuning).
        ar_step, causal_block_size: diffusion forcing within each clip, as for `Extension`.
        recache_on_switch: when a clip's prompt differs from the previous clip's, first recompute the K/V of the past
            clips it selects under the new prompt (LongLive's KV re-cache on a prompt switch): one model pass per
            selected clip over its finished latents at `cache_t`, in order, each attending to the ones recomputed
            before it, at its recorded position; the recomputed K/V replace the old ones. Costs one pass per selected
            clip at each switch; keeps each such clip's latents and condition (in files, as the K/V).
        positions: temporal RoPE positions in generation. `absolute` (§3.3): clip i sits at i x stride, past clips at
            theirs, however long the video. `window` (RoPE re-indexing, as ∞-RoPE / Deep Forcing bound positions for
            unbounded length): the attended window, the selected clips in order then the current clip, renumbered
            from 0 (one stride apart), cached keys rotated to their new places, so positions never pass
            (max_clips + 1) strides. Equal to `absolute` where the selection is the clips just before (relative
            positions unchanged). Training uses absolute positions, so `window` trains only where the two agree.
    """

    def __init__(
        self,
        policy: ClipSelection | None = None,
        condition_frames: int = 2,
        min_condition_frames: int | None = None,
        task_probs: dict[str, float] | None = None,
        timestep_sampling: str = "uniform",
        condition_fill: str = "zeros",
        cache_from: str = "last_step",
        cache_t: float = 0.0,
        offload: bool = False,
        context_grad: bool = True,
        condition_guidance: float = 1.0,
        guidance_rescale: float = 0.0,
        guidance_min_t: float = 0.0,
        ar_step: int = 0,
        causal_block_size: int = 1,
        positions: str = "absolute",
        recache_on_switch: bool = False,
        error_recycling: ErrorRecycling | None = None,
    ) -> None:
        super().__init__(
            condition_frames,
            condition_frames if min_condition_frames is None else min_condition_frames,
            task_probs or {"first": 1.0},
            timestep_sampling,
            False,
            condition_fill,
            condition_guidance=condition_guidance,
            guidance_rescale=guidance_rescale,
            guidance_min_t=guidance_min_t,
            ar_step=ar_step,
            causal_block_size=causal_block_size,
            error_recycling=error_recycling,
        )
        require(0 <= cache_t < 1, f"cache_t must be in [0, 1), got {cache_t}")
        require(cache_from in CACHE_SOURCES, f"cache_from must be one of {CACHE_SOURCES}, not {cache_from!r}")
        require(positions in POSITIONS, f"positions must be one of {POSITIONS}, not {positions!r}")
        self.positions = positions
        self.recache_on_switch = recache_on_switch
        self.cache_from = cache_from
        self.policy = policy or PromptSimilarity()
        self.cache_t = cache_t
        self.context_grad = context_grad
        self.cache = KVCache(offload=offload)

    # --- shared ---------------------------------------------------------------------------------------------
    def clip_stride(self, backbone, latent_frames: int) -> int:
        """Latent frames between the starts of consecutive clips: a clip's first frames are its predecessor's last."""
        return latent_frames - backbone.latent_frames(self.condition_frames)

    def record_clip(self, backbone, x0: torch.Tensor, cond: Condition, clip: int, seed: int) -> None:
        """One model pass over the clip's finished latents at `cache_t`, storing its K/V as clip `clip`'s (call within
        the clip's `frame_offset`, with its selection prepared, as when it was denoised)."""
        t = uniform_rows(self.cache_t, x0.shape[0], x0.shape[2], x0.device)
        x = x0
        if self.cache_t > 0:
            noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(seed)).to(x0.device)
            x = flow_match_xt(x0, noise, t)
        with self.cache.recording(clip):
            backbone.predict(x, t, cond)

    def clip_denoiser(self, backbone, cond: Condition, selected: list[int]):
        """`make_denoise(n)` for one clip: the backbone's denoiser (the selected clips' K/V are already prepared in
        the cache; a subclass may change how they are obtained)."""
        return self.guided_denoiser(backbone, cond)

    # --- training -------------------------------------------------------------------------------------------
    def loss(self, backbone, batch: dict, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """Flow-matching loss on one target clip per step (drawn from clips 1..N-1), attending to the K/V of its
        selected past clips computed in the same forward pass."""
        require(
            "clips" in batch,
            "CausalKV trains on long videos cut into clips: use long-video data (e.g. ToyWorldData long_video: true)",
        )
        require(
            not (self.context_grad and backbone.is_gradient_checkpointing),
            "context_grad needs the past clips' forward kept for backward: set context_grad false with "
            "gradient checkpointing",
        )
        clips, prompts = batch["clips"], batch["prompts"]
        b, n = clips.shape[:2]
        require(n >= 2, f"long-video samples need at least 2 clips to train cross-clip attention, got {n}")
        with torch.no_grad():
            x0 = backbone.encode(clips.flatten(0, 1)).unflatten(0, (b, n))  # [B, N, C, f, h, w]
        f, device = x0.shape[3], x0.device
        stride = self.clip_stride(backbone, f)
        target = int(torch.randint(1, n, (1,), generator=generator))
        self.cache.reset()
        install_cached_kv(backbone.attention_modules(), self.cache)

        def condition(i: int, latents: torch.Tensor, mask: torch.Tensor) -> Condition:
            clip_prompts = [prompts[row][i] for row in range(b)]
            return backbone.conditioning(clip_prompts, self.fill_condition(latents, mask), mask)

        def select(i: int) -> None:
            rows = [self.policy.select(list(prompts[row]), i, list(range(i))).clips for row in range(b)]
            require(
                self.positions == "absolute" or all(sorted(r) == list(range(i - len(r), i)) for r in rows),
                f"positions: window renumbers clip {i}'s selection {rows[0]} of non-adjacent clips, which training "
                "(absolute positions) cannot match: train with positions absolute, or samples of at most "
                "max_clips + 1 clips",
            )
            self.cache.prepare(rows, device)

        given = torch.zeros(b, f, device=device)
        given[:, : backbone.latent_frames(self.condition_frames)] = 1
        with torch.set_grad_enabled(self.context_grad and torch.is_grad_enabled()):
            for i in range(target):
                select(i)
                cond = condition(i, x0[:, i], given)
                with backbone.frame_offset(i * stride):
                    self.record_clip(backbone, x0[:, i], cond, i, int(torch.randint(2**62, (1,), generator=generator)))

        select(target)
        x = x0[:, target]
        t = torch.rand(b, generator=generator) if self.timestep_sampling == "uniform" else logit_normal_t(b, generator)
        t_rows = uniform_rows(t, b, f).to(device)
        noise = torch.randn(x.shape, generator=generator).to(device)
        mask = self.condition_mask(b, f, backbone, generator).to(device)
        latents, source, recycling = x, x, self.recycling(backbone)
        if recycling is not None:  # the target clip's inputs carry banked errors; its target is clean
            latents, noise, source, clean = recycling.corrupt(x, noise, t, mask, generator)
        cond = condition(target, source, mask)
        with backbone.frame_offset(target * stride):
            pred = backbone.predict(flow_match_xt(latents, noise, t_rows), t_rows, cond)
        if not backbone.is_gradient_checkpointing:
            self.cache.reset()  # (with checkpointing, backward recomputes the target's attention: keep its selection)
        velocity = flow_match_target(x, noise)
        if recycling is not None:
            recycling.collect(pred, velocity, t, clean, generator)
        per_frame = (pred - velocity).pow(2).mean(dim=(1, 3, 4))  # [B, f]
        weight = 1 - mask
        return {"loss": (per_frame * weight).sum() / weight.sum().clamp(min=1)}

    # --- generation -----------------------------------------------------------------------------------------
    def check(self, parts: Parts) -> None:
        super().check(parts)
        for capability in (FRAME_OFFSET, CACHED_KV):
            require_capability(
                parts.backbone, capability, self, "use a Wan-architecture backbone (Toy, Wan) for cross-clip attention"
            )
        refuse_capability(
            parts.backbone, SKIPS_BLOCKS, self,
            "its speed.cache skips the blocks whose attention records each clip's K/V: drop the cache",
        )  # fmt: skip

    @torch.no_grad()
    def generate(self, backbone, sampler, noise_init, request: GenerationRequest) -> Iterator[ClipResult]:
        """Yield the start frames, then each clip's new frames; clip i attends to the K/V of the past clips the plan
        selects for it (its result's `context` log), and its own K/V are kept while a later clip selects them."""
        self.cache.reset()
        install_cached_kv(backbone.attention_modules(), self.cache)
        self.plan = [self.policy.select(request.prompts, i, list(range(i))) for i in range(request.num_clips)]
        self.last_use = {c: i for i, selection in enumerate(self.plan) for c in selection.clips}
        self.recorded_at: dict[int, int] = {}  # the temporal position each clip's K/V were recorded at
        self.sources: dict[int, Path] = {}  # latents and condition of clips to re-cache (recache_on_switch)
        with contextlib.ExitStack() as stack:
            self.scratch = Path(request.scratch or stack.enter_context(tempfile.TemporaryDirectory(prefix="lvg-kv-")))
            self.scratch.mkdir(parents=True, exist_ok=True)
            try:
                yield from super().generate(backbone, sampler, noise_init, request)
            finally:
                self.cache.reset()

    def carry(self, cond_pixels: torch.Tensor) -> dict:
        """The condition frames, the spilled K/V files later clips still select (they stay in `scratch`) and the
        positions those were recorded at."""
        files = {c: p.name for c, p in self.cache.files.items()}
        sources = {c: p.name for c, p in self.sources.items()}
        return {"pixels": cond_pixels, "kv_files": files, "recorded_at": {c: self.recorded_at[c] for c in files},
                "sources": sources}  # fmt: skip

    def restore(self, carry: dict) -> torch.Tensor:
        self.cache.adopt({c: self.scratch / name for c, name in carry["kv_files"].items()})
        self.recorded_at.update({int(c): at for c, at in carry["recorded_at"].items()})
        self.sources.update({int(c): self.scratch / name for c, name in carry["sources"].items()})
        return carry["pixels"]

    def clip_video(self, backbone, sampler, noise_init, request, index, prompt, cond_pixels, latent_frames):
        """The extension clip attending to the past clips the plan selects (its `context` log), at its true temporal
        position; its own K/V are recorded (module doc) and spilled if a later clip selects them."""
        selection = self.plan[index]
        stride = self.clip_stride(backbone, latent_frames)
        if self.positions == "absolute":
            position, shifts = index * stride, None
        else:  # the window renumbered from 0: the selected clips in order, then this one
            window = {c: k * stride for k, c in enumerate(sorted(selection.clips))}
            position = len(window) * stride
            shifts = {c: backbone.temporal_shift(at - self.recorded_at[c]) for c, at in window.items()}
        recached = []
        if self.recache_on_switch and index > 0 and prompt != request.prompts[index - 1]:
            recached = self.recache(backbone, sorted(selection.clips), prompt, request.seed)
        self.cache.prepare(selection.clips, backbone.device, shifts)
        self.recorded_at[index] = position
        latents, mask = self.clip_condition(backbone, cond_pixels, latent_frames)
        cond = backbone.conditioning([prompt], latents, mask, guide=cond_pixels, seed=clip_seed(request.seed, index))
        make_denoise = self.clip_denoiser(backbone, cond, selection.clips)
        times_for = self.clip_times(backbone, sampler, latents.shape[2])
        ctx = clip_context(request, index, backbone, sampler, latents.shape, make_denoise, cond_pixels, times_for)
        with backbone.frame_offset(position):
            if self.cache_from == "last_step":
                with self.cache.recording(index):  # each call overwrites: the final walk's last call remains
                    sampled = sample_clip(ctx, noise_init)
                self.cache.keep_row(index)  # a guided call's batch is [unconditional; conditional]
            else:
                sampled = sample_clip(ctx, noise_init)
                self.record_clip(backbone, sampled.latents, cond, index, stream_seed(ctx.seed, "cache_noise"))
        self.keep_what_is_selected_later(index, (sampled.latents, latents, mask))
        context = {**selection.log(), "position": position, "positions": self.positions, "cache_from": self.cache_from}
        if self.recache_on_switch:
            context["recached"] = recached
        return MadeClip(backbone.decode(sampled.latents), sampled.search, context)

    def keep_what_is_selected_later(self, index: int, source: tuple | None = None) -> None:
        """Spill clip `index`'s K/V (and, to re-cache them, its latents and condition `source`) if a later clip selects
        it, and forget every clip no later clip selects."""
        if self.last_use.get(index, -1) > index:
            self.cache.spill(index, self.scratch)
            if self.recache_on_switch and source is not None:
                self.sources[index] = self.scratch / f"source_clip_{index:06d}.pt"
                write_tensors(self.sources[index], dict(zip(("x0", "latents", "mask"), source)))
        for clip in self.cache.clips:
            if self.last_use.get(clip, -1) <= index:
                self.cache.forget(clip)
                path = self.sources.pop(clip, None)
                if path is not None:
                    path.unlink(missing_ok=True)

    def recache(self, backbone, clips: list[int], prompt: str, seed: int) -> list[int]:
        """Recompute the K/V of past `clips` (in order) under `prompt` (`recache_on_switch`); they replace the kept
        ones, in memory until spilled back to their files."""
        for k, clip in enumerate(clips):
            source = torch.load(self.sources[clip], map_location="cpu", weights_only=True)
            x0, latents, mask = (source[name].to(backbone.device) for name in ("x0", "latents", "mask"))
            cond = backbone.conditioning([prompt], latents, mask)
            self.cache.prepare(clips[:k], backbone.device)
            with backbone.frame_offset(self.recorded_at[clip]):
                self.record_clip(backbone, x0, cond, clip, stream_seed(clip_seed(seed, clip), "cache_noise"))
            self.cache.spill(clip, self.scratch)
        return clips

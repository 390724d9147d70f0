"""Video extension with causal cross-clip attention over a KV cache (error-free paper §3.3, §4.1).

Each clip is conditioned on its own prompt, the last frames of the previous clip (channel-concatenated, as
`Extension`), and the keys/values of selected past clips (eq. 5): within a clip attention stays bidirectional, across
clips it is causal. A clip's K/V are computed once, in one model pass over its finished latents, and reused by every
later step and clip. Temporal RoPE positions keep increasing from clip to clip (clip i starts where its condition
frames sat in clip i - 1), so cached keys keep their true positions.

Training (stage 2) runs on long videos cut into clips with per-clip prompts (`clips` [B, N, 3, F, H, W], consecutive
clips overlapping by `condition_frames` frames): one target clip per step is denoised while attending to the K/V of
its selected past clips, computed in the same forward pass from their clean latents.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from lvg.attention import ClipSelection, KVCache, PromptSimilarity, install_cached_kv
from lvg.contracts import CACHED_KV, FRAME_OFFSET, ClipResult, Condition, GenerationRequest, Parts, require_capability
from lvg.errors import require
from lvg.methods.base import MadeClip, clip_context, sample_clip
from lvg.methods.extension import Extension
from lvg.noise.flow_match import flow_match_target, flow_match_xt
from lvg.noise.timesteps import logit_normal_t, uniform_rows
from lvg.seeding import stream_seed


class CausalKV(Extension):
    """Extension model + KV cache of selected past clips.

    Args:
        policy: which past clips each clip attends to (default: `PromptSimilarity(max_clips=5)`, the paper's).
        condition_frames, min_condition_frames, task_probs, timestep_sampling, condition_fill: as for `Extension`
            (stage 2 conditions on the first frames of each clip by default, as generation does).
        cache_t: flow time at which past clips' K/V are computed. The paper uses "the latents from the last
            denoising step, which approximate the clean latent"; 0 (default) takes the finished clean latents, a small
            value (e.g. the sampler's last step) re-noises them with the clip's own seeded noise.
        offload: keep the cache in CPU memory; only the selected clips move to the model's device per clip.
        context_grad: in training, let gradients flow through the past clips' K/V (not with gradient checkpointing).
        condition_guidance, guidance_rescale, guidance_min_t: as for `Extension` (both branches attend to the same
            past clips; it needs a `none` task in `task_probs` when finetuning).
    """

    def __init__(
        self,
        policy: ClipSelection | None = None,
        condition_frames: int = 2,
        min_condition_frames: int | None = None,
        task_probs: dict[str, float] | None = None,
        timestep_sampling: str = "uniform",
        condition_fill: str = "zeros",
        cache_t: float = 0.0,
        offload: bool = False,
        context_grad: bool = True,
        condition_guidance: float = 1.0,
        guidance_rescale: float = 0.0,
        guidance_min_t: float = 0.0,
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
        )
        require(0 <= cache_t < 1, f"cache_t must be in [0, 1), got {cache_t}")
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
        cond = condition(target, x, mask)
        with backbone.frame_offset(target * stride):
            pred = backbone.predict(flow_match_xt(x, noise, t_rows), t_rows, cond)
        if not backbone.is_gradient_checkpointing:
            self.cache.reset()  # (with checkpointing, backward recomputes the target's attention: keep its selection)
        per_frame = (pred - flow_match_target(x, noise)).pow(2).mean(dim=(1, 3, 4))  # [B, f]
        weight = 1 - mask
        return {"loss": (per_frame * weight).sum() / weight.sum().clamp(min=1)}

    # --- generation -----------------------------------------------------------------------------------------
    def check(self, parts: Parts) -> None:
        super().check(parts)
        for capability in (FRAME_OFFSET, CACHED_KV):
            require_capability(
                parts.backbone, capability, self, "use a Wan-architecture backbone (Toy, Wan) for cross-clip attention"
            )

    @torch.no_grad()
    def generate(self, backbone, sampler, noise_init, request: GenerationRequest) -> Iterator[ClipResult]:
        """Yield the start frames, then each clip's new frames; clip i attends to the K/V of the past clips the policy
        selects (its result's `context` log), and its own K/V are recorded once it is finished."""
        require(
            request.first_clip == 0,
            "a causal-KV run cannot be resumed (its KV cache is not in the resume log): rerun with --resume false",
        )
        self.cache.reset()
        install_cached_kv(backbone.attention_modules(), self.cache)
        try:
            yield from super().generate(backbone, sampler, noise_init, request)
        finally:
            self.cache.reset()

    def clip_video(self, backbone, sampler, noise_init, request, index, prompt, cond_pixels, latent_frames):
        """The extension clip attending to the past clips the policy selects (its `context` log), at its true temporal
        position; its own K/V are recorded once it is finished."""
        selection = self.policy.select(request.prompts, index, self.cache.clips)
        if not self.policy.keeps_everything:
            self.cache.keep_only(set(selection.clips))
        self.cache.prepare(selection.clips, backbone.device)
        position = index * self.clip_stride(backbone, latent_frames)
        latents, mask = self.clip_condition(backbone, cond_pixels, latent_frames)
        cond = backbone.conditioning([prompt], latents, mask, guide=cond_pixels)
        make_denoise = self.clip_denoiser(backbone, cond, selection.clips)
        ctx = clip_context(request, index, backbone, sampler, latents.shape, make_denoise, cond_pixels)
        with backbone.frame_offset(position):
            sampled = sample_clip(ctx, noise_init)
            self.record_clip(backbone, sampled.latents, cond, index, stream_seed(ctx.seed, "cache_noise"))
        context = {**selection.log(), "position": position}
        return MadeClip(backbone.decode(sampled.latents), sampled.search, context)

"""The context-method interface (DESIGN.md axis 1): a training objective and a clip-by-clip generation loop."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch

from lvg.sampling.scheduler_loop import StepCallback
from lvg.search.base import ClipContext
from lvg.seeding import clip_seed


@dataclass
class GenerationRequest:
    """What one long video is generated from. `start` [1, 3, c, H, W] in [-1, 1] are the given first frames (a guide
    image is c = 1); `prompts` has one entry per clip.

    `on_step(step, t, x)` is called after every denoising step, `on_search(clip, log)` with each clip's noise-search
    log (candidates' scores, winner, time), `on_context(clip, log)` with what a method conditions the clip on beyond
    its last frames (the causal-KV method: the selected past clips).

    Resuming: a method sets `carry` after each clip to what the next clip continues from; a request with
    `first_clip = k` and that `carry` generates clips k, k+1, ... exactly as an uninterrupted run would."""

    start: torch.Tensor
    prompts: list[str]
    frames_per_clip: int
    seed: int = 0
    on_step: StepCallback | None = field(default=None, repr=False)
    on_search: Callable[[int, dict], None] | None = field(default=None, repr=False)
    on_context: Callable[[int, dict], None] | None = field(default=None, repr=False)
    first_clip: int = 0
    carry: torch.Tensor | None = field(default=None, repr=False)

    @property
    def num_clips(self) -> int:
        return len(self.prompts)


def sample_clip(ctx: ClipContext, noise_init, request: GenerationRequest) -> torch.Tensor:
    """One clip's clean latents: the noise init picks where sampling starts (plain noise, or a search winner), then
    the sampler runs the remaining steps. The strategy's log (if any) goes to `request.on_search`."""
    start = noise_init(ctx)
    if start.log is not None and request.on_search is not None:
        request.on_search(ctx.clip_index, start.log)
    x = start.start
    if torch.is_tensor(x):
        x = x.to(ctx.backbone.device)
    return ctx.sampler.run(ctx.make_denoise(1), x, ctx.backbone, start.generator, request.on_step).x


class Method:
    """Context method: `loss` for training, `generate` yields each clip's new frames [3, n, H, W] in [-1, 1]."""

    def check(self, backbone, frames_per_clip: int, sampler, noise_init) -> None:
        """Refuse settings the method cannot train or sample with (called when the module is built)."""

    def loss(self, backbone, batch: dict, generator: torch.Generator) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def generate(self, backbone, sampler, noise_init, request: GenerationRequest) -> Iterator[torch.Tensor]:
        raise NotImplementedError


class ClipByClip(Method):
    """A method that generates clip by clip, each clip continuing from the last `condition_frames` frames of the one
    before. The loop (start frames, resume carry, what each clip yields) is here; a subclass says how one clip is made
    in `clip_video`."""

    condition_frames: int

    @torch.no_grad()
    def generate(self, backbone, sampler, noise_init, request: GenerationRequest) -> Iterator[torch.Tensor]:
        """Yield the given start frames, then each clip's new frames (the frames after its condition frames); the
        carry to the next clip is its last `condition_frames` frames (set on the request before each yield)."""
        device = backbone.device
        if request.first_clip == 0:
            cond_pixels = request.start[:, :, -self.condition_frames :].to(device)
            yield request.start[0].to(device)
        else:
            cond_pixels = request.carry.to(device)
        f_lat = backbone.latent_frames(request.frames_per_clip)
        for i, prompt in enumerate(request.prompts[request.first_clip :], start=request.first_clip):
            video = self.clip_video(backbone, sampler, noise_init, request, i, prompt, cond_pixels, f_lat)
            new_frames = video[0, :, cond_pixels.shape[2] :]
            cond_pixels = video[:, :, -self.condition_frames :]
            request.carry = cond_pixels.cpu()
            yield new_frames

    def clip_video(
        self, backbone, sampler, noise_init, request: GenerationRequest, index: int, prompt: str,
        cond_pixels: torch.Tensor, latent_frames: int,
    ) -> torch.Tensor:  # fmt: skip
        """Clip `index` decoded [1, 3, F, H, W], continuing from `cond_pixels` [1, 3, c, H, W] (its first frames)."""
        raise NotImplementedError


def clip_context(
    request: GenerationRequest, index: int, backbone, sampler, shape: tuple, make_denoise, cond_pixels: torch.Tensor
) -> ClipContext:
    """The noise init's view of clip `index`: its seed, the guide (the last given frame) and the first kept frame."""
    return ClipContext(
        shape=tuple(shape),
        seed=clip_seed(request.seed, index),
        clip_index=index,
        backbone=backbone,
        sampler=sampler,
        make_denoise=make_denoise,
        guide=cond_pixels[0, :, -1],
        keep_from=cond_pixels.shape[2],
    )

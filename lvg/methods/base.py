"""The context-method interface (DESIGN.md axis 1, `lvg.contracts.Method`): a training objective and a clip-by-clip
generation loop that yields one typed `ClipResult` per clip."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch

from lvg.contracts import Backbone, ClipContext, ClipResult, GenerationRequest, NoiseInit, Parts, Sampler
from lvg.noise.schedules import uniform_times
from lvg.seeding import clip_seed

__all__ = ["ClipByClip", "ClipResult", "GenerationRequest", "Method", "SampledClip", "clip_context", "sample_clip"]


@dataclass
class SampledClip:
    """One clip's clean latents and the noise search's log (None without a search)."""

    latents: torch.Tensor
    search: dict | None


def sample_clip(ctx: ClipContext, noise_init: NoiseInit) -> SampledClip:
    """One clip's clean latents: the noise init picks where sampling starts (plain noise, or a search winner), then
    the sampler walks the clip's times matrix from there."""
    start = noise_init(ctx)
    x = start.start
    if torch.is_tensor(x):
        x = x.to(ctx.backbone.device)
    state = ctx.sampler.walk(ctx.make_denoise(1), x, ctx.times(), ctx.backbone, start.generator, ctx.on_step)
    return SampledClip(state.x, start.log)


class Method:
    """Context method: `loss` for training, `generate` yields a `ClipResult` per clip (the given start frames first,
    as index -1). `trajectory` is "whole" when the clip's frames walk one schedule together (clip by clip),
    "windowed" when a frame passes through several walks (PA-VDM), "asynchronous" when the frames walk together at
    different times (diffusion forcing)."""

    condition_frames: int = 1
    trajectory: str = "whole"

    def check(self, parts: Parts) -> None:
        """Refuse parts the method cannot train or sample with (called when the module is built)."""

    def loss(self, backbone: Backbone, batch: dict, generator: torch.Generator) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def training_state(self) -> dict | None:
        """State the method keeps across training steps (tensors only), saved in the Lightning checkpoint so a
        resumed run continues exactly (error recycling's bank); None when it keeps none."""
        return None

    def load_training_state(self, state: dict) -> None:
        """Restore `training_state` from a checkpoint."""

    def generate(
        self, backbone: Backbone, sampler: Sampler, noise_init: NoiseInit, request: GenerationRequest
    ) -> Iterator[ClipResult]:
        raise NotImplementedError


@dataclass
class MadeClip:
    """What `ClipByClip.clip_video` returns: the decoded clip [1, 3, F, H, W] and its logs."""

    video: torch.Tensor
    search: dict | None = None
    context: dict | None = None


class ClipByClip(Method):
    """A method that generates clip by clip, each clip continuing from the last `condition_frames` frames of the one
    before. The loop (start frames, resume carry, what each clip yields) is here; a subclass says how one clip is made
    in `clip_video`."""

    condition_frames: int

    @torch.no_grad()
    def generate(
        self, backbone: Backbone, sampler: Sampler, noise_init: NoiseInit, request: GenerationRequest
    ) -> Iterator[ClipResult]:
        """Yield the given start frames, then each clip's new frames (the frames after its condition frames); the
        carry to the next clip is its last `condition_frames` frames."""
        device = backbone.device
        if request.first_clip == 0:
            cond_pixels = request.start[:, :, -self.condition_frames :].to(device)
            yield ClipResult(-1, request.start[0].to(device))
        else:
            cond_pixels = self.restore(request.carry).to(device)
        f_lat = backbone.latent_frames(request.frames_per_clip)
        for i, prompt in enumerate(request.prompts[request.first_clip :], start=request.first_clip):
            made = self.clip_video(backbone, sampler, noise_init, request, i, prompt, cond_pixels, f_lat)
            new_frames = made.video[0, :, cond_pixels.shape[2] :]
            cond_pixels = made.video[:, :, -self.condition_frames :]
            yield ClipResult(i, new_frames, self.carry(cond_pixels.cpu()), made.search, made.context)

    def carry(self, cond_pixels: torch.Tensor):
        """What the next clip continues from, as the resume log keeps it (here: the condition frames)."""
        return cond_pixels

    def restore(self, carry) -> torch.Tensor:
        """The condition frames from a `carry` (a subclass restores its own state from it too)."""
        return carry

    def clip_video(
        self, backbone: Backbone, sampler: Sampler, noise_init: NoiseInit, request: GenerationRequest, index: int,
        prompt: str, cond_pixels: torch.Tensor, latent_frames: int,
    ) -> MadeClip:  # fmt: skip
        """Clip `index` decoded, continuing from `cond_pixels` [1, 3, c, H, W] (its first frames)."""
        raise NotImplementedError


def clip_context(
    request: GenerationRequest,
    index: int,
    backbone: Backbone,
    sampler: Sampler,
    shape: tuple,
    make_denoise: Callable,
    cond_pixels: torch.Tensor,
    times_for: Callable[[int], torch.Tensor] | None = None,
) -> ClipContext:
    """The noise init's view of clip `index`: its seed, the guide (the last given frame), the first kept frame and
    its times matrix (default: the sampler's schedule on every latent frame)."""
    frames = shape[2]
    return ClipContext(
        shape=tuple(shape),
        seed=clip_seed(request.seed, index),
        clip_index=index,
        backbone=backbone,
        sampler=sampler,
        make_denoise=make_denoise,
        guide=cond_pixels[0, :, -1],
        times_for=times_for or (lambda n: uniform_times(sampler.schedule(backbone, n), frames)),
        keep_from=cond_pixels.shape[2],
        on_step=request.on_step,
    )

"""Progressive autoregressive video diffusion, PA-VDM (progressive paper §3, §4.1, Algorithm 1).

A window of S noisy units (a unit is a chunk of latent frames, or one latent frame without chunking) at increasing
noise levels, optionally behind one clean chunk kept for temporal attention. Each autoregressive iteration denoises
every unit one stage (k = steps / S Euler steps, each frame at its own level), pops the unit that became clean to the
output stream and appends fresh noise. An initialization stage grows the window from one unit and a termination
stage shrinks it without appending, so exactly the requested frames come out (§3.2 "Variable Length").

Mapping to `lvg generate`: a clip of the long video is one chunk (`chunk_size` latent frames: `chunk_size` pixel
frames on the toy, whose pixel-space "VAE" is the identity in time, 4 x `chunk_size` on Wan2.1), with its own prompt;
`num_clips` chunks follow the given start frames, each yielded as soon as it is clean. `frames_per_clip` is the
training window: the clean front chunk plus the S noisy units. The text of a model call is the prompt of the newest
unit in the window (the one whose content is still being decided; the paper's prompts are per video, so this is
lvg's choice). Resuming: the carry at a chunk boundary is the last clean chunk and the window's latents, the levels
follow from the chunk index, and every unit's noise comes from its own seeded generator, so a resumed run gives the
same video.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch

from lvg.contracts import (
    GUIDE_IMAGE,
    PER_FRAME_TIMES,
    ClipResult,
    GenerationRequest,
    Parts,
    refuse_capability,
    require_capability,
    require_flow,
)
from lvg.errors import require
from lvg.methods.base import Method
from lvg.noise.flow_match import flow_match_target, flow_match_xt
from lvg.noise.progressive import (
    chunk_columns,
    level_times,
    linear_times,
    random_shift,
    training_levels,
    window_levels,
)
from lvg.seeding import clip_seed, generator

LEVEL_GRIDS = ("linear", "scheduler")


@dataclass(frozen=True)
class ProgressivePlan:
    """The window a model is trained and sampled with: `front` clean latent frames (0 without the front chunk),
    `stages` units of `unit` latent frames each, `substeps` Euler steps per stage, and the flow time of each level
    0..N in `times` (N = stages x substeps, ascending)."""

    front: int
    unit: int
    stages: int
    substeps: int
    times: torch.Tensor

    @property
    def num_levels(self) -> int:
        return self.stages * self.substeps

    def frame_times(self, levels: torch.Tensor) -> torch.Tensor:
        """Unit levels [..., n] -> per-frame flow times [..., front + n * unit] (the front chunk at t = 0)."""
        t = chunk_columns(level_times(levels, self.times), self.unit)
        return torch.cat([torch.zeros(*t.shape[:-1], self.front, dtype=t.dtype), t], dim=-1)


def pixel_frames(backbone, latent_frames: int) -> int:
    """Pixel frames that `latent_frames` latent frames decode to (causal VAE: 1 + (f - 1) r; identity for r = 1)."""
    r = backbone.temporal_compression
    return latent_frames if r == 1 else (latent_frames - 1) * r + 1


class Progressive(Method):
    """PA-VDM: training with progressive per-frame levels, sampling by Algorithm 1 with its variable-length stages.

    Args:
        chunk_size: latent frames per chunk (§4.1: 5 on Open-Sora's VAE). The output is streamed a chunk at a time
            and the clean front chunk has this size; the window (training clip minus the front chunk, in latent
            frames) must be a multiple of it.
        chunked: a chunk shares one noise level and enters and leaves the window together (§4.1, the fix for
            cumulative error). False is the paper's ablation 2: one level per latent frame, the window moving one
            frame at a time.
        clean_front: keep the last clean chunk in front of the noisy window (§4.1, the fix for jitter; loss masked
            on it). False is the paper's ablation 1; then the given start frames are not seen by the model either
            (the video is generated from the prompts, the paper's text-to-video mode), and are only written first.
        shift_scale: the training shift delta = shift_scale * eps * (t_i - t_{i+1}) (§3.3: 0.4).
        full_window_prob: share of training iterations on the full window; the others take a shorter window of
            n ~ U{1..S-1} consecutive units of the steady levels at a uniform offset, covering the initialization
            (suffixes) and termination (prefixes) stages (§3.2; the paper gives no split).
        level_grid: `linear` levels t_n = n / N (§3.3 "a simple linear noise schedule"; through the sampler's
            `shift` if it sets one) or `scheduler` (the backbone scheduler's own sigmas for N steps, so a window of
            one stage is exactly the ordinary sampler).

    The number of denoising steps per frame is the sampler's `num_steps`; it must be a multiple of the stages S
    (§3.2 has steps = S; the Open-Sora variant 50 steps over 10 chunks, i.e. 5 steps per stage).
    """

    trajectory = "windowed"  # a frame passes through every stage of the window, one walk per stage

    def __init__(
        self,
        chunk_size: int = 5,
        chunked: bool = True,
        clean_front: bool = True,
        shift_scale: float = 0.4,
        full_window_prob: float = 0.5,
        level_grid: str = "linear",
    ) -> None:
        require(chunk_size >= 1, f"chunk_size must be at least 1 latent frame, got {chunk_size}")
        require(shift_scale >= 0, f"shift_scale must be >= 0 (the paper's is 0.4), got {shift_scale}")
        require(0 <= full_window_prob <= 1, f"full_window_prob must be in [0, 1], got {full_window_prob}")
        require(level_grid in LEVEL_GRIDS, f"level_grid must be one of {LEVEL_GRIDS}, not {level_grid!r}")
        self.chunk_size = chunk_size
        self.chunked = chunked
        self.clean_front = clean_front
        self.shift_scale = shift_scale
        self.full_window_prob = full_window_prob
        self.level_grid = level_grid
        self.condition_frames = 1  # pixel frames `lvg generate` gives as the start (set by `check` per backbone)
        self.window_plan: ProgressivePlan | None = None

    # --- the window ------------------------------------------------------------------------------------------
    def plan(self, backbone, frames_per_clip: int, sampler) -> ProgressivePlan:
        """The window for clips of `frames_per_clip` pixel frames and the sampler's steps; one error if they do not
        fit (window not a multiple of the chunk, steps not a multiple of the stages)."""
        f = backbone.latent_frames(frames_per_clip)
        front = self.chunk_size if self.clean_front else 0
        window = f - front
        require(
            window >= self.chunk_size and window % self.chunk_size == 0,
            f"the progressive window of {window} latent frames ({f} of frames_per_clip={frames_per_clip}, "
            f"{front} of them the clean front chunk) is not a positive multiple of chunk_size={self.chunk_size}: "
            f"use {front + 2 * self.chunk_size}, {front + 3 * self.chunk_size}, ... latent frames",
        )
        unit = self.chunk_size if self.chunked else 1
        stages = window // unit
        steps = sampler.num_steps
        require(
            steps >= stages and steps % stages == 0,
            f"sampler num_steps={steps} does not fit a progressive window of {stages} stages: every unit moves one "
            f"stage per autoregressive step, so num_steps must be a multiple of {stages} (e.g. {stages}, "
            f"{2 * stages}, {3 * stages})",
        )
        substeps = steps // stages
        if self.level_grid == "linear":
            times = linear_times(steps, sampler.shift or 1.0)
        else:
            scheduler = backbone.make_scheduler(sampler.shift)
            scheduler.set_timesteps(steps)
            times = scheduler.sigmas.float().flip(0).cpu()
        return ProgressivePlan(front, unit, stages, substeps, times)

    def check(self, parts: Parts) -> None:
        """A flow backbone with per-frame times, then the window for this module (see `plan`). (The sampler refuses
        what cannot step frames at different times; a noise search refuses windowed methods.)"""
        backbone = parts.backbone
        require_flow(backbone, self, "PA-VDM's levels are flow times; use a flow backbone (toy, Wan)")
        require_capability(backbone, PER_FRAME_TIMES, self, "use a Wan-architecture backbone (Toy, Wan)")
        refuse_capability(backbone, GUIDE_IMAGE, self, "it needs a guide image per clip, and PA-VDM gives its window "
                          "and the prompt only: use a text-to-video backbone (Toy, Wan)")  # fmt: skip
        self.window_plan = self.plan(backbone, parts.frames_per_clip, parts.sampler)
        self.condition_frames = pixel_frames(backbone, self.chunk_size) if self.clean_front else 1

    def _plan(self) -> ProgressivePlan:
        require(self.window_plan is not None, "Progressive needs its window: build it in a LongVideoModule")
        return self.window_plan

    # --- training --------------------------------------------------------------------------------------------
    def loss(self, backbone, batch: dict, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """Flow matching with per-frame progressive levels (§3.3): a window of n units of the steady levels at a
        random step of an iteration, shifted by delta, behind the clean front chunk (loss masked on it and on any
        frame shifted to level 0)."""
        require_flow(backbone, self, "progressive training is flow matching; use a flow backbone (toy, Wan)")
        plan = self._plan()
        with torch.no_grad():
            x0 = backbone.encode(batch["video"])
        b, f = x0.shape[0], x0.shape[2]
        require(
            f == plan.front + plan.stages * plan.unit,
            f"training clips have {f} latent frames but the progressive window needs "
            f"{plan.front + plan.stages * plan.unit}: make data and model frames_per_clip agree",
        )
        count, first = plan.stages, 0
        if plan.stages > 1 and torch.rand(1, generator=generator).item() >= self.full_window_prob:
            count = int(torch.randint(1, plan.stages, (1,), generator=generator))
            first = int(torch.randint(0, plan.stages - count + 1, (1,), generator=generator))
        phase = int(torch.randint(0, plan.substeps, (1,), generator=generator))
        eps = torch.randn(1, generator=generator).item()
        levels = training_levels(first, count, plan.substeps, phase)
        levels = random_shift(levels, eps, self.shift_scale, plan.substeps, plan.num_levels)
        t = plan.frame_times(levels)  # [front + count * unit]
        x0 = x0[:, :, : t.shape[0]]
        device = x0.device
        t_rows = t.to(device).expand(b, -1)
        noise = torch.randn(x0.shape, generator=generator).to(device)
        x_t = flow_match_xt(x0, noise, t_rows)
        pred = backbone.predict(x_t, t_rows, backbone.conditioning(list(batch["prompt"])))
        per_frame = (pred - flow_match_target(x0, noise)).pow(2).mean(dim=(1, 3, 4))  # [B, f]
        weight = (t_rows > 0).to(per_frame.dtype)
        weight[:, : plan.front] = 0
        return {"loss": (per_frame * weight).sum() / weight.sum().clamp(min=1)}

    # --- generation (Algorithm 1) ------------------------------------------------------------------------------
    def _start_chunk(self, backbone, start: torch.Tensor) -> torch.Tensor:
        """The start frames' last `chunk_size` latent frames [1, C, c, h, w]; fewer are padded by repeating the first
        (a guide image), so the front chunk always has the trained size."""
        lat = backbone.encode(start)[:, :, -self.chunk_size :]
        pad = self.chunk_size - lat.shape[2]
        return torch.cat([lat[:, :, :1].expand(-1, -1, pad, -1, -1), lat], dim=2) if pad > 0 else lat

    def _decode_chunk(self, backbone, previous: torch.Tensor, chunk: torch.Tensor) -> torch.Tensor:
        """A chunk's pixel frames [3, n, H, W]. With a causal temporal VAE the chunk is decoded after the previous
        chunk (its context) and the frames that belong to the chunk are kept: r per latent frame."""
        if backbone.temporal_compression == 1:
            return backbone.decode(chunk)[0]
        video = backbone.decode(torch.cat([previous, chunk], dim=2))
        return video[0, :, -chunk.shape[2] * backbone.temporal_compression :]

    @torch.no_grad()
    def generate(self, backbone, sampler, noise_init, request: GenerationRequest) -> Iterator[ClipResult]:
        """Yield the start frames, then chunk after chunk as each becomes clean (`request.num_clips` chunks), each
        carrying the last clean chunk and the window. The sampler walks each iteration's times matrix (every frame
        at its own level). Memory is flat: only the window, the last clean chunk and the chunk being completed are
        held."""
        plan = self.plan(backbone, request.frames_per_clip, sampler)
        device = backbone.device
        c, u, k, stages = self.chunk_size, plan.unit, plan.substeps, plan.stages
        units_per_chunk = c // u
        num_units = request.num_clips * units_per_chunk
        h, w = (size // backbone.spatial_compression for size in request.start.shape[-2:])
        unit_shape = (1, backbone.latent_channels, u, h, w)
        if request.first_clip == 0:
            last_clean = self._start_chunk(backbone, request.start.to(device))
            window = last_clean[:, :, :0]
            iteration = 0
            yield ClipResult(-1, request.start[0].to(device))
        else:
            carry = request.carry.to(device)
            last_clean, window = carry[:, :, :c], carry[:, :, c:]
            iteration = request.first_clip * units_per_chunk + stages - 1
        previous_chunk, pending, chunk_index = last_clean, [], request.first_clip
        text, cond = None, None
        while iteration < num_units + stages - 1:
            first, levels = window_levels(iteration, num_units, stages, k)
            newest = first + levels.shape[1] - 1
            if newest == iteration:  # a unit enters at level N: fresh noise from its own generator
                noise = torch.randn(unit_shape, generator=generator(clip_seed(request.seed, newest)))
                window = torch.cat([window, noise.to(device)], dim=2)
            prompt = request.prompts[newest // units_per_chunk]
            if prompt != text:  # encoded again only when the text changes
                text, cond = prompt, backbone.conditioning([prompt])
            front = last_clean if self.clean_front else last_clean[:, :, :0]
            times = chunk_columns(level_times(levels, plan.times), u)

            def denoise(x, t, front=front, cond=cond):
                t_in = torch.cat([t.new_zeros(t.shape[0], front.shape[2]), t], dim=1)
                return backbone.predict(torch.cat([front, x], dim=2), t_in, cond)[:, :, front.shape[2] :]

            on_step = _offset(request.on_step, iteration * k)
            window = sampler.walk(denoise, window, times, backbone, None, on_step, per_frame=True).x
            iteration += 1
            if levels[-1, 0] > 0:
                continue
            popped, window = window[:, :, :u], window[:, :, u:]  # the front unit is clean
            last_clean = torch.cat([last_clean, popped], dim=2)[:, :, -c:]
            pending.append(popped)
            if len(pending) == units_per_chunk:
                chunk = torch.cat(pending, dim=2)
                pixels = self._decode_chunk(backbone, previous_chunk, chunk)
                previous_chunk, pending = chunk, []
                yield ClipResult(chunk_index, pixels, torch.cat([last_clean, window], dim=2).cpu())
                chunk_index += 1


def _offset(callback, first_step: int):
    """A step callback told the video's step count rather than the walk's."""
    return None if callback is None else (lambda i, t, x: callback(first_step + i, t, x))

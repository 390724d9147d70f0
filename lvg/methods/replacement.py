"""The replacement baselines of the progressive paper (§2.2, eq. 3 and eq. 4), clip by clip.

Clip i starts with the last `condition_frames` frames of clip i-1 (re-encoded, as the extension method does) and
generates the rest. The condition enters through the frames themselves, not through extra channels:

- replacement with noise (eq. 3, Ho et al. 2022): at every denoising step the condition frames are replaced by the
  given frames noised to the current level with fresh noise; the model is an ordinary video model, trained with one
  level for all frames (the paper's M-RW);
- replacement without noise (eq. 4): the condition frames stay clean at level t = 0 while the rest is denoised; the
  model is trained with clean frames at the start of the clip (loss masked on them).

The replacement is done on the model input inside the denoiser, so any sampler and noise init work unchanged: a
scheduler's update is elementwise, so the generated frames follow exactly as if the sample itself had been replaced.
"""

from __future__ import annotations

import torch

from lvg.contracts import GUIDE_IMAGE, PER_FRAME_TIMES, Parts, refuse_capability, require_capability, require_flow
from lvg.errors import require
from lvg.methods.base import ClipByClip, MadeClip, clip_context, sample_clip
from lvg.methods.progressive import pixel_frames
from lvg.noise.flow_match import flow_match_target, flow_match_xt
from lvg.noise.schedules import uniform_times, with_frozen_columns
from lvg.noise.timesteps import logit_normal_t, uniform_rows
from lvg.seeding import clip_seed, generator, stream_seed


class Replacement(ClipByClip):
    """Shared by both baselines; `noised` chooses eq. 3 (True) or eq. 4 (False).

    Args:
        condition_frames: pixel frames carried from clip to clip (the most given in training).
        min_condition_frames: the fewest given in training (eq. 4 only; 1 keeps a guide image usable).
        timestep_sampling: `uniform` t ~ U(0, 1) or `logit_normal` (SD3), one t per clip for the noisy frames.
    """

    noised: bool = True

    def __init__(
        self, condition_frames: int = 2, min_condition_frames: int = 1, timestep_sampling: str = "uniform"
    ) -> None:
        require(condition_frames >= 1, f"condition_frames must be at least 1, got {condition_frames}")
        require(
            1 <= min_condition_frames <= condition_frames,
            f"min_condition_frames must be in [1, condition_frames={condition_frames}], got {min_condition_frames}",
        )
        require(timestep_sampling in ("uniform", "logit_normal"), f"unknown timestep_sampling {timestep_sampling!r}")
        self.condition_frames = condition_frames
        self.min_condition_frames = min_condition_frames
        self.timestep_sampling = timestep_sampling

    def check(self, parts: Parts) -> None:
        """A flow backbone (eq. 3 noises the given frames by flow matching; eq. 4 holds them at t = 0 while the rest
        moves: per-frame times), whole latent condition frames, and frames left to generate."""
        backbone, frames_per_clip = parts.backbone, parts.frames_per_clip
        require_flow(backbone, self, "the replacement baselines noise and denoise by flow matching (toy, Wan)")
        why = "it needs a guide image, and these baselines put the given frames in the sample: use Toy or Wan"
        refuse_capability(backbone, GUIDE_IMAGE, self, why)
        if not self.noised:
            require_capability(backbone, PER_FRAME_TIMES, self, "use ReplacementWithNoise, or a Wan backbone")
        f = backbone.latent_frames(self.condition_frames)
        require(
            pixel_frames(backbone, f) == self.condition_frames,
            f"condition_frames={self.condition_frames} is not a whole number of latent frames for the VAE's temporal "
            f"compression {backbone.temporal_compression}: use {backbone.temporal_compression}k+1",
        )
        require(
            f < backbone.latent_frames(frames_per_clip),
            f"condition_frames={self.condition_frames} leaves no frame to generate in clips of {frames_per_clip}",
        )

    # --- training -------------------------------------------------------------------------------------------
    def loss(self, backbone, batch: dict, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """Flow matching. Eq. 3: one level for every frame, loss on all (an ordinary video model). Eq. 4: the first
        e latent frames clean (t = 0), e drawn per iteration from the condition range, loss on the others."""
        require_flow(backbone, self, "this method's training loss is flow matching; use a flow backbone (toy, Wan)")
        with torch.no_grad():
            x0 = backbone.encode(batch["video"])
        b, f = x0.shape[0], x0.shape[2]
        t = torch.rand(b, generator=generator) if self.timestep_sampling == "uniform" else logit_normal_t(b, generator)
        t_rows = uniform_rows(t, b, f)
        weight = torch.ones(b, f)
        if not self.noised:
            given = int(torch.randint(self.min_condition_frames, self.condition_frames + 1, (1,), generator=generator))
            e = min(backbone.latent_frames(given), f - 1)
            t_rows[:, :e] = 0
            weight[:, :e] = 0
        device = x0.device
        t_rows, weight = t_rows.to(device), weight.to(device)
        noise = torch.randn(x0.shape, generator=generator).to(device)
        pred = backbone.predict(flow_match_xt(x0, noise, t_rows), t_rows, backbone.conditioning(list(batch["prompt"])))
        per_frame = (pred - flow_match_target(x0, noise)).pow(2).mean(dim=(1, 3, 4))
        return {"loss": (per_frame * weight).sum() / weight.sum()}

    # --- generation -----------------------------------------------------------------------------------------
    def denoiser(self, backbone, cond, given: torch.Tensor, seed: int):
        """`make_denoise(n)` for a clip whose first frames are `given` latents [1, C, e, h, w]: the model input's
        condition frames are replaced (eq. 3: noised to the current level with fresh noise; eq. 4: clean, at the
        t = 0 its times matrix holds them at)."""
        e = given.shape[2]

        def make(n: int):
            c = cond.repeat(n)
            stream = generator(stream_seed(seed, "replacement_noise"))

            def denoise(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
                x, t = x.clone(), t.clone()
                ref = given.expand(x.shape[0], -1, -1, -1, -1)
                if self.noised:
                    noise = torch.randn(ref.shape, generator=stream).to(x.device, x.dtype)
                    x[:, :, :e] = flow_match_xt(ref, noise, t[:, :e])
                else:
                    x[:, :, :e] = ref
                return backbone.predict(x, t, c)

            return denoise

        return make

    def clip_video(self, backbone, sampler, noise_init, request, index, prompt, cond_pixels, latent_frames):
        """The clip whose first frames are `cond_pixels` re-encoded, put back over the sample, decoded."""
        given = backbone.encode(cond_pixels)
        cond = backbone.conditioning([prompt])
        make_denoise = self.denoiser(backbone, cond, given, clip_seed(request.seed, index))
        shape = (1, given.shape[1], latent_frames, *given.shape[3:])
        e = given.shape[2]
        times_for = self.times_for(backbone, sampler, latent_frames, e)
        ctx = clip_context(request, index, backbone, sampler, shape, make_denoise, cond_pixels, times_for)
        sampled = sample_clip(ctx, noise_init)
        x0 = sampled.latents
        x0[:, :, :e] = given
        return MadeClip(backbone.decode(x0), sampled.search)

    def times_for(self, backbone, sampler, frames: int, given: int):
        """The clip's times matrix for n steps: the sampler's schedule on every frame; eq. 4 holds the given frames
        at t = 0 (their columns frozen), eq. 3 noises them along with the rest."""

        def times(n: int) -> torch.Tensor:
            uniform = uniform_times(sampler.schedule(backbone, n), frames)
            return uniform if self.noised else with_frozen_columns(uniform, given)

        return times


class ReplacementWithNoise(Replacement):
    """Eq. 3: condition frames noised to the current level replace the sample's first frames at every step."""

    noised = True


class ReplacementWithoutNoise(Replacement):
    """Eq. 4: clean condition frames (t = 0) at the start of the clip."""

    noised = False

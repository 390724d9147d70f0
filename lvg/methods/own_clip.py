"""Own-clip conditions: train a clip on given frames that the model itself sampled as the clip before it.

In generation every clip after the first is conditioned on the previous clip's output, so a small error of each
clip's sampling (on the toy world, a uniform colour offset) is copied into the next clip and added to: the background
error of a long video grows clip by clip (train/toy_experiments.md). A model trained only on true condition frames
never sees its own output as a condition, so nothing teaches it to pull such an offset back. (Measured on the toy
world, this option did not: it lost motion and raised the background error; train/toy_experiments.md.)
Scheduled sampling (Bengio et al. 2015, "Scheduled Sampling for Sequence Prediction with Recurrent Neural Networks")
feeds a sequence model its own earlier outputs as inputs in training, and Self Forcing (Huang et al. 2025) trains an
autoregressive video model on its own rollouts; this is the clip-by-clip extension form of that idea, an lvg option.

Training data are pairs of consecutive clips of one world (`ToyWorldData(long_video: true, num_clips: 2)`, or any
long-video batch of two clips that overlap by the method's `condition_frames`). For a share `prob` of the samples the
model samples the first clip from its true given frames with `sampler` (no gradient; by default the toy's generation
sampler, 20 Euler steps at time shift 5) and the second clip is trained on that sample's last frames as its given
frames, its target still the true second clip; the other samples train the first clip on its true given frames.
"""

from __future__ import annotations

import torch

from lvg.errors import require
from lvg.methods.guidance import condition_guided_denoiser
from lvg.sampling.scheduler_loop import SchedulerSampler


class OwnClip:
    """Own-clip conditions for `Extension` (module doc).

    Args:
        prob: the share of training samples whose given frames are the model's own (0 < prob <= 1).
        num_steps, shift: the sampler that makes them (`SchedulerSampler`); match the config that generates, since
            the error to be learned depends on how the clip is sampled.
    """

    def __init__(self, prob: float = 0.25, num_steps: int = 20, shift: float | None = 5.0) -> None:
        require(0 < prob <= 1, f"own_clip prob must be in (0, 1], got {prob}")
        self.prob = float(prob)
        self.sampler = SchedulerSampler(num_steps, shift)

    def split(self, batch: dict, generator: torch.Generator) -> tuple[dict, torch.Tensor]:
        """A single-clip batch from a batch of clip pairs, and which samples [B] (bool) take the second clip (those
        the model's own first clip conditions); the others take the first clip."""
        require(
            "clips" in batch,
            "own_clip trains on pairs of consecutive clips: use long-video data (ToyWorldData long_video: true, "
            "num_clips: 2)",
        )
        clips = batch["clips"]
        require(clips.shape[1] == 2, f"own_clip needs pairs of clips (num_clips: 2), got {clips.shape[1]} per sample")
        pick = torch.rand(clips.shape[0], generator=generator) < self.prob
        rows, index = torch.arange(len(pick)), pick.long()
        out = {
            "video": clips[rows, index],
            "prompt": [prompts[i] for prompts, i in zip(batch["prompts"], index.tolist())],
            "pair": clips,
            "pair_prompts": batch["prompts"],
        }
        if "sprite_mask" in batch:
            out["sprite_mask"] = batch["sprite_mask"][rows, index]
        return out, pick

    @torch.no_grad()
    def condition_latents(self, method, backbone, batch: dict, pick: torch.Tensor, generator: torch.Generator):
        """Latents [n, C, k, h, w] of the last `method.condition_frames` frames of the model's own first clip, for
        the `pick`ed samples (n of them), sampled from the first clip's true given frames and its own prompt."""
        rows = pick.nonzero().flatten().tolist()
        first = batch["pair"][rows, 0].to(backbone.device)
        c = method.condition_frames
        latents, mask = method.clip_condition(backbone, first[:, :, :c], backbone.latent_frames(first.shape[2]))
        prompts = [batch["pair_prompts"][r][0] for r in rows]
        cond = backbone.conditioning(prompts, latents, mask)
        denoise = condition_guided_denoiser(
            backbone, cond, method.condition_guidance, method.guidance_rescale, method.guidance_min_t
        )
        noise = torch.randn(latents.shape, generator=generator).to(latents.device)
        sampled = self.sampler.run(denoise, noise, backbone, generator).x
        pixels = backbone.decode(sampled)[:, :, -c:]  # as generation carries them: decoded, in [-1, 1]
        return backbone.encode(pixels)

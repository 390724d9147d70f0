"""Naive clip-by-clip video extension (error-free paper §3.3; the chunk-wise paper's naive baseline).

Training: one uniform flow time per clip; clean condition frames enter through the channel-concatenated condition
latents and mask; the paper's multi-task variants (first frames, last frames, first + last, all dropped).
Generation: clip i is conditioned on the last `condition_frames` frames of clip i-1 and on its own prompt.
"""

from __future__ import annotations

import torch

from lvg.contracts import (
    CONDITION_FRAMES,
    GUIDE_IMAGE,
    PER_FRAME_TIMES,
    PIXEL_SPACE,
    Condition,
    Parts,
    require_capability,
)
from lvg.errors import require
from lvg.methods.base import ClipByClip, MadeClip, clip_context, sample_clip
from lvg.methods.error_recycling import ErrorRecycling
from lvg.methods.guidance import condition_guided_denoiser
from lvg.methods.objective import noised_and_target, require_trainable
from lvg.methods.own_clip import OwnClip
from lvg.noise.flow_match import flow_match_target, flow_match_xt
from lvg.noise.schedules import diffusion_forcing_times
from lvg.noise.timesteps import logit_normal_t, uniform_rows
from lvg.seeding import clip_seed

TASKS = ("first", "last", "first_last", "none")


class Extension(ClipByClip):
    """Video-extension model conditioned on the previous clip's last frames.

    Args:
        condition_frames: pixel frames carried from clip to clip (and the most given in training).
        min_condition_frames: the fewest given in training (0: some samples are plain text-to-video, as §4.1's
            "randomly provide 0 to 9 initial frames" for Wan). Counts are pixel frames; the mask is per latent
            frame, so a count maps to the `backbone.latent_frames(count)` whole latent frames that hold it (Wan's
            causal VAE: 0 -> 0, 1-4 -> 1, 5-8 -> 2, 9 -> 3 latent frames; the frames given are then 1 + 4(k - 1)).
        full_condition_prob: in training, the share of samples given all `condition_frames` (what generation gives);
            the others get a count drawn uniformly below it. None draws every count uniformly in
            [min_condition_frames, condition_frames].
        task_probs: probabilities of the multi-task variants `first`, `last`, `first_last`, `none` (§3.3 drops the
            condition with rate 0.1; the split of the rest is not given in the paper, so it is an option).
        timestep_sampling: `uniform` t ~ U(0, 1) or `logit_normal` (SD3), one t per clip.
        logit_normal: (mean, std) of the logit-normal times; a positive mean favours high noise (t = 1 is noise here,
            so SD3's and JiT's means change sign).
        uniform_time_share: with `logit_normal`, the share of samples whose t is drawn uniformly instead. A
            logit-normal with a high mean almost never trains the lowest times (for (0.8, 0.8), t < 0.15 in 0.07% of
            samples), where the sampler's last steps ask the model anyway; SD3 (§3.1) gives heavy-tailed variants
            of its time densities for that reason. The mixture is an lvg option; 0 (default) is pure logit-normal.
        loss_on_condition: also train on the given frames (off: the loss covers frames to generate only).
        condition_fill: what the condition latents hold at frames to generate: `zeros` (§3.3: the condition is
            "padded with zero-filled frames") or `nearest` (each such frame holds the nearest given frame, as SVD
            repeats its guide latent on every frame; an lvg option, so copying stays local in space).
        condition_guidance: classifier-free guidance scale on the condition frames in generation
            (`lvg.methods.guidance`; the unconditional branch is the `none` task, so train with it); 1 switches it off.
            The paper does not say how it samples, so this is an option; it applies to extension backbones (Toy, Wan
            T2V), as SVD, CogVideoX and Wan I2V guide with their own `guidance_scale`.
        guidance_rescale: share of the guided output's standard deviation pulled back to the conditional one's (Lin et
            al. §3.4; 0 is off).
        guidance_min_t: guide only at flow times t >= this (1 is noise; 0 guides every step).
        ar_step: in generation, SkyReels-V2's asynchronous diffusion-forcing schedule within each clip
            (`lvg.noise.schedules.diffusion_forcing_times`): block b of latent frames starts `ar_step` steps after
            block b - 1, so earlier frames are cleaner while later ones are still noisy (ar_step (blocks - 1) more
            model calls per clip). 0 (default) denoises every frame together. Needs a backbone with per-frame times
            and a sampler that steps frames at different times (flow-match Euler).
        causal_block_size: latent frames per block of that schedule (SkyReels-V2's `causal_block_size`).
        error_recycling: Stable Video Infinity's error-recycling finetuning (`lvg.methods.error_recycling`): the
            model's own banked errors added to the latents, noise and condition frames in training; None is off.
            Flow backbones only (the target is a velocity).
        own_step_prob: the share of training samples whose input at time t is one Euler step of the model's own
            (no gradient) from the true noised clip at a higher time t' = t + own_step_gap u (1 - t), u ~ U(0, 1),
            x_t = x_t' + (t - t') v(x_t', t'), with the target still the true clean clip (v = (x_t - x0) / t): the
            model learns to answer inputs as its sampler makes them, not only true noised frames (exposure bias,
            Ning et al. 2023; train/toy_experiments.md measures it). An lvg option; 0 (default) is off and keeps
            every config's random stream. Flow backbones only.
        own_step_gap: the largest step back towards noise, as a share of (1 - t).
        own_step_count: the Euler steps the model takes from t' to t (equal steps in time; 1: the single step above),
            so that a wide gap still gives inputs as a sampler's several steps make them. An lvg option.
        condition_offset_std: in training, each sample's given condition frames are shifted by a constant offset per
            channel, drawn from N(0, this^2), while the target stays the true clip: the model learns to pull a
            condition whose colours have drifted back to what the prompt and the rest of the frame say, instead of
            copying the drift (in generation each clip's condition is the previous clip's output, so a small bias
            per clip accumulates; train/toy_experiments.md). Latent units (pixels in [-1, 1] on the toy); refused
            on a backbone that takes its guide its own way. An lvg option; 0 (default) is off and keeps every config's
            random stream.
        sprite_loss_weight: on a pixel-space backbone (the toy), the loss on pixels a true sprite covers weighs
            1 + this against 1 elsewhere (a weighted mean per frame), from the batch's `sprite_mask`
            (`ToyWorldData(sprite_masks: true)`): a sprite is a tenth of a toy frame, so an unweighted loss is mostly
            background. An lvg option; 0 (default) is the plain mean.
        sprite_loss_margin: pixels around each true sprite weighted as the sprite (the mask dilated by this many
            pixels, a square neighbourhood): with the sprite alone weighted, painting background in a sprite's colour
            costs less than missing a sprite pixel, and sprites swell clip by clip (train/toy_experiments.md).
        sprite_loss_given: also weight, in every generated frame, the pixels the true sprites covered in the last
            given frame (with the margin): where the sprites were, which a copy of that frame (the nearest fill, the
            x0-residual output) leaves painted unless the model erases it. An lvg option; off by default.
        mean_loss_weight: adds this times the squared frame-mean error (per channel, the mean of the output's error
            over the frame's pixels) to each frame's loss: the coarsest (1 x 1) level of the multiscale training
            loss of Hoogeboom et al. (2023, "simple diffusion"; one extra level, not their pyramid), which a plain
            mean of squares weighs once among all the frame's frequencies although a bias there, repeated clip after
            clip, is what shifts a long video's colours (train/toy_experiments.md). An lvg option; 0 (default) is
            off.
        own_clip: own-clip conditions (`lvg.methods.own_clip`): a share of the training samples is a world's second
            clip conditioned on the model's own sample of its first clip (long-video data of clip pairs), the target
            still the true clip, so that the model might learn to pull back the error its own clips hand on (on the
            toy world it lost motion instead: train/toy_experiments.md). None is off. Extension backbones with
            flow prediction only.
    """

    def __init__(
        self,
        condition_frames: int = 2,
        min_condition_frames: int = 1,
        task_probs: dict[str, float] | None = None,
        timestep_sampling: str = "uniform",
        loss_on_condition: bool = False,
        condition_fill: str = "zeros",
        logit_normal: tuple[float, float] = (0.0, 1.0),
        condition_guidance: float = 1.0,
        guidance_rescale: float = 0.0,
        guidance_min_t: float = 0.0,
        full_condition_prob: float | None = None,
        ar_step: int = 0,
        causal_block_size: int = 1,
        error_recycling: ErrorRecycling | None = None,
        uniform_time_share: float = 0.0,
        own_step_prob: float = 0.0,
        own_step_gap: float = 0.25,
        own_step_count: int = 1,
        sprite_loss_weight: float = 0.0,
        sprite_loss_margin: int = 0,
        sprite_loss_given: bool = False,
        condition_offset_std: float = 0.0,
        mean_loss_weight: float = 0.0,
        own_clip: OwnClip | None = None,
    ) -> None:
        require(condition_frames >= 1, f"condition_frames must be at least 1, got {condition_frames}")
        require(
            0 <= min_condition_frames <= condition_frames,
            f"min_condition_frames must be in [0, condition_frames={condition_frames}], got {min_condition_frames}",
        )
        require(timestep_sampling in ("uniform", "logit_normal"), f"unknown timestep_sampling {timestep_sampling!r}")
        require(logit_normal[1] > 0, f"logit_normal std must be positive, got {logit_normal[1]}")
        require(0 <= uniform_time_share <= 1, f"uniform_time_share must be in [0, 1], got {uniform_time_share}")
        require(
            uniform_time_share == 0 or timestep_sampling == "logit_normal",
            f"uniform_time_share mixes uniform times into logit_normal ones; with timestep_sampling "
            f"{timestep_sampling!r} every time is uniform already: set uniform_time_share 0 or use logit_normal",
        )
        require(
            condition_fill in ("zeros", "nearest"),
            f"condition_fill must be 'zeros' or 'nearest', not {condition_fill!r}",
        )
        require(
            condition_guidance >= 1,
            f"condition_guidance must be at least 1 (1 switches it off), got {condition_guidance}",
        )
        require(0 <= guidance_rescale <= 1, f"guidance_rescale must be in [0, 1], got {guidance_rescale}")
        require(0 <= guidance_min_t <= 1, f"guidance_min_t must be in [0, 1], got {guidance_min_t}")
        probs = task_probs or {"first": 0.7, "last": 0.1, "first_last": 0.1, "none": 0.1}
        require(set(probs) <= set(TASKS), f"task_probs keys must be among {TASKS}, got {sorted(probs)}")
        require(abs(sum(probs.values()) - 1) < 1e-6, f"task_probs must sum to 1, got {sum(probs.values())}")
        self.condition_frames = condition_frames
        self.min_condition_frames = min_condition_frames
        require(
            full_condition_prob is None or 0 <= full_condition_prob <= 1,
            f"full_condition_prob must be in [0, 1] (or null), got {full_condition_prob}",
        )
        self.full_condition_prob = full_condition_prob
        self.task_probs = probs
        self.timestep_sampling = timestep_sampling
        self.loss_on_condition = loss_on_condition
        self.condition_fill = condition_fill
        self.logit_normal = tuple(float(v) for v in logit_normal)
        self.uniform_time_share = float(uniform_time_share)
        self.condition_guidance = float(condition_guidance)
        self.guidance_rescale = float(guidance_rescale)
        self.guidance_min_t = float(guidance_min_t)
        require(ar_step >= 0, f"ar_step must be >= 0 (0: synchronous), got {ar_step}")
        require(causal_block_size >= 1, f"causal_block_size must be at least 1, got {causal_block_size}")
        self.ar_step, self.causal_block_size = ar_step, causal_block_size
        self.trajectory = "asynchronous" if ar_step > 0 else "whole"
        self.error_recycling = error_recycling
        require(0 <= own_step_prob <= 1, f"own_step_prob must be in [0, 1], got {own_step_prob}")
        require(0 < own_step_gap <= 1, f"own_step_gap must be in (0, 1], got {own_step_gap}")
        self.own_step_prob, self.own_step_gap = float(own_step_prob), float(own_step_gap)
        require(own_step_count >= 1, f"own_step_count must be at least 1, got {own_step_count}")
        self.own_step_count = int(own_step_count)
        require(sprite_loss_weight >= 0, f"sprite_loss_weight must be >= 0 (0: off), got {sprite_loss_weight}")
        self.sprite_loss_weight = float(sprite_loss_weight)
        require(sprite_loss_margin >= 0, f"sprite_loss_margin must be >= 0 pixels, got {sprite_loss_margin}")
        require(
            sprite_loss_margin == 0 or sprite_loss_weight > 0,
            "sprite_loss_margin widens the pixels sprite_loss_weight weights: set sprite_loss_weight too, or margin 0",
        )
        self.sprite_loss_margin = int(sprite_loss_margin)
        require(
            not sprite_loss_given or sprite_loss_weight > 0,
            "sprite_loss_given adds pixels to the ones sprite_loss_weight weights: set sprite_loss_weight too",
        )
        self.sprite_loss_given = bool(sprite_loss_given)
        require(condition_offset_std >= 0, f"condition_offset_std must be >= 0 (0: off), got {condition_offset_std}")
        self.condition_offset_std = float(condition_offset_std)
        require(mean_loss_weight >= 0, f"mean_loss_weight must be >= 0 (0: off), got {mean_loss_weight}")
        self.mean_loss_weight = float(mean_loss_weight)
        self.own_clip = own_clip

    def check(self, parts: Parts) -> None:
        backbone = parts.backbone
        if self.sprite_loss_weight > 0:
            require_capability(
                backbone, PIXEL_SPACE, self, "sprite_loss_weight weights pixels of the frames: set it 0"
            )
        if self.own_step_prob > 0:
            require(
                backbone.prediction_type == "flow",
                f"own_step_prob takes an Euler step of the flow: {type(backbone).__name__} predicts "
                f"{backbone.prediction_type!r}; set own_step_prob 0",
            )
        if self.own_clip is not None:
            require(
                backbone.prediction_type == "flow" and CONDITION_FRAMES in backbone.capabilities,
                f"own_clip samples a clip and conditions the next on it, which needs a flow backbone that takes "
                f"condition frames; {type(backbone).__name__} does not: set own_clip null",
            )
        if self.error_recycling is not None:
            require(
                backbone.prediction_type == "flow",
                f"error_recycling recycles velocity errors: {type(backbone).__name__} predicts "
                f"{backbone.prediction_type!r}; use a flow backbone (toy, Wan) or drop error_recycling",
            )
            require(
                self.error_recycling.probs["condition"] == 0 or CONDITION_FRAMES in backbone.capabilities,
                f"error_recycling.condition_prob needs condition frames to corrupt, and {type(backbone).__name__} "
                "takes its guide its own way: set condition_prob 0 (latent and noise errors still apply)",
            )
        require(
            self.condition_offset_std == 0 or CONDITION_FRAMES in backbone.capabilities,
            f"condition_offset_std shifts the given condition frames, and {type(backbone).__name__} takes its guide "
            "its own way: set condition_offset_std 0",
        )
        if self.ar_step > 0:
            require_capability(
                backbone, PER_FRAME_TIMES, self, "diffusion forcing (ar_step > 0) needs per-frame times: set ar_step 0"
            )
        require(
            self.condition_guidance == 1 or CONDITION_FRAMES in backbone.capabilities,
            f"condition_guidance={self.condition_guidance} needs an extension backbone (Toy, Wan T2V); "
            f"{type(backbone).__name__} takes the guide its own way: set condition_guidance 1 and use the backbone's "
            "guidance_scale",
        )
        require(
            CONDITION_FRAMES in backbone.capabilities or GUIDE_IMAGE in backbone.capabilities,
            f"{parts.names(self, backbone)}: the backbone takes neither condition frames nor a guide image, so "
            "nothing would carry the video from clip to clip: use an extension backbone (Toy, Wan with extension: "
            "true) or an image-to-video one",
        )

    def guided_denoiser(self, backbone, cond: Condition):
        """`make_denoise(n)` for one clip: the backbone's denoiser on `cond` for n samples, condition-guided."""
        return lambda n: condition_guided_denoiser(
            backbone, cond.repeat(n), self.condition_guidance, self.guidance_rescale, self.guidance_min_t
        )

    def fill_condition(self, latents: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Condition latents [B, C, f, h, w]: the given frames (mask 1), and at the others zeros or the nearest given
        frame (ties go to the earlier one), per `condition_fill`."""
        given = latents * mask[:, None, :, None, None]
        if self.condition_fill == "zeros":
            return given
        f = mask.shape[1]
        pos = torch.arange(f, device=mask.device, dtype=torch.float32)
        dist = (pos[None, :, None] - pos[None, None, :]).abs() + 1e-3 * pos[None, None, :]  # [1, target, source]
        dist = dist.masked_fill(mask[:, None, :] < 0.5, float("inf"))  # [B, f, f]
        nearest = dist.argmin(dim=2)  # [B, f]
        index = nearest[:, None, :, None, None].expand(-1, latents.shape[1], -1, *latents.shape[3:])
        filled = latents.gather(2, index)
        has_any = (mask.sum(1) > 0).to(latents.dtype)[:, None, None, None, None]
        return filled * has_any

    # --- training -------------------------------------------------------------------------------------------
    def condition_mask(self, batch: int, latent_frames: int, backbone, generator: torch.Generator) -> torch.Tensor:
        """[B, f] 1 on given latent frames, drawn per sample from the multi-task variants."""
        names = list(self.task_probs)
        picks = torch.multinomial(torch.tensor([self.task_probs[n] for n in names]), batch, True, generator=generator)
        counts = torch.randint(self.min_condition_frames, self.condition_frames + 1, (batch,), generator=generator)
        if self.full_condition_prob is not None:
            fewer = torch.randint(self.min_condition_frames, max(self.condition_frames, self.min_condition_frames + 1),
                                  (batch,), generator=generator)  # fmt: skip
            full = torch.rand(batch, generator=generator) < self.full_condition_prob
            counts = torch.where(full, torch.full_like(counts, self.condition_frames), fewer)
        mask = torch.zeros(batch, latent_frames)
        for b in range(batch):
            count = int(counts[b])
            k = min(backbone.latent_frames(count), latent_frames - 1) if count else 0
            task = names[int(picks[b])]
            if task in ("first", "first_last"):
                mask[b, :k] = 1
            if task in ("last", "first_last"):
                mask[b, latent_frames - k :] = 1
        return mask

    def loss(self, backbone, batch: dict, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """Masked flow-matching loss: || v(x_t, t, cond) - (n - x0) ||^2 on frames to generate (a DDPM backbone,
        CogVideoX: its own v or epsilon objective at the discrete timestep of t, `lvg.methods.objective`).

        On a backbone that takes the guide its own way (`is_extension` false, e.g. Wan2.1 I2V) the objective is that
        model's own: its conditioning built from each clip's first frame, the loss on every latent frame (the model
        generates the guide's latent frame too), and the `none` task probability dropping the prompt instead (an
        empty prompt, the unconditional branch of its text guidance; the guide image cannot be left out there)."""
        require_trainable(backbone)
        own = None
        if self.own_clip is not None:
            batch, pick = self.own_clip.split(batch, generator)
            if backbone.training and bool(pick.any()):
                own = pick, self.own_clip.condition_latents(self, backbone, batch, pick, generator)
        with torch.no_grad():
            x0 = backbone.encode(batch["video"])
        b, _, f = x0.shape[:3]
        device = x0.device
        if self.timestep_sampling == "uniform":
            t = torch.rand(b, generator=generator)
        else:
            t = logit_normal_t(b, generator, *self.logit_normal)
            if self.uniform_time_share > 0:  # drawn only then, so configs without it keep their random stream
                pick = torch.rand(b, generator=generator) < self.uniform_time_share
                t = torch.where(pick, torch.rand(b, generator=generator), t)
        t_rows = uniform_rows(t, b, f).to(device)
        noise = torch.randn(x0.shape, generator=generator).to(device)
        x_t, target, t_rows = noised_and_target(backbone, x0, noise, t_rows)
        mask = self.condition_mask(b, f, backbone, generator).to(device) if backbone.is_extension else None
        if own is not None:  # the given frames are the model's own, in the clip noised as in its condition
            x0 = self.own_condition(x0, *own, mask)
            x_t, target = flow_match_xt(x0, noise, t_rows), flow_match_target(x0, noise)
        source, recycling = x0, self.recycling(backbone)
        if recycling is not None:
            latents, noise, source, clean = recycling.corrupt(x0, noise, t, mask, generator)
            x_t, target = flow_match_xt(latents, noise, t_rows), flow_match_target(x0, noise)  # back to clean x0
        if mask is not None:
            if self.condition_offset_std > 0 and backbone.training:
                source = self.offset_condition(source, generator)
            cond = backbone.conditioning(list(batch["prompt"]), self.fill_condition(source, mask), mask)
            weight = torch.ones_like(mask) if self.loss_on_condition else 1 - mask
        else:
            cond = self.guide_condition(backbone, batch, x0, generator)
            weight = torch.ones(b, f, device=device)
        if self.own_step_prob > 0 and backbone.training:
            x_t, target = self.own_step(backbone, x0, x_t, target, t, cond, generator)
        pred = backbone.predict(x_t, t_rows, cond)
        if recycling is not None:
            recycling.collect(pred, target, t, clean, generator)
        error = pred - target
        if self.sprite_loss_weight > 0:
            sprites = self.sprite_mask(batch, x0, self.sprite_loss_margin)  # [B, f, H, W]
            if self.sprite_loss_given and mask is not None:
                sprites = torch.maximum(sprites, self.last_given(sprites, mask)[:, None])
            pixels = 1 + self.sprite_loss_weight * sprites
            per_frame = (error.pow(2).mean(dim=1) * pixels).sum(dim=(2, 3)) / pixels.sum(dim=(2, 3))
        else:
            per_frame = error.pow(2).mean(dim=(1, 3, 4))  # [B, f]
        if self.mean_loss_weight > 0:
            per_frame = per_frame + self.mean_loss_weight * error.mean(dim=(3, 4)).pow(2).mean(dim=1)
        loss = (per_frame * weight).sum() / weight.sum().clamp(min=1)
        return {"loss": loss}

    @staticmethod
    def last_given(frames: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Each sample's last given frame [B, ...] of `frames` [B, f, ...] under the condition `mask` [B, f] (zeros
        where none is given)."""
        index = torch.arange(mask.shape[1], device=mask.device)
        last = torch.where(mask > 0, index, -1).amax(dim=1)  # [B]
        picked = frames[torch.arange(frames.shape[0], device=frames.device), last.clamp(min=0)]
        return picked * (last >= 0).reshape(-1, *([1] * (picked.dim() - 1))).to(picked.dtype)

    @staticmethod
    def sprite_mask(batch: dict, x0: torch.Tensor, margin: int = 0) -> torch.Tensor:
        """The batch's true sprite coverage [B, F, H, W], checked against the (pixel-space) latents, dilated by
        `margin` pixels."""
        require(
            "sprite_mask" in batch,
            "sprite_loss_weight needs each batch's sprite coverage: train on ToyWorldData with sprite_masks: true",
        )
        mask = batch["sprite_mask"].to(x0.device, x0.dtype)
        b, _, f, h, w = x0.shape
        require(
            tuple(mask.shape) == (b, f, h, w),
            f"sprite_mask {tuple(mask.shape)} does not match the frames {(b, f, h, w)}",
        )
        if margin == 0:
            return mask
        dilated = torch.nn.functional.max_pool2d(mask.reshape(b * f, 1, h, w), 2 * margin + 1, 1, margin)
        return dilated.reshape(b, f, h, w)

    @staticmethod
    def own_condition(x0: torch.Tensor, pick: torch.Tensor, latents: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The clean clip `x0` [B, C, f, h, w] with the model's own `latents` [n, C, k, h, w] (`lvg.methods.own_clip`)
        in place of its first k frames on the `pick`ed samples, where `mask` [B, f] gives them: the clip the sample is
        noised from and conditioned on, so that its given frames agree with its condition as in generation; frames to
        generate (a sample given fewer frames, or none) stay the true clip."""
        k = latents.shape[2]
        given = torch.zeros_like(mask, dtype=torch.bool)
        given[pick.to(mask.device), :k] = mask[pick.to(mask.device), :k] > 0.5
        own = x0.clone()
        own[pick.to(x0.device), :, :k] = latents.to(x0.dtype)
        return torch.where(given[:, None, :, None, None], own, x0)

    def offset_condition(self, source: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """`source` [B, C, f, h, w] shifted by one N(0, condition_offset_std^2) offset per sample and channel (class
        doc); only the condition is built from it, the target stays the true clip."""
        offset = torch.randn(source.shape[:2], generator=generator) * self.condition_offset_std
        return source + offset.to(source.device, source.dtype)[:, :, None, None, None]

    def own_step(self, backbone, x0, x_t, target, t, cond, generator):
        """(x_t, target) with `own_step_prob` of the samples replaced by the model's own Euler steps into t (class
        doc); the rest as given. Training steps only: validation measures the plain objective."""
        b, f = x0.shape[0], x0.shape[2]
        pick = torch.rand(b, generator=generator) < self.own_step_prob
        t_back = t + self.own_step_gap * torch.rand(b, generator=generator) * (1 - t)
        noise = torch.randn(x0.shape, generator=generator).to(x0.device)
        if not bool(pick.any()):
            return x_t, target
        own = flow_match_xt(x0, noise, uniform_rows(t_back, b, f).to(x0.device))
        k = self.own_step_count
        step = ((t - t_back) / k).to(x0.device)[:, None, None, None, None]
        with torch.no_grad():
            for i in range(k):
                t_from = t_back + (t - t_back) * i / k
                own = own + step * backbone.predict(own, uniform_rows(t_from, b, f).to(x0.device), cond)
        own_target = (own - x0) / t.clamp(min=1e-3).to(x0.device)[:, None, None, None, None]
        keep = pick.to(x0.device)[:, None, None, None, None]
        return torch.where(keep, own, x_t), torch.where(keep, own_target, target)

    def guide_condition(self, backbone, batch: dict, x0: torch.Tensor, generator: torch.Generator):
        """The backbone's own I2V conditioning on each clip's first frame, prompts dropped at the `none` rate."""
        drop = torch.rand(len(batch["prompt"]), generator=generator) < self.task_probs.get("none", 0.0)
        prompts = ["" if d else p for p, d in zip(batch["prompt"], drop.tolist())]
        with torch.no_grad():  # frozen encoders; the condition needs no gradient
            return backbone.conditioning(prompts, torch.zeros_like(x0), guide=batch["video"][:, :, :1])

    def recycling(self, backbone) -> ErrorRecycling | None:
        """Error recycling in training steps only (the backbone in train mode): validation measures the plain
        objective and leaves the bank alone."""
        return self.error_recycling if self.error_recycling is not None and backbone.training else None

    def training_state(self) -> dict | None:
        return None if self.error_recycling is None else {"error_bank": self.error_recycling.bank.state_dict()}

    def load_training_state(self, state: dict) -> None:
        if self.error_recycling is not None and "error_bank" in state:
            self.error_recycling.bank.load_state_dict(state["error_bank"])

    # --- generation -----------------------------------------------------------------------------------------
    def clip_condition(
        self, backbone, cond_pixels: torch.Tensor, latent_frames: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Condition latents over the clip (given frames first, the rest per `condition_fill`) and the mask.

        A backbone that takes the guide its own way (`is_extension` false: SVD, CogVideoX, Wan I2V) only reads the
        clip's shape from them, so the given frames are not VAE-encoded for it: the latents stay zeros."""
        k = backbone.latent_frames(cond_pixels.shape[2])
        if not backbone.is_extension:
            h, w = (n // backbone.spatial_compression for n in cond_pixels.shape[-2:])
            shape = (1, backbone.latent_channels, latent_frames, h, w)
            mask = torch.zeros(1, latent_frames, device=cond_pixels.device)
            mask[:, :k] = 1
            return torch.zeros(shape, device=cond_pixels.device), mask
        cond_lat = backbone.encode(cond_pixels)
        latents = torch.zeros(*cond_lat.shape[:2], latent_frames, *cond_lat.shape[3:], device=cond_lat.device)
        latents[:, :, :k] = cond_lat
        mask = torch.zeros(len(cond_lat), latent_frames, device=cond_lat.device)  # one row per clip
        mask[:, :k] = 1
        return self.fill_condition(latents, mask), mask

    def clip_times(self, backbone, sampler, frames: int):
        """`times_for(n)` of a clip: None (the sampler's schedule on every frame), or with `ar_step` > 0 the
        diffusion-forcing schedule over the clip's latent frames."""
        if self.ar_step == 0:
            return None
        return lambda n: diffusion_forcing_times(sampler.schedule(backbone, n), frames, self.ar_step,
                                                 self.causal_block_size)  # fmt: skip

    def clip_video(self, backbone, sampler, noise_init, request, index, prompt, cond_pixels, latent_frames):
        """The clip conditioned on `cond_pixels` (condition latents and mask) and its own prompt, decoded."""
        latents, mask = self.clip_condition(backbone, cond_pixels, latent_frames)
        cond = backbone.conditioning([prompt], latents, mask, guide=cond_pixels, seed=clip_seed(request.seed, index))
        make_denoise = self.guided_denoiser(backbone, cond)
        ctx = clip_context(request, index, backbone, sampler, latents.shape, make_denoise, cond_pixels,
                           self.clip_times(backbone, sampler, latents.shape[2]))  # fmt: skip
        sampled = sample_clip(ctx, noise_init)
        return MadeClip(backbone.decode(sampled.latents), sampled.search)

"""CogVideoX image-to-video through diffusers (the chunk-wise paper's CogVideoX-5B-I2V, §4.1): training-free, or
finetuned on its own v-prediction DDPM objective (`alphas_cumprod`; lvg.methods.objective).

Loaded with `from_pretrained(path_or_id)` from a diffusers-layout folder (`transformer/`, `vae/`, `text_encoder/`,
`tokenizer/`, `scheduler/`), e.g. THUDM/CogVideoX-5b-I2V. Everything a step needs mirrors diffusers'
`CogVideoXImageToVideoPipeline`: T5 prompt embeddings, the guide image's VAE latents concatenated on channels, rotary
embeddings, `ofs` (CogVideoX 1.5), classifier-free guidance, and the checkpoint's own scheduler (the DPM one behind a
standard `step`, see `DPMStepAdapter`). Latents are [B, C, F, h, w] as everywhere in lvg; the transformer's
frames-first layout [B, F, C, h, w] stays inside this file. CogVideoX 1.5 (THUDM/CogVideoX1.5-5B-I2V: temporal patch
2, `ofs`, "slice" rotary grid, `invert_scale_latents`) samples its clips with the pipeline's padding frame in front,
which `decode` drops (see `padding_frames`).
"""

from __future__ import annotations

import json
from pathlib import Path

import diffusers
import torch
from diffusers import AutoencoderKLCogVideoX, CogVideoXDPMScheduler, CogVideoXTransformer3DModel
from torch import nn

from lvg.backbones.base import DiffusersBackbone, GuidedPrompts
from lvg.backbones.cogvideox_parts import (
    CogVideoXCondition,
    DPMStepAdapter,
    T5Prompts,
    dynamic_guidance_scale,
    frames_first,
    rotary_embeddings,
)
from lvg.backbones.loading import Layout, copy_frozen_parts, require_diffusers_scheduler, save_trained, torch_dtype
from lvg.backbones.memory import set_vae_memory
from lvg.backbones.speed import Speed
from lvg.contracts import GUIDE_IMAGE, TEXT_GUIDANCE, TRAINABLE
from lvg.errors import require

LAYOUT = Layout(
    "CogVideoX", ("transformer", "vae", "text_encoder", "tokenizer", "scheduler"), "THUDM/CogVideoX-5b-I2V"
)
PREDICTION_TYPES = {"v_prediction": "v", "epsilon": "epsilon", "sample": "sample"}
OFS = 2.0  # the pipeline's fixed `ofs` value for CogVideoX 1.5 I2V


class CogVideoX(GuidedPrompts, DiffusersBackbone):
    """Backbone protocol over a CogVideoX image-to-video checkpoint (CogVideoX-5B-I2V or 1.5): generation, and
    finetuning of the transformer (CogVideoX 1.0; T5 and the VAE stay frozen) through `lvg.methods.ChunkwiseI2V`.

    Args:
        path: diffusers-layout folder or hub id (THUDM/CogVideoX-5b-I2V).
        dtype: weights of transformer, VAE and T5 (`bfloat16` as the model card runs it; `float32` for tests).
        guidance_scale: classifier-free guidance weight (the pipeline's default 6); <= 1 switches it off.
        use_dynamic_cfg: the pipeline's `use_dynamic_cfg` (CogVideo's own demo turns it on; the pipeline's default and
            the chunk-wise paper's settings leave it off): the weight follows `dynamic_guidance_scale` over the steps.
            Needs a sampler that tells the denoiser its step count (`lvg.sampling.SchedulerSampler`); a k-step search
            preview of k steps uses its own k, as the pipeline run with k steps would.
        max_sequence_length: T5 tokens per prompt; must be the transformer's `max_text_seq_length` (226).
        negative_prompt: the unconditional prompt of guidance (the pipeline's default "").
        image_latent_seed: None takes the VAE posterior's mode for the guide latent (deterministic); a seed samples
            it from `torch.Generator().manual_seed(seed)`, as the pipeline does with its `generator`.
        vae_tiling: decode in spatial tiles (diffusers' `enable_tiling`: less memory, slightly different pixels).
            Batches are always decoded one video at a time (`enable_slicing`, same pixels), e.g. search previews.
        cpu_offload: each part (T5, transformer, VAE) on the GPU only while it runs (lvg.backbones.memory).
        speed: diffusers' attention backend, caching hook and torch.compile (`lvg.backbones.speed`).
    """

    is_extension = False  # the guide image enters through its own channels, not lvg's condition latents + mask

    @property
    def capabilities(self) -> frozenset[str]:
        """A guide image, text guidance, its own objective; one timestep per sample (adaptive norms)."""
        return frozenset({GUIDE_IMAGE, TEXT_GUIDANCE, TRAINABLE}) | self.speed_capabilities

    def __init__(
        self,
        path: str,
        dtype: str = "float32",
        guidance_scale: float = 6.0,
        use_dynamic_cfg: bool = False,
        max_sequence_length: int = 226,
        negative_prompt: str = "",
        image_latent_seed: int | None = None,
        vae_tiling: bool = False,
        cpu_offload: bool = False,
        speed: Speed | None = None,
    ) -> None:
        super().__init__()
        weights = torch_dtype(dtype)
        path = str(path)
        self.path = path
        LAYOUT.check(path)
        with LAYOUT.loading(path):
            self.transformer = CogVideoXTransformer3DModel.from_pretrained(
                path, subfolder="transformer", torch_dtype=weights
            )
            self.vae = AutoencoderKLCogVideoX.from_pretrained(path, subfolder="vae", torch_dtype=weights)
            self.text_encoder = T5Prompts(path, max_sequence_length, weights)
            sched_cfg = diffusers.CogVideoXDDIMScheduler.load_config(path, subfolder="scheduler")
        self.vae.requires_grad_(False).eval()
        set_vae_memory(self.vae, "CogVideoX", tiling=vae_tiling, slicing=True)
        self.cpu_offload = cpu_offload
        self.scheduler_config = dict(sched_cfg)
        cfg = self.transformer.config
        require(
            cfg.in_channels == 2 * cfg.out_channels,
            f"{path!r} is not an image-to-video CogVideoX (in_channels {cfg.in_channels} != 2 x {cfg.out_channels}):"
            " use an I2V checkpoint such as THUDM/CogVideoX-5b-I2V",
        )
        require(
            max_sequence_length == cfg.max_text_seq_length,
            f"max_sequence_length={max_sequence_length} but the transformer takes {cfg.max_text_seq_length} text "
            f"tokens: set max_sequence_length: {cfg.max_text_seq_length}",
        )
        require_diffusers_scheduler(self.scheduler_config, path)
        self.guidance_scale = guidance_scale
        self.use_dynamic_cfg = use_dynamic_cfg
        self.negative_prompt = negative_prompt
        self.image_latent_seed = image_latent_seed
        self._negative: torch.Tensor | None = None
        self._rope: dict = {}
        self._alphas_cumprod: torch.Tensor | None = None
        self.switch_on(speed)

    # --- shapes ---------------------------------------------------------------------------------------------
    @property
    def prediction_type(self) -> str:
        """What the model predicts, per the scheduler config ("v" for CogVideoX-5B-I2V's v_prediction)."""
        kind = self.scheduler_config.get("prediction_type", "epsilon")
        return PREDICTION_TYPES.get(kind, kind)

    @property
    def alphas_cumprod(self) -> torch.Tensor:
        """The DDPM training schedule [num_train_timesteps] its timesteps index (the checkpoint's scheduler: scaled
        linear betas rescaled to zero terminal SNR, then `snr_shift_scale`), as its finetuning adds noise."""
        if self._alphas_cumprod is None:
            self._alphas_cumprod = self._diffusers_scheduler().alphas_cumprod.float()
        return self._alphas_cumprod

    @property
    def latent_channels(self) -> int:
        return self.transformer.config.out_channels

    @property
    def temporal_compression(self) -> int:
        return int(self.vae.config.temporal_compression_ratio)

    @property
    def spatial_compression(self) -> int:
        return 2 ** (len(self.vae.config.block_out_channels) - 1)  # as the pipeline's vae_scale_factor_spatial

    @property
    def temporal_patch(self) -> int:
        """The transformer's temporal patch size (CogVideoX 1.5: 2; 1.0 patches frames one by one: 1)."""
        return self.transformer.config.patch_size_t or 1

    @property
    def padding_frames(self) -> int:
        """Latent frames CogVideoX 1.5's pipeline puts in front of a clip so its latent count is a multiple of the
        temporal patch (`additional_frames`: p_t - 1 for the clips lvg takes, see `check_clip`; 0 for 1.0). They are
        denoised with the clip and dropped before decoding, as the pipeline does (`latents[:, additional_frames:]`)."""
        return self.temporal_patch - 1

    def latent_frames(self, frames: int) -> int:
        """Latent frames sampled for a clip of `frames` pixel frames: the causal VAE's 1 + (F - 1) / 4, plus the
        pipeline's padding frames (CogVideoX 1.5)."""
        n = (frames - 1) // self.temporal_compression + 1
        return n + (-n) % self.temporal_patch

    def check_clip(self, frames: int, height: int, width: int) -> None:
        """One clear error for a clip shape the VAE, the patch size or the positional embeddings cannot take."""
        r, s = self.temporal_compression, self.spatial_compression
        cfg = self.transformer.config
        require(
            frames >= 1 and (frames - 1) % r == 0,
            f"frames_per_clip={frames} is not allowed by the VAE's temporal compression {r}: use {r}k+1 frames "
            "(CogVideoX-5B-I2V: 49)",
        )
        p = cfg.patch_size
        for name, size in (("height", height), ("width", width)):
            require(
                size % (s * p) == 0,
                f"{name} {size} is not divisible by VAE factor x patch size = {s * p}: use a multiple of {s * p}",
            )
        if cfg.use_learned_positional_embeddings:
            h, w = cfg.sample_height * s, cfg.sample_width * s
            require(
                (height, width) == (h, w),
                f"this CogVideoX has learned positional embeddings for {h}x{w} only, not {height}x{width}: "
                f"set height: {h} and width: {w}",
            )
        p_t, n = self.temporal_patch, (frames - 1) // r + 1
        if p_t > 1:  # CogVideoX 1.5
            below = n - (n - 1) % p_t
            require(
                n % p_t == 1,
                f"frames_per_clip={frames} gives {n} latent frames: CogVideoX 1.5 clips in lvg have 1 + a multiple of "
                f"the temporal patch size {p_t} latent frames (the pipeline pads {p_t - 1} in front, as for the model "
                f"card's 81 frames): use {r * (below - 1) + 1} or {r * (below + p_t - 1) + 1} frames",
            )
            base_h, base_w = cfg.sample_height * s, cfg.sample_width * s
            require(
                height <= base_h and width <= base_w,
                f"{height}x{width} is larger than this CogVideoX 1.5's rotary grid ({base_h}x{base_w}, its "
                "sample_height/width): use a smaller height/width",
            )

    # --- VAE ------------------------------------------------------------------------------------------------
    @property
    def scaling_factor(self) -> float:
        return float(self.vae.config.scaling_factor)

    def encode(self, video: torch.Tensor) -> torch.Tensor:
        """Video [B, 3, F, H, W] in [-1, 1] -> latents [B, C, f, h, w]: the VAE posterior's mode (deterministic;
        the pipeline samples its image latent) times the scaling factor, the model's latent space."""
        dist = self.vae.encode(video.to(self.device, self.vae.dtype)).latent_dist
        return (dist.mode() * self.scaling_factor).float()

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Latents -> video [B, 3, F, H, W] in [-1, 1] (the pipeline's `decode_latents`, clamped). Sampled CogVideoX
        1.5 latents (a multiple of the temporal patch) lose their leading padding frames first, as in the pipeline;
        VAE latents of a clip lvg takes (1 + a multiple of it) are decoded whole."""
        if self.temporal_patch > 1 and latents.shape[2] % self.temporal_patch == 0:
            latents = latents[:, :, self.padding_frames :]
        video = self.vae.decode((latents / self.scaling_factor).to(self.vae.dtype)).sample
        return video.float().clamp(-1, 1)

    def image_latents(self, guide: torch.Tensor, latent_frames: int) -> torch.Tensor:
        """The pipeline's `prepare_latents` image latents from the guide image = the last frame of `guide`
        [B, 3, c, H, W]: VAE-encoded one image at a time, scaled (1 / scale where the VAE says
        `invert_scale_latents`, CogVideoX 1.5), zero-padded to `latent_frames`, frames-first [B, f, C, h, w]."""
        image = guide[:, :, -1:].to(self.device, self.vae.dtype)
        generator = None if self.image_latent_seed is None else torch.Generator().manual_seed(self.image_latent_seed)
        rows = []
        for img in image:
            dist = self.vae.encode(img[None]).latent_dist
            rows.append(dist.mode() if generator is None else dist.sample(generator))
        latents = frames_first(torch.cat(rows).float())
        if getattr(self.vae.config, "invert_scale_latents", False):
            latents = latents / self.scaling_factor
        else:
            latents = latents * self.scaling_factor
        padding = latents.new_zeros(latents.shape[0], latent_frames - 1, *latents.shape[2:])
        return torch.cat([latents, padding], dim=1)

    # --- conditioning and prediction -------------------------------------------------------------------------
    def encode_prompts(self, prompts: list[str]) -> torch.Tensor:
        """Prompts -> T5 embeddings [B, L, D] on the model's device."""
        return self.text_encoder(list(prompts), self.device)

    def conditioning(
        self,
        prompts: list[str],
        cond_latents: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        guide: torch.Tensor | None = None,
        seed: int | None = None,
        latent_frames: int | None = None,
    ) -> CogVideoXCondition:
        """Prompt (+ negative prompt) embeddings and the guide image's latents. The guide is the last frame of
        `guide` [B, 3, c, H, W] in [-1, 1]; lvg's condition latents and mask are not an input of this model (they
        only give the clip's latent frame count, unless `latent_frames` does)."""
        f = self.clip_latent_frames("CogVideoX", guide, cond_latents, latent_frames)
        text, negative = self.prompt_embeddings(prompts)
        return CogVideoXCondition(text, self.image_latents(guide, f), negative)

    def _timestep(self, t: torch.Tensor) -> torch.Tensor:
        """Per-frame times t [B, F] in [0, 1] -> the transformer's one timestep per sample [B]."""
        require(
            t.ndim == 2 and bool((t == t[:, :1]).all()),
            "CogVideoX takes one timestep per sample: per-frame times must be equal across frames (use a method "
            "that denoises all frames of a clip together)",
        )
        # the schedules are discrete (integer timesteps): round away the float error of t * 1000
        return (t[:, 0].double() * self.num_train_timesteps).round().float()

    def _forward(
        self, x: torch.Tensor, timestep: torch.Tensor, text: torch.Tensor, image_latents: torch.Tensor
    ) -> torch.Tensor:
        """The transformer on frames-first x [B, f, C, h, w], as the pipeline's denoising loop calls it."""
        tr = self.transformer
        cfg = tr.config
        require(
            x.shape[1] % self.temporal_patch == 0,
            f"this CogVideoX 1.5 takes a multiple of {self.temporal_patch} latent frames (its temporal patch), got "
            f"{x.shape[1]}: sample clips of latent_frames(frames) frames (the pipeline's padding included); lvg does "
            "not finetune CogVideoX 1.5 (use CogVideoX-5b-I2V)",
        )
        hidden = torch.cat([x, image_latents.to(x.dtype)], dim=2).to(tr.dtype)
        f, h, w = x.shape[1], x.shape[3], x.shape[4]
        rope = self._rotary(f, h, w, x.device) if cfg.use_rotary_positional_embeddings else None
        ofs = None if cfg.ofs_embed_dim is None else x.new_full((1,), OFS)
        with self.call_context(x, timestep):
            out = tr(
                hidden_states=hidden,
                encoder_hidden_states=text.to(tr.dtype),
                timestep=timestep.to(x.device),
                ofs=ofs,
                image_rotary_emb=rope,
                return_dict=False,
            )[0]
        return out.float()

    def _rotary(self, frames: int, h: int, w: int, device: torch.device):
        """The pipeline's rotary embeddings for latent frames x h x w, cached per shape and device."""
        key = (frames, h, w, str(device))
        if key not in self._rope:
            self._rope[key] = rotary_embeddings(self.transformer.config, frames, h, w, device)
        return self._rope[key]

    def predict(self, x_t: torch.Tensor, t: torch.Tensor, cond: CogVideoXCondition) -> torch.Tensor:
        """Model output (unguided) for x_t [B, C, F, h, w] at per-frame times t [B, F] in [0, 1], equal across
        frames (transformer timestep t * num_train_timesteps)."""
        out = self._forward(frames_first(x_t), self._timestep(t), cond.text, cond.image_latents)
        return frames_first(out)

    def denoiser(self, cond: CogVideoXCondition):
        """`denoise(x, t)` for a sampler, bound to one clip's condition: classifier-free guidance as the pipeline
        (one batch [negative; positive], uncond + scale * (cond - uncond)) when guidance_scale > 1; with
        `use_dynamic_cfg` the scale at each step is `dynamic_guidance_scale` of the step's timestep and `num_steps`."""
        if not self.guided:
            return lambda x, t: self.predict(x, t, cond)
        require(cond.negative is not None, "this condition has no negative prompt embeddings for guidance")

        def denoise(x: torch.Tensor, t: torch.Tensor, step: int | None = None, num_steps: int | None = None):
            x_ff = frames_first(x)
            timestep = self._timestep(t)
            out = self._forward(
                torch.cat([x_ff, x_ff]),
                torch.cat([timestep, timestep]),
                torch.cat([cond.negative, cond.text]),
                torch.cat([cond.image_latents, cond.image_latents]),
            )
            uncond, text = out.chunk(2)
            return frames_first(uncond + self._guidance_at(timestep, num_steps) * (text - uncond))

        return denoise

    def _guidance_at(self, timestep: torch.Tensor, num_steps: int | None) -> float:
        """The guidance weight at one step: fixed, or the dynamic one of the step's timestep and the run's length."""
        if not self.use_dynamic_cfg:
            return self.guidance_scale
        require(
            num_steps is not None,
            "use_dynamic_cfg needs the sampler's step count: sample with lvg.sampling.SchedulerSampler, or set "
            "use_dynamic_cfg: false",
        )
        return dynamic_guidance_scale(self.guidance_scale, int(timestep[0]), num_steps)

    # --- scheduler ------------------------------------------------------------------------------------------
    def _diffusers_scheduler(self, shift: float | None = None):
        cfg = dict(self.scheduler_config)
        if shift is not None:
            require("snr_shift_scale" in cfg, f"scheduler {cfg.get('_class_name')} has no SNR shift to set")
            cfg["snr_shift_scale"] = shift
        return getattr(diffusers, cfg["_class_name"]).from_config(cfg)

    def make_scheduler(self, shift: float | None = None):
        """A fresh scheduler of the checkpoint's own class from its config (`shift` sets `snr_shift_scale`); the
        DPM one wrapped in `DPMStepAdapter` for the standard `step`, DDIM-type ones as they are."""
        scheduler = self._diffusers_scheduler(shift)
        return DPMStepAdapter(scheduler) if isinstance(scheduler, CogVideoXDPMScheduler) else scheduler

    # --- checkpoints and the rest of the protocol ------------------------------------------------------------
    def save_pretrained(self, path: str | Path) -> None:
        """A complete diffusers-layout checkpoint that `CogVideoX(path)` and `CogVideoXImageToVideoPipeline` load:
        `transformer/`, `scheduler/`, `model_index.json`, `lvg.json`, and the frozen `vae/`, `text_encoder/`,
        `tokenizer/` (hard-linked or copied from the source folder, else saved from the loaded modules)."""
        root = Path(path)
        save_trained(self.transformer, root / "transformer")
        scheduler = self._diffusers_scheduler()
        scheduler.save_pretrained(root / "scheduler")
        loaded = {"vae": self.vae, "text_encoder": self.text_encoder.model, "tokenizer": self.text_encoder.tokenizer}
        copy_frozen_parts(self.path, root, loaded)
        index = {
            "_class_name": "CogVideoXImageToVideoPipeline",
            "_diffusers_version": diffusers.__version__,
            "scheduler": ["diffusers", type(scheduler).__name__],
            "text_encoder": ["transformers", type(self.text_encoder.model).__name__],
            "tokenizer": ["transformers", type(self.text_encoder.tokenizer).__name__],
            "transformer": ["diffusers", type(self.transformer).__name__],
            "vae": ["diffusers", type(self.vae).__name__],
        }
        (root / "model_index.json").write_text(json.dumps(index, indent=2))
        (root / "lvg.json").write_text(json.dumps({"backbone": "cogvideox"}, indent=1))

    def attention_modules(self) -> list[nn.Module]:
        """The transformer blocks' attention modules (joint text + video self-attention)."""
        return [block.attn1 for block in self.transformer.transformer_blocks]

    def offload_parts(self) -> list:
        """CogVideoXImageToVideoPipeline's `model_cpu_offload_seq`: text_encoder -> transformer -> vae."""
        return [self.text_encoder.model, self.transformer, self.vae]

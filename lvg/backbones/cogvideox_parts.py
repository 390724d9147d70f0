"""Parts of the CogVideoX backbone that mirror `CogVideoXImageToVideoPipeline` piece by piece: its dynamic CFG
scale, one clip's condition, the DPM scheduler behind a standard `step`, the T5 prompt encoder, its rotary
embeddings and the frames-first layout."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from diffusers import CogVideoXDPMScheduler
from diffusers.models.embeddings import get_3d_rotary_pos_embed
from diffusers.pipelines.cogvideo.pipeline_cogvideox_image2video import get_resize_crop_region_for_grid
from diffusers.schedulers.scheduling_ddim import DDIMSchedulerOutput

from lvg.contracts import TensorFields


def dynamic_guidance_scale(guidance_scale: float, timestep: int, num_steps: int) -> float:
    """CogVideoX's dynamic CFG exactly as `CogVideoXImageToVideoPipeline(use_dynamic_cfg=True)` computes it:
    1 + w (1 - cos(pi ((N - t) / N)^5)) / 2, with t the integer timestep (0..999) and N the run's step count.

    With t a timestep rather than a step index the scale is not the smooth cosine ramp the formula suggests but
    oscillates in [1, 1 + w] from step to step (diffusers issue #9641); CogVideoX's authors kept it (the original SAT
    sampler does the same: "the wave-like cfg schedule can have the advantages of high cfg while avoiding
    overexposure", THUDM/CogVideo#267), so lvg follows the pipeline."""
    return 1 + guidance_scale * (1 - math.cos(math.pi * ((num_steps - timestep) / num_steps) ** 5.0)) / 2


def frames_first(x: torch.Tensor) -> torch.Tensor:
    """[B, C, F, h, w] <-> [B, F, C, h, w] (the same permutation both ways)."""
    return x.permute(0, 2, 1, 3, 4)


class DPMStepAdapter:
    """`CogVideoXDPMScheduler` behind the standard `step(model_output, timestep, sample, generator, return_dict)`.

    Its own `step` also takes the previous step's clean prediction and the previous timestep (DPM-Solver++ 2M);
    this keeps the prediction as the attribute `old_pred_original_sample` (per batch row, so `SamplingState.select`
    keeps a search winner's history) and finds `timestep_back` in the schedule as the pipeline's loop does
    (`timesteps[i - 1]`, None at i = 0). The step is stochastic: it runs in the pipeline's frames-first layout so
    its noise is drawn exactly as the pipeline draws it. Everything else is forwarded to the wrapped scheduler.
    """

    def __init__(self, scheduler: CogVideoXDPMScheduler) -> None:
        self.scheduler = scheduler
        self.old_pred_original_sample: torch.Tensor | None = None  # frames-first, as the pipeline keeps it

    def __getattr__(self, name: str):
        inner = self.__dict__.get("scheduler")
        if inner is None or name.startswith("__"):
            raise AttributeError(name)
        return getattr(inner, name)

    def set_timesteps(self, num_inference_steps: int, device: str | torch.device | None = None) -> None:
        self.scheduler.set_timesteps(num_inference_steps, device=device)
        self.old_pred_original_sample = None

    def step(
        self,
        model_output: torch.Tensor,
        timestep: int | torch.Tensor,
        sample: torch.Tensor,
        generator: torch.Generator | list[torch.Generator] | None = None,
        return_dict: bool = True,
    ) -> DDIMSchedulerOutput | tuple[torch.Tensor, torch.Tensor]:
        timesteps = self.scheduler.timesteps
        index = (timesteps == torch.as_tensor(timestep, device=timesteps.device)).nonzero()
        if len(index) == 0:
            raise ValueError(f"timestep {timestep} is not in the scheduler's timesteps {timesteps.tolist()}")
        i = int(index[0, 0])
        prev, x0 = self.scheduler.step(
            frames_first(model_output),
            self.old_pred_original_sample,
            timestep,
            timesteps[i - 1] if i > 0 else None,
            frames_first(sample),
            generator=generator,
            return_dict=False,
        )
        self.old_pred_original_sample = x0
        prev, x0 = frames_first(prev), frames_first(x0)
        if not return_dict:
            return prev, x0
        return DDIMSchedulerOutput(prev_sample=prev, pred_original_sample=x0)


class T5Prompts:
    """CogVideoX's prompt encoder: the T5 last hidden state over `max_sequence_length` padded tokens, no attention
    mask (as the pipeline's `_get_t5_prompt_embeds`). Not an nn.Module attribute of the backbone: frozen, never in
    its checkpoints; it follows the backbone's device when used."""

    def __init__(self, path: str, max_sequence_length: int, dtype: torch.dtype) -> None:
        from transformers import AutoTokenizer, T5EncoderModel

        self.tokenizer = AutoTokenizer.from_pretrained(path, subfolder="tokenizer")
        self.model = T5EncoderModel.from_pretrained(path, subfolder="text_encoder", torch_dtype=dtype)
        self.model.eval().requires_grad_(False)
        self.max_sequence_length = max_sequence_length

    @torch.no_grad()
    def __call__(self, prompts: list[str], device: torch.device) -> torch.Tensor:
        if next(self.model.parameters()).device != device:
            self.model.to(device)
        ids = self.tokenizer(
            prompts,
            padding="max_length",
            max_length=self.max_sequence_length,
            truncation=True,
            add_special_tokens=True,
            return_tensors="pt",
        ).input_ids
        return self.model(ids.to(device))[0].float()


def rotary_embeddings(cfg, frames: int, h: int, w: int, device: torch.device):
    """The pipeline's `_prepare_rotary_positional_embeddings` for latent frames x h x w of a transformer config."""
    p, p_t = cfg.patch_size, cfg.patch_size_t
    grid = (h // p, w // p)
    base_h, base_w = cfg.sample_height // p, cfg.sample_width // p
    if p_t is None:  # CogVideoX 1.0
        return get_3d_rotary_pos_embed(
            embed_dim=cfg.attention_head_dim,
            crops_coords=get_resize_crop_region_for_grid(grid, base_w, base_h),
            grid_size=grid,
            temporal_size=frames,
            device=device,
        )
    return get_3d_rotary_pos_embed(  # CogVideoX 1.5
        embed_dim=cfg.attention_head_dim,
        crops_coords=None,
        grid_size=grid,
        temporal_size=(frames + p_t - 1) // p_t,
        grid_type="slice",
        max_size=(base_h, base_w),
        device=device,
    )


@dataclass
class CogVideoXCondition(TensorFields):
    """One clip's condition: prompt embeddings `text` [B, L, D], the negative prompt's `negative` [B, L, D] (None
    without guidance), and `image_latents` [B, f, C, h, w] frames-first: the guide's latent, then zeros (as the
    pipeline's `prepare_latents` builds them)."""

    text: torch.Tensor
    image_latents: torch.Tensor
    negative: torch.Tensor | None = None

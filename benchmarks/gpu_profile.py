"""Real-size profiles on a GPU: seconds per denoising step and peak memory of the backbones' denoisers.

python benchmarks/gpu_profile.py [--quick]   (or: python benchmarks/run.py --only gpu_profile)

Random-weight models built from the published configs (no weights are downloaded): SVD-XT (25 frames 384x512),
CogVideoX-5B-I2V (49 frames 480x720), Wan2.1-T2V-1.3B (81 frames 480x832), in bf16 with PyTorch SDPA. Per model:
one denoising step (a forward pass at the clip's latent shape, batch 2 as classifier-free guidance runs it) without
and with `torch.compile`, and one LoRA training step (rank 64 on the attention projections, gradient checkpointing,
batch 1, AdamW). The chunk-wise paper reports on one H100: SVD 0.37 s/step, CogVideoX 3.8 s/step. Without CUDA every
record is value None with the reason. The figures depend on the GPU, which the report names.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

LORA_TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]


@dataclass
class Profile:
    """A denoiser to profile: `build()` the random-weight network, `inputs(batch, device, dtype)` its forward kwargs,
    and `output(out)` the prediction tensor out of its forward's return value."""

    name: str
    what: str
    build: Callable[[], torch.nn.Module]
    inputs: Callable[[torch.nn.Module, int, torch.device, torch.dtype], dict]


def svd_xt(frames: int = 25, height: int = 384, width: int = 512, config: dict | None = None) -> Profile:
    """SVD-XT's UNet (diffusers' default UNetSpatioTemporalConditionModel config is SVD's, with 25 frames)."""
    from diffusers import UNetSpatioTemporalConditionModel

    def inputs(net, batch, device, dtype):
        cfg = net.config
        h, w = height // 8, width // 8
        return {
            "sample": torch.randn(batch, frames, cfg.in_channels, h, w, device=device, dtype=dtype),
            "timestep": torch.full((batch,), 700.0, device=device),
            "encoder_hidden_states": torch.randn(batch, 1, cfg.cross_attention_dim, device=device, dtype=dtype),
            "added_time_ids": torch.tensor([[6.0, 127.0, 0.02]] * batch, device=device, dtype=dtype),
        }

    build = lambda: UNetSpatioTemporalConditionModel(**(config or {"num_frames": frames}))  # noqa: E731
    return Profile("svd_xt", f"SVD-XT UNet, {frames}x{height}x{width}", build, inputs)


COGVIDEOX_5B_I2V = dict(
    num_attention_heads=48, attention_head_dim=64, in_channels=32, out_channels=16, num_layers=42, text_embed_dim=4096,
    time_embed_dim=512, sample_frames=49, sample_height=60, sample_width=90, patch_size=2, max_text_seq_length=226,
    use_rotary_positional_embeddings=True, use_learned_positional_embeddings=True,
)  # fmt: skip  # THUDM/CogVideoX-5b-I2V transformer/config.json


def cogvideox_5b_i2v(frames: int = 49, height: int = 480, width: int = 720, config: dict | None = None) -> Profile:
    from diffusers import CogVideoXTransformer3DModel
    from diffusers.models.embeddings import get_3d_rotary_pos_embed
    from diffusers.pipelines.cogvideo.pipeline_cogvideox_image2video import get_resize_crop_region_for_grid

    def inputs(net, batch, device, dtype):
        cfg = net.config
        f, h, w, p = (frames - 1) // 4 + 1, height // 8, width // 8, cfg.patch_size
        rope = get_3d_rotary_pos_embed(
            embed_dim=cfg.attention_head_dim,
            crops_coords=get_resize_crop_region_for_grid(
                (h // p, w // p), cfg.sample_width // p, cfg.sample_height // p
            ),
            grid_size=(h // p, w // p),
            temporal_size=f,
            device=device,
        )
        return {
            "hidden_states": torch.randn(batch, f, cfg.in_channels, h, w, device=device, dtype=dtype),
            "encoder_hidden_states": torch.randn(
                batch, cfg.max_text_seq_length, cfg.text_embed_dim, device=device, dtype=dtype
            ),
            "timestep": torch.full((batch,), 700, device=device, dtype=torch.long),
            "image_rotary_emb": rope,
        }

    build = lambda: CogVideoXTransformer3DModel(**(config or COGVIDEOX_5B_I2V))  # noqa: E731
    return Profile("cogvideox_5b_i2v", f"CogVideoX-5B-I2V transformer, {frames}x{height}x{width}", build, inputs)


WAN_T2V_1_3B = dict(
    patch_size=(1, 2, 2), num_attention_heads=12, attention_head_dim=128, in_channels=16, out_channels=16,
    text_dim=4096, freq_dim=256, ffn_dim=8960, num_layers=30, cross_attn_norm=True, qk_norm="rms_norm_across_heads",
    eps=1e-6, rope_max_seq_len=1024,
)  # fmt: skip  # Wan-AI/Wan2.1-T2V-1.3B-Diffusers transformer/config.json


def wan_t2v_1_3b(frames: int = 81, height: int = 480, width: int = 832, config: dict | None = None) -> Profile:
    from diffusers import WanTransformer3DModel

    def inputs(net, batch, device, dtype):
        cfg = net.config
        f, h, w = (frames - 1) // 4 + 1, height // 8, width // 8
        return {
            "hidden_states": torch.randn(batch, cfg.in_channels, f, h, w, device=device, dtype=dtype),
            "timestep": torch.full((batch,), 700, device=device, dtype=torch.long),
            "encoder_hidden_states": torch.randn(batch, 512, cfg.text_dim, device=device, dtype=dtype),
        }

    build = lambda: WanTransformer3DModel(**(config or WAN_T2V_1_3B))  # noqa: E731
    return Profile("wan_t2v_1_3b", f"Wan2.1-T2V-1.3B transformer, {frames}x{height}x{width}", build, inputs)


def cast(net: torch.nn.Module, dtype: torch.dtype) -> torch.nn.Module:
    """`net` in `dtype`, except the modules the model keeps in float32 (as `from_pretrained(torch_dtype=...)`)."""
    net.to(dtype=dtype)
    keep = getattr(net, "_keep_in_fp32_modules", None) or []
    for name, tensor in [*net.named_parameters(), *net.named_buffers()]:
        if any(k in name.split(".") for k in keep):
            tensor.data = tensor.data.float()
    return net


def first_tensor(out) -> torch.Tensor:
    return out[0] if isinstance(out, tuple) else out.sample


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def peak_gib(device: torch.device) -> float | None:
    return torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None


@torch.no_grad()
def denoise_step(profile: Profile, net, device, dtype, steps: int, compile: bool) -> tuple[float, float | None]:
    """Seconds per denoising step (batch 2, as CFG runs it) after a warm-up step, and the peak memory."""
    forward = torch.compile(net) if compile else net
    kwargs = profile.inputs(net, 2, device, dtype)
    reset_peak(device)
    first_tensor(forward(**kwargs, return_dict=False))  # warm-up (and compilation)
    sync(device)
    tic = time.perf_counter()
    for _ in range(steps):
        first_tensor(forward(**kwargs, return_dict=False))
    sync(device)
    return (time.perf_counter() - tic) / steps, peak_gib(device)


def lora_step(profile: Profile, net, device, dtype, steps: int, rank: int = 64) -> tuple[float, float | None]:
    """Seconds per LoRA training step (batch 1, gradient checkpointing, AdamW on the adapters) and peak memory."""
    from peft import LoraConfig, inject_adapter_in_model

    net.requires_grad_(False)
    net = inject_adapter_in_model(LoraConfig(r=rank, lora_alpha=rank, target_modules=LORA_TARGETS), net)
    cast(net.to(device), dtype).enable_gradient_checkpointing()
    net.train()
    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4)
    kwargs = profile.inputs(net, 1, device, dtype)
    reset_peak(device)
    for i in range(steps + 1):
        if i == 1:
            sync(device)
            tic = time.perf_counter()
        out = first_tensor(net(**kwargs, return_dict=False))
        loss = out.float().square().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    sync(device)
    return (time.perf_counter() - tic) / steps, peak_gib(device)


def measure(profile: Profile, device: torch.device, dtype: torch.dtype, steps: int, compile: bool = True) -> dict:
    """Every figure of one model: {"step_s", "step_gib", "compiled_step_s", ..., "lora_step_s", "lora_gib"}."""
    with device:
        net = cast(profile.build(), dtype).eval()  # diffusers' default attention processors run SDPA
    out = {"params_b": sum(p.numel() for p in net.parameters()) / 1e9}
    out["step_s"], out["step_gib"] = denoise_step(profile, net, device, dtype, steps, compile=False)
    if compile:
        out["compiled_step_s"], out["compiled_step_gib"] = denoise_step(profile, net, device, dtype, steps, True)
        torch._dynamo.reset()
    out["lora_step_s"], out["lora_gib"] = lora_step(profile, net, device, dtype, steps)
    return out


FIGURES = {  # key of measure()'s dict -> (record suffix, unit, what)
    "step_s": ("seconds_per_step", "s", "one denoising step, batch 2 (CFG), eager"),
    "step_gib": ("peak_gib", "GiB", "peak allocated during eager denoising steps"),
    "compiled_step_s": ("compiled_seconds_per_step", "s", "one denoising step, batch 2 (CFG), torch.compile"),
    "compiled_step_gib": ("compiled_peak_gib", "GiB", "peak allocated during compiled denoising steps"),
    "lora_step_s": ("lora_train_seconds_per_step", "s", "LoRA r=64 training step, batch 1, grad checkpointing"),
    "lora_gib": ("lora_train_peak_gib", "GiB", "peak allocated during the LoRA training steps"),
}
PROFILES = (svd_xt, cogvideox_5b_i2v, wan_t2v_1_3b)


def records(quick: bool) -> list[dict]:
    """Every model's figures on the first CUDA device; without one, each record is None with the reason."""
    names = [p().name for p in PROFILES]
    if not torch.cuda.is_available():
        reason = "skipped: no CUDA device on this machine (real-size profiles need a GPU)"
        return [gpu_record(n, key, None, reason) for n in names for key in FIGURES]
    device, gpu = torch.device("cuda", 0), torch.cuda.get_device_name(0)
    out = []
    for make in PROFILES:
        profile = make()
        try:
            figures = measure(profile, device, torch.bfloat16, steps=2 if quick else 5)
            note = f"{profile.what}, bf16, SDPA, {figures['params_b']:.2f}B params, random weights; {gpu}"
            out += [gpu_record(profile.name, key, figures.get(key), note) for key in FIGURES]
        except torch.cuda.OutOfMemoryError as e:
            reason = f"out of memory on {gpu}: {str(e).splitlines()[0][:120]}"
            out += [gpu_record(profile.name, key, None, reason) for key in FIGURES]
        torch.cuda.empty_cache()
    return out


def gpu_record(model: str, key: str, value: float | None, notes: str) -> dict:
    suffix, unit, what = FIGURES[key]
    return {"name": f"gpu/{model}/{suffix}", "value": value, "unit": unit, "lower_is_better": True,
            "notes": f"{what}; {notes}"}  # fmt: skip


if __name__ == "__main__":
    for r in records(quick="--quick" in sys.argv):
        print(json.dumps(r))

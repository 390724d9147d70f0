"""Memory per backbone on a GPU: Wan2.1's parts at 81x480x832 for inference and for full vs LoRA training.

python benchmarks/memory.py [--quick]   (or: python benchmarks/run.py --only memory)

Random-weight models built from the published configs (nothing is downloaded), in bf16 like the configs in
configs/wan/: peak allocated GPU memory of
- one denoising step (batch 2, as classifier-free guidance runs it; no gradients),
- the VAE decoding one clip's latents in float32 (as `lvg.backbones.Wan` loads it), whole and with diffusers' tiling,
- one training step of the video-extension model (33 input channels, gradient checkpointing, batch 1, bf16-mixed
  autocast): full finetuning (every weight and its AdamW state in bf16, as configs/wan/extension*.yaml) and LoRA
  through lvg's own `add_lora` with the spec of configs/wan/extension*_lora.yaml (float32 adapters + patch_embedding).
Quick: Wan2.1-T2V-1.3B only; full: 14B too (its LoRA step; its full finetune does not fit one GPU, that is what the
sharding overlays are for). Without CUDA every record is None with the reason. The text encoder (UMT5-XXL, 5.7 B
parameters) is not built: its weights alone are 11.4 GB in bf16, 22.7 GB in float32.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gpu_profile import WAN_T2V_1_3B, cast, peak_gib, reset_peak  # noqa: E402

WAN_T2V_14B = {**WAN_T2V_1_3B, "num_attention_heads": 40, "ffn_dim": 13824, "num_layers": 40}
LORA_TARGETS = [f"attn{a}.{p}" for a in (1, 2) for p in ("to_q", "to_k", "to_v", "to_out.0")]
FRAMES, HEIGHT, WIDTH = 81, 480, 832
LATENT = (16, (FRAMES - 1) // 4 + 1, HEIGHT // 8, WIDTH // 8)  # [C, f, h, w]
FIGURES = {  # record suffix -> what
    "denoise_step_peak_gib": "one denoising step, batch 2 (CFG), bf16 weights, no gradients",
    "train_full_peak_gib": "one full-finetuning step (bf16 weights, gradients and AdamW state), grad checkpointing",
    "train_lora_peak_gib": "one LoRA step (rank 32 on attn1/attn2 q,k,v,out of every block, float32 adapters, "
    "patch_embedding trained), grad checkpointing",
}
VAE_FIGURES = {
    "decode_peak_gib": "VAE decode of one 81x480x832 clip, float32",
    "decode_tiled_peak_gib": "the same with enable_tiling()",
}


def wan(config: dict, device) -> torch.nn.Module:
    from diffusers import WanTransformer3DModel

    from lvg.backbones.extension import add_extension_channels

    with device:
        net = cast(WanTransformer3DModel(**config), torch.bfloat16)
    add_extension_channels(net, config["out_channels"])
    return net


def wan_inputs(net, batch: int, device, in_channels: int) -> dict:
    c, f, h, w = LATENT
    return {
        "hidden_states": torch.randn(batch, in_channels, f, h, w, device=device, dtype=torch.bfloat16),
        "timestep": torch.full((batch,), 700, device=device, dtype=torch.long),
        "encoder_hidden_states": torch.randn(batch, 512, net.config.text_dim, device=device, dtype=torch.bfloat16),
    }


@torch.no_grad()
def denoise_peak(net, device) -> float | None:
    reset_peak(device)
    net(**wan_inputs(net, 2, device, net.config.in_channels), return_dict=False)
    return peak_gib(device)


def train_peak(net, device, steps: int = 2) -> float | None:
    """Peak over `steps` training steps (the first creates AdamW's state) of the net's trainable parameters."""
    net.train().enable_gradient_checkpointing()
    opt = torch.optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=1e-5)
    kwargs = wan_inputs(net, 1, device, net.config.in_channels)
    reset_peak(device)
    for _ in range(steps):
        with torch.autocast(device.type, dtype=torch.bfloat16):
            out = net(**kwargs, return_dict=False)[0]
        out.float().square().mean().backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    peak = peak_gib(device)
    del opt
    return peak


def model_figures(config: dict, device, full: bool) -> dict:
    """Peak GiB of one denoising step, a full-finetuning step (if `full`) and a LoRA step of the config's model."""
    from lvg.backbones.lora import Lora, add_lora

    out = {}
    net = wan(config, device)
    out["denoise_step_peak_gib"] = denoise_peak(net, device)
    if full:
        out["train_full_peak_gib"] = train_peak(net, device)
        del net
        torch.cuda.empty_cache()
        net = wan(config, device)
    spec = Lora(rank=32, blocks="all", targets=LORA_TARGETS, train_modules=["patch_embedding"])
    add_lora(net, spec)
    out["train_lora_peak_gib"] = train_peak(net, device)
    del net
    torch.cuda.empty_cache()
    return out


@torch.no_grad()
def vae_figures(device) -> dict:
    from diffusers import AutoencoderKLWan

    with device:
        vae = AutoencoderKLWan().eval()  # diffusers' defaults are Wan2.1's VAE
    latents = torch.randn(1, *LATENT, device=device)
    out = {}
    for key, tiled in (("decode_peak_gib", False), ("decode_tiled_peak_gib", True)):
        vae.enable_tiling() if tiled else vae.disable_tiling()
        reset_peak(device)
        vae.decode(latents, return_dict=False)
        out[key] = peak_gib(device)
    del vae
    torch.cuda.empty_cache()
    return out


def record(name: str, value: float | None, what: str, notes: str) -> dict:
    what_and_notes = f"{what}; {notes}"
    return {"name": f"memory/{name}", "value": value, "unit": "GiB", "lower_is_better": True, "notes": what_and_notes}


def records(quick: bool) -> list[dict]:
    models = {"wan_t2v_1_3b": (WAN_T2V_1_3B, True)}
    if not quick:
        models["wan_t2v_14b"] = (WAN_T2V_14B, False)
    names = [(f"{m}/{k}", w) for m in models for k, w in FIGURES.items()]
    names += [(f"wan_vae/{k}", w) for k, w in VAE_FIGURES.items()]
    if not torch.cuda.is_available():
        reason = "skipped: no CUDA device on this machine (GPU memory needs a GPU)"
        return [record(n, None, w, reason) for n, w in names]
    device, gpu = torch.device("cuda", 0), torch.cuda.get_device_name(0)
    values = {}
    for model, (config, full) in models.items():
        try:
            values |= {f"{model}/{k}": v for k, v in model_figures(config, device, full).items()}
        except torch.cuda.OutOfMemoryError as e:
            values |= {f"{model}/{k}": f"out of memory: {str(e).splitlines()[0][:100]}" for k in FIGURES}
            torch.cuda.empty_cache()
    values |= {f"wan_vae/{k}": v for k, v in vae_figures(device).items()}
    notes = f"random weights from the published config, {FRAMES}x{HEIGHT}x{WIDTH}, SDPA; {gpu}"
    out = []
    for name, what in names:
        value = values.get(name)
        if isinstance(value, str) or value is None:
            out.append(record(name, None, what, value or "not measured: does not fit one GPU (a sharding overlay)"))
        else:
            out.append(record(name, value, what, notes))
    return out


if __name__ == "__main__":
    for r in records(quick="--quick" in sys.argv):
        print(json.dumps(r), flush=True)

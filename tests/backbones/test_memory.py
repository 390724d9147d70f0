"""Inference memory switches (lvg.backbones.memory): diffusers' VAE tiling / slicing, SVD's decode chunks, model CPU
offload. On CPU only the wiring and the outputs are checked; the memory saved is a GPU figure (see README)."""

import pytest
import torch
from helpers.tiny_svd import save_tiny_svd

from lvg import LongVideoModule
from lvg.backbones import Svd, Wan
from lvg.cli import place_for_generation
from lvg.errors import LvgError
from lvg.methods import Extension, GenerationRequest
from lvg.sampling import SchedulerSampler


def latents(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def test_wan_vae_switches_reach_diffusers_and_slicing_keeps_the_pixels(tiny_wan_dir):
    plain = Wan(str(tiny_wan_dir), extension=False)
    lean = Wan(str(tiny_wan_dir), extension=False, vae_tiling=True, vae_slicing=True)
    assert lean.vae.use_tiling and lean.vae.use_slicing and not plain.vae.use_slicing
    z = latents(2, 16, 2, 4, 4)
    with torch.no_grad():
        torch.testing.assert_close(lean.decode(z), plain.decode(z), rtol=1e-4, atol=1e-5)


def test_svd_decodes_in_chunks_and_refuses_tiling(tmp_path):
    path = save_tiny_svd(tmp_path / "svd")
    whole, chunked = Svd(str(path)), Svd(str(path), decode_chunk_size=2)
    z = latents(1, 4, 3, 4, 4)
    with torch.no_grad():
        a, b = whole.decode(z), chunked.decode(z)
        torch.testing.assert_close(Svd(str(path), decode_chunk_size=3).decode(z), a)  # one chunk: the same call
    assert a.shape == b.shape and not torch.equal(a, b)  # two calls: the temporal decoder sees fewer frames
    with pytest.raises(LvgError, match="decode_chunk_size"):
        Svd(str(path), decode_chunk_size=0)
    from lvg.backbones.memory import set_vae_memory

    with pytest.raises(LvgError, match="no tiled decoding"):
        set_vae_memory(whole.vae, "SVD", tiling=True, slicing=False)


def generate_one_clip(backbone) -> torch.Tensor:
    module = LongVideoModule(backbone, Extension(condition_frames=1), SchedulerSampler(2), frames_per_clip=5,
                             height=16, width=16)  # fmt: skip
    place_for_generation(module, torch.device("cpu"))
    request = GenerationRequest(latents(1, 3, 1, 16, 16).clamp(-1, 1), ["a red ball"], 5, seed=3)
    return torch.cat([clip.frames for clip in module.generate(request)], dim=1)


def test_model_cpu_offload_hooks_every_part_in_a_cycle_and_keeps_the_video(tiny_wan_dir):
    offloaded = Wan(str(tiny_wan_dir), cpu_offload=True)
    video = generate_one_clip(offloaded)
    parts = offloaded.offload_parts()
    assert len(parts) == 3 and all(hasattr(p, "_hf_hook") for p in parts)  # accelerate's CpuOffload on each
    hooks = offloaded._offload_hooks
    assert hooks[0].hook.prev_module_hook is hooks[-1] and hooks[1].hook.prev_module_hook is hooks[0]
    assert offloaded.device == torch.device("cpu")
    torch.testing.assert_close(video, generate_one_clip(Wan(str(tiny_wan_dir))))

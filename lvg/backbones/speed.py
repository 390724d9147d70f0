"""diffusers' speed switches as one backbone option, `speed` (what each trades is in its field's doc).

- `attention_backend`: `network.set_attention_backend(name)`, diffusers' attention dispatcher (`flash`, `sage`,
  `_native_math`, ... : `diffusers.models.attention_dispatch.AttentionBackendName`). Exact up to the kernel's own
  arithmetic; refused for a network whose attention processors do not dispatch (SVD's UNet).
- `cache`: one of diffusers' caching hooks through `network.enable_cache` (`first_block`: FirstBlockCache, reuse the
  later blocks' residual while the first block's output changes by less than `threshold`; `mag`: MagCache, skip by
  calibrated magnitude ratios; `taylorseer`: TaylorSeer, forecast features between full steps). They approximate:
  fewer block calls for a sampled video that differs from the exact one, more as the thresholds loosen. For
  sampling only: refused in training and for methods that record K/V at every call (causal KV).
- `compile`: `torch.compile` of the network in place (`nn.Module.compile`, `compile_options` passed through, e.g.
  `mode: max-autotune`); the first calls of each shape pay the compile time. Same maths; the generated kernels may
  round differently from eager.

The hooks keep state from one model call to the next, per call shape; a walk starts afresh (its state dropped) when a
call's highest noise level is not below the previous call's: a new clip, a k-step preview's restart, a new window.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import torch
from torch import nn

from lvg.errors import LvgError, require

CACHES = ("first_block", "mag", "taylorseer")


@dataclass
class Speed:
    """Speed switches of a diffusers backbone (module doc).

    Args:
        attention_backend: a diffusers attention backend name (None: the processors' default, torch SDPA).
        cache: `first_block`, `mag` or `taylorseer` (None: every block at every step).
        cache_options: the chosen hook's config fields (`FirstBlockCacheConfig(threshold=...)`,
            `MagCacheConfig(mag_ratios=..., num_inference_steps=...)`, `TaylorSeerCacheConfig(cache_interval=...)`).
        compile: torch.compile the network.
        compile_options: keyword arguments of `torch.compile` (mode, backend, fullgraph, dynamic).
    """

    attention_backend: str | None = None
    cache: str | None = None
    cache_options: dict = field(default_factory=dict)
    compile: bool = False
    compile_options: dict = field(default_factory=dict)


def cache_config(speed: Speed):
    """The diffusers hook config of `speed.cache`; one line for an unknown name or field."""
    import diffusers

    require(speed.cache in CACHES, f"speed.cache must be one of {CACHES} (or null), not {speed.cache!r}")
    cls = {"first_block": diffusers.FirstBlockCacheConfig, "mag": diffusers.MagCacheConfig,
           "taylorseer": diffusers.TaylorSeerCacheConfig}[speed.cache]  # fmt: skip
    try:
        return cls(**speed.cache_options)
    except (TypeError, ValueError) as e:
        raise LvgError(f"speed.cache_options for {cls.__name__}: {e}") from None


def dispatching_processors(network: nn.Module) -> int:
    """How many attention processors of `network` go through diffusers' attention dispatcher."""
    return sum(hasattr(getattr(m, "processor", None), "_attention_backend") for m in network.modules())


def transformer_blocks(network: nn.Module) -> int:
    """The blocks diffusers' caching hooks work over (its own list of block-list names)."""
    from diffusers.hooks._common import _ALL_TRANSFORMER_BLOCK_IDENTIFIERS

    lists = [c for n, c in network.named_children() if n in _ALL_TRANSFORMER_BLOCK_IDENTIFIERS]
    return sum(len(c) for c in lists if isinstance(c, nn.ModuleList))


def hooked_modules(network: nn.Module) -> int:
    """How many modules of `network` carry one of diffusers' hooks."""
    return sum(bool(getattr(getattr(m, "_diffusers_hook", None), "hooks", None)) for m in network.modules())


def apply_speed(network: nn.Module, speed: Speed | None, model: str) -> None:
    """Switch on what `speed` asks on `network` (once, when the backbone is built); one line for what cannot be."""
    if speed is None:
        return
    if speed.attention_backend is not None:
        require(
            dispatching_processors(network) > 0,
            f"{model}'s attention does not go through diffusers' attention dispatcher, so speed.attention_backend "
            "would be ignored: drop it",
        )
        try:
            network.set_attention_backend(speed.attention_backend)
        except (ValueError, RuntimeError, ImportError) as e:
            first = str(e).splitlines()[0]
            raise LvgError(f"speed.attention_backend {speed.attention_backend!r}: {first}") from None
    if speed.cache is not None:
        require(
            hasattr(network, "enable_cache"),
            f"{model}'s network takes none of diffusers' caching hooks: drop speed.cache",
        )
        config = cache_config(speed)
        require(
            speed.cache != "first_block" or transformer_blocks(network) >= 2,
            f"speed.cache first_block needs at least 2 transformer blocks (a first one and the rest), {model} has "
            f"{transformer_blocks(network)}: use another cache or none",
        )
        network.enable_cache(config)
        require(
            hooked_modules(network) > 0,
            f"speed.cache {speed.cache} hooked no module of {model} (its default name patterns do not match this "
            "network's): name them in speed.cache_options, e.g. cache_identifiers: ['blocks\\.\\d+\\.attn1']",
        )
    if speed.compile:
        network.compile(**speed.compile_options)


def check_speed(speed: Speed | None, num_steps: int) -> None:
    """MagCache's ratios are per step of one walk: its `num_inference_steps` must be the sampler's step count."""
    if speed is None or speed.cache != "mag" or speed.cache_options.get("calibrate"):
        return
    given = speed.cache_options.get("num_inference_steps", 28)
    require(
        given == num_steps,
        f"speed.cache mag is calibrated for num_inference_steps={given} but the sampler takes {num_steps} steps: "
        f"set speed.cache_options.num_inference_steps {num_steps} (with mag_ratios for {num_steps} steps)",
    )


class WalkState:
    """Per backbone: the caching hooks' call contexts (one per call shape), dropped when a new walk starts."""

    def __init__(self) -> None:
        self.last_level: float | None = None

    def context(self, network: nn.Module, speed: Speed | None, x: torch.Tensor, t: torch.Tensor):
        """The context one network call runs in (nothing without a cache)."""
        if speed is None or speed.cache is None:
            return contextlib.nullcontext()
        level = float(t.max())
        if self.last_level is None or level >= self.last_level:
            network._reset_stateful_cache()
        self.last_level = level
        return network.cache_context("x" + "x".join(str(n) for n in x.shape))

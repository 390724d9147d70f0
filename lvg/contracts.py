"""The seams between lvg's parts (DESIGN.md, "Contracts"): one Protocol per axis (backbone, method, noise init,
sampler), the named optional capabilities of a backbone, the typed objects that cross the seams, and the one check
that every part of a module runs when the module is built.

The bottom layer: this module imports torch and the standard library only; every other lvg module may import it.

How the parts meet. `LongVideoModule` builds `Parts` (backbone, method, noise init, sampler, clip length) and calls
each part's `check(parts)` (`check_composition`) before any sampling: a part that cannot work with the others raises
`LvgError` in one line naming both parts and what to change. A method asks a backbone for a capability with
`require_capability`, never with `getattr(backbone, name, default)`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields, replace
from typing import Any, Protocol, TypeVar, runtime_checkable

import torch

from lvg.errors import LvgError

# --- capabilities: what a backbone can do beyond the core protocol -------------------------------------------------
PER_FRAME_TIMES = "per_frame_times"  # predict takes a different time per latent frame (t [B, F] with unequal columns)
FRAME_OFFSET = "frame_offset"  # `frame_offset(n)` places a clip at temporal RoPE position n, `temporal_shift(d)` moves
# a cached key d positions (cross-clip attention)
CACHED_KV = "cached_kv"  # its `attention_modules()` take lvg's CachedKVAttnProcessor (Wan self-attention)
CONDITION_FRAMES = "condition_frames"  # condition latents + mask channel-concatenated (error-free §3.3, extension)
GUIDE_IMAGE = "guide_image"  # takes the guide image its own way (SVD's CLIP image, CogVideoX / Wan I2V channels)
TEXT_GUIDANCE = "text_guidance"  # classifier-free guidance on the prompt (`guidance_scale`, `negative_prompt`)
LORA = "lora"  # peft LoRA on its network (`add_lora`, `save_lora`)
SKIPS_BLOCKS = "skips_blocks"  # a caching hook may skip blocks between calls (`speed.cache`): approximate outputs
TRAINABLE = "trainable"  # lvg has its training objective (rectified flow, or DDPM with `alphas_cumprod`)
PIXEL_SPACE = "pixel_space"  # its latents are the frames' pixels (no VAE): a per-pixel loss weight applies as it is
CAPABILITIES = (PER_FRAME_TIMES, FRAME_OFFSET, CACHED_KV, CONDITION_FRAMES, GUIDE_IMAGE, TEXT_GUIDANCE, LORA,
                TRAINABLE, PIXEL_SPACE)  # fmt: skip

PREDICTION_TYPES = ("flow", "v", "epsilon")  # the model output: flow velocity n - x0, DDPM v, or DDPM epsilon

Denoise = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
StepCallback = Callable[[int, float, torch.Tensor], None]
Generators = torch.Generator | list[torch.Generator] | None
T = TypeVar("T", bound="TensorFields")


class TensorFields:
    """`to`, `repeat` and `concat` for a dataclass whose fields are tensors, None, or nested TensorFields."""

    def _map(self: T, fn: Callable[[torch.Tensor], torch.Tensor]) -> T:
        def apply(x):
            if isinstance(x, TensorFields):
                return x._map(fn)
            return None if x is None else fn(x)

        return replace(self, **{f.name: apply(getattr(self, f.name)) for f in fields(self)})

    def to(self: T, device: torch.device, dtype: torch.dtype | None = None) -> T:
        return self._map(lambda x: x.to(device=device, dtype=dtype or x.dtype))

    def repeat(self: T, n: int) -> T:
        """The same condition for a batch n times larger (e.g. search candidates)."""
        return self._map(lambda x: x.repeat_interleave(n, dim=0))

    def concat(self: T, other: T) -> T:
        """This batch followed by `other`'s (e.g. the two halves of classifier-free guidance)."""

        def join(a, b):
            if isinstance(a, TensorFields):
                return a.concat(b)
            return None if a is None else torch.cat([a, b])

        return replace(self, **{f.name: join(getattr(self, f.name), getattr(other, f.name)) for f in fields(self)})


@dataclass
class Condition(TensorFields):
    """What the model is conditioned on for one clip: text embeddings, and optional condition latents + mask.

    `latents` [B, C, f, h, w] holds the clean condition frames at their positions (zeros elsewhere); `mask` [B, f]
    is 1 on latent frames that are given and 0 on frames to generate (error-free paper, section 3.3); `negative`
    holds the negative prompt's embeddings of a backbone with text guidance (None without it)."""

    text: torch.Tensor
    latents: torch.Tensor | None = None
    mask: torch.Tensor | None = None
    negative: torch.Tensor | None = None


# --- the four axes -------------------------------------------------------------------------------------------------
@runtime_checkable
class Backbone(Protocol):
    """The model adapter every method talks to (DESIGN.md, "The backbone protocol"). `capabilities` names what it
    can do beyond these members (the constants above); `prediction_type` is one of PREDICTION_TYPES. `conditioning`'s
    `seed` is the clip's seed (`lvg.seeding.clip_seed`) for any draw the conditioning makes (SVD's noise augmentation
    of the guide); a backbone that draws nothing ignores it."""

    prediction_type: str
    capabilities: frozenset[str]
    training: bool  # nn.Module's mode: True in training steps, False in validation and generation

    @property
    def device(self) -> torch.device: ...
    @property
    def latent_channels(self) -> int: ...
    @property
    def spatial_compression(self) -> int: ...
    @property
    def temporal_compression(self) -> int: ...
    def latent_frames(self, frames: int) -> int: ...
    def check_clip(self, frames: int, height: int, width: int) -> None: ...
    def encode(self, video: torch.Tensor) -> torch.Tensor: ...
    def decode(self, latents: torch.Tensor) -> torch.Tensor: ...
    def conditioning(self, prompts: list[str], cond_latents=None, mask=None, guide=None, seed=None) -> Any: ...
    def predict(self, x_t: torch.Tensor, t: torch.Tensor, cond: Any) -> torch.Tensor: ...
    def denoiser(self, cond: Any) -> Denoise: ...
    def make_scheduler(self, shift: float | None = None) -> Any: ...
    def check(self, parts: Parts) -> None: ...


@runtime_checkable
class Sampler(Protocol):
    """How one clip (or window) is denoised: `walk` steps x along the rows of a times matrix [R + 1, F] (flow times
    or normalised timesteps per frame, rows = steps: diffusion forcing's scheduling matrix); `schedule` is the
    sampler's own uniform row of times for a backbone; `run` walks the uniform matrix of a whole clip."""

    num_steps: int

    def check(self, parts: Parts) -> None: ...
    def schedule(self, backbone: Backbone, num_steps: int | None = None) -> torch.Tensor: ...
    def walk(self, denoise, x, times: torch.Tensor, backbone: Backbone, generator=None, callback=None, stop=None): ...
    def run(self, denoise, x, backbone: Backbone, generator=None, callback=None, num_steps=None, stop=None): ...


@runtime_checkable
class NoiseInit(Protocol):
    """How each clip's starting noise is chosen: `strategy(ctx) -> ClipStart`."""

    def check(self, parts: Parts) -> None: ...
    def __call__(self, ctx: ClipContext) -> ClipStart: ...


@runtime_checkable
class Method(Protocol):
    """The context method: the training objective and the clip loop. `generate` yields one `ClipResult` per clip (the
    first carries the given start frames). `condition_frames`: the pixel frames a long video starts from."""

    condition_frames: int
    trajectory: str  # "whole": the clip's frames walk one schedule together; "windowed": frames span walks (PA-VDM);
    # "asynchronous": one walk, frames at different times (diffusion forcing)

    def check(self, parts: Parts) -> None: ...
    def loss(self, backbone: Backbone, batch: dict, generator: torch.Generator) -> dict[str, torch.Tensor]: ...
    def generate(self, backbone, sampler, noise_init, request: GenerationRequest) -> Iterator[ClipResult]: ...


# --- what crosses the seams ----------------------------------------------------------------------------------------
@dataclass
class Parts:
    """One module's parts, as each part's `check` sees them."""

    backbone: Backbone
    method: Method
    noise_init: NoiseInit
    sampler: Sampler
    frames_per_clip: int

    def names(self, *parts: object) -> str:
        return " with ".join(type(p).__name__ for p in parts)


@dataclass
class GenerationRequest:
    """What one long video is generated from. `start` [1, 3, c, H, W] in [-1, 1] are the given first frames (a guide
    image is c = 1); `prompts` has one entry per clip. `on_step(step, t, x)` is called after every denoising step.

    Resuming: a request with `first_clip = k` and the `carry` of the `ClipResult` of clip k - 1 generates clips
    k, k+1, ... exactly as an uninterrupted run would. `scratch` is a folder a method may keep bulky state in across
    clips (the causal-KV cache's spilled K/V): the resume log's, so it survives a crash with the log (None: a
    temporary folder)."""

    start: torch.Tensor
    prompts: list[str]
    frames_per_clip: int
    seed: int = 0
    on_step: StepCallback | None = field(default=None, repr=False)
    first_clip: int = 0
    carry: Any = field(default=None, repr=False)
    scratch: str | None = None

    @property
    def num_clips(self) -> int:
        return len(self.prompts)


@dataclass
class ClipResult:
    """One clip of a long video, as a method yields it: its new `frames` [3, n, H, W] in [-1, 1], the `carry` the next
    clip continues from (what a resume log keeps), and what the clip was made with: the noise search's `search` log
    (candidates' scores, winner, time) and the method's `context` log (e.g. the past clips a causal-KV clip attended
    to). `index` is the clip's number; the given start frames come as index -1."""

    index: int
    frames: torch.Tensor
    carry: Any = None
    search: dict | None = None
    context: dict | None = None


@dataclass
class ClipContext:
    """What a noise-init strategy may use for one clip.

    `seed` is the clip's own seed (candidate 0 draws exactly the plain Gaussian noise from it); `make_denoise(n)`
    gives the clip's denoiser for a batch of n samples; `times_for(n)` states the clip's times matrix [n + 1, F] for
    a walk of n steps (the method's: e.g. given frames held at 0); `guide` [3, H, W] in [-1, 1] is the frame the clip
    continues from; the method keeps the clip's pixel frames from `keep_from` on (the ones before are the given
    frames); `on_step(step, t, x)` follows every step of the clip's final walk."""

    shape: tuple[int, ...]
    seed: int
    clip_index: int
    backbone: Backbone
    sampler: Sampler
    make_denoise: Callable[[int], Denoise]
    guide: torch.Tensor
    times_for: Callable[[int], torch.Tensor]
    keep_from: int = 0
    on_step: StepCallback | None = field(default=None, repr=False)

    def times(self, num_steps: int | None = None) -> torch.Tensor:
        """The clip's times matrix for `num_steps` steps (default: the sampler's)."""
        return self.times_for(num_steps or self.sampler.num_steps)


@dataclass
class ClipStart:
    """Where the clip's sampling starts: noise (a tensor) or a partly denoised sampling state, the generator(s) its
    remaining steps draw from, and what the strategy wants logged (the search's candidates, scores, winner, time)."""

    start: Any
    generator: Generators
    log: dict | None = field(default=None)


# --- checks --------------------------------------------------------------------------------------------------------
def require_capability(backbone: Backbone, capability: str, who: object, what_to_do: str) -> None:
    """One line unless `backbone` declares `capability` (module doc)."""
    if capability not in backbone.capabilities:
        raise LvgError(
            f"{type(who).__name__} needs a backbone with {capability.replace('_', ' ')}, which "
            f"{type(backbone).__name__} does not have: {what_to_do}"
        )


def refuse_capability(backbone: Backbone, capability: str, who: object, why: str) -> None:
    """One line if `backbone` declares `capability` that `who` cannot serve (e.g. a guide image a text-to-video
    method never gives)."""
    if capability in backbone.capabilities:
        raise LvgError(f"{type(who).__name__} cannot drive {type(backbone).__name__}: {why}")


def require_flow(backbone: Backbone, who: object, what_to_do: str) -> None:
    """One line unless `backbone` is a rectified-flow model (its output is the velocity n - x0)."""
    if backbone.prediction_type != "flow":
        raise LvgError(
            f"{type(who).__name__} needs a rectified-flow backbone but {type(backbone).__name__} predicts "
            f"{backbone.prediction_type!r}: {what_to_do}"
        )


def check_composition(parts: Parts) -> None:
    """Every part checks the others before any sampling (module doc): the sampler, the noise init, then the method,
    each refusing in one line what it cannot work with (the clip shape is the backbone's `check_clip`; the backbone
    checks its own options against the others first)."""
    parts.backbone.check(parts)
    parts.sampler.check(parts)
    parts.noise_init.check(parts)
    parts.method.check(parts)

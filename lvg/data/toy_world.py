"""The toy world: sprites moving and bouncing over a background, deterministic by seed, with exact ground truth.

A world is simulated frame by frame. `video(n)` renders a short clip; `long_video(...)` renders consecutive clips
whose prompts change at every clip boundary (a sprite turns, or a new sprite enters); `continuation(...)` renders one
training clip shaped like such a boundary. Frames are float RGB in [0, 1], shape [F, 3, H, W]; the ground truth
(positions, colours, sizes, shapes, background) comes with them.

Motion is on the pixel lattice: a sprite moves `speed` whole pixels per frame along each axis of one of the eight
compass directions its caption names, and bounces by reflection at the walls, so every frame is an exact translation
of the sprite masks and the caption alone fixes the velocity. World v3 moves one pixel per frame (`SPEED`): a clip's
motion stays within a patch or two of a transformer's 4x4 patches and a sprite crosses the frame in about 24 frames
between bounces, so a small model can learn to extrapolate it from two given frames (or one frame and the caption).
World v2 moved four pixels per frame (a whole patch, bouncing every 4-6 frames), which a CPU-sized model did not
learn; the v1 world's sub-pixel speeds with hard-edged rendering did not allow it either.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from lvg.errors import require

PALETTE: dict[str, tuple[float, float, float]] = {
    "red": (0.92, 0.14, 0.14),
    "green": (0.15, 0.82, 0.22),
    "blue": (0.18, 0.36, 0.96),
    "yellow": (0.96, 0.88, 0.14),
    "magenta": (0.88, 0.18, 0.86),
    "cyan": (0.14, 0.84, 0.90),
}
SHAPES = ("circle", "square", "triangle", "diamond")
BACKGROUNDS = ("gradient", "flat", "textured", "named")
# The `named` background: one of these flat colours, named in every caption (dark and desaturated like the others).
BACKGROUND_COLORS: dict[str, tuple[float, float, float]] = {
    "charcoal": (0.18, 0.18, 0.18),
    "grey": (0.40, 0.40, 0.40),
    "navy": (0.14, 0.17, 0.32),
    "olive": (0.32, 0.32, 0.16),
    "maroon": (0.34, 0.16, 0.18),
    "teal": (0.14, 0.30, 0.30),
}
DIRECTIONS = ("right", "down right", "down", "down left", "left", "up left", "up", "up right")
STEPS = ((1, 0), (1, 1), (0, 1), (-1, 1), (-1, 0), (-1, -1), (0, -1), (1, -1))  # unit (dx, dy) per direction
SPEED = 1  # pixels per frame along each moving axis (world v3; see the module docstring)
HELD_OUT_SEEDS = range(900_000, 1_000_000)  # evaluation worlds (toy quality, notebooks, benchmarks); never trained on


@dataclass
class Sprite:
    shape: str
    color: str
    x: float  # centre, pixels
    y: float
    vx: float  # pixels per frame; y grows downwards
    vy: float
    radius: float

    def direction(self) -> str:
        """Compass word of the velocity (8 sectors)."""
        angle = math.atan2(self.vy, self.vx) % (2 * math.pi)
        return DIRECTIONS[int(round(angle / (math.pi / 4))) % 8]

    def caption(self) -> str:
        return f"a {self.color} {self.shape} moving {self.direction()}"


@dataclass
class Truth:
    """Ground truth of rendered frames: per frame, per sprite (NaN where a sprite is absent)."""

    positions: np.ndarray  # [F, K, 2] (x, y) pixels
    colors: list[str]  # [K]
    shapes: list[str]  # [K]
    radii: np.ndarray  # [K]
    present: np.ndarray  # [F, K] bool
    background: np.ndarray  # [3, H, W] float in [0, 1]
    sprite_masks: np.ndarray = field(repr=False)  # [F, H, W] bool: any sprite covers the pixel

    def at(self, frames) -> Truth:
        """The truth of some frames only (a slice or a list of frame indices)."""
        return Truth(
            self.positions[frames],
            self.colors,
            self.shapes,
            self.radii,
            self.present[frames],
            self.background,
            self.sprite_masks[frames],
        )

    def palette_rgb(self) -> np.ndarray:
        """RGB of each sprite's colour, [K, 3]."""
        return np.array([PALETTE[c] for c in self.colors], dtype=np.float32)


@dataclass
class Clip:
    frames: torch.Tensor  # [F, 3, H, W] in [0, 1]
    prompt: str
    truth: Truth


class ToyWorld:
    """One procedural world, deterministic by `seed`."""

    def __init__(
        self,
        seed: int,
        resolution: int = 32,
        min_sprites: int = 1,
        max_sprites: int = 2,
        radius: tuple[float, float] = (0.09, 0.14),
        speed: int = SPEED,
        background: str = "flat",
    ) -> None:
        require(resolution >= 8, f"toy world resolution {resolution} is too small: use at least 8 pixels")
        require(
            1 <= min_sprites <= max_sprites <= len(PALETTE),
            f"toy world needs 1 <= min_sprites <= max_sprites <= {len(PALETTE)}, got {min_sprites}, {max_sprites}",
        )
        require(background in BACKGROUNDS, f"background must be one of {BACKGROUNDS}, not {background!r}")
        require(
            isinstance(speed, int) and 1 <= speed <= resolution // 4,
            f"toy world speed {speed!r} must be a whole number of pixels per frame in [1, {resolution // 4}]",
        )
        self.rng = np.random.default_rng(seed)
        self.resolution = resolution
        self.max_sprites = max_sprites
        self.radius_range = (radius[0] * resolution, radius[1] * resolution)
        self.speed = speed
        self.background_name: str | None = None  # set by the `named` background
        self.background = self._make_background(background)
        self.sprites: list[Sprite] = []
        self.history: list[Sprite] = []  # every sprite ever present, in order of appearance
        for _ in range(int(self.rng.integers(min_sprites, max_sprites + 1))):
            self._add_sprite(entering=False)
        yy, xx = np.mgrid[0:resolution, 0:resolution].astype(np.float32) + 0.5
        self._grid = (xx, yy)

    # --- simulation -----------------------------------------------------------------------------------------
    def _unused(self, options: tuple[str, ...] | list[str], used: set[str]) -> str:
        free = [o for o in options if o not in used]
        return str(self.rng.choice(free if free else list(options)))

    def bounds(self, radius: float) -> tuple[int, int]:
        """The lowest and highest centre a sprite may take: it stays whole inside the frame, on the lattice of
        `speed` pixels (world v2's lattice of 4 kept every sprite aligned with 4x4 patches; v3's speed 1 does not)."""
        lo = self.speed * math.ceil(math.ceil(radius) / self.speed)
        return lo, self.resolution - lo

    def _lattice(self, lo: int, hi: int, size=None):
        """Random lattice positions in [lo, hi]."""
        return self.speed * self.rng.integers(lo // self.speed, hi // self.speed + 1, size=size)

    def _add_sprite(self, entering: bool) -> None:
        """A new sprite with a colour not on screen; `entering` starts it at an edge, moving inwards."""
        rmin, rmax = self.radius_range
        r = float(self.rng.uniform(rmin, rmax))
        lo, hi = self.bounds(r)
        color = self._unused(list(PALETTE), {s.color for s in self.sprites})
        shape = str(self.rng.choice(SHAPES))
        if entering:
            edge = int(self.rng.integers(4))
            along = int(self._lattice(lo, hi))
            across = int(self.rng.integers(-1, 2))  # the sideways component of the inward direction
            x, y, dx, dy = [(lo, along, 1, across), (hi, along, -1, across), (along, lo, across, 1),
                            (along, hi, across, -1)][edge]  # fmt: skip
        else:
            for _ in range(20):  # starting sprites apart where there is room (occlusion blurs every measure)
                x, y = (int(v) for v in self._lattice(lo, hi, size=2))
                if all(math.hypot(x - o.x, y - o.y) > r + o.radius + 2 for o in self.sprites):
                    break
            dx, dy = STEPS[int(self.rng.integers(len(STEPS)))]
        sprite = Sprite(shape, color, float(x), float(y), float(dx * self.speed), float(dy * self.speed), r)
        self.sprites.append(sprite)
        self.history.append(sprite)

    def _turn_sprite(self) -> None:
        """Rotate one sprite's velocity by 90 degrees either way, or reverse it (exact on the lattice)."""
        s = self.sprites[int(self.rng.integers(len(self.sprites)))]
        turn = int(self.rng.integers(3))
        s.vx, s.vy = [(-s.vy, s.vx), (s.vy, -s.vx), (-s.vx, -s.vy)][turn]

    def event(self, enter_prob: float = 0.35) -> None:
        """A clip-boundary event: a new sprite enters (while there is room) or a sprite turns."""
        if len(self.sprites) < self.max_sprites and self.rng.random() < enter_prob:
            self._add_sprite(entering=True)
        else:
            self._turn_sprite()

    def boundary_event(self, previous_prompt: str, enter_prob: float = 0.35) -> None:
        """The event at a clip boundary: `event`, then more turns while the caption still reads `previous_prompt`
        (a bounce inside the last clip may have pre-empted the change), so the next clip's prompt differs."""
        self.event(enter_prob)
        for _ in range(3):
            if self.caption() != previous_prompt:
                break
            self._turn_sprite()

    def step(self) -> None:
        """Advance one frame; sprites bounce off the walls by reflection, staying on the lattice."""
        for s in self.sprites:
            lo, hi = self.bounds(s.radius)
            s.x, s.vx = _reflect(s.x + s.vx, s.vx, lo, hi)
            s.y, s.vy = _reflect(s.y + s.vy, s.vy, lo, hi)

    def caption(self) -> str:
        sprites = " and ".join(s.caption() for s in self.sprites)
        if self.background_name is None:
            return sprites
        article = "an" if self.background_name[0] in "aeiou" else "a"
        return f"{sprites} on {article} {self.background_name} background"

    # --- rendering ------------------------------------------------------------------------------------------
    def _make_background(self, kind: str) -> np.ndarray:
        """Dark, desaturated two-colour gradient (flat: one colour; textured: plus a faint low-frequency pattern;
        named: one of `BACKGROUND_COLORS`, picked by the same random draws, so its worlds' sprites match flat ones)."""
        res = self.resolution
        ends = []
        for _ in range(2):
            grey = self.rng.uniform(0.15, 0.45)
            tint = self.rng.uniform(-0.08, 0.08, size=3)
            ends.append(np.clip(grey + tint, 0, 1))
        angle = self.rng.uniform(0, 2 * math.pi)
        yy, xx = np.mgrid[0:res, 0:res].astype(np.float32) / max(res - 1, 1)
        ramp = (math.cos(angle) * (xx - 0.5) + math.sin(angle) * (yy - 0.5)) / math.sqrt(0.5) + 0.5
        ramp = np.clip(ramp, 0, 1)
        bg = ends[0][:, None, None] * (1 - ramp) + ends[1][:, None, None] * ramp
        if kind == "flat":
            bg = np.broadcast_to(ends[0][:, None, None], (3, res, res))
        if kind == "named":
            self.background_name = list(BACKGROUND_COLORS)[int(angle / (2 * math.pi) * len(BACKGROUND_COLORS))]
            bg = np.broadcast_to(np.array(BACKGROUND_COLORS[self.background_name])[:, None, None], (3, res, res))
        if kind == "textured":
            fx, fy = self.rng.uniform(1.5, 4.0, size=2)
            bg = bg + 0.05 * np.sin(2 * math.pi * (fx * xx + fy * yy))[None]
        return np.clip(bg, 0, 1).astype(np.float32)

    def _mask(self, s: Sprite) -> np.ndarray:
        xx, yy = self._grid
        dx, dy = xx - s.x, yy - s.y
        if s.shape == "circle":
            return dx**2 + dy**2 <= s.radius**2
        if s.shape == "square":
            side = s.radius * 0.85
            return (np.abs(dx) <= side) & (np.abs(dy) <= side)
        if s.shape == "diamond":
            return np.abs(dx) + np.abs(dy) <= s.radius * 1.2
        # triangle pointing up: inside the band below the apex and within the widening sides
        return (dy <= s.radius * 0.8) & (dy >= -s.radius) & (np.abs(dx) <= (dy + s.radius) * 0.6)

    def render(self) -> tuple[np.ndarray, np.ndarray]:
        """The current frame [3, H, W] and its sprite coverage mask [H, W]."""
        frame = self.background.copy()
        cover = np.zeros(frame.shape[1:], dtype=bool)
        for s in self.sprites:
            m = self._mask(s)
            frame[:, m] = np.array(PALETTE[s.color], dtype=np.float32)[:, None]
            cover |= m
        return frame, cover

    def video(self, num_frames: int) -> Clip:
        """Render `num_frames` frames, stepping the world after each; the caption is the state at the start."""
        prompt = self.caption()
        frames, masks, pos, present = [], [], [], []
        for _ in range(num_frames):
            f, m = self.render()
            frames.append(f)
            masks.append(m)
            pos.append([(s.x, s.y) for s in self.history])
            present.append([s in self.sprites for s in self.history])
            self.step()
        k = len(self.history)
        positions = np.full((num_frames, k, 2), np.nan, dtype=np.float32)
        for i, row in enumerate(pos):
            positions[i, : len(row)] = row
        present_arr = np.zeros((num_frames, k), dtype=bool)
        for i, row in enumerate(present):
            present_arr[i, : len(row)] = row
        positions[~present_arr] = np.nan
        truth = Truth(
            positions=positions,
            colors=[s.color for s in self.history],
            shapes=[s.shape for s in self.history],
            radii=np.array([s.radius for s in self.history], dtype=np.float32),
            present=present_arr,
            background=self.background,
            sprite_masks=np.stack(masks),
        )
        return Clip(torch.from_numpy(np.stack(frames)), prompt, truth)

    def long_video(
        self, num_clips: int, frames_per_clip: int, overlap: int = 0, enter_prob: float = 0.35
    ) -> list[Clip]:
        """Consecutive clips of one continuous world; clip i starts `overlap` frames before clip i-1 ends.

        Before the first new frame of every clip after the first, one event happens (a turn or an entry), so
        each clip's prompt describes a changed state. Overlapping frames are identical across the two clips.
        Every prompt is the caption at its clip's first frame after the overlap, where generation starts and what
        `continuation` trains on (the first clip's too: a bounce inside its given frames changes the caption).
        """
        require(0 <= overlap < frames_per_clip, f"overlap {overlap} must be in [0, frames_per_clip={frames_per_clip})")
        clips = [self._first_clip(frames_per_clip, overlap)]
        for _ in range(num_clips - 1):
            prev = clips[-1]
            self.boundary_event(prev.prompt, enter_prob)
            new = self.video(frames_per_clip - overlap)
            frames = torch.cat([prev.frames[frames_per_clip - overlap :], new.frames])
            truth = concat_truth(prev.truth.at(slice(frames_per_clip - overlap, None)), new.truth)
            clips.append(Clip(frames, new.prompt, truth))
        return clips

    def _first_clip(self, num_frames: int, given: int) -> Clip:
        """`video(num_frames)` prompted with the caption after its first `given` frames (none given: at its start)."""
        if given == 0:
            return self.video(num_frames)
        head = self.video(given)
        return joined(head, self.video(num_frames - given))

    def continuation(self, num_frames: int, given: int, event_prob: float, enter_prob: float = 0.35) -> Clip:
        """A training clip shaped like clip i > 0 of `long_video(overlap=given)`: `given` frames, then (with
        probability `event_prob`) a clip-boundary event, then the rest; the prompt describes the clip's new frames,
        so a model learns to follow a turn or an entry that its prompt names."""
        require(0 < given < num_frames, f"given frames {given} must be in [1, num_frames={num_frames})")
        head = self.video(given)
        if self.rng.random() < event_prob:
            self.boundary_event(head.prompt, enter_prob)
        return joined(head, self.video(num_frames - given))


def _reflect(position: float, velocity: float, lo: int, hi: int) -> tuple[float, float]:
    """A coordinate moved past a wall, mirrored back inside [lo, hi], and its velocity (reversed on a bounce)."""
    if position < lo:
        return 2 * lo - position, -velocity
    if position > hi:
        return 2 * hi - position, -velocity
    return position, velocity


def joined(head: Clip, tail: Clip) -> Clip:
    """One clip of `head`'s frames then `tail`'s, prompted as `tail` (the caption where its new frames start)."""
    return Clip(torch.cat([head.frames, tail.frames]), tail.prompt, concat_truth(head.truth, tail.truth))


def concat_truth(a: Truth, b: Truth) -> Truth:
    """Join two truths; b may know more sprites than a (one entered in between)."""
    k = len(b.colors)
    pad = k - len(a.colors)
    pos_a = np.concatenate([a.positions, np.full((len(a.positions), pad, 2), np.nan, np.float32)], axis=1)
    pres_a = np.concatenate([a.present, np.zeros((len(a.present), pad), bool)], axis=1)
    return Truth(
        positions=np.concatenate([pos_a, b.positions]),
        colors=b.colors,
        shapes=b.shapes,
        radii=b.radii,
        present=np.concatenate([pres_a, b.present]),
        background=b.background,
        sprite_masks=np.concatenate([a.sprite_masks, b.sprite_masks]),
    )


def toy_start(
    seed: int,
    num_clips: int,
    frames_per_clip: int,
    overlap: int,
    resolution: int,
    max_sprites: int = 2,
    background: str = "flat",
) -> tuple[torch.Tensor, list[str], list[Clip]]:
    """What a toy long video starts from: the world's first `overlap` frames [1, 3, c, H, W] in [-1, 1], its
    per-clip prompts, and its clips (ground truth for measuring drift)."""
    world = ToyWorld(seed, resolution=resolution, max_sprites=max_sprites, background=background)
    clips = world.long_video(num_clips, frames_per_clip, overlap)
    start = clips[0].frames[:overlap].permute(1, 0, 2, 3)[None] * 2 - 1
    return start, [clip.prompt for clip in clips], clips


def true_frames(clips: list[Clip], overlap: int) -> torch.Tensor:
    """The continuous true frames [T, 3, H, W] in [0, 1] of consecutive clips (overlaps counted once)."""
    return torch.cat([clips[0].frames] + [c.frames[overlap:] for c in clips[1:]])


def true_state(clips: list[Clip], overlap: int) -> Truth:
    """The ground truth of consecutive clips as one long video (overlaps counted once), frame for frame with
    `true_frames`."""
    truth = clips[0].truth
    for clip in clips[1:]:
        truth = concat_truth(truth, clip.truth.at(slice(overlap, None)))
    return truth


def true_long_video(
    seed: int,
    num_clips: int,
    frames_per_clip: int,
    overlap: int,
    resolution: int,
    max_sprites: int = 2,
    background: str = "flat",
) -> tuple[torch.Tensor, Truth]:
    """The true frames [T, 3, H, W] in [0, 1] and ground truth of the toy long video `toy_start` begins."""
    _, _, clips = toy_start(seed, num_clips, frames_per_clip, overlap, resolution, max_sprites, background)
    return true_frames(clips, overlap), true_state(clips, overlap)

"""The toy world: sprites moving and bouncing over a background, deterministic by seed, with exact ground truth.

A world is simulated frame by frame. `video(n)` renders a short clip; `long_video(...)` renders consecutive clips
whose prompts change at every clip boundary (a sprite turns, or a new sprite enters). Frames are float RGB in
[0, 1], shape [F, 3, H, W]; the ground truth (positions, colours, sizes, shapes, background) comes with them.
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
DIRECTIONS = ("right", "down right", "down", "down left", "left", "up left", "up", "up right")


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
        max_sprites: int = 4,
        radius: tuple[float, float] = (0.14, 0.2),
        speed: tuple[float, float] = (0.6, 1.5),
        background: str = "gradient",
    ) -> None:
        require(resolution >= 8, f"toy world resolution {resolution} is too small: use at least 8 pixels")
        require(
            1 <= min_sprites <= max_sprites <= len(PALETTE),
            f"toy world needs 1 <= min_sprites <= max_sprites <= {len(PALETTE)}, got {min_sprites}, {max_sprites}",
        )
        require(
            background in ("gradient", "textured"), f"background must be 'gradient' or 'textured', not {background!r}"
        )
        self.rng = np.random.default_rng(seed)
        self.resolution = resolution
        self.max_sprites = max_sprites
        self.radius_range = (radius[0] * resolution, radius[1] * resolution)
        self.speed_range = speed
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

    def _add_sprite(self, entering: bool) -> None:
        """A new sprite with a colour not on screen; `entering` starts it at an edge, moving inwards."""
        res, (rmin, rmax) = self.resolution, self.radius_range
        r = float(self.rng.uniform(rmin, rmax))
        speed = float(self.rng.uniform(*self.speed_range))
        color = self._unused(list(PALETTE), {s.color for s in self.sprites})
        shape = str(self.rng.choice(SHAPES))
        if entering:
            edge = int(self.rng.integers(4))
            along = float(self.rng.uniform(r, res - r))
            x, y, angle = [
                (r, along, 0.0),
                (res - r, along, math.pi),
                (along, r, math.pi / 2),
                (along, res - r, -math.pi / 2),
            ][edge]
            angle += float(self.rng.uniform(-0.6, 0.6))
        else:
            x, y = (float(v) for v in self.rng.uniform(r, res - r, size=2))
            angle = float(self.rng.uniform(0, 2 * math.pi))
        sprite = Sprite(shape, color, x, y, speed * math.cos(angle), speed * math.sin(angle), r)
        self.sprites.append(sprite)
        self.history.append(sprite)

    def _turn_sprite(self) -> None:
        """Rotate one sprite's velocity by 90 degrees either way, or reverse it."""
        s = self.sprites[int(self.rng.integers(len(self.sprites)))]
        angle = float(self.rng.choice([math.pi / 2, -math.pi / 2, math.pi]))
        c, n = math.cos(angle), math.sin(angle)
        s.vx, s.vy = c * s.vx - n * s.vy, n * s.vx + c * s.vy

    def event(self, enter_prob: float = 0.35) -> None:
        """A clip-boundary event: a new sprite enters (while there is room) or a sprite turns."""
        if len(self.sprites) < self.max_sprites and self.rng.random() < enter_prob:
            self._add_sprite(entering=True)
        else:
            self._turn_sprite()

    def step(self) -> None:
        """Advance one frame; sprites bounce off the walls."""
        res = self.resolution
        for s in self.sprites:
            s.x, s.y = s.x + s.vx, s.y + s.vy
            if s.x < s.radius or s.x > res - s.radius:
                s.vx = -s.vx
                s.x = float(np.clip(s.x, s.radius, res - s.radius))
            if s.y < s.radius or s.y > res - s.radius:
                s.vy = -s.vy
                s.y = float(np.clip(s.y, s.radius, res - s.radius))

    def caption(self) -> str:
        return " and ".join(s.caption() for s in self.sprites)

    # --- rendering ------------------------------------------------------------------------------------------
    def _make_background(self, kind: str) -> np.ndarray:
        """Dark, desaturated two-colour gradient (textured: plus a faint low-frequency pattern)."""
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
        """
        require(0 <= overlap < frames_per_clip, f"overlap {overlap} must be in [0, frames_per_clip={frames_per_clip})")
        clips = [self.video(frames_per_clip)]
        for _ in range(num_clips - 1):
            prev = clips[-1]
            self.event(enter_prob)
            for _ in range(3):  # a bounce inside the last clip may have pre-empted the change: turn again
                if self.caption() != prev.prompt:
                    break
                self._turn_sprite()
            new = self.video(frames_per_clip - overlap)
            frames = torch.cat([prev.frames[frames_per_clip - overlap :], new.frames])
            truth = _concat_truth(_slice_truth(prev.truth, frames_per_clip - overlap), new.truth)
            clips.append(Clip(frames, new.prompt, truth))
        return clips


def _slice_truth(t: Truth, start: int) -> Truth:
    return t.at(slice(start, None))


def _concat_truth(a: Truth, b: Truth) -> Truth:
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
    seed: int, num_clips: int, frames_per_clip: int, overlap: int, resolution: int, max_sprites: int = 3
) -> tuple[torch.Tensor, list[str], list[Clip]]:
    """What a toy long video starts from: the world's first `overlap` frames [1, 3, c, H, W] in [-1, 1], its
    per-clip prompts, and its clips (ground truth for measuring drift)."""
    clips = ToyWorld(seed, resolution=resolution, max_sprites=max_sprites).long_video(
        num_clips, frames_per_clip, overlap
    )
    start = clips[0].frames[:overlap].permute(1, 0, 2, 3)[None] * 2 - 1
    return start, [clip.prompt for clip in clips], clips

"""VideoFolderData: clips of real videos from a folder (decord, PyAV where decord fails), captions from CSV or JSONL.

The index (`captions.csv` or `captions.jsonl` in the folder unless `index=` names it) has one row per video:

    path      the video file, relative to the folder or absolute
    caption   its prompt
    segments  optional, for long videos: a list of {"start": seconds, "end": seconds, "prompt": text}. In a JSONL
              row it is a JSON list; in a CSV it is a column holding the same list as JSON text (CSV-quoted, inner
              quotes doubled), e.g. "[{""start"": 0, ""end"": 2.5, ""prompt"": ""a dog runs""}]", or empty.

A clip's prompt is the prompt of the segment covering the clip's middle time, else the caption. Samples match the
toy world's (`lvg.data.toy`): {"video" [3, F, H, W] in [-1, 1], "prompt", "path"}, or in long-video mode {"clips"
[N, 3, F, H, W], "prompts" [N], "path"} of consecutive clips overlapping by `overlap` frames.

Files are probed once in `setup()`; a missing, unreadable or too-short video is skipped with a warning and listed in
`skipped`. Each video gives as many non-overlapping windows (clips, or long samples) as fit; the train/validation
split is by video, deterministic given `seed`.
"""

from __future__ import annotations

import csv
import json
import math
import random
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from lvg.console import warn
from lvg.data.frames import probe, read_frames
from lvg.data.sampling import EpochSampler, ResumableTraining
from lvg.data.toy import collate
from lvg.errors import LvgError, require

INDEX_NAMES = ("captions.csv", "captions.jsonl")
SEGMENT_FORMAT = 'a list of {"start": seconds, "end": seconds, "prompt": text} with start < end'


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    prompt: str


@dataclass(frozen=True)
class Video:
    """A readable video: its index row, frame count and native frame rate."""

    path: str
    caption: str
    segments: tuple[Segment, ...]
    num_frames: int
    native_fps: float

    def prompt_at(self, t: float) -> str:
        """The prompt of the segment covering time `t` (seconds), else the caption."""
        return next((s.prompt for s in self.segments if s.start <= t < s.end), self.caption)


def _is_segment(s: object) -> bool:
    number = (int, float)
    return (
        isinstance(s, dict)
        and isinstance(s.get("start"), number)
        and isinstance(s.get("end"), number)
        and not isinstance(s["start"], bool)
        and isinstance(s.get("prompt"), str)
        and s["start"] < s["end"]
    )


def _parse_row(row: object, where: str) -> dict:
    require(isinstance(row, dict), f"{where}: expected an object with keys path and caption")
    path, caption, segments = row.get("path"), row.get("caption"), row.get("segments")
    require(isinstance(path, str) and path.strip() != "", f"{where}: missing 'path' (the video file)")
    require(isinstance(caption, str), f"{where}: missing 'caption' (the video's prompt)")
    if isinstance(segments, str):  # CSV: the list as JSON text, empty for none
        try:
            segments = json.loads(segments) if segments.strip() else None
        except json.JSONDecodeError:
            raise LvgError(f"{where}: 'segments' is not valid JSON; it must be {SEGMENT_FORMAT}") from None
    segments = [] if segments is None else segments
    require(
        isinstance(segments, list) and all(map(_is_segment, segments)), f"{where}: 'segments' must be {SEGMENT_FORMAT}"
    )
    segs = tuple(Segment(float(s["start"]), float(s["end"]), s["prompt"]) for s in segments)
    return {"path": path.strip(), "caption": caption, "segments": segs}


def read_index(path: Path) -> list[dict]:
    """Rows {path, caption, segments} of a .csv or .jsonl index; `LvgError` naming the file and line if malformed."""
    require(path.is_file(), f"index file {str(path)!r} not found: pass index= (a .csv or .jsonl file)")
    suffix = path.suffix.lower()
    require(suffix in (".csv", ".jsonl"), f"index {str(path)!r} must be a .csv or .jsonl file")
    raw = []
    with open(path, newline="", encoding="utf-8") as f:
        if suffix == ".csv":
            reader = csv.DictReader(f)
            columns = set(reader.fieldnames or [])
            require({"path", "caption"} <= columns, f"{path}: the CSV header must name the columns path,caption")
            raw = [(reader.line_num, row) for row in reader]
        else:
            for n, line in enumerate(f, 1):
                if line.strip():
                    try:
                        raw.append((n, json.loads(line)))
                    except json.JSONDecodeError as e:
                        raise LvgError(f"{path}:{n}: not valid JSON ({e.msg}); each line must be one object") from None
    require(raw, f"index {str(path)!r} lists no videos: add one row per video with its path and caption")
    return [_parse_row(row, f"{path}:{n}") for n, row in raw]


def timeline_length(video: Video, fps: float | None) -> int:
    """How many frames at `fps` (None: the native rate) a video holds, each mapped to the nearest source frame."""
    if fps is None:
        return video.num_frames
    return max(0, math.ceil((video.num_frames - 0.5) * fps / video.native_fps))


def source_indices(video: Video, fps: float | None, first: int, count: int) -> list[int]:
    """Source frames nearest to times (first + k) / fps for k < count."""
    ratio = 1.0 if fps is None else video.native_fps / fps
    return [min(video.num_frames - 1, math.floor((first + k) * ratio + 0.5)) for k in range(count)]


def resize_frames(frames: torch.Tensor, size: tuple[int, int], mode: str) -> torch.Tensor:
    """[F, H, W, 3] uint8 -> [3, F, h, w] in [-1, 1]; "crop": scale the shorter side, centre-crop; else stretch."""
    x = frames.permute(0, 3, 1, 2).float()
    (h, w), (th, tw) = x.shape[-2:], size
    if mode == "crop":
        scale = max(th / h, tw / w)
        sh, sw = max(th, round(h * scale)), max(tw, round(w * scale))
    else:
        sh, sw = th, tw
    if (sh, sw) != (h, w):
        x = F.interpolate(x, size=(sh, sw), mode="bilinear", antialias=True, align_corners=False)
    top, left = (sh - th) // 2, (sw - tw) // 2
    x = x[..., top : top + th, left : left + tw]
    return (x / 127.5 - 1).clamp(-1, 1).permute(1, 0, 2, 3).contiguous()


class VideoClips(Dataset):
    """Non-overlapping windows of `window` timeline frames over each video; see the module docstring for samples."""

    def __init__(
        self,
        videos: list[Video],
        frames_per_clip: int,
        fps: float | None,
        resolution: tuple[int, int],
        resize: str,
        long_video: tuple[int, int] | None = None,
    ) -> None:
        self.frames_per_clip, self.fps, self.resolution, self.resize = frames_per_clip, fps, resolution, resize
        self.long_video = long_video  # (num_clips, overlap) or None
        self.window = window_length(frames_per_clip, long_video)
        self.items = [
            (v, first) for v in videos for first in range(0, timeline_length(v, fps) - self.window + 1, self.window)
        ]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict:
        """Sample `index`; a window whose video cannot be decoded (an intact header over a corrupt body passes the
        probe) is replaced by the next readable one, and the sample names the videos it replaced under
        `unreadable` (counted and reported at each epoch's end); none readable is one clear error."""
        if not -len(self.items) <= index < len(self.items):
            raise IndexError(index)  # (iteration over the dataset ends here)
        unreadable = []
        for step in range(len(self.items)):
            video, first = self.items[(index + step) % len(self.items)]
            try:
                sample = self.sample(video, first)
            except LvgError:
                unreadable.append(video.path)
                continue
            return {**sample, "unreadable": unreadable}
        raise LvgError(
            f"none of the {len({v.path for v, _ in self.items})} videos can be decoded (e.g. {unreadable[0]!r}): "
            "their files are corrupt; re-encode or remove them"
        )

    def sample(self, video: Video, first: int) -> dict:
        frames = read_frames(video.path, source_indices(video, self.fps, first, self.window))
        frames = resize_frames(frames, self.resolution, self.resize)  # [3, window, H, W]
        rate = self.fps or video.native_fps
        f = self.frames_per_clip
        if self.long_video is None:
            return {"video": frames, "prompt": video.prompt_at((first + (f - 1) / 2) / rate), "path": video.path}
        starts = range(0, self.window - f + 1, f - self.long_video[1])
        clips = torch.stack([frames[:, s : s + f] for s in starts])
        prompts = [video.prompt_at((first + s + (f - 1) / 2) / rate) for s in starts]
        return {"clips": clips, "prompts": prompts, "path": video.path}


def window_length(frames_per_clip: int, long_video: tuple[int, int] | None) -> int:
    """Timeline frames one sample spans: a clip, or `num_clips` clips overlapping by `overlap` frames."""
    if long_video is None:
        return frames_per_clip
    num_clips, overlap = long_video
    return frames_per_clip + (num_clips - 1) * (frames_per_clip - overlap)


class VideoFolderData(ResumableTraining, L.LightningDataModule):
    """Clips of the videos in a folder, with captions from a CSV or JSONL index (format: see the module docstring).

    Args:
        root: folder holding the videos (and, by default, the index).
        index: path to the .csv or .jsonl index; None looks for captions.csv, then captions.jsonl, in `root`. A
            relative path that does not exist from the working directory is looked up in `root`.
        frames_per_clip: frames per clip.
        fps: frame rate of the clips: frame k of a clip starting at time t is the source frame nearest to t + k / fps.
            None keeps the native rate (consecutive source frames).
        resolution: (height, width) of the clips.
        resize: "crop" scales the shorter side to fit and centre-crops; "stretch" resizes, ignoring aspect ratio.
        batch_size: samples per batch.
        val_fraction: fraction of the videos (at least one when above 0 and there are two or more) held out for
            validation.
        seed: seed of the train/validation split and of the training shuffle.
        long_video: yield sequences of `num_clips` consecutive clips with per-clip prompts instead of single clips.
        num_clips: clips per long-video sample.
        overlap: frames shared by consecutive clips in long-video mode.
        num_workers: DataLoader worker processes (each decodes with one thread).
    """

    def __init__(
        self,
        root: str,
        index: str | None = None,
        frames_per_clip: int = 8,
        fps: float | None = 8,
        resolution: tuple[int, int] = (32, 32),
        resize: str = "crop",
        batch_size: int = 8,
        val_fraction: float = 0.1,
        seed: int = 0,
        long_video: bool = False,
        num_clips: int = 4,
        overlap: int = 2,
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        require(frames_per_clip >= 2, f"frames_per_clip must be at least 2, got {frames_per_clip}")
        require(fps is None or fps > 0, f"fps must be positive (or None for the native rate), got {fps}")
        require(len(resolution) == 2 and min(resolution) >= 1, f"resolution must be (height, width), got {resolution}")
        require(resize in ("crop", "stretch"), f"resize must be 'crop' or 'stretch', got {resize!r}")
        require(batch_size >= 1, f"batch_size must be at least 1, got {batch_size}")
        require(0 <= val_fraction < 1, f"val_fraction must be in [0, 1), got {val_fraction}")
        require(num_clips >= 1, f"num_clips must be at least 1, got {num_clips}")
        require(0 <= overlap < frames_per_clip, f"overlap must be in [0, frames_per_clip), got {overlap}")
        require(num_workers >= 0, f"num_workers must be >= 0, got {num_workers}")
        self.save_hyperparameters()
        self.resolution = (int(resolution[0]), int(resolution[1]))
        self.long_video = (num_clips, overlap) if long_video else None
        self.skipped: list[str] = []  # paths of the videos left out, each announced by one warning
        self.train_dataset: VideoClips | None = None
        self.val_dataset: VideoClips | None = None

    def _index_path(self, root: Path) -> Path:
        if self.hparams.index is not None:
            path = Path(self.hparams.index).expanduser()
            return path if path.exists() or path.is_absolute() else root / path
        found = [root / name for name in INDEX_NAMES if (root / name).is_file()]
        require(found, f"no captions.csv or captions.jsonl in {str(root)!r}: add one or pass index=")
        return found[0]

    def _skip(self, path: Path, reason: str) -> None:
        self.skipped.append(str(path))
        warn(f"skipping video {str(path)!r}: {reason}")

    def _probe(self, root: Path, row: dict) -> Video | None:
        """The row's video with its length and frame rate, or None (with a warning) if it cannot be used."""
        path = Path(row["path"]).expanduser()
        path = path if path.is_absolute() else root / path
        if not path.is_file():
            return self._skip(path, "file not found")
        try:
            num_frames, native_fps = probe(str(path))
        except LvgError as e:
            return self._skip(path, f"unreadable ({e})")
        if not (num_frames > 0 and math.isfinite(native_fps) and native_fps > 0):
            return self._skip(path, f"no frames or no frame rate ({num_frames} frames at {native_fps} fps)")
        video = Video(str(path), row["caption"], row["segments"], num_frames, native_fps)
        need, have = (
            window_length(self.hparams.frames_per_clip, self.long_video),
            timeline_length(video, self.hparams.fps),
        )
        if have < need:
            kind = "one long-video sample" if self.long_video else "one clip"
            return self._skip(path, f"shorter than {kind} ({have} frames at the clip rate, needs {need})")
        return video

    def setup(self, stage: str | None = None) -> None:
        """Read the index, probe each video once, split the readable ones into training and validation by video."""
        if self.train_dataset is not None:
            return
        hp = self.hparams
        root = Path(hp.root).expanduser()
        require(root.is_dir(), f"video folder {str(root)!r} does not exist: set root= to a folder of videos")
        index = self._index_path(root)
        rows = read_index(index)
        self.skipped = []
        videos = [v for v in (self._probe(root, row) for row in rows) if v is not None]
        require(
            videos,
            f"none of the {len(rows)} videos listed in {str(index)!r} can be used (missing, unreadable or too short, "
            "see the warnings): fix the paths in the index or the files",
        )
        random.Random(hp.seed).shuffle(videos)
        n_val = min(len(videos) - 1, math.ceil(hp.val_fraction * len(videos)))
        args = (hp.frames_per_clip, hp.fps, self.resolution, hp.resize, self.long_video)
        self.val_dataset, self.train_dataset = VideoClips(videos[:n_val], *args), VideoClips(videos[n_val:], *args)

    def _loader(self, data: VideoClips, sampler: EpochSampler) -> DataLoader:
        hp = self.hparams
        return DataLoader(
            data,
            batch_size=hp.batch_size,
            sampler=sampler,
            collate_fn=collate,
            num_workers=hp.num_workers,
            persistent_workers=hp.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        """The training windows, shuffled per epoch from (seed, epoch) (`lvg.data.sampling`: exact resume)."""
        self.setup()
        sampler = EpochSampler(len(self.train_dataset), shuffle_seed=self.hparams.seed)
        self.resume_sampler(sampler, self.hparams.batch_size)
        return self._loader(self.train_dataset, sampler)

    def val_dataloader(self) -> DataLoader:
        self.setup()
        return self._loader(self.val_dataset, EpochSampler(len(self.val_dataset), fresh_per_epoch=False))

    def test_dataloader(self) -> DataLoader:
        return self.val_dataloader()

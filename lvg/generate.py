"""`lvg generate`: a long video from a trained module, streamed to an mp4 with a JSON sidecar.

Inputs are checked before anything is written; the mp4 and the sidecar appear under their names only when complete.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from lvg.data.toy_world import toy_start
from lvg.errors import LvgError, require
from lvg.methods.base import GenerationRequest
from lvg.options import GenerationOptions
from lvg.output_check import check_output
from lvg.resume import ResumeLog, weights_fingerprint
from lvg.video import VideoSink, publish_together, to_uint8, write_json_tmp


def read_prompt_file(path: str) -> list[str]:
    """One prompt per clip, one per non-empty line of a UTF-8 text file."""
    p = Path(path)
    require(not p.is_dir(), f"prompt file {path!r} is a folder: give a text file with one prompt per line")
    require(p.is_file(), f"prompt file {path!r} does not exist: give a text file with one prompt per line")
    data = p.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    binary = text is None or "\x00" in text or any(ord(ch) < 32 and ch not in "\t\r\n\f" for ch in text)
    require(not binary, f"prompt file {path!r} is not a text file (binary or not UTF-8): write one prompt per line")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    require(bool(lines), f"prompt file {path!r} is empty: write one prompt per line, one line per clip")
    return lines


VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm")
DEFAULT_NUM_CLIPS = 12  # without --num_clips or a prompt file


def _fit_frame(img, height: int, width: int) -> np.ndarray:
    """Resize (shorter side) and centre-crop a PIL image to the clip size: [H, W, 3] float in [-1, 1]."""
    from PIL import Image

    scale = max(height / img.height, width / img.width)
    img = img.resize((max(width, round(img.width * scale)), max(height, round(img.height * scale))), Image.BICUBIC)
    left, top = (img.width - width) // 2, (img.height - height) // 2
    return np.asarray(img.crop((left, top, left + width, top + height)), dtype=np.float32) / 127.5 - 1


def load_start_frames(path: str, height: int, width: int, frames: int) -> torch.Tensor:
    """The first frames of the long video: a guide image (1 frame), or the last `frames` frames of a video file.
    Resized and centre-cropped to the clip size: [1, 3, c, H, W] in [-1, 1]."""
    from PIL import Image, UnidentifiedImageError

    require(not Path(path).is_dir(), f"guide {path!r} is a folder: give a PNG/JPEG image or a video file")
    require(Path(path).is_file(), f"guide {path!r} does not exist: give a PNG/JPEG image or a video file")
    if Path(path).suffix.lower() in VIDEO_SUFFIXES:
        from lvg.video import read_video

        video = read_video(path)
        images = [Image.fromarray(f) for f in video[-frames:]]
    else:
        try:
            images = [Image.open(path).convert("RGB")]
        except (UnidentifiedImageError, OSError) as e:
            raise LvgError(f"guide {path!r} is not a readable image ({type(e).__name__}): give a PNG or JPEG") from e
    arr = np.stack([_fit_frame(img, height, width) for img in images])  # [c, H, W, 3]
    return torch.from_numpy(arr).permute(3, 0, 1, 2)[None]


def plan_prompts(
    num_clips: int | None,
    prompt: str | None,
    prompt_file: str | None,
    toy_prompts: list[str] | None,
    repeat_last_prompt: bool = False,
) -> list[str]:
    """One prompt per clip from --prompt (repeated), --prompt_file (a line per clip; with `repeat_last_prompt` the
    last line also serves the clips past the end of the file) or the toy world."""
    require(not (prompt and prompt_file), "give --prompt or --prompt_file, not both")
    if prompt_file:
        lines = read_prompt_file(prompt_file)
        n = len(lines) if num_clips is None else num_clips
        require(
            n <= len(lines) or repeat_last_prompt,
            f"prompt file {prompt_file!r} has {len(lines)} lines but num_clips={n}: give one line per clip "
            "(or --repeat_last_prompt true to repeat the last line)",
        )
        return (lines + [lines[-1]] * (n - len(lines)))[:n]
    n = DEFAULT_NUM_CLIPS if num_clips is None else num_clips
    if prompt is not None:
        require(bool(prompt.strip()), "the prompt is empty: say what the video shows")
        return [prompt] * n
    return (toy_prompts or [""] * n)[:n]  # no prompt: an empty one per clip (image-only models ignore it)


def generate_video(module, output: str, config: dict | None = None, progress: bool = True, **options) -> dict:
    """Generate and write `output` (mp4) and `output`.json; returns the sidecar dict. `options` are the other fields
    of `GenerationOptions` (prompts, guide, seeds, fps, resume)."""
    return write_long_video(module, GenerationOptions(output=str(output), **options), config, progress)


def write_long_video(module, options: GenerationOptions, config: dict | None = None, progress: bool = True) -> dict:
    """Generate `options.output` (mp4) and its .json sidecar; returns the sidecar dict. With `options.resume`, an
    interrupted run of the same inputs (its log beside the output, see `lvg.resume`) continues where it stopped."""
    o = options
    output, num_clips, prompt, prompt_file, guide = o.output, o.num_clips, o.prompt, o.prompt_file, o.guide
    toy_seed, seed, fps, resume = o.toy_seed, o.seed, o.fps, o.resume
    require(num_clips is None or num_clips >= 1, f"num_clips must be at least 1, got {num_clips}")
    require(1 <= fps <= 1000, f"fps must be a whole number of frames per second in [1, 1000], got {fps}")
    out = check_output(output)
    h, w, frames = module.height, module.width, module.frames_per_clip
    c = module.method.condition_frames
    toy_prompts = None
    if guide is not None:
        start = load_start_frames(guide, h, w, c)
    else:
        require(h == w, f"the toy world makes square frames, the model is {h}x{w}: give --guide")
        n = DEFAULT_NUM_CLIPS if num_clips is None else num_clips
        start, toy_prompts, _ = toy_start(toy_seed, n, frames, c, h)
    prompts = plan_prompts(num_clips, prompt, prompt_file, toy_prompts, o.repeat_last_prompt)

    weights = weights_fingerprint(module)
    inputs = {"config": (config or {}).get("model"), "weights": weights, "start frames": start.numpy().tobytes(),
              "prompts": prompts, "seed": seed, "fps": fps}  # fmt: skip
    log = ResumeLog(out, inputs)
    state = log.load() if resume else None  # a log of other inputs is refused here, before anything is shown

    steps = module.sampler.num_steps
    clip_bar = tqdm(total=len(prompts), desc="clips", unit="clip", disable=not progress)
    step_bar = tqdm(total=steps, desc="steps", unit="step", leave=False, disable=not progress)

    def on_step(i: int, t: float, x: torch.Tensor) -> None:
        step_bar.update(1)

    request = GenerationRequest(start, prompts, frames, seed=seed, on_step=on_step, scratch=str(log.dir / "method"))
    records: list[dict] = []  # per clip: seconds, and the noise search's log if there was one
    shape = (h, w, 3)
    with VideoSink(out, fps=fps, publish=False) as sink, torch.no_grad():
        if state is None:
            log.start()
        else:  # continue an interrupted run: re-encode its frames, then go on from its next clip
            for chunk in log.frames(state["frames"], shape):
                sink.write(chunk)
            request.first_clip, request.carry, records = state["next_clip"], state["carry"], list(state["clips"])
            clip_bar.update(request.first_clip)
        tic = time.perf_counter()
        for clip in module.generate(request):
            pixels = to_uint8(clip.frames)
            log.append(pixels, sink.frames_written, shape)
            sink.write(pixels)
            if clip.index < 0:
                continue  # the given start frames
            record = {"seconds": round(time.perf_counter() - tic, 4)}
            record["frames"] = [sink.frames_written - len(pixels), sink.frames_written]  # [start, end) in the video
            record.update({k: v for k, v in (("search", clip.search), ("context", clip.context)) if v is not None})
            records.append(record)
            log.commit(clip.index + 1, clip.carry, sink.frames_written, records)
            tic = time.perf_counter()
            clip_bar.update(1)
            step_bar.reset()
    clip_bar.close()
    step_bar.close()
    sidecar = {
        "video": out.name,
        "frames": sink.frames_written,
        "fps": fps,
        "height": h,
        "width": w,
        "frames_per_clip": frames,
        "condition_frames": int(start.shape[2]),  # given frames at the start of the video (not generated)
        "seed": seed,
        "weights": weights,  # lvg.resume.weights_fingerprint of the weights that made the video
        "solver": module.sampler.solver(module.backbone),  # the update the sampler stepped with
        "start": {"guide": guide} if guide else {"toy_seed": toy_seed},
        "clips": [{"index": i, "prompt": p, **r} for i, (p, r) in enumerate(zip(prompts, records))],
        "config": config or {},
    }
    side = out.with_suffix(".json")
    publish_together([(sink.tmp, out), (write_json_tmp(side, sidecar), side)])  # both or neither
    log.clear()
    return sidecar

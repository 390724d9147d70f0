"""`lvg evaluate` throughput: frames per second of each metric's pass over a long video, on CPU.

python benchmarks/evaluate.py [--quick]

- weight-free paths on a toy-sized long video (32x32, sprites moving over a textured background): subject
  consistency (centred pixels), background consistency (colour histograms), temporal flickering, motion smoothness
  (Farneback interpolator), dynamic degree (Farneback flow), a toy ground-truth measure;
- VBench's encoders at their real size and input (224x224), with random weights built from config (speed does not
  depend on the weights; none can be downloaded here): DINO ViT-B/16, CLIP ViT-B/32;
- RAFT (torchvision) when installed, else None;
- the HTML report's VP9 WebM encoding (256x256 after upscaling), frames per second.
Records follow benchmarks/README.md; not a test.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np


def toy_long_video(frames: int, size: int = 32) -> np.ndarray:
    rng = np.random.default_rng(0)
    bg = np.kron(rng.integers(40, 200, (size // 4, size // 4, 3)), np.ones((4, 4, 1))).astype(np.uint8)
    video = np.repeat(bg[None], frames, axis=0)
    for t in range(frames):
        x, y = int(4 + 10 * (1 + np.sin(t / 7))), int(4 + 8 * (1 + np.cos(t / 5)))
        video[t, y : y + 8, x : x + 8] = (230, 40, 40)
    return video


def timed(fn, frames: int) -> float:
    tic = time.perf_counter()
    fn()
    return frames / (time.perf_counter() - tic)


def record(name: str, value: float | None, notes: str, unit: str = "frames/s") -> dict:
    value = None if value is None else round(value, 2)
    return {"name": f"evaluate/{name}", "value": value, "unit": unit, "lower_is_better": False, "notes": notes}


def records(quick: bool) -> list[dict]:
    from lvg.metrics.background_consistency import BackgroundConsistency
    from lvg.metrics.dynamic_degree import DynamicDegree
    from lvg.metrics.motion_smoothness import MotionSmoothness
    from lvg.metrics.subject_consistency import SubjectConsistency
    from lvg.metrics.temporal_flickering import TemporalFlickering

    n = 96 if quick else 480
    video = toy_long_video(n)
    out = []
    for metric in [SubjectConsistency(), BackgroundConsistency(), TemporalFlickering(), MotionSmoothness(),
                   DynamicDegree()]:  # fmt: skip
        fps = timed(lambda m=metric: m.score(m.prepare(video), 0, n), n)
        out.append(record(f"{metric.name}_weight_free", fps, f"{metric.source}; {n} frames of 32x32"))
    out += encoder_records(8 if quick else 32)
    out.append(raft_record(video[:16]))
    out.append(webm_record(video[: 48 if quick else 240]))
    return out


def encoder_records(frames: int) -> list[dict]:
    """DINO ViT-B/16 and CLIP ViT-B/32 at 224x224, random weights (the architecture sets the speed)."""
    import tempfile

    import torch
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection, ViTConfig, ViTModel

    from lvg.metrics.encoders import CLIPEncoder, DINOEncoder

    torch.manual_seed(0)
    video = np.random.default_rng(0).integers(0, 255, (frames, 224, 224, 3), dtype=np.uint8)
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        ViTModel(ViTConfig(image_size=224, patch_size=16), add_pooling_layer=False).save_pretrained(f"{tmp}/dino")
        CLIPVisionModelWithProjection(
            CLIPVisionConfig(image_size=224, patch_size=32, projection_dim=512)
        ).save_pretrained(f"{tmp}/clip")
        for name, encoder in [
            ("dino_vitb16", DINOEncoder(f"{tmp}/dino", 16)),
            ("clip_vitb32", CLIPEncoder(f"{tmp}/clip", 16)),
        ]:
            encoder(video[:2])  # warm-up
            fps = timed(lambda e=encoder: e(video), frames)
            out.append(record(f"{name}_features", fps, f"{frames} frames at 224x224, batch 16, random weights, CPU"))
    return out


def raft_record(video: np.ndarray) -> dict:
    try:
        import torchvision  # noqa: F401
    except ImportError:
        return record("raft_flow", None, "torchvision is not installed (RAFT needs it); Farneback is the default")
    import tempfile

    import torch
    from torchvision.models.optical_flow import raft_small

    from lvg.metrics.dynamic_degree import DynamicDegree

    with tempfile.TemporaryDirectory() as tmp:
        torch.save(raft_small(weights=None).state_dict(), f"{tmp}/raft_small.pth")
        metric = DynamicDegree(raft=f"{tmp}/raft_small.pth")
        return record(
            "raft_flow", timed(lambda: metric.prepare(video), len(video)), "raft_small, random weights, 32x32"
        )


def webm_record(video: np.ndarray) -> dict:
    from lvg.evaluation.webm import encode_many

    fps = timed(lambda: encode_many([(video, 8.0, 8)]), len(video))
    return record("html_webm_encode", fps, f"{len(video)} frames, 32x32 upscaled to 256x256, VP9, incl. process start")


if __name__ == "__main__":
    for r in records(quick="--quick" in sys.argv):
        print(json.dumps(r), flush=True)

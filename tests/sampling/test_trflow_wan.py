"""T-RFlow on Wan: configs/wan/generate_extension_trflow.yaml on a tiny random Wan2.1, and a UniPC schedule."""

import json

import numpy as np
import pytest
import torch
from helpers.cli import run_main
from tests_paths import REPO

from lvg.sampling import SchedulerSampler, TRFlowSampler

CONFIG = REPO / "configs" / "wan" / "generate_extension_trflow.yaml"


def test_wan_trflow_config_generates(tiny_wan_dir, tmp_path, capsys):
    from PIL import Image

    guide = tmp_path / "guide.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(guide)
    out = tmp_path / "wan.mp4"
    args = [
        "generate", "--config", CONFIG, "--model.init_args.backbone.init_args.path", tiny_wan_dir,
        "--model.init_args.backbone.init_args.dtype", "float32",
        "--model.init_args.method.init_args.condition_frames", "1", "--model.init_args.frames_per_clip", "5",
        "--model.init_args.height", "16", "--model.init_args.width", "16",
        "--model.init_args.sampler.init_args.num_steps", "4", "--trainer.accelerator", "cpu", "--guide", guide,
        "--prompt", "a red cat", "--num_clips", "1", "--progress", "false", "--output", out,
    ]  # fmt: skip
    code, err = run_main(args, capsys)
    assert code == 0, err
    sampler = json.loads(out.with_suffix(".json").read_text())["config"]["model"]["init_args"]["sampler"]
    assert sampler["class_path"] == "lvg.sampling.TRFlowSampler"


class UniPCFlow:
    """A stand-in flow backbone with Wan2.1's own scheduler: UniPC with flow sigmas, shift 3."""

    prediction_type = "flow"

    def make_scheduler(self, shift=None):
        from diffusers import UniPCMultistepScheduler

        return UniPCMultistepScheduler(
            prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=shift or 3.0
        )


@pytest.mark.parametrize("steps", [5, 12])
def test_on_a_unipc_schedule_trflow_steps_over_its_flow_sigmas(steps):
    x0 = torch.randn(1, 2, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(1))
    calls = []

    def denoise(x, t):  # a straight flow from `noise` to the single data point x0: v = noise - x0 at every t
        calls.append(float(t[0, 0]))
        return noise - x0

    backbone = UniPCFlow()
    sigmas = backbone.make_scheduler()
    sigmas.set_timesteps(steps)
    times = sigmas.sigmas[:-1].tolist()
    for low, high in ((0.0, 1.0), (0.3, 0.7)):
        calls.clear()
        result = TRFlowSampler(steps, low, high)(denoise, noise, backbone)
        torch.testing.assert_close(result, x0, atol=1e-5, rtol=0)  # every estimate is x0: the weights sum to 1
        assert len(calls) == sum(t >= low for t in times)  # the UniPC schedule's steps, none below t_low
    torch.testing.assert_close(SchedulerSampler(steps)(denoise, noise, backbone), x0, atol=1e-5, rtol=0)

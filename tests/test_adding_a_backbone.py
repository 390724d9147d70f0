"""lvg/README.md's worked example, run as written: the backbone in its code block generates a clip with the
extension method, and the composition check tells its author what it lacks for cross-clip attention."""

import re

import pytest
import torch
from tests_paths import REPO

from lvg import LongVideoModule
from lvg.contracts import GenerationRequest
from lvg.errors import LvgError
from lvg.methods import CausalKV, Extension
from lvg.sampling import SchedulerSampler


@pytest.fixture(scope="module")
def tiny_conv():
    (code,) = re.findall(r"```python\n(.*?)```", (REPO / "lvg" / "README.md").read_text(), flags=re.S)
    scope: dict = {}
    exec(compile(code, "lvg/README.md", "exec"), scope)  # noqa: S102 - the project's own README, under test
    return scope["TinyConv"]


@torch.no_grad()
def test_the_example_backbone_generates_with_the_extension_method(tiny_conv):
    torch.manual_seed(0)
    module = LongVideoModule(tiny_conv(), Extension(), SchedulerSampler(4), frames_per_clip=4, height=16, width=16)
    start = torch.rand(1, 3, 2, 16, 16) * 2 - 1
    results = list(module.generate(GenerationRequest(start, ["a", "b"], 4, seed=0)))
    assert [r.frames.shape for r in results] == [(3, 2, 16, 16)] * 3
    assert torch.isfinite(results[-1].frames).all() and not torch.equal(results[1].frames, results[2].frames)


def test_the_example_trains(tiny_conv):
    module = LongVideoModule(tiny_conv(), Extension(), SchedulerSampler(4), frames_per_clip=4, height=16, width=16)
    batch = {"video": torch.rand(2, 3, 4, 16, 16) * 2 - 1, "prompt": ["a", "b"]}
    loss = module.method.loss(module.backbone, batch, torch.Generator().manual_seed(0))["loss"]
    loss.backward()
    assert torch.isfinite(loss) and module.backbone.net.weight.grad.abs().sum() > 0


def test_the_composition_check_names_what_the_example_lacks(tiny_conv):
    with pytest.raises(LvgError, match="CausalKV needs a backbone with frame offset, which TinyConv does not have"):
        LongVideoModule(tiny_conv(), CausalKV(), SchedulerSampler(4), frames_per_clip=4, height=16, width=16)

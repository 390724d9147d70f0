import pytest
import torch

from lvg.backbones import Toy


@pytest.fixture(scope="module")
def setup():
    """A fixed tiny toy model (seed 0), its denoiser for one prompt, and fixed noise [1, 3, 4, 16, 16]."""
    torch.manual_seed(0)
    toy = Toy(width=32, layers=1, heads=2, patch=(1, 4, 4))
    x = torch.randn(1, 3, 4, 16, 16, generator=torch.Generator().manual_seed(0))
    return toy, toy.denoiser(toy.conditioning(["a red circle moving right"])), x

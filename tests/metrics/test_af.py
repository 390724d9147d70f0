"""AF (error-free paper eq. 6) on synthetic images whose spectra are known."""

import pytest
import torch

from lvg.metrics.af import average_frequency, radial_spectrum


def images(size=32):
    g = torch.Generator().manual_seed(0)
    i = torch.arange(size)
    noise = torch.rand(2, 3, size, size, generator=g)
    return {
        "flat": torch.full((2, 3, size, size), 0.4),
        "smooth": torch.sin(2 * torch.pi * i / size)[None, :].expand(3, size, size),  # one cycle per image
        "blurred noise": torch.nn.functional.avg_pool2d(noise.flatten(0, 1)[None], 5, 1, 2)[0],
        "noise": noise,
        "checkerboard": ((i[:, None] + i[None, :]) % 2).float().expand(3, size, size),  # Nyquist in x and y
    }


def test_af_orders_flat_smooth_blurred_noise_checkerboard():
    af = {k: average_frequency(v) for k, v in images().items()}
    assert af["flat"] == 0.0
    assert af["flat"] < af["smooth"] < af["blurred noise"] < af["noise"] < af["checkerboard"]
    assert af["checkerboard"] > 0.6  # all energy at |f| = sqrt(0.5) cycles/pixel
    assert af["noise"] == pytest.approx(0.35, abs=0.05)  # a flat spectrum: the mean bin radius


def test_af_ignores_brightness_and_contrast_but_not_detail():
    x = images()["noise"]
    assert average_frequency(0.5 * x + 3) == pytest.approx(average_frequency(x), rel=1e-5)
    sharpened = x + 0.5 * (x - torch.nn.functional.avg_pool2d(x.flatten(0, 1), 3, 1, 1).view_as(x))
    assert average_frequency(sharpened) > average_frequency(x)


def test_radial_spectrum_puts_a_checkerboard_in_the_last_bin():
    r, p = radial_spectrum(images(16)["checkerboard"])
    assert len(r) == len(p) == 9 and p.argmax() == len(p) - 1 and p[:-1].sum() < 1e-4

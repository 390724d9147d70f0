"""The toy drift measures, one by one: the truth scores as the truth, damage scores worse, and noise in the sprites'
colours is not mistaken for kept sprites (the v1 measures scored palette noise as half the mass kept)."""

import numpy as np
import pytest
import torch

from lvg.data import ToyWorld
from lvg.metrics import background_error, color_histogram_distance, sprite_color_mass, sprite_mass_kept
from lvg.metrics.degenerate import degenerate_videos
from lvg.metrics.toy_drift import colour_blobs, position_error, size_fidelity


def clip(seed=2):
    return ToyWorld(seed, max_sprites=3).video(6)


def test_ground_truth_keeps_its_mass_and_has_no_background_error():
    c = clip()
    kept = sprite_mass_kept(c.frames, c.frames[0])
    assert kept.shape == (6,) and kept.min() > 0.75 and kept[0] == 1
    assert background_error(c.frames, c.truth.background, c.truth.sprite_masks).max() == 0
    assert color_histogram_distance(c.frames, c.frames[0])[0] == 0


def test_a_sprite_is_its_colours_largest_component_and_the_rest_is_stray():
    frame = torch.full((3, 16, 16), 0.3)
    red = torch.tensor([0.92, 0.14, 0.14])[:, None, None]
    frame[:, 2:6, 2:6] = red  # a 4x4 sprite
    frame[:, 10, 10] = red[:, 0, 0]  # two stray pixels, apart from it and from each other
    frame[:, 13, 3] = red[:, 0, 0]
    blobs = colour_blobs(frame)
    assert blobs.total[0, 0] == 18 and blobs.sprite[0, 0] == 16 and blobs.stray[0, 0] == 2
    assert blobs.centroid[0, 0].tolist() == [4.0, 4.0]  # pixel centres 2.5 .. 5.5
    assert sprite_color_mass(frame)[0, 0] == 16
    reference = frame.clone()
    reference[:, 10, 10] = reference[:, 13, 3] = 0.3
    assert sprite_mass_kept(frame, reference)[0].item() == pytest.approx((16 - 2) / 16)


def test_blur_recolour_and_fragmentation_lower_the_mass_kept():
    c = clip()
    f = c.frames.clone()
    blurred = [torch.nn.functional.avg_pool2d(f, k, stride=1, padding=k // 2) for k in (3, 5)]
    kept = [float(sprite_mass_kept(b, f[0])[0]) for b in blurred]
    assert kept[0] < 0.97 and kept[1] < kept[0] - 0.1  # the edges leave the colours first
    recoloured = f[:, [1, 2, 0]]  # swap channels: red -> blue, ...
    assert sprite_mass_kept(recoloured, f[0])[0] < 0.2
    background = torch.as_tensor(c.truth.background)
    holes = f.clone()
    holes[:, :, ::2, ::2] = background[:, ::2, ::2]  # a lattice of holes: a quarter of the pixels gone
    assert 0.6 < sprite_mass_kept(holes, f[0])[0] < 0.85
    stripes = f.clone()
    stripes[:, :, ::2] = background[:, ::2]  # every other row gone: the sprites fall apart into lines
    assert sprite_mass_kept(stripes, f[0])[0] < 0.3


@pytest.fixture(scope="module")
def cases():
    return degenerate_videos()


def test_palette_noise_scores_below_a_blank_frame_which_scores_below_the_truth(cases):
    v = cases.videos
    guide = v["true"][0]
    kept = {name: float(sprite_mass_kept(frames, guide).mean()) for name, frames in v.items()}
    assert kept["true"] > 0.9 and kept["misplaced"] > 0.9  # blind to position, by design
    assert kept["blank"] == 0 and kept["noise"] < -0.5 and kept["frozen_noise"] < -0.5
    size = {name: float(size_fidelity(frames, v["true"]).mean()) for name, frames in v.items()}
    assert size["true"] == 1 and size["blank"] == 0 and size["noise"] < -0.5


def test_position_counts_a_missing_sprite_as_the_largest_error(cases):
    v, truth = cases.videos, cases.truth
    err = {name: float(position_error(frames, truth, v["true"]).mean()) for name, frames in v.items()}
    diagonal = float(np.hypot(32, 32))
    assert err["true"] < 1.0
    assert 5 < err["misplaced"] < diagonal
    assert err["blank"] == err["noise"] == pytest.approx(diagonal)


def test_background_error_uses_the_true_masks_so_noise_cannot_hide_in_palette_colours(cases):
    v, truth = cases.videos, cases.truth
    err = {
        name: float(background_error(frames, truth.background, truth.sprite_masks).mean())
        for name, frames in v.items()
    }
    assert err["true"] == 0 and err["blank"] == 0
    assert err["misplaced"] > 0.01 and err["noise"] > 0.1


def test_background_error_and_histogram_grow_with_a_tint():
    c = clip()
    tinted = (c.frames + torch.tensor([0.1, 0.0, 0.0])[:, None, None]).clamp(0, 1)
    assert abs(background_error(tinted, c.truth.background, c.truth.sprite_masks)[0].item() - 0.1 / 3) < 0.01
    assert color_histogram_distance(tinted, c.frames[0])[0] > 0.1

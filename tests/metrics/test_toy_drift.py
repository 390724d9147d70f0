import torch

from lvg.data import ToyWorld
from lvg.metrics import background_error, color_histogram_distance, sprite_color_mass, sprite_mass_kept


def clip(seed=2):
    return ToyWorld(seed, max_sprites=3).video(6)


def test_ground_truth_keeps_its_mass_and_has_no_background_error():
    c = clip()
    kept = sprite_mass_kept(c.frames, c.frames[0])
    assert kept.shape == (6,) and kept.min() > 0.75 and kept[0] == 1
    assert background_error(c.frames, c.truth.background).max() == 0
    assert color_histogram_distance(c.frames, c.frames[0])[0] == 0


def test_mass_counts_the_sprite_pixels_of_each_colour():
    c = clip()
    mass = sprite_color_mass(c.frames)
    assert torch.equal(mass.sum(1), torch.tensor(c.truth.sprite_masks.reshape(6, -1).sum(1), dtype=torch.float32))


def test_blur_recolour_and_fragmentation_lower_the_mass_kept():
    c = clip()
    f = c.frames.clone()
    blurred = torch.nn.functional.avg_pool2d(f, 3, stride=1, padding=1)
    assert sprite_mass_kept(blurred, f[0])[0] < 0.8
    recoloured = f[:, [1, 2, 0]]  # swap channels: red -> blue, ...
    assert sprite_mass_kept(recoloured, f[0])[0] < 0.2
    holes = f.clone()
    holes[:, :, ::2, ::2] = torch.as_tensor(c.truth.background)[:, ::2, ::2]
    assert 0.6 < sprite_mass_kept(holes, f[0])[0] < 0.85


def test_background_error_and_histogram_grow_with_a_tint():
    c = clip()
    tinted = (c.frames + torch.tensor([0.1, 0.0, 0.0])[:, None, None]).clamp(0, 1)
    assert abs(background_error(tinted, c.truth.background)[0].item() - 0.1 / 3) < 0.01
    assert color_histogram_distance(tinted, c.frames[0])[0] > 0.1

import numpy as np
import pytest
import torch

from lvg.data import ToyWorld, ToyWorldData
from lvg.data.toy_world import BACKGROUND_COLORS, HELD_OUT_SEEDS, PALETTE, SPEED, toy_start
from lvg.errors import LvgError


def test_same_seed_same_video_and_truth():
    a, b = ToyWorld(7).video(6), ToyWorld(7).video(6)
    assert torch.equal(a.frames, b.frames)
    assert a.prompt == b.prompt
    np.testing.assert_array_equal(a.truth.positions, b.truth.positions)
    assert not torch.equal(a.frames, ToyWorld(8).video(6).frames)


def test_frames_shape_range_and_resolution():
    clip = ToyWorld(1, resolution=24).video(5)
    assert clip.frames.shape == (5, 3, 24, 24)
    assert clip.frames.min() >= 0 and clip.frames.max() <= 1


def test_sprite_count_between_min_and_max():
    counts = {len(ToyWorld(s, min_sprites=1, max_sprites=4).sprites) for s in range(60)}
    assert counts == {1, 2, 3, 4}
    assert max(len(ToyWorld(s).sprites) for s in range(60)) == 2  # the default world has at most 2


def test_truth_masks_are_exactly_the_sprite_coloured_pixels():
    clip = ToyWorld(3, max_sprites=3).video(4)
    palette = np.array(list(PALETTE.values()), dtype=np.float32)
    frames = clip.frames.numpy().transpose(0, 2, 3, 1)  # [F, H, W, 3]
    is_palette = (np.abs(frames[..., None, :] - palette).max(-1) < 1e-6).any(-1)
    np.testing.assert_array_equal(is_palette, clip.truth.sprite_masks)
    np.testing.assert_array_equal(clip.truth.background, ToyWorld(3, max_sprites=3).background)


@pytest.mark.parametrize("speed", [1, 4])
def test_motion_is_on_the_lattice_and_bounces_by_reflection(speed):
    world = ToyWorld(5, resolution=32, max_sprites=3, speed=speed)
    clip = world.video(60)
    pos = clip.truth.positions  # [F, K, 2]
    assert np.array_equal(pos, np.round(pos / speed) * speed)  # on the lattice of `speed` pixels
    steps = np.abs(np.diff(pos, axis=0))
    assert set(np.unique(steps)) <= {0.0, float(speed)}  # `speed` pixels per frame along each axis
    bounds = np.array([world.bounds(r) for r in clip.truth.radii], dtype=np.float32)  # [K, 2]: lowest, highest
    assert (pos >= bounds[None, :, :1]).all() and (pos <= bounds[None, :, 1:]).all()
    assert ((pos == bounds[None, :, :1]) | (pos == bounds[None, :, 1:])).any()  # a wall reached: a bounce


def test_a_lone_sprite_moves_as_an_exact_translation_of_its_mask():
    world = ToyWorld(12, resolution=32, min_sprites=1, max_sprites=1)
    s = world.sprites[0]
    clip = world.video(2)
    dx, dy = (clip.truth.positions[1, 0] - clip.truth.positions[0, 0]).astype(int)
    moved = np.roll(clip.truth.sprite_masks[0], (dy, dx), axis=(0, 1))
    np.testing.assert_array_equal(moved, clip.truth.sprite_masks[1])
    assert (abs(dx), abs(dy)) != (0, 0) and s.direction() in clip.prompt


def test_a_continuation_clip_is_shaped_like_a_later_clip_of_a_long_video():
    plain = ToyWorld(9).continuation(8, given=2, event_prob=0.0)
    assert plain.frames.shape[0] == 8 and plain.truth.positions.shape[0] == 8
    changed = [ToyWorld(s).continuation(8, given=2, event_prob=1.0) for s in range(6)]
    heads = [ToyWorld(s).video(2).prompt for s in range(6)]
    assert all(c.prompt != h for c, h in zip(changed, heads))  # the prompt names the state after the event
    for s, c in zip(range(6), changed):
        np.testing.assert_array_equal(c.frames[:2].numpy(), ToyWorld(s).video(2).frames.numpy())


def test_training_worlds_never_include_the_held_out_evaluation_worlds():
    from lvg.data.toy import world_seed
    from lvg.data.toy_world import HELD_OUT_SEEDS

    seeds = [world_seed(0, i) for i in range(HELD_OUT_SEEDS.start - 5, HELD_OUT_SEEDS.stop + 5)]
    assert not set(seeds) & set(HELD_OUT_SEEDS)
    assert len(set(seeds)) == len(seeds)
    assert world_seed(0, 7) == 7  # below the range: unchanged, so earlier data stays as it was


def test_caption_names_each_sprite_colour_shape_and_direction():
    world = ToyWorld(11, max_sprites=3)
    clip = world.video(2)
    for colour, shape in zip(clip.truth.colors, clip.truth.shapes):
        assert f"{colour} {shape} moving " in clip.prompt
    assert clip.prompt.count(" and ") == len(clip.truth.colors) - 1


def test_a_named_background_is_one_flat_colour_of_the_set_named_in_every_prompt():
    """The `named` kind keeps the flat world's random draws: the same seed gives the same sprites and motion, only
    the background colour changes (to a member of the set), and every clip's prompt names it."""
    names = set()
    for seed in range(HELD_OUT_SEEDS.start, HELD_OUT_SEEDS.start + 16):
        _, named_prompts, named = toy_start(seed, 3, 8, 2, 32, background="named")
        _, flat_prompts, flat = toy_start(seed, 3, 8, 2, 32)
        world = ToyWorld(seed, background="named")
        names.add(world.background_name)
        colour = np.array(BACKGROUND_COLORS[world.background_name], dtype=np.float32)
        assert np.allclose(named[0].truth.background, colour[:, None, None])
        for a, b, prompt_a, prompt_b in zip(named, flat, named_prompts, flat_prompts):
            assert np.array_equal(a.truth.positions, b.truth.positions, equal_nan=True)
            article = "an" if world.background_name[0] in "aeiou" else "a"
            assert prompt_a == f"{prompt_b} on {article} {world.background_name} background"
    assert len(names) >= 4  # the draw spreads over the set


def test_long_video_prompts_change_and_overlaps_match():
    clips = ToyWorld(4).long_video(6, frames_per_clip=8, overlap=2)
    prompts = [c.prompt for c in clips]
    assert all(a != b for a, b in zip(prompts, prompts[1:]))
    for prev, nxt in zip(clips, clips[1:]):
        assert torch.equal(prev.frames[-2:], nxt.frames[:2])
        assert nxt.truth.positions.shape[0] == 8


def test_a_long_video_prompts_its_first_clip_where_generation_starts_as_training_does():
    overlap, differs = 2, []
    for seed in HELD_OUT_SEEDS[:16]:
        first = ToyWorld(seed).long_video(3, 8, overlap)[0]
        after_given = ToyWorld(seed)
        after_given.video(overlap)
        assert first.prompt == after_given.caption()  # what `continuation` prompts a training clip with
        np.testing.assert_array_equal(first.frames.numpy(), ToyWorld(seed).video(8).frames.numpy())
        differs.append(first.prompt != ToyWorld(seed).caption())
    assert any(differs)  # some world bounces inside its given frames, so the frame-0 caption would be wrong


def test_long_video_new_sprites_enter_over_seeds():
    entered = [len(ToyWorld(s, max_sprites=4).long_video(8, 4, enter_prob=1.0)[-1].truth.colors) for s in range(5)]
    assert max(entered) == 4


def test_bad_world_parameters_give_one_line_error():
    with pytest.raises(LvgError, match="max_sprites"):
        ToyWorld(0, min_sprites=3, max_sprites=2)
    with pytest.raises(LvgError, match="background"):
        ToyWorld(0, background="stripes")
    with pytest.raises(LvgError, match="whole number of pixels"):
        ToyWorld(0, speed=1.5)


def test_datamodule_batches_are_deterministic_per_epoch_and_fresh_across_epochs():
    dm = ToyWorldData(resolution=16, frames_per_clip=4, batch_size=2, samples_per_epoch=4, val_samples=2)
    loader = dm.train_dataloader()
    first = next(iter(loader))
    assert first["video"].shape == (2, 3, 4, 16, 16)
    assert first["video"].min() >= -1 and first["video"].max() <= 1
    assert isinstance(first["prompt"][0], str)
    again = next(
        iter(ToyWorldData(resolution=16, frames_per_clip=4, batch_size=2, samples_per_epoch=4).train_dataloader())
    )
    assert torch.equal(first["video"], again["video"])
    loader.sampler.set_epoch(1)
    assert not torch.equal(first["video"], next(iter(loader))["video"])
    val_seeds = set(next(iter(dm.val_dataloader()))["seed"])
    assert not val_seeds & set(first["seed"])


def test_datamodule_long_video_mode():
    dm = ToyWorldData(
        resolution=16, frames_per_clip=4, batch_size=2, samples_per_epoch=2, long_video=True, num_clips=3
    )
    batch = next(iter(dm.train_dataloader()))
    assert batch["clips"].shape == (2, 3, 3, 4, 16, 16)
    assert len(batch["prompts"]) == 2 and len(batch["prompts"][0]) == 3


def test_the_default_world_moves_one_pixel_per_frame_and_bounces_seldom():
    """World v3's motion (SPEED = 1): a step of 0 or 1 pixel per axis per frame, and between bounces a moving sprite
    travels far (at speed 4, world v2, it bounced every 4-6 frames)."""
    runs = []
    for seed in list(HELD_OUT_SEEDS)[:20]:
        world = ToyWorld(seed)
        assert world.speed == SPEED == 1
        pos = world.video(64).truth.positions  # [F, K, 2]
        steps = np.diff(pos, axis=0)
        assert set(np.unique(np.abs(steps[~np.isnan(steps)]))) <= {0.0, 1.0}
        for k in range(pos.shape[1]):
            for axis in range(2):
                turns = np.flatnonzero(steps[1:, k, axis] * steps[:-1, k, axis] < 0)  # a bounce: the step flips
                runs += list(np.diff(turns))
    assert runs and np.mean(runs) >= 16  # frames between bounces on one axis


def test_datamodule_sprite_masks_are_the_pixels_whose_colour_differs_from_the_background():
    dm = ToyWorldData(
        resolution=16, frames_per_clip=4, batch_size=2, samples_per_epoch=2, overlap=2, event_prob=1.0,
        sprite_masks=True,
    )  # fmt: skip
    batch = next(iter(dm.train_dataloader()))
    mask = batch["sprite_mask"]
    assert mask.shape == (2, 4, 16, 16) and set(mask.unique().tolist()) <= {0.0, 1.0} and mask.sum() > 0
    for seed, video, m in zip(batch["seed"], batch["video"], mask):
        background = torch.from_numpy(ToyWorld(seed, **dm.world_args).background)[:, None] * 2 - 1  # [3, 1, H, W]
        differs = (video - background).abs().amax(0) > 1e-6  # [F, H, W]
        assert torch.equal(differs, m.bool())
    plain = next(
        iter(ToyWorldData(resolution=16, frames_per_clip=4, batch_size=2, samples_per_epoch=2).train_dataloader())
    )
    assert "sprite_mask" not in plain
    pairs = ToyWorldData(
        resolution=16, frames_per_clip=4, batch_size=2, samples_per_epoch=2, long_video=True, num_clips=2,
        sprite_masks=True,
    )  # fmt: skip
    batch = next(iter(pairs.train_dataloader()))
    assert batch["sprite_mask"].shape == (2, 2, 4, 16, 16)  # long-video mode: per clip
    for seed, clips, m in zip(batch["seed"], batch["clips"], batch["sprite_mask"]):
        background = torch.from_numpy(ToyWorld(seed, **pairs.world_args).background)[:, None] * 2 - 1
        for clip, clip_mask in zip(clips, m):
            assert torch.equal((clip - background).abs().amax(0) > 1e-6, clip_mask.bool())

"""Scorers of noise search: the toy colour proxy sees what compounds; CLIP/DINO implement eq. 4 through the real
transformers loading path on tiny random encoders."""

import pytest
import torch

from lvg.data.toy_world import ToyWorld
from lvg.errors import LvgError
from lvg.search import CLIPScorer, ColourConsistencyScorer, DINOScorer


def toy_frame():
    clip = ToyWorld(4, resolution=32, max_sprites=2).video(1)
    return clip.frames[0] * 2 - 1, clip.truth.sprite_masks[0], torch.as_tensor(clip.truth.background) * 2 - 1


def clip_of(*frames):
    """Frames [3, H, W] -> one candidate [1, 3, F, H, W]."""
    return torch.stack(frames, dim=1)[None]


def test_colour_proxy_ranks_intact_above_fragmented_recoloured_and_tinted():
    frame, masks, background = toy_frame()
    sprite = torch.as_tensor(masks).bool()
    assert sprite.sum() > 20
    fragmented = frame.clone()
    holes = sprite & (torch.rand(sprite.shape, generator=torch.Generator().manual_seed(0)) < 0.5)
    fragmented[:, holes] = background[:, holes]
    recoloured = frame.clone()
    recoloured[:, sprite] = recoloured[:, sprite][[1, 2, 0]]  # RGB -> GBR
    tinted = frame.clone()
    tinted[:, ~sprite] += torch.tensor([0.15, -0.1, 0.1])[:, None]
    scorer = ColourConsistencyScorer()
    scores = scorer(torch.cat([clip_of(f, f) for f in (frame, fragmented, recoloured, tinted)]), frame)
    assert scores[0] == pytest.approx(1.0)
    assert (scores[1:] < scores[0] - 0.1).all()


def test_a_candidate_scores_as_its_worst_frame():
    frame, masks, background = toy_frame()
    bad = background.clone()  # every sprite gone
    scorer = ColourConsistencyScorer()
    one_bad = scorer(clip_of(frame, bad, frame), frame)
    only_bad = scorer(clip_of(bad), frame)
    assert one_bad.item() == pytest.approx(only_bad.item())


def square_scene(colour, background=(0.45, 0.45, 0.5), side=8):
    """A 32x32 image in [-1, 1]: one square of `colour` (RGB in [0, 1]) on a flat background."""
    image = torch.tensor(background)[:, None, None].repeat(1, 32, 32)
    image[:, 4 : 4 + side, 4 : 4 + side] = torch.tensor(colour)[:, None, None]
    return image * 2 - 1


def test_colours_come_from_the_guide_and_a_small_shift_keeps_them():
    # an off-palette colour on the 0.5 edge of a 4-level grid: a nudge across the edge is the same colour
    guide = square_scene((0.9, 0.51, 0.1))
    nudged = square_scene((0.88, 0.48, 0.12))
    shrunk = square_scene((0.9, 0.51, 0.1), side=4)
    recoloured = square_scene((0.1, 0.51, 0.9))
    scorer = ColourConsistencyScorer(background_weight=0.0)
    assert len(scorer.guide_colours((guide + 1) / 2)) == 1
    scores = scorer(torch.cat([clip_of(x) for x in (nudged, shrunk, recoloured)]), guide)
    assert scores[0] == pytest.approx(1.0)
    assert scores[1] == pytest.approx(16 / 64)  # a quarter of the square's pixels
    assert scores[2] == pytest.approx(0.0)


def test_a_guide_without_salient_colour_is_scored_by_its_background_alone():
    grey = square_scene((0.5, 0.5, 0.5))
    tinted = square_scene((0.5, 0.5, 0.5), background=(0.55, 0.45, 0.5))
    scores = ColourConsistencyScorer()(torch.cat([clip_of(grey), clip_of(tinted)]), grey)
    assert scores[0] == pytest.approx(1.0)
    assert scores[1] < scores[0] - 0.05


def test_the_colour_proxy_refuses_bad_settings():
    with pytest.raises(LvgError, match="tolerance"):
        ColourConsistencyScorer(tolerance=0)
    with pytest.raises(LvgError, match="saturation"):
        ColourConsistencyScorer(saturation=1.5)


@pytest.fixture(scope="module")
def tiny_clip_dir(tmp_path_factory):
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(0)
    config = CLIPVisionConfig(
        image_size=32, patch_size=8, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, projection_dim=16,
    )  # fmt: skip
    path = tmp_path_factory.mktemp("tiny_clip")
    CLIPVisionModelWithProjection(config).save_pretrained(path)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def tiny_dino_dir(tmp_path_factory):
    from transformers import Dinov2Config, Dinov2Model

    torch.manual_seed(0)
    config = Dinov2Config(
        image_size=32, patch_size=8, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4
    )
    path = tmp_path_factory.mktemp("tiny_dino")
    Dinov2Model(config).save_pretrained(path)
    return path


@pytest.mark.parametrize("which", ["clip", "dino"])
def test_eq4_min_over_frames_of_cosine_to_the_guide(which, tiny_clip_dir, tiny_dino_dir):
    scorer = CLIPScorer(str(tiny_clip_dir), batch_size=3) if which == "clip" else DINOScorer(str(tiny_dino_dir))
    g = torch.Generator().manual_seed(1)
    guide = torch.rand(3, 40, 48, generator=g) * 2 - 1
    frames = torch.rand(2, 3, 3, 40, 48, generator=g) * 2 - 1
    frames[0, :, 1] = guide
    scores = scorer(frames, guide)
    emb_guide = scorer.embed(guide[None])
    per_frame = torch.stack(
        [
            torch.stack([torch.cosine_similarity(scorer.embed(frames[n, :, j][None]), emb_guide)[0] for j in range(3)])
            for n in range(2)
        ]
    )  # one image at a time
    torch.testing.assert_close(scores, per_frame.min(1).values, atol=1e-5, rtol=0)
    assert scorer(clip_of(guide, guide), guide).item() == pytest.approx(1.0, abs=1e-5)


def test_the_processor_config_sets_the_clip_input(tiny_clip_dir):
    scorer = CLIPScorer(str(tiny_clip_dir))
    assert scorer.size == 32 and scorer.mean == pytest.approx((0.48145466, 0.4578275, 0.40821073))
    assert scorer.preprocess(torch.zeros(2, 3, 48, 64)).shape == (2, 3, 32, 32)


@pytest.mark.parametrize("cls", [CLIPScorer, DINOScorer])
def test_missing_scorer_weights_are_one_clear_error(cls, tmp_path):
    with pytest.raises(LvgError, match="not found"):
        cls(str(tmp_path / "nowhere"))

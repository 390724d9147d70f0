"""Own-clip conditions (`lvg.methods.own_clip`): the second clip of a pair is trained on the model's own first clip."""

from types import SimpleNamespace

import pytest
import torch

from lvg.errors import LvgError
from lvg.methods import Extension, OwnClip, extension
from lvg.sampling import SchedulerSampler


def _pairs(batch_size: int = 3) -> dict:
    """Pairs of consecutive toy clips (4 frames, overlapping by 2) with their sprite masks."""
    from lvg.data import ToyWorldData

    dm = ToyWorldData(
        resolution=16, frames_per_clip=4, batch_size=batch_size, samples_per_epoch=batch_size, long_video=True,
        num_clips=2, overlap=2, sprite_masks=True,
    )  # fmt: skip
    return next(iter(dm.train_dataloader()))


def _seen(backbone, monkeypatch, method: Extension, batch: dict, seed: int = 5) -> tuple[torch.Tensor, list[dict]]:
    """`method`'s loss on `batch` and every `conditioning` and `predict` call it made, in order."""
    calls, conditioning, predict = [], backbone.conditioning, backbone.predict

    def spy_conditioning(prompts, latents, mask, **kw):
        calls.append({"kind": "conditioning", "prompts": list(prompts), "latents": latents.clone(), "mask": mask})
        return conditioning(prompts, latents, mask, **kw)

    def spy_predict(x_t, t, cond):
        out = predict(x_t, t, cond)
        calls.append({"kind": "predict", "x_t": x_t, "t": t, "pred": out})
        return out

    monkeypatch.setattr(backbone, "conditioning", spy_conditioning)
    monkeypatch.setattr(backbone, "predict", spy_predict)
    loss = method.loss(backbone, batch, torch.Generator().manual_seed(seed))["loss"]
    return loss, calls


def _record_noised_clip(monkeypatch) -> dict:
    """`{"x0": ...}`, filled with the clean clip each training sample is noised from (`flow_match_xt` in the loss)."""
    seen, plain = {}, extension.flow_match_xt

    def spy(x0, noise, t):
        seen["x0"] = x0
        return plain(x0, noise, t)

    monkeypatch.setattr(extension, "flow_match_xt", spy)
    return seen


def test_the_second_clip_is_given_the_models_own_first_clip_and_trained_on_the_truth(tiny_module, monkeypatch):
    backbone, batch = tiny_module.backbone, _pairs()
    backbone.train()
    method = Extension(
        condition_frames=2, task_probs={"first": 1.0}, full_condition_prob=1.0, own_clip=OwnClip(1.0, 3, 5.0)
    )
    noised = _record_noised_clip(monkeypatch)
    loss, calls = _seen(backbone, monkeypatch, method, batch)
    monkeypatch.undo()
    clips = batch["clips"]
    rollout_cond, trained_cond = (c for c in calls if c["kind"] == "conditioning")
    assert rollout_cond["prompts"] == [p[0] for p in batch["prompts"]]  # the first clip, with its own prompt
    torch.testing.assert_close(rollout_cond["latents"][:, :, :2], clips[:, 0, :, :2])  # from its true given frames
    # the rollout: 3 steps of the sampler (shift 5) from the noise drawn after the pick, as generation samples a clip
    g = torch.Generator().manual_seed(5)
    torch.rand(len(clips), generator=g)  # the pick
    noise = torch.randn(clips[:, 0].shape, generator=g)
    with torch.no_grad():
        cond = backbone.conditioning(rollout_cond["prompts"], rollout_cond["latents"], rollout_cond["mask"])
        own = SchedulerSampler(3, 5.0).run(backbone.denoiser(cond), noise, backbone).x
    own_last = backbone.decode(own)[:, :, -2:]
    assert trained_cond["prompts"] == [p[1] for p in batch["prompts"]]
    torch.testing.assert_close(trained_cond["latents"][:, :, :2], own_last)
    assert (own_last - clips[:, 1, :, :2]).abs().mean() > 0.05  # the model's own frames, not the true overlap
    torch.testing.assert_close(noised["x0"][:, :, :2], own_last)  # the clip noised holds them as its given frames
    torch.testing.assert_close(noised["x0"][:, :, 2:], clips[:, 1, :, 2:])  # and the true frames to generate
    # the target is still the true second clip: the loss is the plain one against it
    step = [c for c in calls if c["kind"] == "predict"][-1]
    target = (step["x_t"] - clips[:, 1]) / step["t"][:, None, :, None, None]
    expected = (step["pred"] - target)[:, :, 2:].pow(2).mean()
    torch.testing.assert_close(loss, expected)


def test_unpicked_samples_train_the_first_clip_on_its_true_frames_and_validation_never_samples(
    tiny_module, monkeypatch
):
    backbone, batch = tiny_module.backbone, _pairs(batch_size=8)
    method = Extension(
        condition_frames=2, task_probs={"first": 1.0}, full_condition_prob=1.0, own_clip=OwnClip(0.5, 2, 5.0)
    )
    pick = torch.rand(8, generator=torch.Generator().manual_seed(5)) < 0.5
    assert 0 < int(pick.sum()) < 8  # both kinds in the batch
    backbone.eval()
    _, calls = _seen(backbone, monkeypatch, method, batch)
    (only,) = (c for c in calls if c["kind"] == "conditioning")  # no rollout in validation
    truth = torch.stack([batch["clips"][b, int(p)] for b, p in enumerate(pick)])
    torch.testing.assert_close(only["latents"][:, :, :2], truth[:, :, :2])
    backbone.train()
    monkeypatch.undo()
    _, calls = _seen(backbone, monkeypatch, method, batch)
    rollout_cond, trained_cond = (c for c in calls if c["kind"] == "conditioning")
    assert len(rollout_cond["prompts"]) == int(pick.sum())  # only the picked samples are sampled
    torch.testing.assert_close(trained_cond["latents"][~pick, :, :2], batch["clips"][~pick, 0, :, :2])
    assert (trained_cond["latents"][pick, :, :2] - batch["clips"][pick, 1, :, :2]).abs().mean() > 0.05


def test_own_clip_refuses_what_it_cannot_do(tiny_module):
    with pytest.raises(LvgError, match="own_clip prob must be in"):
        OwnClip(prob=0.0)
    single = {"video": torch.zeros(2, 3, 4, 16, 16), "prompt": ["a", "b"]}
    with pytest.raises(LvgError, match="long_video: true"):
        Extension(own_clip=OwnClip()).loss(tiny_module.backbone, single, torch.Generator().manual_seed(0))
    three = {"clips": torch.zeros(2, 3, 3, 4, 16, 16), "prompts": [["a"] * 3] * 2}
    with pytest.raises(LvgError, match="num_clips: 2"):
        Extension(own_clip=OwnClip()).loss(tiny_module.backbone, three, torch.Generator().manual_seed(0))
    guide = SimpleNamespace(prediction_type="flow", capabilities=frozenset({"guide_image"}))
    with pytest.raises(LvgError, match="set own_clip null"):
        Extension(own_clip=OwnClip()).check(SimpleNamespace(backbone=guide))


@pytest.mark.parametrize("task, given", [("first", 1), ("none", 0)])
def test_own_frames_replace_only_the_frames_a_sample_is_given(tiny_module, monkeypatch, task, given):
    """A sample given one frame (or none) generates the rest of its clip, so those frames stay the true clip."""
    backbone, batch = tiny_module.backbone, _pairs()
    backbone.train()
    method = Extension(
        condition_frames=2, task_probs={task: 1.0}, full_condition_prob=0.0, own_clip=OwnClip(1.0, 2, 5.0)
    )
    seen, plain_latents = _record_noised_clip(monkeypatch), OwnClip.condition_latents

    def spy_latents(*args):
        seen["own"] = plain_latents(*args)
        return seen["own"]

    monkeypatch.setattr(OwnClip, "condition_latents", spy_latents)
    method.loss(backbone, batch, torch.Generator().manual_seed(5))
    second = batch["clips"][:, 1]
    torch.testing.assert_close(seen["x0"][:, :, :given], seen["own"][:, :, :given])
    torch.testing.assert_close(seen["x0"][:, :, given:], second[:, :, given:])
    assert (seen["own"][:, :, given] - second[:, :, given]).abs().mean() > 0.05  # a replacement would show

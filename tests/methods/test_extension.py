import pytest
import torch
from helpers.results import frames, video

from lvg.contracts import GUIDE_IMAGE
from lvg.errors import LvgError
from lvg.methods import Extension, GenerationRequest


class PixelBackbone:
    """Stand-in exposing only what the mask sampler uses (pixel space: latent frames = frames)."""

    @staticmethod
    def latent_frames(n: int) -> int:
        return n


def masks(task: str, n=64, frames=6, c=2):
    m = Extension(condition_frames=c, min_condition_frames=1, task_probs={task: 1.0})
    return m.condition_mask(n, frames, PixelBackbone(), torch.Generator().manual_seed(0))


def test_multitask_masks_match_their_variant():
    first, last, both, none = masks("first"), masks("last"), masks("first_last"), masks("none")
    assert (first[:, 0] == 1).all() and (first[:, 2:] == 0).all()
    assert set(first.sum(1).tolist()) == {1.0, 2.0}  # 1 or 2 frames given
    assert (last[:, -1] == 1).all() and (last[:, :-2] == 0).all()
    assert (both[:, 0] == 1).all() and (both[:, -1] == 1).all()
    assert (none == 0).all()


def test_default_drop_rate_is_the_papers_ten_percent():
    m = Extension()
    mask = m.condition_mask(4000, 6, PixelBackbone(), torch.Generator().manual_seed(1))
    dropped = (mask.sum(1) == 0).float().mean().item()
    assert 0.08 < dropped < 0.12


def test_bad_options_are_rejected():
    with pytest.raises(LvgError):
        Extension(task_probs={"first": 0.5})
    with pytest.raises(LvgError):
        Extension(condition_frames=2, min_condition_frames=3)
    with pytest.raises(LvgError):
        Extension(timestep_sampling="cubic")


class WanLatentFrames:
    """Wan's causal-VAE frame count (the real `WanAdapter.latent_frames`, temporal compression 4)."""

    temporal_compression = 4

    def latent_frames(self, n: int) -> int:
        from lvg.backbones.wan_adapter import WanAdapter

        return WanAdapter.latent_frames(self, n)


def test_wan_extension_config_gives_0_to_9_initial_frames_as_whole_latent_frames():
    """§4.1: "randomly provide 0 to 9 initial frames"; in Wan's latent layout that is 0 to 3 latent frames."""
    import pathlib

    import yaml

    config = yaml.safe_load(pathlib.Path("configs/wan/extension.yaml").read_text())
    args = config["model"]["init_args"]["method"]["init_args"]
    m = Extension(**{**args, "task_probs": {"first": 1.0}})
    mask = m.condition_mask(4000, 21, WanLatentFrames(), torch.Generator().manual_seed(0))  # 81 frames: 21 latents
    counts = mask.sum(1)
    shares = {k: (counts == k).float().mean().item() for k in range(4)}
    assert set(counts.tolist()) == {0.0, 1.0, 2.0, 3.0}  # 0, 1-4, 5-8 and 9 pixel frames
    assert abs(shares[0] - 0.1) < 0.03 and abs(shares[3] - 0.1) < 0.03  # 0 and 9 of ten equally likely counts
    assert abs(shares[1] - 0.4) < 0.04 and abs(shares[2] - 0.4) < 0.04
    given = mask[counts > 0]
    assert (given.cumsum(1) == torch.arange(1, 22).clamp(max=given.sum(1, keepdim=True))).all()  # leading frames


def _batch():
    from lvg.data import ToyWorldData

    dm = ToyWorldData(resolution=16, frames_per_clip=4, batch_size=4, samples_per_epoch=4, max_sprites=2)
    return next(iter(dm.train_dataloader()))


def test_loss_ignores_condition_frames_and_overfits_one_batch(tiny_module):
    batch = _batch()
    method, bb = tiny_module.method, tiny_module.backbone
    method.task_probs = {"first": 1.0}
    opt = torch.optim.AdamW(bb.parameters(), lr=3e-3)
    losses = []
    for step in range(40):
        loss = method.loss(bb, batch, torch.Generator().manual_seed(step % 4))["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert sum(losses[-4:]) < 0.7 * sum(losses[:4])


def test_loss_weights_only_frames_to_generate(tiny_module, monkeypatch):
    batch = _batch()
    method, bb = tiny_module.method, tiny_module.backbone
    method.task_probs = {"first": 1.0}
    method.min_condition_frames = 2
    g = torch.Generator().manual_seed(0)
    base = method.loss(bb, batch, g)["loss"]
    real_predict = bb.predict

    def corrupt_given_frames(x, t, cond):
        out = real_predict(x, t, cond)
        return out + 100 * cond.mask[:, None, :, None, None]

    monkeypatch.setattr(bb, "predict", corrupt_given_frames)
    assert torch.allclose(method.loss(bb, batch, torch.Generator().manual_seed(0))["loss"], base)
    method.loss_on_condition = True
    assert method.loss(bb, batch, torch.Generator().manual_seed(0))["loss"] > 100


def _request(seed=0, clips=3):
    start = torch.rand(1, 3, 2, 16, 16, generator=torch.Generator().manual_seed(99)) * 2 - 1
    return GenerationRequest(start=start, prompts=["a red circle moving right"] * clips, frames_per_clip=4, seed=seed)


def test_generation_streams_start_then_new_frames_per_clip(tiny_module):
    req = _request()
    results = list(tiny_module.generate(req))
    assert [r.index for r in results] == [-1, 0, 1, 2]
    parts = frames(results)
    assert len(parts) == 4
    assert torch.equal(parts[0], req.start[0])
    assert all(p.shape == (3, 2, 16, 16) for p in parts[1:])  # 4 frames per clip, 2 given
    assert all(p.abs().max() <= 1 for p in parts)


def test_generation_is_seeded_and_each_clip_continues_the_last(tiny_module, monkeypatch):
    a = video(tiny_module.generate(_request(seed=3)))
    torch.manual_seed(123)  # global RNG state must not matter
    b = video(tiny_module.generate(_request(seed=3)))
    c = video(tiny_module.generate(_request(seed=4)))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)

    seen = []
    real = tiny_module.method.clip_condition

    def spy(backbone, cond_pixels, latent_frames):
        seen.append(cond_pixels.clone())
        return real(backbone, cond_pixels, latent_frames)

    monkeypatch.setattr(tiny_module.method, "clip_condition", spy)
    parts = frames(tiny_module.generate(_request(seed=3)))
    # clip 1 (index 1 in seen) is conditioned on the last two frames of clip 0 as generated
    assert torch.equal(seen[1][0], parts[1][:, -2:])


def test_condition_fill_zeros_or_nearest_given_frame():
    lat = torch.arange(6.0).view(1, 1, 6, 1, 1).repeat(3, 1, 1, 1, 1)
    mask = torch.tensor([[1.0, 1, 0, 0, 0, 0], [1.0, 0, 0, 0, 0, 1], [0.0, 0, 0, 0, 0, 0]])
    zeros = Extension(condition_fill="zeros").fill_condition(lat, mask).flatten(1)
    nearest = Extension(condition_fill="nearest").fill_condition(lat, mask).flatten(1)
    assert zeros.tolist() == [[0, 1, 0, 0, 0, 0], [0, 0, 0, 0, 0, 5], [0] * 6]
    assert nearest.tolist() == [[0, 1, 1, 1, 1, 1], [0, 0, 0, 5, 5, 5], [0] * 6]
    with pytest.raises(LvgError):
        Extension(condition_fill="mean")


@pytest.mark.parametrize("mean, low, high", [(2.0, 0.8, 1.0), (-2.0, 0.0, 0.2)])
def test_logit_normal_mean_moves_the_training_times(tiny_module, monkeypatch, mean, low, high):
    import lvg.methods.extension as extension

    seen = []
    real = extension.noised_and_target
    monkeypatch.setattr(extension, "noised_and_target", lambda bb, x0, n, t: seen.append(t) or real(bb, x0, n, t))
    method = Extension(timestep_sampling="logit_normal", logit_normal=(mean, 0.5))
    for step in range(8):
        method.loss(tiny_module.backbone, _batch(), torch.Generator().manual_seed(step))
    t = torch.cat(seen)
    assert low < t.mean().item() < high  # t = 1 is noise: a positive mean trains mostly at high noise
    with pytest.raises(LvgError):
        Extension(logit_normal=(0.0, 0.0))


def _training_times(module, monkeypatch, method: Extension, steps: int = 16) -> torch.Tensor:
    import lvg.methods.extension as extension

    seen = []
    real = extension.noised_and_target
    monkeypatch.setattr(
        extension, "noised_and_target", lambda bb, x0, n, t: seen.append(t[:, 0]) or real(bb, x0, n, t)
    )
    for step in range(steps):
        method.loss(module.backbone, _batch(), torch.Generator().manual_seed(step))
    return torch.cat(seen)


def test_uniform_time_share_reaches_the_low_times_a_high_logit_normal_mean_skips(tiny_module, monkeypatch):
    pure = _training_times(
        tiny_module, monkeypatch, Extension(timestep_sampling="logit_normal", logit_normal=(2.0, 0.5))
    )
    mixed = Extension(timestep_sampling="logit_normal", logit_normal=(2.0, 0.5), uniform_time_share=0.5)
    mixed_t = _training_times(tiny_module, monkeypatch, mixed)
    assert (pure < 0.5).sum() == 0  # sigmoid(2 - 3 * 0.5) = 0.62: the pure density never goes this low
    assert (mixed_t < 0.5).float().mean() > 0.1  # half the samples uniform: about a quarter below 0.5
    assert (mixed_t > 0.8).float().mean() > 0.3  # the other half still logit-normal


def test_uniform_time_share_zero_keeps_the_random_stream(tiny_module, monkeypatch):
    plain = Extension(timestep_sampling="logit_normal", logit_normal=(0.8, 0.8))
    zero = Extension(timestep_sampling="logit_normal", logit_normal=(0.8, 0.8), uniform_time_share=0.0)
    gen = lambda: torch.Generator().manual_seed(5)  # noqa: E731
    a = plain.loss(tiny_module.backbone, _batch(), gen())["loss"]
    b = zero.loss(tiny_module.backbone, _batch(), gen())["loss"]
    assert torch.equal(a, b)  # configs without the option train exactly as before it existed


def test_uniform_time_share_refuses_what_it_cannot_mean():
    with pytest.raises(LvgError, match="every time is uniform already"):
        Extension(timestep_sampling="uniform", uniform_time_share=0.2)
    with pytest.raises(LvgError, match="uniform_time_share must be in"):
        Extension(timestep_sampling="logit_normal", uniform_time_share=1.5)


def test_own_step_inputs_are_one_euler_step_of_the_model_and_targets_still_give_the_true_clip(tiny_module):
    backbone = tiny_module.backbone
    method = Extension(own_step_prob=1.0, own_step_gap=0.5)
    torch.manual_seed(0)
    x0 = torch.randn(2, 3, 4, 16, 16)
    t = torch.tensor([0.2, 0.6])
    x_t, target = x0 + 1, torch.zeros_like(x0)  # the plain pair, which every sample must leave
    mask = torch.zeros(2, 4)
    mask[:, :2] = 1
    cond = backbone.conditioning(["a red circle moving right"] * 2, method.fill_condition(x0, mask), mask)
    own, own_target = method.own_step(backbone, x0, x_t, target, t, cond, torch.Generator().manual_seed(3))
    g = torch.Generator().manual_seed(3)
    torch.rand(2, generator=g)  # the pick
    t_back = t + 0.5 * torch.rand(2, generator=g) * (1 - t)
    noise = torch.randn(x0.shape, generator=g)
    rows = t_back[:, None].expand(2, 4)
    x_back = (1 - rows[:, None, :, None, None]) * x0 + rows[:, None, :, None, None] * noise
    with torch.no_grad():
        v = backbone.predict(x_back, rows, cond)
    torch.testing.assert_close(own, x_back + (t - t_back)[:, None, None, None, None] * v)
    torch.testing.assert_close(own - t[:, None, None, None, None] * own_target, x0)  # x_t - t v is the true clip
    assert (t_back > t).all() and (t_back <= t + 0.5 * (1 - t)).all()
    assert (own - x_back).abs().mean() > 0  # the model's step moved it: not the true noised clip at t


def test_own_step_count_takes_that_many_equal_euler_steps_from_the_higher_time(tiny_module):
    backbone = tiny_module.backbone
    method = Extension(own_step_prob=1.0, own_step_gap=1.0, own_step_count=2)
    torch.manual_seed(0)
    x0 = torch.randn(2, 3, 4, 16, 16)
    t = torch.tensor([0.2, 0.6])
    mask = torch.zeros(2, 4)
    mask[:, :2] = 1
    cond = backbone.conditioning(["a red circle moving right"] * 2, method.fill_condition(x0, mask), mask)
    own, own_target = method.own_step(
        backbone, x0, x0 + 1, torch.zeros_like(x0), t, cond, torch.Generator().manual_seed(3)
    )
    g = torch.Generator().manual_seed(3)
    torch.rand(2, generator=g)  # the pick
    t_back = t + torch.rand(2, generator=g) * (1 - t)
    noise = torch.randn(x0.shape, generator=g)
    t_mid = (t_back + t) / 2
    x = (1 - t_back[:, None, None, None, None]) * x0 + t_back[:, None, None, None, None] * noise
    with torch.no_grad():
        for t_from, t_to in ((t_back, t_mid), (t_mid, t)):
            v = backbone.predict(x, t_from[:, None].expand(2, 4), cond)
            x = x + (t_to - t_from)[:, None, None, None, None] * v
    torch.testing.assert_close(own, x)
    torch.testing.assert_close(own - t[:, None, None, None, None] * own_target, x0)
    one = Extension(own_step_prob=1.0, own_step_gap=1.0).own_step(
        backbone, x0, x0 + 1, torch.zeros_like(x0), t, cond, torch.Generator().manual_seed(3)
    )[0]
    assert (own - one).abs().mean() > 1e-4  # two steps are not the single step
    with pytest.raises(LvgError, match="own_step_count must be at least 1"):
        Extension(own_step_count=0)


def test_own_step_trains_and_zero_keeps_the_random_stream(tiny_module):
    gen = lambda: torch.Generator().manual_seed(5)  # noqa: E731
    plain = Extension().loss(tiny_module.backbone, _batch(), gen())["loss"]
    assert torch.equal(plain, Extension(own_step_prob=0.0).loss(tiny_module.backbone, _batch(), gen())["loss"])
    was_training = tiny_module.backbone.training
    tiny_module.backbone.train()
    own = Extension(own_step_prob=1.0).loss(tiny_module.backbone, _batch(), gen())["loss"]
    assert torch.isfinite(own) and not torch.equal(own, plain)
    own.backward()
    grads = [p.grad for p in tiny_module.backbone.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    tiny_module.backbone.zero_grad()
    tiny_module.backbone.eval()
    evaluated = Extension(own_step_prob=1.0).loss(tiny_module.backbone, _batch(), gen())["loss"]
    tiny_module.backbone.train(was_training)
    assert torch.equal(evaluated, plain)  # validation measures the plain objective


def test_own_step_refuses_what_it_cannot_do():
    from types import SimpleNamespace

    with pytest.raises(LvgError, match="own_step_prob must be in"):
        Extension(own_step_prob=1.5)
    with pytest.raises(LvgError, match="own_step_gap must be in"):
        Extension(own_step_gap=0.0)
    parts = SimpleNamespace(backbone=SimpleNamespace(prediction_type="v", capabilities=frozenset()))
    with pytest.raises(LvgError, match="Euler step of the flow"):
        Extension(own_step_prob=0.5).check(parts)


def _conditions_seen(backbone, method, monkeypatch, training: bool):
    """The condition latents and mask `method.loss` gives the backbone on `_batch()`, the backbone in train mode
    or not (`training`)."""
    seen = {}
    conditioning = backbone.conditioning

    def spy(prompts, latents, mask, **kw):
        seen["latents"], seen["mask"] = latents.detach().clone(), mask.clone()
        return conditioning(prompts, latents, mask, **kw)

    was_training = backbone.training
    with monkeypatch.context() as patch:
        patch.setattr(backbone, "conditioning", spy)
        backbone.train(training)
        try:
            method.loss(backbone, _batch(), torch.Generator().manual_seed(5))
        finally:
            backbone.train(was_training)
    return seen


def test_condition_offset_shifts_each_samples_given_frames_by_one_constant_per_channel(tiny_module, monkeypatch):
    backbone = tiny_module.backbone
    plain = _conditions_seen(backbone, Extension(task_probs={"first": 1.0}), monkeypatch, training=True)
    method = Extension(task_probs={"first": 1.0}, condition_offset_std=0.1)
    shifted = _conditions_seen(backbone, method, monkeypatch, training=True)
    assert torch.equal(plain["mask"], shifted["mask"])
    diff = shifted["latents"] - plain["latents"]  # [B, C, f, h, w]
    given = (plain["mask"] > 0)[:, None, :, None, None].expand_as(diff)
    per_channel = diff[:, :, :1, :1, :1].expand_as(diff)  # the first frame is given in the `first` task
    assert torch.allclose(diff[given], per_channel[given], atol=1e-6)  # one constant per sample and channel
    assert torch.equal(diff[~given], torch.zeros_like(diff[~given]))  # the zero-filled frames stay zero
    assert per_channel.abs().min() > 0 and per_channel[:, :, 0, 0, 0].std() > 0.02  # drawn, not one for all
    evaluated = _conditions_seen(backbone, method, monkeypatch, training=False)
    assert torch.equal(evaluated["latents"], plain["latents"])  # validation measures the plain objective


def test_condition_offset_zero_keeps_the_random_stream_and_the_target_is_the_true_clip(tiny_module, monkeypatch):
    gen = lambda: torch.Generator().manual_seed(5)  # noqa: E731
    backbone = tiny_module.backbone
    plain = Extension().loss(backbone, _batch(), gen())["loss"]
    assert torch.equal(plain, Extension(condition_offset_std=0.0).loss(backbone, _batch(), gen())["loss"])
    inputs = []
    predict = backbone.predict
    monkeypatch.setattr(
        backbone, "predict", lambda x, t, cond: inputs.append((x.clone(), t.clone())) or predict(x, t, cond)
    )
    was_training = backbone.training
    backbone.train()
    Extension().loss(backbone, _batch(), gen())
    Extension(condition_offset_std=0.1).loss(backbone, _batch(), gen())
    backbone.train(was_training)
    (x_plain, t_plain), (x_shifted, t_shifted) = inputs
    assert torch.equal(t_plain, t_shifted)
    # the same noised true clip (and so the same target): only the condition moved
    assert torch.equal(x_plain, x_shifted)
    with pytest.raises(LvgError, match="condition_offset_std must be >= 0"):
        Extension(condition_offset_std=-0.1)
    from types import SimpleNamespace

    guide_backbone = SimpleNamespace(prediction_type="flow", capabilities=frozenset({GUIDE_IMAGE}))
    parts = SimpleNamespace(backbone=guide_backbone, names=lambda *objects: "Extension on a guide backbone")
    with pytest.raises(LvgError, match="condition_offset_std shifts the given condition frames"):
        Extension(condition_offset_std=0.1).check(parts)
    Extension().check(parts)  # the option off: the same backbone is fine


def _masked_batch():
    from lvg.data import ToyWorldData

    dm = ToyWorldData(resolution=16, frames_per_clip=4, batch_size=4, samples_per_epoch=4, sprite_masks=True)
    return next(iter(dm.train_dataloader()))


def _dilated(mask: torch.Tensor, margin: int) -> torch.Tensor:
    """Each pixel within `margin` pixels (square neighbourhood) of a covered one, by explicit shifts."""
    out = mask.clone()
    h, w = mask.shape[-2:]
    for dy in range(-margin, margin + 1):
        for dx in range(-margin, margin + 1):
            shifted = torch.zeros_like(mask)
            ys, yd = slice(max(0, -dy), h - max(0, dy)), slice(max(0, dy), h - max(0, -dy))
            xs, xd = slice(max(0, -dx), w - max(0, dx)), slice(max(0, dx), w - max(0, -dx))
            shifted[..., yd, xd] = mask[..., ys, xs]
            out = torch.maximum(out, shifted)
    return out


def _velocity_error(backbone, monkeypatch, method: Extension, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """`method`'s loss on `batch` (generator seed 5) and the velocity error it was computed from [B, C, F, H, W]: the
    backbone's prediction minus the flow target n - x0, both recorded from its `predict` call."""
    seen, predict = {}, backbone.predict

    def spy(x_t, t, cond):
        seen.update(x_t=x_t, t=t, pred=predict(x_t, t, cond))
        return seen["pred"]

    monkeypatch.setattr(backbone, "predict", spy)
    loss = method.loss(backbone, batch, torch.Generator().manual_seed(5))["loss"]
    target = (seen["x_t"] - batch["video"]) / seen["t"][:, None, :, None, None]  # the flow target n - x0
    return loss, seen["pred"] - target


@pytest.mark.parametrize("margin", [0, 2])
def test_sprite_loss_weight_is_the_pixel_weighted_mean_of_the_velocity_error(tiny_module, monkeypatch, margin):
    backbone, batch = tiny_module.backbone, _masked_batch()
    method = Extension(loss_on_condition=True, sprite_loss_weight=3.0, sprite_loss_margin=margin)
    loss, velocity_error = _velocity_error(backbone, monkeypatch, method, batch)
    error = velocity_error.pow(2).mean(1)  # [B, F, H, W]
    covered = _dilated(batch["sprite_mask"], margin)
    assert batch["sprite_mask"].sum() > 0 and (covered.sum() > batch["sprite_mask"].sum()) == (margin > 0)
    weight = 1 + 3.0 * covered
    expected = ((error * weight).sum((2, 3)) / weight.sum((2, 3))).mean()
    torch.testing.assert_close(loss, expected)
    plain = Extension(loss_on_condition=True).loss(backbone, batch, torch.Generator().manual_seed(5))["loss"]
    assert not torch.allclose(loss, plain)  # the sprites' pixels count more than the plain mean gives them


def test_sprite_loss_given_also_weights_where_the_last_given_frames_sprites_were(tiny_module, monkeypatch):
    backbone, batch = tiny_module.backbone, _masked_batch()
    given = torch.tensor([[1.0, 1, 0, 0], [1, 0, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0]])  # last given: 1, 0, 1, none
    monkeypatch.setattr(Extension, "condition_mask", lambda *args: given.clone())
    method = Extension(loss_on_condition=True, sprite_loss_weight=3.0, sprite_loss_margin=1, sprite_loss_given=True)
    loss, velocity_error = _velocity_error(backbone, monkeypatch, method, batch)
    covered = _dilated(batch["sprite_mask"], 1)
    last = torch.stack([covered[0, 1], covered[1, 0], covered[2, 1], torch.zeros_like(covered[3, 0])])
    weight = 1 + 3.0 * torch.maximum(covered, last[:, None])
    error = velocity_error.pow(2).mean(1)
    torch.testing.assert_close(loss, ((error * weight).sum((2, 3)) / weight.sum((2, 3))).mean())
    assert (torch.maximum(covered, last[:, None]) > covered).any()  # the sprites moved: new pixels are weighted
    with pytest.raises(LvgError, match="set sprite_loss_weight too"):
        Extension(sprite_loss_given=True)


def test_sprite_loss_weight_refuses_latent_backbones_and_batches_without_masks(tiny_module):
    from types import SimpleNamespace

    with pytest.raises(LvgError, match="sprite_loss_weight must be"):
        Extension(sprite_loss_weight=-1)
    with pytest.raises(LvgError, match="set sprite_loss_weight too"):
        Extension(sprite_loss_margin=2)
    latent = SimpleNamespace(prediction_type="flow", capabilities=frozenset({"condition_frames"}))
    with pytest.raises(LvgError, match="pixel space"):
        Extension(sprite_loss_weight=2.0).check(SimpleNamespace(backbone=latent))
    assert "pixel_space" in tiny_module.backbone.capabilities  # the toy's latents are its pixels
    with pytest.raises(LvgError, match="sprite_masks: true"):
        Extension(sprite_loss_weight=2.0).loss(tiny_module.backbone, _batch(), torch.Generator().manual_seed(0))


def test_mean_loss_weight_adds_the_squared_frame_mean_error_per_channel(tiny_module, monkeypatch):
    backbone, batch = tiny_module.backbone, _batch()
    method = Extension(loss_on_condition=True, mean_loss_weight=7.0)
    loss, error = _velocity_error(backbone, monkeypatch, method, batch)  # error: [B, C, F, H, W]
    squares = error.pow(2).mean(dim=(1, 3, 4))
    frame_means = error.mean(dim=(3, 4)).pow(2).mean(dim=1)  # [B, F]
    assert frame_means.mean() > 1e-4 * squares.mean()  # the term is not vanishingly small here
    torch.testing.assert_close(loss, (squares + 7.0 * frame_means).mean())
    plain = Extension(loss_on_condition=True).loss(backbone, batch, torch.Generator().manual_seed(5))["loss"]
    torch.testing.assert_close(plain, squares.mean())  # 0 is the plain mean of squares, on the same random stream
    with pytest.raises(LvgError, match="mean_loss_weight must be >= 0"):
        Extension(mean_loss_weight=-1.0)

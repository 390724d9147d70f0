"""The replacement baselines (progressive paper eq. 3 and eq. 4): what the model sees, training and generation."""

import pytest
import torch

from lvg import LongVideoModule
from lvg.backbones import Toy
from lvg.errors import LvgError
from lvg.methods import GenerationRequest, ReplacementWithNoise, ReplacementWithoutNoise
from lvg.sampling import SchedulerSampler


def module(tiny_toy_dir, method, steps=4):
    return LongVideoModule(Toy(path=str(tiny_toy_dir)), method, SchedulerSampler(steps), frames_per_clip=4,
                           height=16, width=16)  # fmt: skip


def request(clips=2, seed=0):
    start = torch.rand(1, 3, 2, 16, 16, generator=torch.Generator().manual_seed(7)) * 2 - 1
    return GenerationRequest(start, ["a red circle moving right"] * clips, 4, seed=seed)


def spy_predict(bb, monkeypatch):
    calls = []
    real = bb.predict

    def spy(x, t, cond):
        calls.append((x.clone(), t.clone()))
        return real(x, t, cond)

    monkeypatch.setattr(bb, "predict", spy)
    return calls


def test_with_noise_replaces_condition_frames_by_fresh_noisy_copies_at_the_current_level(tiny_toy_dir, monkeypatch):
    m = module(tiny_toy_dir, ReplacementWithNoise(condition_frames=2))
    calls = spy_predict(m.backbone, monkeypatch)
    req = request(1)
    parts = [r.frames for r in m.generate(req)]
    given = req.start
    residuals = []
    for x, t in calls:
        assert torch.equal(t, t[:, :1].expand_as(t))  # every frame at the sampler's level (eq. 3)
        level = t[0, 0]
        noise = (x[:, :, :2] - (1 - level) * given) / level  # x_t = (1 - t) x0 + t n
        assert 0.8 < noise.std() < 1.2 and noise.mean().abs() < 0.2
        residuals.append(noise)
    assert not torch.allclose(residuals[0], residuals[1])  # fresh noise at each step
    assert [p.shape[1] for p in parts] == [2, 2]


def test_without_noise_keeps_condition_frames_clean_at_level_zero(tiny_toy_dir, monkeypatch):
    m = module(tiny_toy_dir, ReplacementWithoutNoise(condition_frames=2))
    calls = spy_predict(m.backbone, monkeypatch)
    req = request(2)
    results = list(m.generate(req))
    parts = [r.frames for r in results]
    assert len(calls) == 2 * 4
    for x, t in calls[:4]:
        assert torch.equal(x[:, :, :2], req.start) and (t[:, :2] == 0).all() and (t[:, 2:] > 0).all()
    # clip 1 is conditioned on the last two frames of clip 0 as generated
    assert torch.allclose(calls[4][0][0, :, :2], parts[1], atol=1e-6)
    assert torch.equal(results[-1].carry, parts[2][None].cpu())


@pytest.mark.parametrize("method", [ReplacementWithNoise, ReplacementWithoutNoise])
def test_generation_is_seeded_and_resumes(tiny_toy_dir, method):
    m = module(tiny_toy_dir, method(), steps=2)
    a = [r.frames for r in m.generate(request(3, seed=1))]
    b = [r.frames for r in m.generate(request(3, seed=1))]
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    resumed = request(3, seed=1)
    resumed.first_clip, resumed.carry = 2, a[2][:, -2:][None]
    assert torch.allclose(next(iter(m.generate(resumed))).frames, a[3], atol=1e-6)


def _batch():
    from lvg.data import ToyWorldData

    dm = ToyWorldData(resolution=16, frames_per_clip=4, batch_size=2, samples_per_epoch=2, max_sprites=2)
    return next(iter(dm.train_dataloader()))


def test_training_levels_and_loss_masks(tiny_toy_dir, monkeypatch):
    batch = _batch()
    noisy, clean = module(tiny_toy_dir, ReplacementWithNoise()), module(tiny_toy_dir, ReplacementWithoutNoise())
    for m in (noisy, clean):
        calls = spy_predict(m.backbone, monkeypatch)
        losses = [m.method.loss(m.backbone, batch, torch.Generator().manual_seed(s))["loss"] for s in range(6)]
        ts = [t for _, t in calls]
        if m is noisy:
            assert all(torch.equal(t, t[:, :1].expand_as(t)) for t in ts)  # one level for all frames
        else:
            assert {int((t[0] == 0).sum()) for t in ts} == {1, 2}  # 1 or 2 clean condition frames
            real = m.backbone.predict

            def corrupt_clean(x, t, cond, real=real):
                return real(x, t, cond) + 100 * (t == 0)[:, None, :, None, None]

            monkeypatch.setattr(m.backbone, "predict", corrupt_clean)
            again = [m.method.loss(m.backbone, batch, torch.Generator().manual_seed(s))["loss"] for s in range(6)]
            assert all(torch.allclose(a, b) for a, b in zip(losses, again))  # no loss on the given frames


@pytest.mark.parametrize("method", [ReplacementWithNoise, ReplacementWithoutNoise])
def test_training_steps_reduce_the_loss(tiny_toy_dir, method):
    m = module(tiny_toy_dir, method())
    batch = _batch()
    opt = torch.optim.AdamW(m.backbone.parameters(), lr=3e-3)
    losses = []
    for step in range(20):
        loss = m.method.loss(m.backbone, batch, torch.Generator().manual_seed(step % 3))["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert sum(losses[-3:]) < 0.8 * sum(losses[:3])


def test_bad_settings_are_one_line_errors(tiny_toy_dir):
    with pytest.raises(LvgError, match="leaves no frame to generate"):
        module(tiny_toy_dir, ReplacementWithNoise(condition_frames=4))
    with pytest.raises(LvgError, match="min_condition_frames"):
        ReplacementWithoutNoise(condition_frames=1, min_condition_frames=2)

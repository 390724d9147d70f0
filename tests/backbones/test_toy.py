import pytest
import torch
from diffusers import WanTransformer3DModel

from lvg.backbones import Condition, Toy
from lvg.backbones.extension import add_extension_channels, extension_input
from lvg.errors import LvgError


def _inputs(backbone, seed=0, frames=4, size=16):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 3, frames, size, size, generator=g)
    cond = backbone.conditioning(["a red circle moving right", "a blue square moving up"])
    return x, cond


def test_save_and_load_round_trip_through_from_pretrained(tiny_toy_dir, tmp_path):
    a = Toy(path=str(tiny_toy_dir))
    x, cond = _inputs(a)
    t = torch.full((2, 4), 0.5)
    a.save_pretrained(tmp_path / "again")
    b = Toy(path=str(tmp_path / "again"))
    assert (tmp_path / "again" / "transformer" / "diffusion_pytorch_model.safetensors").is_file()
    assert torch.equal(a.predict(x, t, cond), b.predict(x, t, cond))
    assert b.is_extension and b.transformer.config.in_channels == 7


def test_equal_rows_give_the_scalar_timestep_output(tiny_toy_dir):
    bb = Toy(path=str(tiny_toy_dir))
    x, cond = _inputs(bb)
    rows = torch.full((2, 4), 0.3)
    ours = bb.predict(x, rows, cond)
    x_in = extension_input(x, None, None)
    scalar = bb.transformer(x_in, timestep=torch.full((2,), 0.3 * 1000), encoder_hidden_states=cond.text)[0]
    assert torch.allclose(ours, scalar, atol=1e-5)  # same values; matmul shapes differ, so not bit-equal


def test_per_frame_times_act_per_frame(tiny_toy_dir):
    bb = Toy(path=str(tiny_toy_dir))
    x, cond = _inputs(bb)
    base = torch.full((2, 4), 0.5)
    changed = base.clone()
    changed[:, 3] = 0.9
    a, b = bb.predict(x, base, cond), bb.predict(x, changed, cond)
    assert not torch.allclose(a[:, :, 3], b[:, :, 3])


def test_extension_channels_start_at_zero_so_the_model_is_unchanged():
    torch.manual_seed(0)
    plain = WanTransformer3DModel(
        patch_size=(1, 4, 4),
        num_attention_heads=2,
        attention_head_dim=16,
        in_channels=3,
        out_channels=3,
        text_dim=8,
        freq_dim=32,
        ffn_dim=32,
        num_layers=1,
    )
    x = torch.randn(1, 3, 2, 8, 8)
    text = torch.randn(1, 1, 8)
    before = plain(x, timestep=torch.tensor([500.0]), encoder_hidden_states=text)[0]
    add_extension_channels(plain, 3)
    assert plain.config.in_channels == 7
    cond_latents, mask = torch.randn(1, 3, 2, 8, 8), torch.tensor([[1.0, 0.0]])
    after = plain(extension_input(x, cond_latents, mask), timestep=torch.tensor([500.0]), encoder_hidden_states=text)[
        0
    ]
    assert torch.allclose(before, after, atol=1e-6)
    add_extension_channels(plain, 3)  # idempotent
    assert plain.patch_embedding.in_channels == 7


def test_condition_frames_reach_the_model(tiny_toy_dir):
    bb = Toy(path=str(tiny_toy_dir))
    with torch.no_grad():  # a trained model has non-zero condition weights; emulate that
        bb.transformer.patch_embedding.weight[:, 3:].normal_()
    x, cond = _inputs(bb)
    t = torch.full((2, 4), 0.5)
    latents = torch.randn_like(x)
    mask = torch.tensor([[1.0, 1.0, 0.0, 0.0]] * 2)
    with_cond = bb.predict(x, t, Condition(cond.text, latents, mask))
    assert not torch.allclose(with_cond, bb.predict(x, t, cond))


def test_bad_shapes_and_paths_give_one_line_errors(tiny_toy_dir, tmp_path):
    bb = Toy(path=str(tiny_toy_dir))
    with pytest.raises(LvgError, match="not divisible"):
        bb.check_clip(4, 18, 16)
    bb.check_clip(5, 16, 16)  # pixel space: any frame count
    with pytest.raises(LvgError, match="not found"):
        Toy(path=str(tmp_path / "nothing"))
    with pytest.raises(LvgError, match="divisible by heads"):
        Toy(width=30, heads=4)


def test_x0_output_is_turned_into_the_velocity_and_saved_with_the_weights(tiny_toy_dir, tmp_path):
    vel = Toy(path=str(tiny_toy_dir))
    x0 = Toy(path=str(tiny_toy_dir), output="x0", min_t=0.1)
    x, cond = _inputs(vel)
    t = torch.tensor([[0.5, 0.5, 0.8, 0.02], [0.3, 0.3, 0.3, 0.3]])
    raw = vel.predict(x, t, cond)  # the same network: its raw output, read as x0 by the other
    v = x0.predict(x, t, cond)
    t_div = t.clamp(min=0.1)[:, None, :, None, None]
    assert torch.allclose(x - t_div * v, raw, atol=1e-5)  # x0 = x_t - t v recovers the raw output
    assert not torch.allclose(v, raw)
    x0.save_pretrained(tmp_path / "x0")
    again = Toy(path=str(tmp_path / "x0"))
    assert (again.output, again.min_t) == ("x0", 0.1)
    assert torch.equal(again.predict(x, t, cond), v)
    with pytest.raises(LvgError, match="not one of"):
        Toy(width=32, heads=2, output="eps")


def test_a_fresh_residual_model_is_the_linear_denoiser_around_the_condition(tmp_path):
    torch.manual_seed(0)
    bb = Toy(width=32, layers=1, heads=2, output="residual", sigma_data=0.4)
    g = torch.Generator().manual_seed(3)
    x, base = torch.randn(1, 3, 4, 16, 16, generator=g), torch.randn(1, 3, 4, 16, 16, generator=g)
    cond = bb.conditioning(["a red circle moving right"], base, torch.tensor([[1.0, 1.0, 0.0, 0.0]]))
    t = torch.tensor([[0.2, 0.5, 0.9, 1.0]])
    x0_hat = x - t[:, None, :, None, None] * bb.predict(x, t, cond)
    tt, s2 = t[:, None, :, None, None], 0.4**2
    c_skip = (1 - tt) * s2 / ((1 - tt) ** 2 * s2 + tt**2)
    assert torch.allclose(x0_hat, base + c_skip * (x - (1 - tt) * base), atol=1e-5)  # zero output layer
    bb.save_pretrained(tmp_path / "residual")
    again = Toy(path=str(tmp_path / "residual"))
    assert (again.output, again.sigma_data) == ("residual", 0.4)
    assert torch.equal(again.predict(x, t, cond), bb.predict(x, t, cond))


def test_a_trained_residual_model_reads_its_raw_output_as_the_preconditioned_residual(tiny_toy_dir):
    raw_model = Toy(path=str(tiny_toy_dir))  # velocity output: predict() is the raw network output
    bb = Toy(path=str(tiny_toy_dir), output="residual", sigma_data=0.5)
    x, _ = _inputs(bb)
    base = torch.randn(x.shape, generator=torch.Generator().manual_seed(5))
    cond = bb.conditioning(["a", "b"], base, torch.tensor([[1.0, 0, 0, 0], [1.0, 1.0, 0, 0]]))
    t = torch.tensor([[0.3, 0.3, 0.3, 0.3], [0.9, 0.9, 0.9, 0.9]])
    raw = raw_model.predict(x, t, cond)
    tt = t[:, None, :, None, None]
    d = (1 - tt) ** 2 * 0.25 + tt**2
    expected = base + (1 - tt) * 0.25 / d * (x - (1 - tt) * base) + tt * 0.5 / d.sqrt() * raw
    assert raw.abs().mean() > 0.01
    assert torch.allclose(x - tt * bb.predict(x, t, cond), expected, atol=1e-5)


def test_x0_residual_output_adds_the_condition_latents_to_the_x0_estimate(tiny_toy_dir):
    raw_model = Toy(path=str(tiny_toy_dir))
    bb = Toy(path=str(tiny_toy_dir), output="x0_residual", min_t=0.1)
    x, _ = _inputs(bb)
    base = torch.randn(x.shape, generator=torch.Generator().manual_seed(6))
    cond = bb.conditioning(["a", "b"], base, torch.tensor([[1.0, 0, 0, 0], [1.0, 1.0, 0, 0]]))
    t = torch.tensor([[0.5, 0.5, 0.5, 0.5], [0.2, 0.2, 0.2, 0.2]])
    tt = t[:, None, :, None, None]
    assert torch.allclose(x - tt * bb.predict(x, t, cond), raw_model.predict(x, t, cond) + base, atol=1e-5)
    plain = bb.conditioning(["a", "b"])  # no condition: the plain x0 output
    assert torch.allclose(x - tt * bb.predict(x, t, plain), raw_model.predict(x, t, plain), atol=1e-5)


def test_text_clauses_give_one_token_per_clause_and_are_saved_with_the_weights(tiny_toy_dir, tmp_path):
    whole = Toy(path=str(tiny_toy_dir))
    assert whole.text_clauses == 1  # a checkpoint that records none reads as one token
    bb = Toy(path=str(tiny_toy_dir), text_clauses=2)
    two = "a red circle moving right and a blue square moving up"
    text = bb.encode_prompts([two, "a red circle moving right"])
    assert text.shape == (2, 2, bb.text_encoder.dim)
    assert torch.equal(text[1, 0], text[0, 0])  # the same clause, the same token, whatever follows it
    assert torch.equal(text[1, 1], torch.zeros(bb.text_encoder.dim))  # padded past the prompt's clauses
    assert not torch.allclose(text[0, 1], text[0, 0])
    pooled = whole.encode_prompts([two])
    assert pooled.shape == (1, 1, bb.text_encoder.dim) and not torch.allclose(pooled[0, 0], text[0, 0], atol=1e-3)
    three = bb.text_encoder.split("a red circle and a blue square and a green diamond")
    assert three == ["a red circle", "a blue square and a green diamond"]  # the last clause keeps the rest
    x = torch.randn(1, 3, 4, 16, 16, generator=torch.Generator().manual_seed(0))
    t = torch.full((1, 4), 0.5)
    assert not torch.equal(bb.predict(x, t, bb.conditioning([two])), bb.predict(x, t, bb.conditioning([two[:25]])))
    bb.save_pretrained(tmp_path / "clauses")
    again = Toy(path=str(tmp_path / "clauses"))
    assert again.text_clauses == 2
    assert torch.equal(again.encode_prompts([two]), text[:1])
    with pytest.raises(LvgError, match="text clauses must be at least 1"):
        Toy(path=str(tiny_toy_dir), text_clauses=0)

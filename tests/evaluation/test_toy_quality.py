from types import SimpleNamespace

import torch

from lvg.contracts import ClipResult
from lvg.data.toy_world import HELD_OUT_SEEDS, true_long_video
from lvg.evaluation.toy_quality import evaluate_toy_drift
from lvg.seeding import CLIP_STRIDE, evaluation_seed


class ReplayModule:
    """Stands in for a model: replays the world's true frames (`frozen`: holds the guide still instead), in the
    chunks `LongVideoModule.generate` yields ([3, n, H, W] in [-1, 1], the given frames first)."""

    def __init__(self, frozen: bool = False, background: str = "flat") -> None:
        self.method = SimpleNamespace(condition_frames=2)
        self.frames_per_clip, self.height, self.frozen, self.background = 6, 32, frozen, background
        self.prompts: list[str] = []

    def generate(self, request):
        self.prompts += request.prompts
        frames, _ = true_long_video(request.seed, len(request.prompts), 6, 2, 32, background=self.background)
        if self.frozen:
            frames = frames[1:2].expand_as(frames)
        parts = (frames * 2 - 1).permute(1, 0, 2, 3).split(4, dim=1)
        yield from (ClipResult(i - 1, part) for i, part in enumerate(parts))


def test_the_true_video_scores_the_truth_and_a_frozen_guide_scores_the_still_reference():
    true = evaluate_toy_drift(ReplayModule(), num_seeds=3, num_clips=3)
    frozen = evaluate_toy_drift(ReplayModule(frozen=True), num_seeds=3, num_clips=3)
    curves = true["curves"]
    assert curves["mass"] == curves["true_mass"] and max(curves["background"]) < 1e-6
    assert min(curves["size"]) == 1.0
    assert max(curves["position"]) < 1.0  # centroids of the true sprites, up to occlusion
    assert min(curves["still_position"]) > 2.0  # the sprites moved away from where the guide shows them
    assert torch.allclose(torch.tensor(frozen["curves"]["position"]), torch.tensor(curves["still_position"]))
    assert frozen["first_clip_position_error"] == frozen["first_clip_still_position_error"]


def test_the_held_out_worlds_take_the_background_kind_asked_for():
    """With `background: named` the truth and the prompts are the named-background worlds': their replay scores no
    background error, the flat worlds' replay (same sprites, other colours) does."""
    named = ReplayModule(background="named")
    on_named = evaluate_toy_drift(named, num_seeds=3, num_clips=2, background="named")
    assert on_named["background"] == "named" and max(on_named["curves"]["background"]) < 1e-6
    assert all(prompt.endswith(" background") for prompt in named.prompts)
    flat_on_named = evaluate_toy_drift(ReplayModule(), num_seeds=3, num_clips=2, background="named")
    assert min(flat_on_named["curves"]["background"]) > 0.01
    assert flat_on_named["curves"]["position"] == on_named["curves"]["position"]  # the same sprites


class NoiseSeedModule(ReplayModule):
    """Replays the world its request's seed names (`lvg.seeding.evaluation_seed`), the truth under noise seed 0 and
    the guide held still under noise seed 1, and records the seeds it was asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[int] = []

    def generate(self, request):
        self.asked.append(request.seed)
        noise_seed, world = divmod(request.seed, CLIP_STRIDE)
        self.frozen = noise_seed == 1
        yield from super().generate(SimpleNamespace(seed=world, prompts=request.prompts))


def test_each_world_runs_once_per_noise_seed_and_the_curves_pool_the_runs():
    module = NoiseSeedModule()
    both = evaluate_toy_drift(module, num_seeds=2, num_clips=2, noise_seeds=2)
    worlds = [HELD_OUT_SEEDS.start, HELD_OUT_SEEDS.start + 1]
    assert module.asked == [evaluation_seed(n, w) for w in worlds for n in (0, 1)]
    assert both["noise_seeds"] == [0, 1] and len(both["per_seed"]["mass"]) == 4
    true = evaluate_toy_drift(ReplayModule(), num_seeds=2, num_clips=2)
    frozen = evaluate_toy_drift(ReplayModule(frozen=True), num_seeds=2, num_clips=2)
    assert both["per_seed"]["position"][0::2] == true["per_seed"]["position"]
    assert both["per_seed"]["position"][1::2] == frozen["per_seed"]["position"]
    pooled = (torch.tensor(true["curves"]["background"]) + torch.tensor(frozen["curves"]["background"])) / 2
    assert torch.allclose(torch.tensor(both["curves"]["background"]), pooled)
    assert max(frozen["curves"]["background"]) > 0.01  # the pooled curve differs from either


def test_the_committed_checkpoint_keeps_the_sprites_of_held_out_worlds_in_its_first_clip():
    """The README's default model, sampled as configs/toy/generate.yaml samples it, on 2 held-out worlds: an export
    check (a broken or wrong export keeps about nothing). The two are worlds 12 and 13 of the 16 in the committed
    quality.json, which it keeps whole under noise seed 0; world 0 is one of its weak ones (0.70), which the README's
    table counts."""
    from tests_paths import REPO

    from lvg.module_config import module_from_config

    module = module_from_config(REPO / "configs/toy/generate.yaml", str(REPO / "checkpoints/toy"))
    result = evaluate_toy_drift(module, num_seeds=2, num_clips=1, first_seed=HELD_OUT_SEEDS.start + 12)
    assert min(result["first_clip_mass_kept_per_seed"]) >= 0.8, result["first_clip_mass_kept_per_seed"]

"""Progressive noise levels (PA-VDM): golden matrices, every level once per unit, the training shift's range."""

import torch

from lvg.noise.progressive import (
    chunk_columns,
    level_times,
    linear_times,
    random_shift,
    steady_levels,
    training_levels,
    video_levels,
    window_levels,
    with_clean_front,
)
from lvg.noise.timesteps import shift_t


def test_steady_levels_are_eq6_and_its_substep_form():
    assert steady_levels(3).tolist() == [[1, 2, 3], [0, 1, 2]]  # eq. 6 with T = S = 3, then one step later
    assert steady_levels(2, substeps=2).tolist() == [[2, 4], [1, 3], [0, 2]]


def test_golden_video_schedule_with_initialization_and_termination_rows():
    # 4 units, a window of 3 stages: the window grows from one unit, slides, then shrinks to one unit
    assert video_levels(4, 3).tolist() == [
        [3, 3, 3, 3],  # call 0: unit 0 enters at level N = 3 (initialization)
        [2, 3, 3, 3],
        [1, 2, 3, 3],  # full window (eq. 6)
        [0, 1, 2, 3],  # unit 0 clean and popped; unit 3 enters
        [0, 0, 1, 2],  # termination: nothing appended
        [0, 0, 0, 1],
        [0, 0, 0, 0],
    ]


def test_golden_chunked_window_with_clean_front():
    levels = chunk_columns(steady_levels(3), 2)
    assert with_clean_front(levels, 2).tolist() == [[0, 0, 1, 1, 2, 2, 3, 3], [0, 0, 0, 0, 1, 1, 2, 2]]


def test_windows_are_the_video_schedule_restricted_to_the_units_in_play():
    for units, stages, k in ((4, 3, 1), (2, 4, 2), (7, 2, 3), (1, 3, 2)):
        whole = video_levels(units, stages, k)
        for iteration in range(units + stages - 1):
            first, levels = window_levels(iteration, units, stages, k)
            n = levels.shape[1]
            assert 1 <= n <= stages
            rows = whole[iteration * k : (iteration + 1) * k + 1, first : first + n]
            assert torch.equal(rows, levels)
            assert levels[0].max() <= stages * k and levels[-1].min() >= 0


def test_every_unit_passes_every_level_exactly_once():
    for units, stages, k in ((5, 3, 1), (3, 2, 2), (6, 4, 3)):
        top = stages * k
        whole = video_levels(units, stages, k)
        calls = whole.shape[0] - 1
        for m in range(units):
            col = whole[:, m]
            seen = [int(col[r]) for r in range(calls) if col[r] > col[r + 1]]  # the levels it is denoised from
            assert seen == list(range(top, 0, -1))
            assert col[-1] == 0
        steps = (whole[:-1] - whole[1:]).clamp(min=0)
        assert steps.max() == 1  # one level per call
        assert (steps.sum(1) <= stages * torch.ones(calls, dtype=steps.dtype)).all()  # never more than S units


def test_training_windows_are_suffixes_prefixes_and_phases_of_the_steady_levels():
    assert training_levels(0, 3, 1, 0).tolist() == [1, 2, 3]  # full window
    assert training_levels(2, 1, 1, 0).tolist() == [3]  # initialization: the newest unit only
    assert training_levels(0, 2, 1, 0).tolist() == [1, 2]  # termination: the oldest two
    assert training_levels(1, 2, 2, 1).tolist() == [3, 5]  # k = 2, one step into the iteration


def test_random_shift_moves_all_levels_together_and_stays_in_range():
    levels = training_levels(0, 4, 1, 0)
    assert torch.allclose(random_shift(levels, 0.5, 0.4, 1, 4), torch.tensor([1.2, 2.2, 3.2, 4]))  # clamped at N
    assert torch.allclose(random_shift(levels, -1.0, 0.4, 2, 4), levels - 0.8)  # gap of k = 2 levels
    g = torch.Generator().manual_seed(0)
    for _ in range(200):
        eps = torch.randn(1, generator=g).item() * 4  # far tails too
        shifted = random_shift(levels, eps, 0.4, 1, 4)
        assert shifted.min() >= 0 and shifted.max() <= 4
        t = level_times(shifted, linear_times(4))
        assert t.min() >= 0 and t.max() <= 1


def test_level_times_interpolate_the_linear_grid_and_its_shift():
    assert torch.allclose(linear_times(4), torch.tensor([0, 0.25, 0.5, 0.75, 1]))
    assert torch.allclose(level_times(torch.tensor([0.5, 3.0, 4.0]), linear_times(4)), torch.tensor([0.125, 0.75, 1]))
    assert torch.allclose(linear_times(5, shift=3.0), shift_t(torch.linspace(0, 1, 6), 3.0))

"""The README's figures for the toy checkpoint are the committed `checkpoints/toy/quality.json`'s: a retrained
checkpoint whose quality.json moved fails here until the README's table, status and sprite-count split follow."""

import json
import re

import numpy as np
from tests_paths import REPO

from lvg.data.toy_world import ToyWorld

README = (REPO / "README.md").read_text()
QUALITY = json.loads((REPO / "checkpoints" / "toy" / "quality.json").read_text())
ROWS = {  # README table row -> (quality.json curve, decimals)
    "sprite mass kept, generated": ("mass", 2),
    "sprite mass kept, ground truth": ("true_mass", 2),
    "size fidelity": ("size", 2),
    "background error": ("background", 3),
    "sprite position error, px": ("position", 1),
    "sprite position error, px (guide held still)": ("still_position", 1),
}


def table_row(name: str) -> list[str]:
    (line,) = [x for x in README.splitlines() if x.startswith(f"| {name} |")]
    return [cell.strip() for cell in line.strip("|").split("|")[1:]]


def test_the_per_clip_table_is_the_committed_curves():
    for name, (curve, decimals) in ROWS.items():
        assert table_row(name) == [f"{x:.{decimals}f}" for x in QUALITY["curves"][curve]], name


def test_the_status_against_the_bar_is_the_committed_figures():
    status = README[README.index("**Status against the bar**") :].split("\n\n")[1]
    curves = QUALITY["curves"]
    ratio = QUALITY["first_clip_position_error"] / QUALITY["first_clip_still_position_error"]
    for figure in (
        f"**{QUALITY['first_clip_mass_kept']:.2f}**",
        f"**{ratio:.2f}x**",
        f"**{curves['mass'][-1]:.2f}**",
        f"**{curves['background'][-1] / curves['background'][0]:.1f}x**",
    ):
        assert figure in status, figure


def test_the_split_by_sprite_count_is_the_committed_runs():
    """Runs are (world, noise seed), world-major; a world's count is the sprites it starts with."""
    per_seed = {k: np.array(v) for k, v in QUALITY["per_seed"].items()}
    (first, last), (low, high) = QUALITY["seeds"], QUALITY["noise_seeds"]
    counts = np.repeat([len(ToyWorld(s).sprites) for s in range(first, last + 1)], high - low + 1)
    one = counts == 1
    assert one.sum() == (~one).sum() == 16  # 8 worlds each
    mass = per_seed["mass"][one, 0].mean()
    position = per_seed["position"][one, 0].mean() / per_seed["still_position"][one, 0].mean()
    growth = [per_seed["background"][m, -1].mean() / per_seed["background"][m, 0].mean() for m in (one, ~one)]
    said = re.sub(r"\s+", " ", README)
    assert f"first clip's items are met (mass {mass:.3f}, position {position:.2f}x) and the background grows " in said
    assert f"grows {growth[0]:.1f}x" in said and f"on those with two {growth[1]:.1f}x" in said

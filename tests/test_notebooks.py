"""The notebooks execute (nbmake) in their small mode: LVG_NOTEBOOK_SMALL=1 shrinks chunks, worlds and steps."""

import json
import os
import re
import subprocess
import sys

import pytest
from tests_paths import REPO

from lvg.data.toy_world import HELD_OUT_SEEDS

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_executes_in_small_mode(notebook):
    env = {**os.environ, "LVG_NOTEBOOK_SMALL": "1", "PYTHONPATH": str(REPO)}
    args = ["-m", "pytest", "--nbmake", str(notebook), "-q", "-p", "no:cacheprovider", "-o", "addopts="]
    done = subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]


def test_there_is_a_notebook_committed_with_its_outputs():
    import json

    assert NOTEBOOKS, "no notebooks found"
    for notebook in NOTEBOOKS:
        cells = json.loads(notebook.read_text())["cells"]
        assert any(c["cell_type"] == "code" and c.get("outputs") for c in cells), f"{notebook.name} has no outputs"


def test_the_comparison_notebooks_are_there():
    names = {p.name for p in NOTEBOOKS}
    expected = {
        "01_chunkwise_search.ipynb",
        "02_progressive_vs_replacement.ipynb",
        "03_kv_policies_and_trflow.ipynb",
        "04_beyond_the_papers.ipynb",
    }
    assert expected <= names, f"missing: {sorted(expected - names)}"


def test_the_committed_full_runs_compare_on_at_least_8_held_out_worlds():
    """Each notebook's committed outputs are a full run that printed its worlds: all from the held-out range no
    training world comes from (`HELD_OUT_SEEDS`), so a comparison is not made on worlds the checkpoint trained on."""
    for notebook in NOTEBOOKS:
        cells = [c for c in json.loads(notebook.read_text())["cells"] if c["cell_type"] == "code"]
        printed = "".join("".join(o.get("text", "")) for c in cells[:2] for o in c.get("outputs", []))
        found = re.search(r"full run: .*worlds \[([\d, ]+)\]", printed)
        assert found, f"{notebook.name}: its committed outputs print no full run's worlds"
        worlds = [int(w) for w in found.group(1).split(",")]
        assert len(worlds) >= 8 and all(w in HELD_OUT_SEEDS for w in worlds), f"{notebook.name}: worlds {worlds}"

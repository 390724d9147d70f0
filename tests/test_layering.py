"""The layer rules of lvg/README.md, checked from the source (every `import lvg...` of every file) and from what a
fresh process loads: the bottom layers never reach up, and the light ones do not pull in Lightning or diffusers."""

import ast
import subprocess
import sys

import pytest
from tests_paths import REPO

LVG = REPO / "lvg"
UPPER = ("lvg.methods", "lvg.module", "lvg.cli", "lvg.evaluation", "lvg.generate", "lvg.jobs", "lvg.calibrate_trflow")
# package (or module) -> the lvg modules it must not import
RULES = {
    "lvg/noise": (*UPPER, "lvg.data", "lvg.metrics", "lvg.video", "lvg.search", "lvg.sampling", "lvg.backbones",
                  "lvg.attention"),
    "lvg/data": (*UPPER, "lvg.metrics", "lvg.search", "lvg.sampling", "lvg.backbones", "lvg.attention"),
    "lvg/metrics": (*UPPER, "lvg.search", "lvg.sampling", "lvg.backbones", "lvg.attention"),
    "lvg/video.py": (*UPPER, "lvg.data", "lvg.metrics", "lvg.search", "lvg.sampling", "lvg.backbones"),
    "lvg/contracts.py": (*UPPER, "lvg.data", "lvg.metrics", "lvg.search", "lvg.sampling", "lvg.backbones",
                         "lvg.noise", "lvg.video"),
    "lvg/seeding.py": (*UPPER, "lvg.data", "lvg.metrics", "lvg.search", "lvg.sampling", "lvg.backbones"),
    "lvg/sampling": (*UPPER, "lvg.search", "lvg.attention"),
    "lvg/search": (*UPPER, "lvg.attention"),
    "lvg/backbones": (*UPPER, "lvg.search", "lvg.sampling"),
}  # fmt: skip
LIGHT = ("lvg.noise", "lvg.metrics", "lvg.data.toy_world", "lvg.contracts", "lvg.video", "lvg.evaluation.run")
HEAVY = ("lightning", "pytorch_lightning", "diffusers")


def lvg_imports(path) -> set[str]:
    """Every lvg module a source file imports (at any depth of the file: lazy imports count too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("lvg")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("lvg"):
            found |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return found


@pytest.mark.parametrize("where", sorted(RULES))
def test_a_layer_imports_nothing_above_it(where):
    target = REPO / where
    files = [target] if target.suffix == ".py" else sorted(target.rglob("*.py"))
    assert files
    broken = {
        str(f.relative_to(REPO)): sorted(i for i in lvg_imports(f) if i.startswith(RULES[where]))
        for f in files
        if any(i.startswith(RULES[where]) for i in lvg_imports(f))
    }
    assert not broken, broken


@pytest.mark.parametrize("module", LIGHT)
def test_light_modules_load_neither_lightning_nor_diffusers(module):
    code = f"import sys, {module}; print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", f"{module} loads {done.stdout.strip()}"


def test_no_part_reaches_for_a_member_with_a_default():
    """Capabilities are declared (lvg.contracts), not probed: no getattr(part, "name", default) on the seams."""
    probes = []
    for path in sorted(LVG.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "getattr" and len(node.args) == 3:
                target = ast.unparse(node.args[0])
                if any(part in target for part in ("backbone", "sampler", "noise_init", "method")):
                    probes.append(f"{path.relative_to(REPO)}:{node.lineno} {ast.unparse(node)}")
    assert not probes, probes

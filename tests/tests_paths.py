"""Paths the tests share (importable from any test module)."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TINY_CONFIG = REPO / "tests" / "configs" / "tiny_toy.yaml"

"""`lvg evaluate`: videos (and their sidecars) in, a metric report out (JSON, CSV, PNG curves, offline HTML, W&B)."""

from lvg.evaluation.run import evaluate

__all__ = ["evaluate"]

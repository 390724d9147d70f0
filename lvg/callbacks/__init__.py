"""Lightning callbacks lvg adds: exporting the trained backbone, logging sample long videos."""

from lvg.callbacks.export import ExportBackbone

__all__ = ["ExportBackbone"]

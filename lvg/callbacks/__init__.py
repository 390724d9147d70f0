"""Lightning callbacks lvg adds: exporting the trained backbone, logging sample long videos."""

from lvg.callbacks.export import ExportBackbone
from lvg.callbacks.export_lora import ExportLora
from lvg.callbacks.sample_video import LogSampleVideo

__all__ = ["ExportBackbone", "ExportLora", "LogSampleVideo"]

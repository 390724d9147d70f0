"""Data: the procedural toy world (default) and folders of real videos. The LightningDataModules are imported on first
use, so `import lvg.data.toy_world` does not load Lightning."""

__all__ = ["ToyWorld", "ToyWorldData", "VideoFolderData"]
_WHERE = {"ToyWorld": "lvg.data.toy_world", "ToyWorldData": "lvg.data.toy", "VideoFolderData": "lvg.data.video_folder"}


def __getattr__(name: str):
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'lvg.data' has no attribute {name!r}")

"""LightningDataModules: the procedural toy world (default) and folders of real videos."""

from lvg.data.toy import ToyWorldData
from lvg.data.toy_world import ToyWorld
from lvg.data.video_folder import VideoFolderData

__all__ = ["ToyWorld", "ToyWorldData", "VideoFolderData"]

"""Backbones: thin adapters over diffusers models behind one protocol (see base.py and wan_adapter.py)."""

from lvg.backbones.base import Condition
from lvg.backbones.cogvideox import CogVideoX
from lvg.backbones.lora import Lora
from lvg.backbones.svd import Svd
from lvg.backbones.toy import Toy
from lvg.backbones.wan import Wan
from lvg.backbones.wan_adapter import WanAdapter
from lvg.backbones.wan_i2v import WanI2V

__all__ = ["CogVideoX", "Condition", "Lora", "Svd", "Toy", "Wan", "WanAdapter", "WanI2V"]

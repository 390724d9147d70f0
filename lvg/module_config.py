"""A config file's `LongVideoModule`, built from its `model` block as `lvg generate` builds it (for scripts and
notebooks that evaluate a config without the command line)."""

from __future__ import annotations

from pathlib import Path

import yaml
from jsonargparse import ArgumentParser

from lvg.module import LongVideoModule


def module_from_config(config: str | Path, checkpoint: str | None = None, sampler_args: dict | None = None):
    """The module of `config`'s `model` block; `checkpoint` replaces the backbone's `path` and `sampler_args` update
    the sampler's init_args, where given."""
    model = yaml.safe_load(Path(config).read_text())["model"]
    if checkpoint is not None:
        model["init_args"]["backbone"].setdefault("init_args", {})["path"] = checkpoint
    if sampler_args:
        model["init_args"]["sampler"].setdefault("init_args", {}).update(sampler_args)
    parser = ArgumentParser()
    parser.add_subclass_arguments(LongVideoModule, "model")
    return parser.instantiate(parser.parse_object({"model": model})).model

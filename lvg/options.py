"""The options of one generation, spelled once: `lvg generate` and `lvg calibrate-trflow` derive their command-line
arguments from these dataclasses (`with_options`), `--jobs` manifests override their fields per job, and
`lvg.generate.generate_video` takes them.
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
from dataclasses import dataclass


@dataclass
class StartOptions:
    """Where a long video starts and what its clips are prompted with.

    Args:
        num_clips: clips to generate (default: one per prompt-file line, else 12).
        prompt: one prompt for every clip.
        prompt_file: one prompt per line, one line per clip.
        guide: a guide image for the first clip, or a video whose last frames start the long video; without it the
            first frames and prompts come from a toy world.
        toy_seed: which toy world starts the video when no guide is given.
        seed: the generation seed (each clip's noise comes from its own generator derived from it).
        repeat_last_prompt: with a prompt file shorter than num_clips, repeat its last line (else an error).
    """

    num_clips: int | None = None
    prompt: str | None = None
    prompt_file: str | None = None
    guide: str | None = None
    toy_seed: int = 0
    seed: int = 0
    repeat_last_prompt: bool = False


@dataclass
class GenerationOptions(StartOptions):
    """One `lvg generate` video.

    Args:
        output: the mp4 to write (atomically; the sidecar is the same name with .json).
        fps: frames per second of the mp4.
        resume: continue an interrupted run of the same command (its log `.<output>.resume/` is beside the output);
            false starts over.
    """

    output: str = "outputs/long_video.mp4"
    fps: int = 8
    resume: bool = True


def option_docs(cls: type) -> str:
    """The `Args:` lines of `cls` and its bases (for a method whose arguments derive from it)."""
    lines = []
    for klass in reversed(cls.__mro__[:-1]):
        doc = inspect.getdoc(klass) or ""
        if "Args:" in doc:
            lines += [line for line in doc.split("Args:", 1)[1].splitlines() if line.strip()]
    return "\n".join(" " * 8 + line for line in lines)  # a method docstring's Args sit 12 spaces in


def with_options(cls: type, before: tuple[str, ...] = ("self", "model")):
    """Give a `method(self, model, ..., **options)` the fields of `cls` as its signature's arguments (after
    `before`, before its own), so LightningCLI parses them as flags and lists them in --help."""

    def wrap(method):
        own = list(inspect.signature(method).parameters.values())
        hints = typing.get_type_hints(cls)
        fields = [
            inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default, annotation=hints[f.name])
            for f in dataclasses.fields(cls)
        ]
        head = [p.replace(kind=inspect.Parameter.POSITIONAL_OR_KEYWORD) for p in own if p.name in before]
        tail = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own
                if p.name not in before and p.kind is not inspect.Parameter.VAR_KEYWORD]  # fmt: skip
        returns = inspect.signature(method).return_annotation
        method.__signature__ = inspect.Signature(head + fields + tail, return_annotation=returns)
        method.__doc__ = (method.__doc__ or "").rstrip() + "\n" + option_docs(cls) + "\n"
        return method

    return wrap

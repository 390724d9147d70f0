"""Parser errors as one line: jsonargparse's report (a usage dump and a nested, multi-line message) turned into what is
wrong and what to do, with the nearest valid name for a typo.

`one_line(report, argv)` takes everything the parser wrote to stderr; the CLI prints the result as `lvg: error: ...`.
"""

from __future__ import annotations

import contextlib
import difflib
import importlib
import inspect
import io
import re
import sys
from collections.abc import Iterator

from lvg.errors import LvgError

COMMANDS = ("fit", "validate", "test", "predict", "generate", "calibrate-trflow", "evaluate")
GENERATE_ONLY = ("output", "num_clips", "prompt", "prompt_file", "guide", "toy_seed", "fps", "jobs", "shard")


def _nearest(word: str, options) -> str:
    match = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f": did you mean '{match[0]}'?" if match else ""


def _init_params(path: str) -> list[str]:
    """The arguments of a class's constructor or of a `module.Class.method` (empty if it cannot be imported)."""
    parts = path.split(".")
    for split in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        try:
            for name in parts[split:]:
                obj = getattr(obj, name)
            target = obj.__init__ if inspect.isclass(obj) else obj
            return [p for p in inspect.signature(target).parameters if p not in ("self", "args", "kwargs", "model")]
        except (AttributeError, ValueError, TypeError):
            return []
    return []


def _command(argv: list[str]) -> str:
    return next((a for a in argv if a in COMMANDS), "")


def _help(argv: list[str]) -> str:
    command = _command(argv)
    return f"lvg {command} --help" if command else "lvg --help"


def _a(kind: str) -> str:
    return f"an {kind}" if kind[:1] in "aeiou" else f"a {kind}"


def _key_path(report: str) -> str:
    """The dotted option a nested report is about: 'Parser key' names joined with their NestedArg key."""
    keys = re.findall(r'Parser key "([^"]+)"', report)
    nested = re.search(r"NestedArg\(key='([^']+)'", report)
    if nested and keys:
        return f"{keys[0]}.init_args.{nested.group(1)}" if not nested.group(1).startswith("init_args") else keys[0]
    return ".".join(keys)


def _yaml_problem(report: str, argv: list[str]) -> str:
    lines = [line.strip() for line in report.splitlines() if line.strip()]
    where = re.findall(r"line (\d+), column (\d+)", report)
    problem = next((line for line in lines[1:] if not line.startswith("in ")), lines[0])
    place = f" (line {where[-1][0]}, column {where[-1][1]})" if where else ""
    configs = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a in ("--config", "-c")]
    name = f"config {configs[-1]!r}" if configs else "the config"
    return f"{name} is not valid YAML: {problem}{place}: fix the file"


def one_line(report: str, argv: list[str]) -> str:
    """The parser's stderr report as one line saying what is wrong and what to do."""
    text = report[report.find("error:") + len("error:") :].strip() if "error:" in report else report.strip()
    see = f"(see {_help(argv)})"
    if text.startswith("Problems parsing config"):
        return _yaml_problem(text, argv)
    if text.startswith("Unexpected config"):
        return f"the config is empty or not a YAML mapping: give a config with a model block {see}"
    if m := re.search(r"invalid choice: '([^']+)'", text):
        return f"unknown command '{m.group(1)}'{_nearest(m.group(1), COMMANDS)} (commands: {', '.join(COMMANDS)})"
    if m := re.search(r"Subcommand '([^']+)' does not accept option '([^']+)'", text):
        command, option = m.groups()
        if command != "generate" and option.split(".")[0] in GENERATE_ONLY:
            return f"this is a generation config (it sets '{option}'): run it with `lvg generate`, not `lvg {command}`"
        if option.split(".")[0] == "data" and command in ("generate", "calibrate-trflow"):
            return f"this is a training config (it has a data block): `lvg {command}` takes a generation config"
        known = ["model", "data", "trainer", "seed_everything", "ckpt_path", "optimizer", "lr_scheduler"]
        if command in ("generate", "calibrate-trflow"):
            known += _init_params(f"lvg.cli.LvgTrainer.{command.replace('-', '_')}")
        hint = _nearest(option.split(".")[0], known)
        return f"`lvg {command}` does not accept option '{option}'{hint or ': remove it'} {see}"
    if m := re.search(r"Option '([^']+)' is not accepted", text):
        option = m.group(1)
        classes = re.findall(r"class_path '([^']+)'", text)
        params = _init_params(classes[-1]) if classes else []
        owner = f" of {classes[-1]}" if classes else ""
        return f"unknown option '{option}'{owner} (--{_key_path(text)}){_nearest(option, params)} {see}"
    if m := re.search(r"module '([^']+)' has no attribute '([^']+)'", text):
        module, name = m.groups()
        try:
            names = dir(importlib.import_module(module))
        except ImportError:
            names = []
        return f"class '{module}.{name}' does not exist{_nearest(name, names)} (--{_key_path(text)})"
    if m := re.search(r"the following arguments are required: (\S+)", text):
        classes = re.findall(r"class_path '([^']+)'", text)
        key = _key_path(text)
        owner = classes[-1] if classes else key
        return f"{owner} needs {m.group(1)}: add --{key}.init_args.{m.group(1)} <value>"
    if m := re.search(r"Expected a <class '(\w+)'>\. Got value: (.*)", text):
        return f"--{_key_path(text)} expects {_a(m.group(1))}, got {m.group(2).strip()!r} {see}"
    if "Given value:" in text and (expected := re.findall(r"Expected a <class '(\w+)'>", text)):
        given = re.search(r"Given value: (.*)", text).group(1).strip()
        kinds = " or ".join("null" if e == "NoneType" else e for e in dict.fromkeys(expected))
        return f"--{_key_path(text)} expects {kinds}, got {given!r} {see}"
    if m := re.search(r"unrecognized arguments: (.*)", text):
        return f"unrecognized arguments: {m.group(1).strip()} {see}"
    first = " ".join(line.strip() for line in text.splitlines()[:2] if line.strip())
    return f"{first[:300]} {see}"


@contextlib.contextmanager
def parser_errors_as_one_line(argv: list[str]) -> Iterator[None]:
    """Run a jsonargparse parse: what it writes to stderr is held back; an error exit becomes one `LvgError` line
    (`one_line`), while `--help` and other clean exits pass through with their output."""
    report = io.StringIO()
    try:
        with contextlib.redirect_stderr(report):
            yield
    except SystemExit as e:
        if e.code in (0, None):
            sys.stderr.write(report.getvalue())
            raise
        raise LvgError(one_line(report.getvalue(), argv)) from None
    sys.stderr.write(report.getvalue())

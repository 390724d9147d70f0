"""lvg benchmark harness: runs every benchmark in benchmarks/ and writes one report.

python benchmarks/run.py [--quick] [--only NAME ...] [--out benchmarks/report.json]

A benchmark is a file `benchmarks/<topic>.py` exposing `records(quick: bool) -> list[dict]` (records `{"name",
"value", "unit", "lower_is_better", "notes"}`, see benchmarks/README.md). The harness imports each, adds the machine
and the commit to every record, and writes `report.json` (a list of records) and `report.md` (a table) beside it,
after every benchmark (a stopped run keeps what finished), printing progress to stderr. A
benchmark that fails, or cannot run here, leaves a record with value None and the reason in its notes; the others
still run. Numbers depend on the machine: the report names it. Not a test.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = Path(__file__).resolve().parent
RECORD_KEYS = ("name", "value", "unit", "lower_is_better", "notes")


def commit() -> str:
    """The short commit of the repository (with `+dirty` when the tree has changes), or "unknown"."""
    try:
        git = ["git", "-C", str(REPO)]
        sha = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run([*git, "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True)
        return (sha or "unknown") + ("+dirty" if dirty.stdout.strip() else "")
    except OSError:
        return "unknown"


def machine() -> str:
    """The machine in words: CPU architecture and cores, and the GPU where there is one."""
    words = f"{platform.machine()} {platform.processor() or ''}".strip() + f", {os.cpu_count()} cpus"
    try:
        import torch

        if torch.cuda.is_available():
            words += f", {torch.cuda.device_count()}x {torch.cuda.get_device_name(0)}"
        words += f", torch {torch.__version__}"
    except ImportError:
        pass
    return words


def discover(folder: Path = BENCHMARKS) -> dict[str, Path]:
    """Benchmark files of `folder` by name: every `*.py` but this harness and `_private` helpers."""
    return {p.stem: p for p in sorted(folder.glob("*.py")) if p.stem != "run" and not p.stem.startswith("_")}


def load(path: Path):
    """Import a benchmark file as a module (its folder on sys.path, so benchmarks may import each other)."""
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(f"lvg_benchmark_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and pickling look the module up by name
    spec.loader.exec_module(module)
    return module


def failed(name: str, reason: str) -> dict:
    """The record left by a benchmark that could not run: value None, the reason in the notes."""
    return {"name": f"{name}/not_run", "value": None, "unit": "", "lower_is_better": True, "notes": reason}


def well_formed(record: dict) -> bool:
    value = record.get("value")
    return (
        all(k in record for k in RECORD_KEYS)
        and isinstance(record["name"], str)
        and (value is None or isinstance(value, int | float))
        and isinstance(record["lower_is_better"], bool)
    )


def run_benchmark(name: str, path: Path, quick: bool) -> list[dict]:
    """One benchmark's records; a failure (import, run, malformed record) becomes one `not_run` record."""
    tic = time.perf_counter()
    try:
        module = load(path)
        if not callable(getattr(module, "records", None)):
            return [failed(name, f"{path.name} has no records(quick) function")]
        records = list(module.records(quick))
    except Exception as e:  # a benchmark's failure is reported, the others still run
        traceback.print_exc()
        return [failed(name, f"failed: {type(e).__name__}: {str(e).strip().splitlines()[0][:200] if str(e) else ''}")]
    bad = [r for r in records if not isinstance(r, dict) or not well_formed(r)]
    if bad:
        return [failed(name, f"malformed record {bad[0]!r:.200}: needs {', '.join(RECORD_KEYS)}")]
    skipped = [r for r in records if r["value"] is None]
    done = f"{len(records) - len(skipped)} of {len(records)} records in {time.perf_counter() - tic:.1f} s"
    print(f"[{name}] {done}" + (f"; not measured: {skipped[0]['notes']}" if skipped else ""), file=sys.stderr)
    return records


def run_all(names: list[str] | None, quick: bool, folder: Path = BENCHMARKS, out: Path | None = None) -> list[dict]:
    """Records of the named benchmarks (default: all), each with the machine and commit. With `out`, the report is
    rewritten after every benchmark, so a stopped run keeps what finished; progress goes to stderr."""
    found = discover(folder)
    unknown = sorted(set(names or ()) - set(found))
    if unknown:
        raise SystemExit(f"run.py: error: no benchmark {', '.join(unknown)}: choose from {', '.join(found)}")
    where = {"machine": machine(), "commit": commit()}
    records = []
    chosen = names or list(found)
    start = time.perf_counter()
    for i, name in enumerate(chosen, start=1):
        print(f"[{i}/{len(chosen)}] {name}: running ({time.perf_counter() - start:.0f} s so far)", file=sys.stderr)
        records += [{**r, **where} for r in run_benchmark(name, found[name], quick)]
        if out is not None:
            write_report(records, out)
    return records


def markdown(records: list[dict]) -> str:
    """The report as a markdown table (None values print as `-`, with the reason in the notes)."""
    rows = ["| name | value | unit | better | notes |", "|---|---|---|---|---|"]
    for r in records:
        value = "-" if r["value"] is None else f"{r['value']:.4g}"
        better = "lower" if r["lower_is_better"] else "higher"
        notes = str(r["notes"]).replace("|", "/").replace("\n", " ")
        rows.append(f"| {r['name']} | {value} | {r['unit']} | {better} | {notes} |")
    head = f"Machine: {records[0]['machine']}; commit {records[0]['commit']}\n\n" if records else ""
    return head + "\n".join(rows) + "\n"


def write_report(records: list[dict], out: Path) -> None:
    """report.json and report.md, each replaced whole (written beside, then renamed)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    for path, text in ((out, json.dumps(records, indent=1)), (out.with_suffix(".md"), markdown(records))):
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text)
        tmp.replace(path)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="each benchmark's quick subset (a few minutes each on a CPU)")
    p.add_argument("--only", nargs="+", metavar="NAME", help=f"run only these (of: {', '.join(discover())})")
    p.add_argument("--out", default=str(BENCHMARKS / "report.json"), help="report.json path (report.md beside it)")
    args = p.parse_args(argv)
    records = run_all(args.only, args.quick, out=Path(args.out))
    write_report(records, Path(args.out))
    print(markdown(records))


if __name__ == "__main__":
    main()

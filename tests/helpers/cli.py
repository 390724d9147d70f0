"""Run the `lvg` command in-process, as a user would, catching its exit."""

from __future__ import annotations

from lvg.cli import main


def run_lvg(args, capsys) -> tuple[int, str, str]:
    """Run `lvg ARGS` in-process; return (exit code, stdout, stderr)."""
    code = 0
    try:
        main([str(a) for a in args])
    except SystemExit as e:
        code = e.code or 0
    out = capsys.readouterr()
    return code, out.out, out.err


def run_main(args, capsys) -> tuple[int, str]:
    """Run `lvg ARGS` in-process; return (exit code, stderr)."""
    code, _, err = run_lvg(args, capsys)
    return code, err

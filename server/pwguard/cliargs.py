"""Command-line parsing shared by every subcommand's `main(argv) -> int`."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence


def parse_args(
    parser: argparse.ArgumentParser,
    argv: Sequence[str],
    check: Callable[[argparse.Namespace], str | None] | None = None,
) -> argparse.Namespace | int:
    """Parse argv; `--help` becomes exit code 0 and a usage error (or `check`'s message) 2.

    argparse exits the process on both; a `main(argv) -> int` returns the code instead, so
    tests call it directly. Callers: `args = parse_args(...)`, then return it if it is an int.
    """
    try:
        args = parser.parse_args(argv)
        problem = check(args) if check is not None else None
        if problem:
            parser.error(problem)
    except SystemExit as exc:
        return 0 if exc.code == 0 else 2
    return args

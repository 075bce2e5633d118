"""Command-line parsing shared by every subcommand's `main(argv) -> int`."""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
from collections.abc import Callable, Sequence

# What scan and bundle say when --rules is not given and the working directory has no `rules`
# (pwguard installed on a server, run from another folder).
DEFAULT_RULES_MISSING = ("no rules folder here (`rules`, the default of --rules): pass --rules "
                         "with the rules folder or file, e.g. --rules /srv/pwguard/rules")


def parse_args(
    parser: argparse.ArgumentParser,
    argv: Sequence[str],
    check: Callable[[argparse.Namespace], str | None] | None = None,
) -> argparse.Namespace | int:
    """Parse argv; `--help` becomes exit code 0 and a usage error (or `check`'s message) 2.

    argparse exits the process on both; a `main(argv) -> int` returns the code instead, so
    tests call it directly. Callers: `args = parse_args(...)`, then return it if it is an int.
    The help (or version) text is written as `write_output` writes: argparse ignores a failed
    write, and `--help >/dev/full` exited 0 with nothing shown.
    """
    shown = io.StringIO()
    try:
        with contextlib.redirect_stdout(shown):
            args = parser.parse_args(argv)
        problem = check(args) if check is not None else None
        if problem:
            parser.error(problem)
    except SystemExit as exc:
        if exc.code != 0:
            return 2
        return write_output(shown.getvalue(), parser.prog) or 0
    return args


def write_output(text: str, prog: str) -> int | None:
    """Write `text` to stdout and flush it: None when written, else the exit code, 2.

    A reader that stopped reading (`| head -1`: a broken pipe) ends the command quietly, as
    other command-line tools; any other write error (a full disk) is said on stderr. Either
    way stdout is then pointed at /dev/null so that Python's flush at exit cannot fail again.
    Characters the stream's encoding cannot hold are written as backslash escapes.
    """
    stream = sys.stdout
    try:
        encoding = stream.encoding or "utf-8"
        stream.write(text.encode(encoding, "backslashreplace").decode(encoding))
        stream.flush()
    except BrokenPipeError:
        _discard_stdout()
        return 2
    except OSError as exc:
        _discard_stdout()
        print(f"{prog}: cannot write the output: {exc.strerror or exc}", file=sys.stderr)
        return 2
    return None


def _discard_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # not a real file (tests capture it): nothing to protect
        pass

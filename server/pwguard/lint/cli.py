"""`pwguard lint [PATH...]`: exit 0 clean, 1 findings (warnings included), 2 usage or I/O error
(a file that cannot be read, F001; no rule file at all, F008; output that cannot be written)."""

from __future__ import annotations

import argparse
import os
import sys

from pwguard.cliargs import parse_args, write_output
from pwguard.lint import lint_paths, unreadable
from pwguard.lint.codes import ALWAYS_REPORTED_NOTE, CODES, FAMILIES, always_reported
from pwguard.lint.formatters import FORMATS, render
from pwguard.rules.finding import printable


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2)


LINT_CODES = [c for c in CODES if not c.startswith("P")]  # P: page scan (pwguard scan)


def _prefixes(values: list[str]) -> list[str]:
    return [p.strip().upper() for v in values for p in v.split(",") if p.strip()]


def _usage_problem(args: argparse.Namespace) -> str | None:
    """What parse_args cannot see: empty --select/--ignore values, an empty --explain."""
    for flag in ("select", "ignore"):
        for value in getattr(args, flag):
            if not _prefixes([value]):
                return f"--{flag} {value!r} names no code: give code prefixes such as L,U001"
    if args.explain is not None and not args.explain.strip():
        return "--explain needs a code, e.g. --explain L004 (see --list-codes)"
    return None


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="pwguard lint",
        description="Check pwguard rule files. Findings print as path:line:col: CODE message "
        "(path: CODE message for a whole folder, e.g. one without rule files).",
        epilog="Silence one finding on its line with `# pwguard: ignore[CODE] reason`. F and S "
        "findings (the rules cannot be read or loaded) are always reported: neither a silence "
        "nor --select/--ignore hides them.",
    )
    parser.add_argument(
        "paths", nargs="*", default=[], help="rule files or folders (default: rules)"
    )
    parser.add_argument(
        "--select",
        action="append",
        default=[],
        metavar="PREFIXES",
        help="only report codes starting with these (comma-separated, e.g. L,U001); F and S "
        "findings are always reported",
    )
    parser.add_argument(
        "--ignore",
        action="append",
        default=[],
        metavar="PREFIXES",
        help="do not report codes starting with these (except F and S findings)",
    )
    parser.add_argument("--format", choices=FORMATS, default="text", help="output format")
    parser.add_argument("--explain", metavar="CODE", help="explain one code and exit")
    parser.add_argument("--list-codes", action="store_true", help="list every code and exit")
    return parser


def list_codes() -> str:
    out = []
    for letter, family in FAMILIES.items():
        out.append(f"{letter}: {family}")
        out += [
            f"  {c.code} {c.severity:<7} {c.summary}" for c in CODES.values() if c.code[0] == letter
        ]
    return "\n".join(out) + "\n"


def explain(code: str) -> str | None:
    c = CODES.get(code.strip().upper())
    if c is None:
        return None
    note = f"\n\n{ALWAYS_REPORTED_NOTE}" if always_reported(c.code) else ""
    return f"{c.code} ({c.severity}, {FAMILIES[c.code[0]]}): {c.summary}\n\n{c.why}{note}\n"


def main(argv: list[str]) -> int:
    args = parse_args(build_parser(), argv, _usage_problem)
    if isinstance(args, int):
        return args
    if args.list_codes:
        return write_output(list_codes(), "pwguard lint") or 0
    if args.explain is not None:
        text = explain(args.explain)
        if text is None:
            print(f"pwguard lint: unknown code {args.explain!r}; see --list-codes", file=sys.stderr)
            return 2
        return write_output(text, "pwguard lint") or 0
    paths = args.paths or ["rules"]
    # a broken symbolic link exists: reading it says so (F001), better than "no such file"
    missing = [p for p in paths if not os.path.lexists(p)]
    if missing and not args.paths:
        print("pwguard lint: no rules folder here (`rules`, the default when no path is given): "
              "name the rule files or folders to check, e.g. pwguard lint /srv/pwguard/rules",
              file=sys.stderr)
        return 2
    if missing:
        for p in missing:
            print(f"pwguard lint: {printable(p)}: no such file or directory", file=sys.stderr)
        return 2
    select, ignore = _prefixes(args.select), _prefixes(args.ignore)
    unknown = [p for p in select + ignore if not any(c.startswith(p) for c in CODES)]
    if unknown:
        print(
            f"pwguard lint: no code starts with {', '.join(unknown)}; see --list-codes",
            file=sys.stderr,
        )
        return 2
    # P codes are `pwguard scan`'s: `--select P` alone left lint nothing to report but F and
    # S findings, and a file full of errors passed (exit 0)
    scan_only = [p for p in select + ignore if not any(c.startswith(p) for c in LINT_CODES)]
    if scan_only:
        print(
            f"pwguard lint: {', '.join(scan_only)} names only codes of `pwguard scan`, which "
            "lint never reports; see --list-codes",
            file=sys.stderr,
        )
        return 2
    result = lint_paths(paths, select=select, ignore=ignore)
    failed = write_output(render(result.findings, args.format), "pwguard lint")
    if failed is not None:
        return failed
    if unreadable(result.findings):
        return 2  # a file could not be read: an I/O error, not a finding in a rule
    if not result.files:
        return 2  # nothing to lint (F008 says where): a usage error, not a finding in a rule
    return 1 if result.findings else 0

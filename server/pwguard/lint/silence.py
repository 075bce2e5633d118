"""Inline silencing: `# pwguard: ignore[CODE,...] reason` on the line a finding points at.

The reason is required: a silence without one is itself a finding (I001) and silences
nothing. Codes may be given by prefix (`L` or `L00`). A code that is not in the catalogue
and is no prefix of one is reported (I002), as is a silence that names no code at all
(`ignore[] reason`). Only a comment silences: the same words inside a quoted or block value
are that value's text.

Findings that stop the rules loading (F and S codes, `codes.ALWAYS_REPORTED`) cannot be
silenced: the rules would look clean while every command that loads them refuses them. A
silence naming one leaves it in place and its message says why.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

import yaml

from pwguard.lint.codes import CODES, always_reported, severity
from pwguard.rules.finding import Finding

SILENCE = re.compile(r"#\s*pwguard:\s*ignore\[(?P<codes>[^\]]*)\](?P<reason>.*)$")


_NEXT_COMMENT = re.compile(r"(?:^|\s)#(?:\s|$)")  # another comment after the silence
UNSILENCEABLE = "the rules cannot load with it; fix it"


@dataclass(frozen=True)
class Silence:
    line: int
    col: int
    codes: tuple[str, ...]
    reason: str


def silences(text: str) -> list[Silence]:
    out = []
    for n, line in enumerate(text.splitlines(), start=1):
        if "pwguard" not in line:
            continue
        m = SILENCE.search(line)
        if m:
            codes = tuple(c.strip().upper() for c in m.group("codes").split(",") if c.strip())
            reason = _NEXT_COMMENT.split(m.group("reason"), maxsplit=1)[0]
            out.append(Silence(n, m.start() + 1, codes, reason.strip(" \t-:—")))
    if not out:
        return out
    inside = _in_scalars(text)
    return [s for s in out if not inside(s.line, s.col)]


def _in_scalars(text: str) -> Callable[[int, int], bool]:
    """Whether a place (1-based line and column) lies inside one of the text's YAML values:
    a `#` in a quoted string or a block scalar (`>-`, `|`) is text, not a comment, and
    silences nothing. Text that does not scan counts as having no values (its F finding
    cannot be silenced anyway)."""
    spans: list[tuple[tuple[int, int], tuple[int, int]]] = []
    try:
        for token in yaml.scan(text, Loader=yaml.SafeLoader):
            if isinstance(token, yaml.ScalarToken):
                start, end = token.start_mark, token.end_mark
                spans.append(((start.line, start.column), (end.line, end.column)))
    except yaml.YAMLError:
        return lambda line, col: False
    return lambda line, col: any(a <= (line - 1, col - 1) < b for a, b in spans)


def apply(findings: list[Finding], texts: dict[str, str]) -> list[Finding]:
    """Drop findings silenced with a reason; add I001/I002 findings for bad silences."""
    by_line: dict[tuple[str, int], list[Silence]] = {}
    extra: list[Finding] = []
    for path, text in texts.items():
        for s in silences(text):

            def bad(code: str, message: str, at: Silence = s, where: str = path) -> None:
                extra.append(Finding.at(where, at.line, at.col, code, message, severity(code)))

            if not s.reason:
                bad("I001", f"`pwguard: ignore[{','.join(s.codes)}]` needs a reason after it")
                continue
            if not s.codes:  # silences nothing: say so rather than look like it works
                bad("I002", "`pwguard: ignore[]` names no code; write the code it silences, "
                    "e.g. ignore[L002]")
            for code in s.codes:
                if not any(known.startswith(code) for known in CODES):
                    parts = code.split()
                    hint = (
                        "; separate codes with commas"
                        if len(parts) > 1
                        and all(any(k.startswith(p) for k in CODES) for p in parts)
                        else ""
                    )
                    bad("I002", f"unknown code {code!r} in a silencing comment{hint}")
            by_line.setdefault((path, s.line), []).append(s)
    kept = []
    for f in findings:
        named = any(
            f.code.startswith(code) for s in by_line.get((f.path, f.line), []) for code in s.codes
        )
        if named and always_reported(f.code):
            kept.append(replace(f, message=f"{f.message} (not silenced: {UNSILENCEABLE})"))
        elif not named:
            kept.append(f)
    return kept + extra

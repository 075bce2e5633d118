"""Output formats for findings: text (flake8-like), json, github (workflow commands), sarif.

Paths and messages are shown `printable` in every format (a file name's bytes that are not
UTF-8 as `\\xff`, control characters escaped); SARIF's URIs percent-encode the name's bytes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from urllib.parse import quote

from pwguard import __version__
from pwguard.lint.codes import CODES
from pwguard.rules.finding import Finding, printable

FORMATS = ("text", "json", "github", "sarif")


def text(findings: Sequence[Finding]) -> str:
    lines = [str(f) + (" (warning)" if f.severity == "warning" else "") for f in findings]
    return "".join(line + "\n" for line in lines)


def as_json(findings: Sequence[Finding]) -> str:
    return json.dumps([f.to_dict() for f in findings], indent=2, ensure_ascii=False) + "\n"


def _gh_escape(value: str, prop: bool = False) -> str:
    value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return value.replace(":", "%3A").replace(",", "%2C") if prop else value


def github(findings: Sequence[Finding]) -> str:
    out = []
    for f in findings:
        level = "error" if f.severity == "error" else "warning"
        path, message = printable(f.path), printable(f.message)
        where = f"file={_gh_escape(path, True)}"
        if f.line > 0:  # line 0: the whole folder or file, no line to annotate
            where += f",line={f.line},col={max(f.col, 1)}"
        props = f"{where},title={f.code}"
        out.append(f"::{level} {props}::{_gh_escape(f'{f.code} {message}')}\n")
    return "".join(out)


def _uri(path: str) -> str:
    """A path as a URI reference: its bytes (as the file system has them) percent-encoded."""
    try:
        raw = os.fsencode(path)
    except UnicodeEncodeError:  # a lone surrogate that no file name decodes to
        raw = path.encode("utf-8", "backslashreplace")
    return quote(raw)


def _location(f: Finding) -> dict[str, object]:
    """A SARIF physicalLocation; line 0 (the whole folder or file) has no region."""
    where: dict[str, object] = {"artifactLocation": {"uri": _uri(f.path)}}
    if f.line > 0:
        where["region"] = {"startLine": f.line, "startColumn": max(f.col, 1)}
    return where


def sarif(findings: Sequence[Finding], tool: str = "pwguard-lint") -> str:
    used = sorted({f.code for f in findings})
    rules = [
        {
            "id": code,
            "shortDescription": {"text": CODES[code].summary},
            "fullDescription": {"text": CODES[code].why},
            "defaultConfiguration": {"level": CODES[code].severity},
        }
        for code in used
        if code in CODES
    ]
    results = [
        {
            "ruleId": f.code,
            "level": f.severity,
            "message": {"text": printable(f.message)},
            "locations": [{"physicalLocation": _location(f)}],
        }
        for f in findings
    ]
    doc = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": tool, "version": __version__, "rules": rules}},
                "results": results,
            }
        ],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def render(findings: Sequence[Finding], fmt: str) -> str:
    if fmt == "json":
        return as_json(findings)
    if fmt == "github":
        return github(findings)
    if fmt == "sarif":
        return sarif(findings)
    return text(findings)

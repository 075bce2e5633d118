"""The body `pwguard publish` sends, and where the server's findings point in the user's files.

One rule file goes as written: the server's findings keep its lines. Several files are one
ruleset on the server, so they go as one YAML document written from the values the linter
loaded (the project's loader, never a second reading of the YAML with other rules: `no:` stays
the key "no", escaped emoji stay one character): one value a line, each line knowing the file,
line and column it came from, and every silencing comment of the files copied onto the lines
whose values it covers. Before anything is sent, the body is linted as the server will lint it:
it must give the version the files gave, with no error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pwguard.lint import lint_text
from pwguard.lint.silence import Silence, silences
from pwguard.rules import loader
from pwguard.rules.bundle import version_of
from pwguard.rules.files import FileProblem, read_limited
from pwguard.rules.finding import Finding

# Characters a YAML reader refuses (or reads as a line break) in a quoted value, and `#`, so
# that no text inside a value can read as a silencing comment: all written as \u escapes.
UNSAFE_IN_YAML = re.compile("[\x7f-\x9f\u2028\u2029\ufffe\uffff#]")
MERGED_NAME = "request.yaml"


class BodyError(Exception):
    """The files cannot be sent as they were linted; `findings` are in the user's files."""

    def __init__(self, message: str, findings: list[Finding] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.findings = findings or []


@dataclass(frozen=True)
class RequestBody:
    data: bytes
    content_type: str
    locate: Callable[[Finding], Finding]  # a server finding -> the same place in the user's files
    merged: int  # how many files the body merges (1: the file as written)


def request_body(files: list[Path], version: str) -> RequestBody:
    """The body that publishes `files`, which the local linter found clean with `version`."""
    if len(files) == 1:
        return _one_file(files[0], version)
    return _merged(files, version)


def _changed(what: str) -> BodyError:
    return BodyError(f"{what} changed while publishing (it no longer gives the version just "
                     "linted); run `pwguard publish` again")


def _one_file(path: Path, version: str) -> RequestBody:
    try:
        data = read_limited(path, loader.MAX_BYTES)  # as lint reads it
    except FileProblem as exc:
        if exc.too_large:
            raise _changed(str(path)) from None
        raise BodyError(f"cannot read {path}: {exc.reason}") from None
    is_json = path.suffix == ".json"
    name = "request.json" if is_json else "request.yaml"  # what the server calls the body
    ruleset = loader.load_text(data, name).ruleset
    if ruleset is None or version_of(ruleset) != version:
        raise _changed(str(path))

    def locate(f: Finding) -> Finding:
        return replace(f, path=str(path)) if f.path == name else f

    ctype = "application/json" if is_json else "application/yaml"
    return RequestBody(data, ctype, locate, 1)


# ---------------------------------------------------------------------------------------
# several files: one YAML document, one value a line


@dataclass(frozen=True)
class Origin:
    """Where the value on one line of the body came from: a rule (index over all files) and
    the keys down to the value; `keyed` when the line starts with the value's key."""

    rule: int
    keys: loader.KeyPath
    keyed: bool


def quoted(text: str) -> str:
    """A YAML double-quoted scalar that reads back as exactly `text`."""
    return UNSAFE_IN_YAML.sub(
        lambda m: f"\\u{ord(m.group()):04x}", json.dumps(text, ensure_ascii=False)
    )


def scalar(value: Any) -> str:
    """An empty mapping or list, or a scalar, as the body writes it."""
    if isinstance(value, str):
        return quoted(value)
    if isinstance(value, dict | list):
        return "{}" if isinstance(value, dict) else "[]"
    try:
        return json.dumps(value, allow_nan=False)  # null, true, numbers
    except (TypeError, ValueError):
        raise BodyError(
            f"a value of type {type(value).__name__} cannot be sent in one request"
        ) from None


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.origins: list[Origin | None] = []

    def add(self, text: str, origin: Origin | None = None) -> None:
        self.lines.append(text)
        self.origins.append(origin)

    def value(self, value: Any, rule: int, keys: loader.KeyPath, key: Any, last: bool) -> None:
        head = "" if key is None else f"{quoted(str(key))}: "
        comma = "" if last else ","
        origin = Origin(rule, keys, key is not None)
        if isinstance(value, dict) and value:
            self.add(head + "{", origin)
            items = list(value.items())
            for i, (k, v) in enumerate(items):
                self.value(v, rule, (*keys, k), k, i == len(items) - 1)
            self.add("}" + comma)
        elif isinstance(value, list) and value:
            self.add(head + "[", origin)
            for i, v in enumerate(value):
                self.value(v, rule, (*keys, i), None, i == len(value) - 1)
            self.add("]" + comma)
        else:
            self.add(head + scalar(value) + comma, origin)



def _merged(files: list[Path], version: str) -> RequestBody:
    load = loader.load_paths(files)
    if load.ruleset is None or version_of(load.ruleset) != version:
        raise _changed(", ".join(map(str, files)))
    writer = _Writer()
    writer.add('{"rules": [')
    for index, source in enumerate(load.sources):
        writer.value(source.raw, index, (), None, index == len(load.sources) - 1)
    writer.add("]}")
    by_line = {path: _by_line(silences(text)) for path, text in load.texts.items()}
    for n, origin in enumerate(writer.origins):
        comment = _covering(load, origin, by_line) if origin else ""
        if comment:
            writer.lines[n] += " " + comment

    def locate(f: Finding) -> Finding:
        origin = writer.origins[f.line - 1] if f.path == MERGED_NAME and f.line >= 1 and \
            f.line <= len(writer.origins) else None
        if origin is None:
            return f
        keyed = origin.keyed and f.col == 1 and origin.keys in load.sources[origin.rule].keys
        where = load.key_position if keyed else load.position
        path, line, col = where(origin.rule, *origin.keys)
        return replace(f, path=path, line=line, col=col)

    text = "\n".join(writer.lines) + "\n"
    check = lint_text(text, MERGED_NAME, files[0].parent / "fixtures")
    if check.ruleset is None or check.errors or version_of(check.ruleset) != version:
        too_big = [f for f in check.findings if f.code == "F003"]
        if too_big:
            raise BodyError(
                f"the {len(files)} rule files make one request of {len(text)} characters, over "
                f"the {loader.MAX_BYTES} a ruleset may have on the server; make the rules "
                "shorter or fewer"
            )
        raise BodyError(
            f"merged into one request, the {len(files)} rule files do not lint as they do "
            "apart (a pwguard bug: please report it); nothing sent",
            [locate(f) for f in check.findings],
        )
    return RequestBody(text.encode("utf-8"), "application/yaml", locate, len(files))


def _by_line(found: list[Silence]) -> dict[int, list[Silence]]:
    out: dict[int, list[Silence]] = {}
    for s in found:
        if s.reason:  # one without a reason silences nothing (and lint refused it)
            out.setdefault(s.line, []).append(s)
    return out


def _covering(
    load: loader.LoadResult, origin: Origin, by_line: dict[str, dict[int, list[Silence]]]
) -> str:
    """One silencing comment for the lines the value (and its key) came from, or "".

    The linter reads one silence a line: the codes of several are joined into one comment.
    """
    source = load.sources[origin.rule]
    lines = {source.values.get(origin.keys, (0, 0))[0]}
    if origin.keyed:
        lines.add(source.keys.get(origin.keys, (0, 0))[0])
    found = [s for n in sorted(lines) for s in by_line.get(source.path, {}).get(n, [])]
    if not found:
        return ""
    codes = ",".join(dict.fromkeys(c for s in found for c in s.codes))
    return f"# pwguard: ignore[{codes}] " + "; ".join(s.reason for s in found)

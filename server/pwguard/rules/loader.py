"""Load rule files (YAML or JSON) into a `RuleSet`, keeping the line and column of every value.

PyYAML's composer gives nodes that carry marks; we build plain Python values from them
ourselves (safe scalars only) and record, for each rule, the position of every key and value
by its path (`("controls", 0, "label", 2)`). Problems never raise: they come back as
`Finding`s of the F (file/YAML) and S (schema) families, positioned in the source.

Limits that keep hostile input cheap: files over `MAX_BYTES`, more than `MAX_NODES` values
after alias expansion (YAML "billion laughs"), or nesting deeper than `MAX_DEPTH` are refused.
A directory stands for its `*.yaml` / `*.yml` files (not `*.json`: `rules/schema.json` lives
there); a JSON file can be named explicitly.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from pwguard.rules.files import FileProblem, describe_error, read_limited
from pwguard.rules.finding import SHOWN_CHARS, Finding, shown
from pwguard.rules.model import Rule, RuleSet

MAX_BYTES = 1024 * 1024
MAX_NODES = 100_000
MAX_DEPTH = 64

Pos = tuple[int, int]
KeyPath = tuple[str | int, ...]


class LoadError(Exception):
    """A file-level problem: its code, message and position."""

    def __init__(self, code: str, message: str, line: int = 1, col: int = 1) -> None:
        super().__init__(message)
        self.code, self.message, self.line, self.col = code, message, line, col


@dataclass
class SourceRule:
    """Where one rule came from: its file, the positions of its values and keys."""

    path: str
    index_in_file: int
    values: dict[KeyPath, Pos]
    keys: dict[KeyPath, Pos]
    raw: Any


@dataclass
class LoadResult:
    ruleset: RuleSet | None
    findings: list[Finding] = field(default_factory=list)
    sources: list[SourceRule] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    rules: list[Rule | None] = field(default_factory=list)  # per source rule; None if invalid

    def position(self, rule_index: int, *keys: str | int) -> tuple[str, int, int]:
        """(path, line, col) of the value at `keys` in rule `rule_index` (all files counted),
        or of its nearest enclosing value that exists."""
        return self._lookup(rule_index, keys, use_key=False)

    def key_position(self, rule_index: int, *keys: str | int) -> tuple[str, int, int]:
        """Like `position`, but of the mapping key (for unknown fields)."""
        return self._lookup(rule_index, keys, use_key=True)

    def _lookup(self, rule_index: int, keys: KeyPath, use_key: bool) -> tuple[str, int, int]:
        src = self.sources[rule_index]
        path = tuple(keys)
        if use_key and path in src.keys:
            return (src.path, *src.keys[path])
        while path not in src.values and path:
            path = path[:-1]
        line, col = src.values.get(path, (1, 1))
        return src.path, line, col


# ---------------------------------------------------------------------------------------
# reading and decoding


def read_text(path: Path) -> str:
    """The file's text, or a LoadError (F001 I/O, F002 encoding/binary, F003 too large)."""
    try:
        data = read_limited(path, MAX_BYTES)  # regular files only: never waits on a FIFO
    except FileProblem as exc:
        if exc.too_large:
            raise LoadError("F003", f"file is over the {MAX_BYTES}-byte limit; split it") from None
        raise LoadError("F001", f"cannot read {path.name}: {exc.reason}") from None
    return decode(data)


# byte order marks of the Unicode encodings other than UTF-8 (UTF-32 first: its little-endian
# mark begins with UTF-16's)
_OTHER_BOMS = (
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe", "UTF-16"),
    (b"\xfe\xff", "UTF-16"),
)


def decode(data: bytes) -> str:
    if len(data) > MAX_BYTES:
        raise LoadError(
            "F003", f"text is {len(data)} bytes, over the {MAX_BYTES}-byte limit; split it"
        )
    return decode_any_size(data)


def decode_any_size(data: bytes) -> str:
    """`data` as UTF-8 text (a UTF-8 byte order mark dropped), else a LoadError F002 saying
    what it is and where."""
    for bom, encoding in _OTHER_BOMS:
        if data.startswith(bom):  # Windows Notepad's "Unicode" is UTF-16: not a binary file
            raise LoadError(
                "F002", f"{encoding} text (byte order mark); save the file as UTF-8"
            )
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise LoadError("F002", "binary file (NUL byte); rule files are UTF-8 text", line)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise LoadError(
            "F002",
            f"not valid UTF-8 (byte 0x{data[exc.start]:02x}); save the file as UTF-8",
            line,
            col,
        ) from None
    return text


# ---------------------------------------------------------------------------------------
# YAML nodes -> Python values with positions


_SURROGATE = re.compile("[\ud800-\udfff]")


class _Builder:
    def __init__(self) -> None:
        self.nodes = 0
        self.top: Pos = (1, 1)
        self.values: dict[KeyPath, Pos] = {}
        self.keys: dict[KeyPath, Pos] = {}
        self._scalars = yaml.SafeLoader("")

    def build(self, node: yaml.Node, path: KeyPath, depth: int = 0) -> Any:
        self.nodes += 1
        if depth == 1:
            self.top = _pos(node)  # findings about expansion point at the top-level value
        if self.nodes > MAX_NODES:
            raise LoadError(
                "F006",
                f"more than {MAX_NODES} values after expanding aliases; do not use anchors this way",  # noqa: E501
                *self.top,
            )
        if depth > MAX_DEPTH:
            raise LoadError("F004", f"nesting deeper than {MAX_DEPTH} levels", *_pos(node))
        self.values[path] = _pos(node)
        if isinstance(node, yaml.CollectionNode) and node.tag not in _PLAIN_COLLECTIONS:
            # scalars go through SafeLoader, which refuses tags it does not know; a mapping or
            # a list is built here, so a tag on it (`!!python/object:x {...}`, `!!set`,
            # `!!omap`) would be dropped silently and the rule read as if it were not there
            raise LoadError(
                "F004",
                f"unsupported YAML tag {_tag_text(node.tag)}: remove it (rule files are plain "
                "mappings and lists)",
                *_pos(node),
            )
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    raise LoadError("F004", "mapping keys must be plain strings", *_pos(key_node))
                if key_node.tag == "tag:yaml.org,2002:merge":
                    raise LoadError(
                        "F004",
                        "YAML merge keys (`<<:`) are not supported: write the fields out in each "
                        "rule",
                        *_pos(key_node),
                    )
                key = self._scalar(key_node)
                if not isinstance(key, str):
                    # `yes:`, `1:`, `2024-01-01:` as a key: keep the text as written (a date
                    # or bytes key was shown as Python's repr, at the rule's first line)
                    key = key_node.value
                if key in out:
                    first = self.keys.get((*path, key), (0, 0))[0]
                    raise LoadError(
                        "F005",
                        f"duplicate key {shown(key)} (first at line {first}); keep one",
                        *_pos(key_node),
                    )
                self.keys[(*path, key)] = _pos(key_node)
                out[key] = self.build(value_node, (*path, key), depth + 1)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        return self._scalar(node)

    def _scalar(self, node: yaml.Node) -> Any:
        try:
            value = self._scalars.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            raise LoadError(
                "F004", f"unsupported YAML value: {_problem(exc)}", *_pos(node)
            ) from None
        except (ValueError, OverflowError) as exc:  # e.g. a timestamp PyYAML cannot represent
            reason = str(exc)
            if "integer string conversion" in reason:  # not Python's advice on sys.set_int_...
                reason = (f"a number of more than {sys.get_int_max_str_digits()} digits; "
                          "quote it if it is text")
            raise LoadError("F004", f"invalid YAML value: {reason}", *_pos(node)) from None
        if isinstance(value, str) and (m := _SURROGATE.search(value)):
            # PyYAML keeps "\ud83d\ude00" (JSON's escape of one character) as two halves: join
            # them; a lone half is not Unicode and the payload could not be UTF-8
            try:
                value = value.encode("utf-16-le", "surrogatepass").decode("utf-16-le")
            except UnicodeDecodeError:
                raise LoadError(
                    "F002",
                    f"lone surrogate escape \\u{ord(m.group()):04x} is not Unicode text; "
                    "remove it or write the character itself",
                    *_pos(node),
                ) from None
        return value


_PLAIN_COLLECTIONS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")


def _tag_text(tag: str) -> str:
    """A tag as it is written in YAML (`!!set`, `!foo`), quoted for a message."""
    standard = "tag:yaml.org,2002:"
    short = "!!" + tag.removeprefix(standard) if tag.startswith(standard) else tag
    return f"`{short[:80]}`"


def _pos(node: yaml.Node) -> Pos:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _problem(exc: yaml.YAMLError) -> str:
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    return f"{context}: {problem}" if context else str(problem)


def _fix(problem: str) -> str:
    """What to do about the YAML errors careless editing makes most (empty if none is known)."""
    if "'\\t'" in problem or "tab character" in problem:
        return "; write spaces instead of the tab"
    if "single document" in problem:
        return (
            "; a rule file is one document: put every rule in one `rules:` list and remove "
            "the `---` line"
        )
    return ""


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json.loads' object_pairs_hook: a duplicate key is F005 (JSON keeps the last one)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise LoadError("F005", f"duplicate key {shown(key)}; keep one")
        out[key] = value
    return out


def parse_document(text: str) -> tuple[Any, _Builder]:
    """Parse YAML (JSON is accepted too) into values with positions, or raise LoadError."""
    builder = _Builder()
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        tabs = "\t" in text
        try:
            data = json.loads(text, object_pairs_hook=_no_duplicate_keys)
        except (ValueError, RecursionError):  # not JSON either: the YAML error says why
            problem = _problem(exc)
            raise LoadError(
                "F004", f"YAML syntax error: {problem}{_fix(problem)}", line, col
            ) from None
        except LoadError:  # a duplicate key: found again below, with its position
            if not tabs:
                raise
        if tabs:
            # JSON that YAML refuses for its tabs (`json.dumps(indent="\t")`). JSON strings
            # cannot hold a raw tab, so every tab is white space between tokens: as spaces,
            # the same JSON, which YAML reads with lines, columns and duplicate keys (F005)
            return parse_document(text.replace("\t", " "))
        return data, builder  # other JSON YAML 1.1 refuses: accepted, without positions
    except yaml.YAMLError as exc:  # e.g. several documents, or reader errors (control characters)
        mark = getattr(exc, "problem_mark", None)
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise LoadError("F004", f"YAML error: {_problem(exc)}", line, col) from None
    except RecursionError:
        raise LoadError("F004", f"nesting deeper than {MAX_DEPTH} levels") from None
    if node is None:
        return None, builder
    try:
        return builder.build(node, ()), builder
    except RecursionError:
        raise LoadError("F004", f"nesting deeper than {MAX_DEPTH} levels") from None


# ---------------------------------------------------------------------------------------
# validation

RULE_FIELDS = list(Rule.model_fields)
NESTED_FIELDS: dict[str, list[str]] = {
    "controls": ["selector", "label"],
    "request": ["method", "path", "json_true"],
    "examples": ["match", "no_match"],
}


def _did_you_mean(word: str, loc: KeyPath) -> str:
    parent = next((str(p) for p in reversed(loc[:-1]) if isinstance(p, str)), None)
    choices = NESTED_FIELDS.get(parent, []) if parent else RULE_FIELDS
    if parent == "message":
        return ""
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if close:
        return f"; did you mean `{close[0]}`?"
    return f"; allowed: {', '.join(choices)}" if choices else ""


_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def _name(key: object) -> str:
    """A field name as messages show it: as written when it is a plain name, else quoted
    with escapes (a key holding a newline must not break the finding's line); cut as
    `shown` cuts values."""
    text = str(key)
    if len(text) > SHOWN_CHARS:
        return f"{json.dumps(text[:SHOWN_CHARS], ensure_ascii=False)}... ({len(text)} characters)"
    return text if _PLAIN_NAME.fullmatch(text) else json.dumps(text, ensure_ascii=False)


def _loc_text(loc: KeyPath) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not _PLAIN_NAME.fullmatch(part) or len(part) > SHOWN_CHARS:
            out += f"[{_name(part)}]" if out else _name(part)
        else:
            out += f".{part}" if out else part
    return out or "rule"


def _type_name(value: Any) -> str:
    return {
        dict: "a mapping",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "empty",
    }.get(type(value), type(value).__name__)


def validation_findings(exc: ValidationError, rule_index: int, result: LoadResult) -> list[Finding]:
    findings: list[Finding] = []
    for err in exc.errors(include_url=False):
        loc: KeyPath = tuple(err["loc"])
        # `message` values are dict[str, str]: pydantic adds the key to the location
        kind = err["type"]
        where = _loc_text(loc)
        if kind == "extra_forbidden":
            path, line, col = result.key_position(rule_index, *loc)
            name = str(loc[-1])
            code, msg = "S001", f"unknown field `{where}`{_did_you_mean(name, loc)}"
        elif kind == "missing":
            path, line, col = result.position(rule_index, *loc)
            code, msg = "S002", f"missing required field `{where}`"
        elif kind == "string_pattern_mismatch" and loc == ("id",):
            path, line, col = result.position(rule_index, *loc)
            code, msg = (
                "S004",
                f"id {shown(err['input'])} must match [a-z0-9-]+ (lowercase, digits, dashes)",
            )
        elif kind == "value_error" and loc[:1] == ("controls",):
            path, line, col = result.position(rule_index, *loc)
            code, msg = "S005", f"`{where}` needs exactly one of `selector` or `label`"
        else:
            path, line, col = result.position(rule_index, *loc)
            got = _type_name(err.get("input"))
            reason = err["msg"][0].lower() + err["msg"][1:]
            code, msg = "S003", f"`{where}`: {reason} (got {got})"
        findings.append(Finding.at(path, line, col, code, msg))
    return findings


def _per_rule(positions: dict[KeyPath, Pos]) -> dict[int, dict[KeyPath, Pos]]:
    """The positions under `rules[i]`, by i, with paths relative to the rule: in one pass
    (a pass over every position per rule took minutes for a file of a few thousand rules)."""
    out: dict[int, dict[KeyPath, Pos]] = {}
    for path, pos in positions.items():
        if len(path) >= 2 and path[0] == "rules" and isinstance(path[1], int):
            out.setdefault(path[1], {})[path[2:]] = pos
    return out


def _load_one(text: str, name: str, result: LoadResult) -> list[Rule | None]:
    """Parse and validate one file; append its sources and findings to `result`."""
    try:
        data, builder = parse_document(text)
    except LoadError as exc:
        result.findings.append(Finding.at(name, exc.line, exc.col, exc.code, exc.message))
        return []
    if not isinstance(data, dict) or "rules" not in data:
        got = _type_name(data) if not isinstance(data, dict) else "a mapping without `rules`"
        result.findings.append(
            Finding.at(
                name, 1, 1, "F007", f"the file must be a mapping with a `rules:` list (got {got})"
            )
        )
        return []
    for key in data:
        if key != "rules":
            line, col = builder.keys.get((key,), (1, 1))
            hint = (
                "; did you mean `rules`?" if difflib.get_close_matches(str(key), ["rules"]) else ""
            )
            result.findings.append(
                Finding.at(name, line, col, "S001", f"unknown top-level field `{_name(key)}`{hint}")
            )
    raw_rules = data["rules"]
    if not isinstance(raw_rules, list):
        line, col = builder.values.get(("rules",), (1, 1))
        result.findings.append(
            Finding.at(
                name,
                line,
                col,
                "F007",
                f"`rules` must be a list of rules (got {_type_name(raw_rules)})",
            )
        )
        return []
    out: list[Rule | None] = []
    values, keys = _per_rule(builder.values), _per_rule(builder.keys)
    for i, raw in enumerate(raw_rules):
        result.sources.append(SourceRule(name, i, values.get(i, {}), keys.get(i, {}), raw))
        index = len(result.sources) - 1
        try:
            out.append(Rule.model_validate(raw))
        except ValidationError as exc:
            result.findings.extend(validation_findings(exc, index, result))
            out.append(None)
    return out


def _finish(result: LoadResult, rules: list[Rule | None]) -> LoadResult:
    result.rules = rules
    seen: dict[str, int] = {}
    for index, rule in enumerate(rules):
        if rule is None:
            continue
        if rule.id in seen:
            first = result.position(seen[rule.id], "id")
            path, line, col = result.position(index, "id")
            result.findings.append(
                Finding.at(
                    path,
                    line,
                    col,
                    "S006",
                    f"duplicate id {shown(rule.id)} (first at {first[0]}:{first[1]}); ids must be unique",  # noqa: E501
                )
            )
        else:
            seen[rule.id] = index
    has_errors = any(f.severity == "error" for f in result.findings)
    if not rules and not has_errors and result.files:
        # published, it would reach every browser as "no rules", which the extension refuses
        result.findings.append(
            Finding.at(result.files[0], 1, 1, "F008", "no rules: `rules:` is empty; add a rule")
        )
        has_errors = True
    valid = [r for r in rules if r is not None]
    result.ruleset = None if has_errors or len(valid) != len(rules) else RuleSet(rules=valid)
    return result


def load_text(text: str | bytes, name: str) -> LoadResult:
    """Load one ruleset given as text (YAML or JSON); `name` is used as the path in findings."""
    result = LoadResult(ruleset=None, files=[name])
    try:
        text = decode(text) if isinstance(text, bytes) else text.removeprefix("\ufeff")
        if len(text) > MAX_BYTES:
            raise LoadError("F003", f"text is over the {MAX_BYTES}-byte limit; split it")
    except LoadError as exc:
        result.findings.append(Finding.at(name, exc.line, exc.col, exc.code, exc.message))
        return result
    result.texts[name] = text
    return _finish(result, _load_one(text, name, result))


RULE_SUFFIXES = (".yaml", ".yml")


def rule_files(paths: Iterable[str | Path]) -> list[Path]:
    """Expand directories to their *.yaml / *.yml entries (sorted); keep files as given.

    Every entry named so is a rule file, whatever it is: a broken symbolic link or a
    directory is then reported as unreadable (F001), never skipped (the ruleset would ship
    without it). Emacs lock links (`.#name.yaml`, which point nowhere) are not rule files.
    A file reached twice (`pwguard lint rules rules/zoho.yaml`) is kept once, else every id
    in it would be its own duplicate.
    """
    return _expand(paths)[0]


def _expand(paths: Iterable[str | Path]) -> tuple[list[Path], list[tuple[Path, str]]]:
    """rule_files(paths), and the folders that could not be listed with why."""
    out: list[Path] = []
    unlisted: list[tuple[Path, str]] = []
    seen: set[str] = set()
    for p in map(Path, paths):
        if p.is_dir():
            try:
                found = sorted(
                    q
                    for q in p.iterdir()
                    if q.name.endswith(RULE_SUFFIXES) and not q.name.startswith(".#")
                )
            except OSError as exc:
                unlisted.append((p, describe_error(p, exc)))
                continue
        else:
            found = [p]
        for q in found:
            key = os.path.realpath(q)  # Path.resolve() raises on a symbolic link loop
            if key not in seen:
                seen.add(key)
                out.append(q)
    return out, unlisted


def load_paths(paths: Sequence[str | Path]) -> LoadResult:
    """Load every rule file under `paths` (files or directories) into one RuleSet."""
    result = LoadResult(ruleset=None)
    rules: list[Rule | None] = []
    files, unlisted = _expand(paths)
    for folder, reason in unlisted:
        result.findings.append(
            Finding.at(str(folder), 0, 0, "F001", f"cannot list the folder {folder.name}: {reason}")
        )
    if not files:
        if unlisted:
            return result
        where = ", ".join(map(str, paths)) or "."
        result.findings.append(
            Finding.at(
                where,
                0,
                0,
                "F008",
                "no rule files (*.yaml, *.yml) here: name a folder that holds rule files, or a "
                "rule file",
            )
        )
        return result
    for path in files:
        name = str(path)
        result.files.append(name)
        try:
            text = read_text(path)
        except LoadError as exc:
            result.findings.append(Finding.at(name, exc.line, exc.col, exc.code, exc.message))
            continue
        result.texts[name] = text
        rules += _load_one(text, name, result)
    return _finish(result, rules)

"""From rules (a folder or a request body) to payload bytes, gated by the linter the CLI uses."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pwguard.lint import lint_paths, lint_text
from pwguard.rules.bundle import payload_bytes, version_of


class FindingLike(Protocol):
    code: str
    path: str
    line: int
    col: int
    message: str
    severity: str


@dataclass(frozen=True)
class Built:
    """A linted ruleset's version and canonical payload bytes."""

    version: str
    payload: bytes


@dataclass(frozen=True)
class Outcome:
    """What the linter said, and the payload when it found no errors."""

    built: Built | None
    findings: list[Any]
    errors: list[Any]


def _outcome(result: Any) -> Outcome:
    findings = list(result.findings)
    errors = list(result.errors)
    if errors or result.ruleset is None:
        return Outcome(None, findings, errors)
    ruleset = result.ruleset
    return Outcome(Built(version_of(ruleset), payload_bytes(ruleset)), findings, errors)


def build_dir(rules_dir: Path) -> Outcome:
    """Lint a rules folder the way `pwguard lint` does and build its payload."""
    return _outcome(lint_paths([rules_dir]))


def build_text(text: str, name: str, fixtures_dir: Path) -> Outcome:
    """Lint one ruleset text (YAML or JSON) and build its payload."""
    return _outcome(lint_text(text, name, fixtures_dir))


def format_finding(f: Any) -> str:
    """`path:line:col: CODE message`, the linter's text format."""
    return f"{f.path}:{f.line}:{f.col}: {f.code} {f.message}"


def finding_json(f: Any) -> dict[str, Any]:
    """A finding as the JSON the admin API returns and `pwguard publish` prints."""
    return {
        "code": f.code,
        "path": str(f.path),
        "line": f.line,
        "col": f.col,
        "message": f.message,
        "severity": str(getattr(f, "severity", "error")),
    }

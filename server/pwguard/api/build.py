"""From rules (a folder or a request body) to payload bytes, gated by the linter the CLI uses."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pwguard.lint import LintResult, lint_paths, lint_text
from pwguard.lint.formatters import text as text_format
from pwguard.rules.bundle import payload_bytes, version_of
from pwguard.rules.finding import Finding


@dataclass(frozen=True)
class Built:
    """A linted ruleset's version and canonical payload bytes."""

    version: str
    payload: bytes


@dataclass(frozen=True)
class Outcome:
    """What the linter said, and the payload when it found no errors."""

    built: Built | None
    findings: list[Finding]
    errors: list[Finding]


def _outcome(result: LintResult, findings: list[Finding] | None = None) -> Outcome:
    findings = list(result.findings) if findings is None else findings
    errors = [f for f in findings if f.severity == "error"]
    if errors or result.ruleset is None:
        return Outcome(None, findings, errors)
    ruleset = result.ruleset
    return Outcome(Built(version_of(ruleset), payload_bytes(ruleset)), findings, errors)


def build_dir(rules_dir: Path) -> Outcome:
    """Lint a rules folder the way `pwguard lint` does and build its payload."""
    return _outcome(lint_paths([rules_dir]))


# An example page the server does not have (E001) was checked where the rules were written:
# `pwguard publish` lints locally with the publisher's fixtures before it sends anything, and
# pages cannot be uploaded with the rules. Refusing would block every publish that adds a
# fixture page for a Zoho redesign, so the server reports it as a warning; examples it does
# have are still checked (E002/E003 stay errors).
SERVER_WARNINGS = frozenset({"E001"})


def build_text(text: str, name: str, fixtures_dir: Path | None) -> Outcome:
    """Lint one published ruleset text (YAML or JSON) and build its payload."""
    result = lint_text(text, name, fixtures_dir)
    findings = [
        replace(f, severity="warning", message=f"{f.message} (not on this server; "
                "`pwguard publish` checks it where the fixtures are)")
        if f.code in SERVER_WARNINGS and f.severity == "error" else f
        for f in result.findings
    ]
    return _outcome(result, findings)


def format_finding(f: Finding) -> str:
    """`path:line:col: CODE message`, as `pwguard lint` prints it (warnings marked)."""
    return text_format([f]).rstrip("\n")


def finding_json(f: Finding) -> dict[str, Any]:
    """A finding as the JSON the admin API returns and `pwguard publish` prints."""
    return f.to_dict()

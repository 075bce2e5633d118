"""`pwguard lint`: check rule files and report findings `path:line:col: CODE message`.

API (docs/internals.md): `lint_paths(paths, select=(), ignore=())` and
`lint_text(text, name, fixtures_dir=None)` return a `LintResult` whose `.findings` are
`Finding(path, line, col, code, message, severity)` values, `.errors` those of error
severity (what gates `PUT /v1/admin/rules`), and `.ruleset` the validated RuleSet (None
when the rules could not be loaded or validated).

Fixture pages (for examples and the harmless-control checks) live in the `fixtures/`
folder beside each rule file. `lint_text` uses `fixtures_dir` when given; when it is None
it falls back to the repository's `rules/fixtures/` if that folder exists (editable
installs, the dev server), else the checks that need fixture files are skipped (examples
are then not resolved; the harmless-control checks see no pages).

Severity: errors fail the server gate; warnings don't. `pwguard lint` exits 1 on any
reported finding, warnings included (like flake8): silence a warning inline with a reason
or `--ignore` its code. F and S findings (the rules cannot be read or loaded) are always
reported: silences and `select`/`ignore` do not hide them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pwguard.lint import check_controls, check_examples, check_messages, check_request, check_sites
from pwguard.lint.codes import always_reported
from pwguard.lint.context import Context, Fixtures
from pwguard.lint.silence import apply as apply_silences
from pwguard.rules.bundle import (
    MAX_SIGNED_BYTES,
    canonical_json,
    payload_bytes,
    rule_payload,
    signed_size,
)
from pwguard.rules.finding import Finding
from pwguard.rules.loader import LoadResult, load_paths, load_text
from pwguard.rules.model import RuleSet

__all__ = ["Finding", "LintResult", "lint_paths", "lint_text", "unreadable"]

CHECKS = (check_sites, check_controls, check_messages, check_request, check_examples)
DEFAULT_FIXTURES = Path(__file__).resolve().parents[3] / "rules" / "fixtures"


@dataclass
class LintResult:
    findings: list[Finding]
    ruleset: RuleSet | None
    files: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    def to_dict(self) -> dict[str, object]:
        return {"findings": [f.to_dict() for f in self.findings], "errors": len(self.errors)}


def unreadable(findings: Sequence[Finding]) -> bool:
    """Whether a rule file could not be read (F001, never filtered out): every command that
    reads rules then exits 2, an I/O error as `pwguard lint` says it, not 1 (lint findings)."""
    return any(f.code == "F001" for f in findings)


def _check_bundle_size(load: LoadResult, ruleset: RuleSet, ctx: Context) -> None:
    """F009, at the rule that takes the most of the bundle, when the signed bundle is over
    what the extension takes."""
    size = signed_size(payload_bytes(ruleset))
    if size <= MAX_SIGNED_BYTES:
        return
    sizes = [len(canonical_json(rule_payload(rule))) for rule in ruleset.rules]
    largest = max(range(len(sizes)), key=sizes.__getitem__)
    path, line, col = (load.position(largest) if len(load.sources) == len(sizes)
                       else (load.files[0], 1, 1))
    ctx.findings.append(Finding.at(
        path, line, col, "F009",
        f"the rules sign to a {size}-byte bundle, over the extension's {MAX_SIGNED_BYTES}-byte "
        "limit: every browser would refuse it and keep its last rules; remove rules or label "
        "phrases (an alias `*name` repeats its anchor's list in the bundle); the largest rule, "
        f"{ruleset.rules[largest].id} (here), takes {sizes[largest]} bytes of it"))


def selected(code: str, select: Sequence[str], ignore: Sequence[str]) -> bool:
    if always_reported(code):
        return True
    if select and not any(code.startswith(p) for p in select):
        return False
    return not any(code.startswith(p) for p in ignore)


def _run(
    load: LoadResult,
    fixtures_for: dict[str, Fixtures],
    select: Sequence[str],
    ignore: Sequence[str],
) -> LintResult:
    ctx = Context(load, fixtures_for, findings=list(load.findings))
    for check in CHECKS:
        check.check(ctx)
    ctx.report_fixture_problems()
    if load.ruleset is not None:
        _check_bundle_size(load, load.ruleset, ctx)
    findings = apply_silences(ctx.findings, load.texts)
    findings = sorted(
        {f for f in findings if selected(f.code, select, ignore)}, key=Finding.sort_key
    )
    return LintResult(findings, load.ruleset, list(load.files))


def lint_paths(
    paths: Sequence[str | Path], select: Sequence[str] = (), ignore: Sequence[str] = ()
) -> LintResult:
    """Lint rule files and folders; each file's examples resolve in its sibling `fixtures/`."""
    load = load_paths(paths)
    shared: dict[Path, Fixtures] = {}  # one per folder: harmless controls are computed once
    fixtures_for = {
        f: shared.setdefault(Path(f).parent / "fixtures", Fixtures(Path(f).parent / "fixtures"))
        for f in load.files
    }
    return _run(load, fixtures_for, select, ignore)


def lint_text(
    text: str | bytes,
    name: str,
    fixtures_dir: str | Path | None = None,
    select: Sequence[str] = (),
    ignore: Sequence[str] = (),
) -> LintResult:
    """Lint one ruleset given as YAML or JSON text (the server's PUT gate)."""
    load = load_text(text, name)
    root = Path(fixtures_dir) if fixtures_dir is not None else DEFAULT_FIXTURES
    fixtures_for = {name: Fixtures(root)} if fixtures_dir is not None or root.is_dir() else {}
    return _run(load, fixtures_for, select, ignore)

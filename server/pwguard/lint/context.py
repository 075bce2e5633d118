"""What checks see: the loaded rules with positions, and the fixture pages beside them."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from pwguard.lint.codes import severity
from pwguard.rules.engine import Element, Page, fold
from pwguard.rules.files import MAX_PAGE, FileProblem, describe_error, kind_problem, read_limited
from pwguard.rules.finding import Finding, shown
from pwguard.rules.loader import MAX_BYTES, LoadResult
from pwguard.rules.model import Rule
from pwguard.rules.selectors import SelectorError, compile_selector

HARMLESS_DIR = "harmless"
HARMLESS_SELECTORS = "harmless-controls.txt"


@dataclass(frozen=True)
class HarmlessControl:
    page: str  # path relative to the fixtures folder
    element: Element
    label: str
    folded: str

    def describe(self) -> str:
        ident = f"#{self.element.get('id')}" if self.element.get("id") else self.element.tag
        return f"{ident} ({self.label[:60]!r}) in {self.page}"


_COMMENT = re.compile(r"(^|\s)#(\s|$)")


def strip_comment(line: str) -> str:
    """A selector line without its comment: `#` followed by a space (or the line end) starts a
    comment, so that `#ter_all` stays a selector."""
    m = _COMMENT.search(line)
    return (line[: m.start()] if m else line).strip()


@lru_cache(maxsize=512)
def _page(path: str, mtime_ns: int, size: int) -> Page:
    return Page(read_limited(Path(path), MAX_PAGE))


def load_page(path: Path) -> Page:
    """A parsed fixture page, cached while the file is unchanged; FileProblem if it cannot be
    read (not a regular file, a broken link, over MAX_PAGE bytes...)."""
    try:
        st = path.stat()
    except OSError as exc:
        raise FileProblem(describe_error(path, exc)) from None
    problem = kind_problem(st.st_mode)
    if problem:
        raise FileProblem(problem)
    return _page(str(path), st.st_mtime_ns, st.st_size)


def page_problem(path: Path, exc: FileProblem) -> tuple[str, str]:
    """(code, message) of a fixture page that cannot be used."""
    if exc.too_large:
        return "F003", f"page is over the {MAX_PAGE}-byte limit; save a smaller page"
    return "F001", f"cannot read {path.name}: {exc.reason}"


@dataclass
class Fixtures:
    """The `fixtures/` folder beside a rule file (may not exist)."""

    root: Path
    _harmless: list[HarmlessControl] | None = None
    problems: list[tuple[int, str]] = field(default_factory=list)  # harmless-controls.txt
    # files that cannot be read: path -> (code, message), reported once (F001, F003)
    unreadable: dict[Path, tuple[str, str]] = field(default_factory=dict)
    # example pattern -> the pages it names, and how many links out of the folder it names
    # (check_examples: one glob per pattern, not per rule)
    globbed: dict[str, tuple[list[Path], int]] = field(default_factory=dict)

    @property
    def exists(self) -> bool:
        return self.root.is_dir()

    def pages(self) -> list[Path]:
        return sorted(self.root.rglob("*.html")) if self.exists else []

    def rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def harmless_selectors(self) -> list[tuple[int, str]]:
        """(line, selector) of harmless-controls.txt (none if the file is absent)."""
        f = self.root / HARMLESS_SELECTORS
        if not os.path.lexists(f):
            return []
        try:
            lines = read_limited(f, MAX_BYTES).decode("utf-8").splitlines()
        except FileProblem as exc:
            self.unreadable[f] = (
                ("F003", f"over the {MAX_BYTES}-byte limit; keep one selector a line")
                if exc.too_large
                else ("F001", f"cannot read {HARMLESS_SELECTORS}: {exc.reason}")
            )
            return []
        except UnicodeDecodeError as exc:
            self.problems.append((1, f"cannot read {HARMLESS_SELECTORS}: {exc}"))
            return []
        numbered = ((n, strip_comment(line)) for n, line in enumerate(lines, start=1))
        return [(n, sel) for n, sel in numbered if sel]

    def harmless(self) -> list[HarmlessControl]:
        """Every control of pages under harmless/, and controls matching harmless-controls.txt."""
        if self._harmless is not None:
            return self._harmless
        out: list[HarmlessControl] = []
        matchers = []
        for line, sel in self.harmless_selectors():
            try:
                matchers.append(compile_selector(sel))
            except SelectorError as exc:
                self.problems.append(
                    (line, f"harmless selector {shown(sel)}: {exc.message}; {exc.hint}")
                )
        harmless_root = self.root / HARMLESS_DIR
        for path in self.pages():
            try:
                page = load_page(path)
            except FileProblem as exc:
                self.unreadable[path] = page_problem(path, exc)
                continue
            all_harmless = harmless_root in path.parents
            for el in page.controls:
                if all_harmless or any(m(el) for m in matchers):
                    label = page.label_text(el)
                    out.append(HarmlessControl(self.rel(path), el, label, fold(label)))
        self._harmless = out
        return out


@dataclass
class Context:
    load: LoadResult
    fixtures_for: dict[str, Fixtures]  # rule file path -> its fixtures
    findings: list[Finding] = field(default_factory=list)

    def rules(self) -> Iterator[tuple[int, Rule]]:
        for index, rule in enumerate(self.load.rules):
            if rule is not None:
                yield index, rule

    def fixtures(self, index: int) -> Fixtures | None:
        return self.fixtures_for.get(self.load.sources[index].path)

    def report_fixture_problems(self) -> None:
        """E006 for unusable lines of each harmless-controls.txt, F001/F003 for files of the
        fixtures folder that cannot be read (once per fixtures folder)."""
        for fixtures in {id(f): f for f in self.fixtures_for.values()}.values():
            if fixtures.exists:
                fixtures.harmless()
            path = str(fixtures.root / HARMLESS_SELECTORS)
            for line, message in fixtures.problems:
                self.findings.append(Finding.at(path, line, 1, "E006", message, severity("E006")))
            for file, (code, message) in fixtures.unreadable.items():
                self.findings.append(Finding.at(str(file), 1, 1, code, message, severity(code)))

    def report(self, code: str, index: int, keys: tuple[str | int, ...], message: str) -> None:
        path, line, col = self.load.position(index, *keys)
        self.findings.append(Finding.at(path, line, col, code, message, severity(code)))

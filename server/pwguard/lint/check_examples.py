"""E: `examples` exist under fixtures/ and the engine agrees with them."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path, PurePosixPath

from pwguard.lint.context import Context, Fixtures, load_page, page_problem
from pwguard.rules.engine import Element, Page, fold, rule_covers
from pwguard.rules.files import FileProblem
from pwguard.rules.finding import shown
from pwguard.rules.model import Rule


@lru_cache(maxsize=512)
def _labelled(page: Page) -> list[tuple[Element, str, str]]:
    """Each control of a fixture page with its label and folded label: once per page, not
    once per rule whose examples name the page."""
    return [(el, label, fold(label)) for el in page.controls for label in [page.label_text(el)]]


def _covered(path: Path, rule: Rule) -> list[str]:
    hits = []
    for el, label, folded in _labelled(load_page(path)):
        if rule_covers(el, rule, folded):
            hits.append(f"#{el.get('id')}" if el.get("id") else f"{el.tag} {label[:40]!r}")
    return hits


# (rule, page) pairs checked in one run, at most: a 60-byte `examples: {match: ['**/*.html']}`
# names every fixture page, and a file of a few thousand such rules took minutes and wrote a
# million findings (the server's PUT gate too). The repository's rules check about 800.
MAX_PAGE_CHECKS = 100_000


def _pages(fixtures: Fixtures, pattern: str) -> tuple[list[Path], int]:
    """The regular files under the fixtures folder that `pattern` names, and how many more it
    names through symbolic links that leave the folder (those are not read); once per
    pattern."""
    known = fixtures.globbed.get(pattern)
    if known is None:
        root = fixtures.root.resolve()
        files, outside = [], 0
        try:
            for p in fixtures.root.glob(pattern) if fixtures.exists else ():
                if p.is_file():
                    if root in p.resolve().parents:
                        files.append(p)
                    else:
                        outside += 1
        except (ValueError, NotImplementedError, OSError, IndexError):
            files, outside = [], 0
        known = fixtures.globbed[pattern] = (sorted(files), outside)
    return known


def check(ctx: Context) -> None:
    checked = 0
    for index, rule in ctx.rules():
        examples = rule.examples
        if examples is None or not (examples.match or examples.no_match):
            ctx.report("E004", index, ("id",), f"rule {shown(rule.id)} has no examples")
            continue
        fixtures = ctx.fixtures(index)
        if fixtures is None:
            continue  # lint_text without a fixtures folder: documented skip
        for kind in ("match", "no_match"):
            for i, pattern in enumerate(getattr(examples, kind)):
                keys = ("examples", kind, i)
                pure = PurePosixPath(pattern)
                if (
                    pure.is_absolute()
                    or ".." in pure.parts
                    or "\\" in pattern
                    or not pattern.strip()
                    or not pure.parts  # "." or "./": the folder itself (glob("") raises)
                ):
                    ctx.report(
                        "E005",
                        index,
                        keys,
                        f"{shown(pattern)} must be a relative path inside fixtures/",
                    )
                    continue
                files, outside = _pages(fixtures, pattern)
                if not files:
                    ctx.report(
                        "E001",
                        index,
                        keys,
                        f"{shown(pattern)} names only files outside {fixtures.root} (symbolic "
                        "links that leave it, which are not read); copy the pages into it"
                        if outside
                        else f"{shown(pattern)} matches no file under {fixtures.root}",
                    )
                    continue
                checked += len(files)
                if checked > MAX_PAGE_CHECKS:
                    ctx.report(
                        "E007",
                        index,
                        keys,
                        f"the examples name more than {MAX_PAGE_CHECKS} pages in all (rules "
                        "times pages); name the pages that show each rule working, not every "
                        "page: the examples from here on are not checked",
                    )
                    return
                for f in files:
                    try:
                        hits = _covered(f, rule)
                    except FileProblem as exc:  # reported once, on the page (F001, F003)
                        fixtures.unreadable[f] = page_problem(f, exc)
                        continue
                    if kind == "match" and not hits:
                        ctx.report(
                            "E002",
                            index,
                            keys,
                            f"rule does not match any control of {fixtures.rel(f)}",
                        )
                    elif kind == "no_match" and hits:
                        ctx.report(
                            "E003", index, keys, f"rule matches {hits[0]} in {fixtures.rel(f)}"
                        )

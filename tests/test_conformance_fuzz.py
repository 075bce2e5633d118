"""Differential fuzz of the two matching engines: pages and rulesets from a seeded random
grammar (tests/fuzz_pages.py), engine.js run in Chromium and in Firefox (each page parsed by
the browser's own HTML parser, DOMParser, all pages in one call) against pwguard.rules.engine,
control by control.

The pages are well formed so that lxml and the browser build the same tree; the test
checks that first (a difference there is the generator's fault, or a parser difference,
not an engine's) and then compares every field of every verdict. It also checks that the
fuzz produces blocked, warned and unmatched controls, so that it cannot pass vacuously.
"""

from __future__ import annotations

import json
import random
from typing import Any

from lxml import etree

from pwguard.rules import engine as py_engine
from pwguard.rules.bundle import payload
from pwguard.rules.model import RuleSet
from pwguard.rules.selectors import SelectorError, compile_alternatives
from tests import fuzz_pages
from tests.test_conformance import FIELDS, AnyEnginePage
from tests.test_conformance import engine_page as engine_page  # (the fixture: one page a browser)

SEEDS = [*range(1, 41), 1903]  # 1903: "#z:not(*)" taken for "#z" (selectors.py, fixed)
PAGES_PER_SEED = 8



# the tree as the browser parsed it (templates empty: their content is not in the DOM),
# adjacent text nodes merged, and the verdicts of each ruleset
JS_RUN = r"""
([cases]) => cases.map(([bundle, pages]) => pages.map((html) => {
  const doc = new DOMParser().parseFromString(html, "text/html");
  const walk = (n) => {
    if (n.nodeType === 3) return n.data;
    if (n.nodeType === 8) return ["#comment", n.data];
    if (n.nodeType !== 1) return ["#node" + n.nodeType];
    const attrs = [...n.attributes].map((a) => [a.name, a.value]).sort();
    const kids = [];
    for (const c of n.childNodes) {
      const k = walk(c);
      if (typeof k === "string" && typeof kids[kids.length - 1] === "string") {
        kids[kids.length - 1] += k;
      } else {
        kids.push(k);
      }
    }
    return [n.localName, attrs, kids];
  };
  return { mode: doc.compatMode, tree: walk(doc.documentElement),
           verdicts: pwguardEngine.verdicts(doc, bundle) };
}))
"""


def py_tree(html: str) -> Any:
    """The lxml tree of the page in the shape JS_RUN gives (template contents left out)."""
    def walk(el: Any) -> list[Any]:
        if el.tag is etree.Comment:
            node: Any = ["#comment", el.text or ""]
        elif not isinstance(el.tag, str):
            node = ["#node" + str(el.tag)]
        else:
            kids: list[Any] = [el.text] if el.text else []
            if el.tag != "template":
                for child in el:
                    for k in walk(child):
                        if isinstance(k, str) and kids and isinstance(kids[-1], str):
                            kids[-1] += k
                        else:
                            kids.append(k)
            else:
                kids = []
            node = [el.tag, sorted([k, v] for k, v in el.attrib.items()), kids]
        return [node, el.tail] if el.tail else [node]

    return walk(py_engine.parse_html(html))[0]


def cases() -> list[tuple[int, RuleSet, list[list[str]]]]:
    return [(seed, *fuzz_pages.case(seed, PAGES_PER_SEED)) for seed in SEEDS]


def run_js(engine_page: AnyEnginePage, batch: list[tuple[RuleSet, list[str]]]) -> Any:
    return engine_page.call(JS_RUN, [[[payload(rs), pages] for rs, pages in batch]])


def py_verdicts(markup: str, rs: RuleSet) -> list[dict[str, Any]]:
    return [v.to_dict() for v in py_engine.verdicts(markup, rs)]


def shrink(engine_page: AnyEnginePage, rs: RuleSet, page: list[str]) -> tuple[RuleSet, str]:
    """A smaller ruleset and page on which the engines still differ: top-level blocks and
    rules dropped one at a time while they do (a few browser calls, on failure only)."""
    def differs(rs: RuleSet, page: list[str]) -> bool:
        markup = fuzz_pages.html(page)
        return bool(run_js(engine_page, [(rs, [markup])])[0][0]["verdicts"]
                    != py_verdicts(markup, rs))

    smaller = True
    while smaller:
        smaller = False
        for i in range(1, len(page)):
            if len(page) > 2 and differs(rs, page[:i] + page[i + 1:]):
                page, smaller = page[:i] + page[i + 1:], True
                break
        for i in range(len(rs.rules)):
            fewer = RuleSet(rules=rs.rules[:i] + rs.rules[i + 1:])
            if fewer.rules and differs(fewer, page):
                rs, smaller = fewer, True
                break
    return rs, fuzz_pages.html(page)


def describe(seed: int, rs: RuleSet, markup: str, js: list[dict[str, Any]],
             py: list[dict[str, Any]]) -> str:
    rules = [{"id": r.id, "controls": [c.model_dump(exclude_none=True) for c in r.controls]}
             for r in rs.rules]
    lines = [f"seed {seed}, shrunk; page (as a Python literal):", ascii(markup), "rules:",
             ascii(rules)]
    for j, p in zip(js, py, strict=False):
        diff = {f: (j[f], p[f]) for f in FIELDS if j[f] != p[f]}
        if diff:
            lines.append(f"control {p['index']} <{p['tag']} id={p['id']!r}>: " + ", ".join(
                f"{f}: JS {a!r} vs Python {b!r}" for f, (a, b) in diff.items()))
    if len(js) != len(py):
        lines.append(f"JS sees {len(js)} controls, Python {len(py)}")
    lines += [f"JS verdicts: {js!a}", f"Python verdicts: {py!a}"]
    return "\n".join(lines)


def test_fuzzed_pages_get_the_same_verdicts_from_both_engines(engine_page: AnyEnginePage) -> None:
    all_cases = cases()
    results = run_js(engine_page, [(rs, [fuzz_pages.html(p) for p in pages])
                                   for _, rs, pages in all_cases])
    outcomes: dict[str, int] = {"block": 0, "warn": 0, "none": 0}
    failures = []
    for (seed, rs, pages), js_pages in zip(all_cases, results, strict=True):
        for page, js in zip(pages, js_pages, strict=True):
            markup = fuzz_pages.html(page)
            assert js["mode"] == "CSS1Compat", f"seed {seed}: quirks mode:\n{markup}"
            tree = py_tree(markup)
            assert js["tree"] == tree, (
                f"seed {seed}: lxml and the browser parse this page differently (a generator "
                f"bug):\n{markup!a}\nbrowser: {json.dumps(js['tree'])}\n"
                f"lxml:    {json.dumps(tree)}")
            py = py_verdicts(markup, rs)
            for v in py:
                outcomes[v["action"] or "none"] += 1
            if js["verdicts"] != py:
                failures.append((seed, rs, page))
    if failures:
        seed, rs, page = failures[0]
        rs, markup = shrink(engine_page, rs, page)
        js = run_js(engine_page, [(rs, [markup])])[0][0]["verdicts"]
        raise AssertionError(f"{engine_page.name}: {len(failures)} pages differ; the first:\n"
                             + describe(seed, rs, markup, js, py_verdicts(markup, rs)))
    assert min(outcomes.values()) >= 100, f"the fuzz does not exercise every outcome: {outcomes}"


def selector_corpus() -> list[str]:
    """Generated selectors, the non-portable list, and character-level mutations of both."""
    rnd = random.Random(7)
    corpus = [fuzz_pages.selector(rnd) for _ in range(600)] + fuzz_pages.NON_PORTABLE
    noise = [*" \t\n\u00a0\u3000#.[]()=~|^$*+>,:'\"\\-_iIsS", "not(", ":not(", "input", "a"]
    for text in list(corpus):
        for _ in range(2):
            i = rnd.randrange(len(text) + 1)
            corpus.append(text[:i] + rnd.choice(noise) + text[i + rnd.randint(0, 2):])
    return corpus


def test_the_portable_selector_subset_is_the_same_in_both_engines(
    engine_page: AnyEnginePage,
) -> None:
    """engine.js's portable() accepts exactly what selectors.py parses (outside the subset
    a selector never matches, whatever the browser makes of it)."""
    corpus = selector_corpus()
    js = engine_page.call("(sels) => sels.map((s) => pwguardEngine.portable(s))", corpus)
    py = []
    for sel in corpus:
        try:
            compile_alternatives(sel)
            py.append(True)
        except SelectorError:
            py.append(False)
    diff = [(sel, a, b) for sel, a, b in zip(corpus, js, py, strict=True) if a != b]
    assert not diff, f"portable (selector, JS, Python): {diff[:10]}"
    assert 0.2 < sum(py) / len(py) < 0.8, "the corpus should hold both kinds"

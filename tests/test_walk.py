"""The C accelerator of Page (pwguard/rules/_walk.c) gives what Page's Python gives.

Page's index (the controls, the label[for] index) and each control's label parts and
ancestor ids come from walk_index when it is built; from Python otherwise, or for a page it
leaves to Python (a template, a void element libxml2 nested content in). Each page here is
read both ways and every result compared: the controls, their label parts, the ids above
them, label texts, verdicts and `pwguard scan`'s findings.
"""

from __future__ import annotations

import shutil
import sysconfig
from pathlib import Path
from typing import Any

import pytest

from pwguard.rules import engine
from pwguard.rules.engine import (
    Page,
    applicable_rules,
    collapse,
    compiled_rules,
    page_verdicts,
)
from pwguard.rules.loader import load_paths
from pwguard.scan import Vocabulary, scan_page
from tests import fuzz_pages
from tests.test_engine_fastpaths import FIXTURES, TRICKY

ROOT = Path(__file__).resolve().parents[1]

# (test_walk_is_built_where_a_c_compiler_is fails when it should be and is not)
needs_walk = pytest.mark.skipif(engine.walk_index is None, reason="_walk is not built")

EDGE_PAGES = [
    # label[for] and the ancestor label are the same element: its text counts once
    "<label for=a>A <input type=checkbox id=a></label>",
    # two label[for], then the ancestor label; ids compared exactly
    "<label for=a>one</label><label>two <input type=checkbox id=a></label><label for=a>3</label>"
    "<label for=A>no</label>",
    # aria-labelledby: ASCII white space splits (not U+000B, U+00A0), missing and repeated ids
    "<span id=x>X</span><span id='y\x0bz'>Y</span><input type=checkbox "
    "aria-labelledby=' x\tnope\n x y\x0bz' aria-label='Aria'><b id=x>second x</b>",
    "<i id='a\u00a0b'>nbsp</i><input type=checkbox aria-labelledby='a\u00a0b c'>",
    # an empty aria-label and id, an empty label[for]: no part
    "<label for=''>empty for</label><input type=checkbox id='' aria-label=''>",
    # role: exact, through character references; type: ASCII case-insensitive only
    "<div role=checkbox>r1</div><span role='&#115;witch'>r2</span><p role=Checkbox>no</p>"
    "<input type=CheckBox><input type=chec\u212abox><input role=switch type=text>",
    # a label that is a control (role=checkbox) has its own label[for] and ancestor label
    "<label>outer <label role=checkbox id=l for=z>inner</label></label><label for=l>for l</label>",
    # text of script, style, comments and processing instructions in a label
    "<label>a<script>s()</script><style>x{}</style><!--c--><?pi x?>b<input type=checkbox></label>",
    # no label parts: the fallback (parent, grandparent, great-grandparent text)
    "<div id=g>grand<div id=p><span><input type=checkbox id=c></span></div></div>",
    "<div>   <input type=checkbox>  </div>",
    # ids above, nearest first, empty ids left out, Zoho's sign-out forms
    "<form id=pass_esc_devices><div id=''><div id=terminate_mob_apps><div class=checkbox_div>"
    "<input class=checkbox_check type=checkbox id=ter_mob name=clear_mobile>"
    "<label for=ter_mob>Terminate all the mobile app sessions</label></div></div></div></form>",
    # deep nesting, every level with an id
    "".join(f"<div id=d{i}>" for i in range(200)) + "<input type=checkbox id=deep>x",
    # every WHITESPACE character collapses, and nothing else (U+200B, U+0085, U+180E...)
    "<label for=w>\t a\u00a0\u1680b\u2000\u200a\u2028\u2029c\u202f\u205f\u3000d\ufeff"
    "\u200be\u0085f\u180eg\x0bh\x0ci\u2007 </label><input type=checkbox id=w name=n "
    "class=' c1  c2 '><input type=checkbox id=w2 aria-label='\u3000'>",
    # non-ASCII everywhere
    "<form id='f\u00e9'><label for='\u00e9'>Caf\u00e9 \U0001d400</label>"
    "<input type=checkbox id='\u00e9' aria-label='\u2019q\u201d'></form>",
]

# pages walk_index leaves to Python (which mends them first)
PYTHON_PAGES = [
    TRICKY,
    "<template><input type=checkbox id=t></template><input type=checkbox id=u>",
    "<label>a<wbr>b<input type=checkbox id=w></label>",
    "<div><embed>x<input type=checkbox></div>",
]


def python_page(html: str | bytes, monkeypatch: pytest.MonkeyPatch) -> Page:
    with monkeypatch.context() as m:
        m.setattr(engine, "walk_index", None)
        return Page(html)


def ids_above(el: Any) -> tuple[str, ...]:
    return tuple(i for i in (a.get("id") for a in el.iterancestors()) if i)


def assert_same(html: str | bytes, monkeypatch: pytest.MonkeyPatch) -> Page:
    """Page with walk_index against Page without: every result the same. Returns the first."""
    fast, plain = Page(html), python_page(html, monkeypatch)
    assert fast.parts is not None, "walk_index left it to Python"
    assert plain.parts is None and plain.keys is None and plain.tags is None
    tree = fast.root.getroottree()
    path = plain.root.getroottree().getpath
    assert [tree.getpath(el) for el in fast.controls] == [path(el) for el in plain.controls]
    assert fast.parts == [collapse(plain.joined_parts(el)) for el in plain.controls]
    assert fast.above == [ids_above(el) for el in plain.controls]
    assert fast.keys == [(el.get("id"), el.get("name"), el.get("class")) for el in plain.controls]
    assert fast.tags == [el.tag for el in plain.controls]
    assert fast.labels_for.keys() == plain.labels_for.keys()
    assert [fast.label_text(el) for el in fast.controls] == [
        plain.label_text(el) for el in plain.controls
    ]
    return fast


def verdict_rows(page: Page, rules: Any) -> list[tuple[object, ...]]:
    return [
        (v.index, v.tag, v.id, v.name, v.label, v.rule_id, v.action)
        for v in page_verdicts(page, rules)
    ]


def test_walk_is_built_where_a_c_compiler_is() -> None:
    """`make install` builds it (setup.py; the build goes on without it when it fails)."""
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        pytest.skip(f"no C compiler ({compiler})")
    assert engine.walk_index is not None


@needs_walk
def test_fixture_pages_read_the_same_both_ways(monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = load_paths([ROOT / "rules"])
    assert loaded.ruleset is not None
    rules = compiled_rules(applicable_rules(loaded.ruleset, None))
    vocab = Vocabulary()
    controls = 0
    for path in FIXTURES:
        data = path.read_bytes()
        fast = assert_same(data, monkeypatch)
        plain = python_page(data, monkeypatch)
        assert verdict_rows(fast, rules) == verdict_rows(plain, rules), path
        scanned = [c.to_dict() for c in scan_page(path, fast, rules, vocab)]
        assert scanned == [c.to_dict() for c in scan_page(path, plain, rules, vocab)], path
        controls += len(fast.controls)
    assert controls > 900


@needs_walk
@pytest.mark.parametrize("html", EDGE_PAGES)
def test_edge_pages_read_the_same_both_ways(html: str, monkeypatch: pytest.MonkeyPatch) -> None:
    page = assert_same(html, monkeypatch)
    assert page.controls


@needs_walk
def test_label_texts_of_edge_pages() -> None:
    """What the edge pages are about, spelt out (both ways agree, see above)."""
    texts = [Page(html).parts for html in EDGE_PAGES]
    assert texts[0] == ["A"]
    assert texts[1] == ["one 3 two"]
    assert texts[2] == ["X X Y Aria"]  # (getElementById: the first x; "nope" skipped)
    assert texts[3] == ["nbsp"]  # (U+00A0 does not split: the id is "a\u00a0b")
    assert texts[5] == ["", "", "", ""]  # (a control's own text is no label part)
    roles = Page(EDGE_PAGES[5]).controls
    assert [(el.tag, el.get("role"), el.get("type")) for el in roles] == [
        ("div", "checkbox", None), ("span", "switch", None), ("input", None, "CheckBox"),
        ("input", "switch", "text")]
    assert texts[6] == ["for l outer inner"]
    assert texts[7] == ["as()x{}b"]
    assert texts[12] == ["a b c d \u200be\u0085f\u180eg h i", ""]
    assert Page(EDGE_PAGES[12]).keys == [("w", "n", " c1  c2 "), ("w2", None, None)]
    above = Page(EDGE_PAGES[10]).above
    assert above == [("terminate_mob_apps", "pass_esc_devices")]
    deep = Page(EDGE_PAGES[11]).above
    assert deep is not None and deep[0] == tuple(f"d{i}" for i in reversed(range(200)))


@needs_walk
def test_latin1_pages_read_the_same_both_ways(monkeypatch: pytest.MonkeyPatch) -> None:
    latin1 = "<label for=c>Caf\u00e9 \u00bfs\u00ed?</label><input type=checkbox id=c>"
    page = assert_same(latin1.encode("latin-1"), monkeypatch)
    assert page.parts == ["Caf\u00e9 \u00bfs\u00ed?"]


@needs_walk
@pytest.mark.parametrize("html", PYTHON_PAGES)
def test_pages_to_mend_are_left_to_python(html: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert engine.walk_index is not None
    assert engine.walk_index(engine.parse_html(html)) is None  # (Python mends it: see Page)
    page = Page(html)
    assert page.parts is None and page.above is None
    plain = python_page(html, monkeypatch)
    assert [el.get("id") for el in page.controls] == [el.get("id") for el in plain.controls]
    assert [page.label_text(el) for el in page.controls] == [
        plain.label_text(el) for el in plain.controls
    ]


@needs_walk
def test_fuzz_pages_read_the_same_both_ways(monkeypatch: pytest.MonkeyPatch) -> None:
    walked = mended = 0
    for seed in range(40):
        rs, pages = fuzz_pages.case(seed, 10)
        rules = compiled_rules(applicable_rules(rs, None))
        for blocks in pages:
            html = fuzz_pages.html(blocks)
            fast = Page(html)
            plain = python_page(html, monkeypatch)
            assert verdict_rows(fast, rules) == verdict_rows(plain, rules), (seed, html)
            if fast.parts is None:
                mended += 1
                continue
            assert_same(html, monkeypatch)
            walked += 1
    assert walked > 150 and mended > 50  # (both paths taken)


@needs_walk
def test_index_takes_an_element_only() -> None:
    assert engine.walk_index is not None
    with pytest.raises(TypeError, match="lxml element"):
        engine.walk_index("<html>")
    comment = Page("<p><!--c--></p>").root.xpath("//comment()")[0]
    assert engine.walk_index(comment) is None  # (not an element node: left to Python)

"""The engine's fast paths give exactly what the plain definitions give.

pwguard.rules.engine takes shortcuts for speed (fold of collapsed text, marks dropped by a
regex, textContent from libxml2, phrases as a trie regex, selectors indexed by id/name/class
and "#scope inner" split up); each is compared here with the definition it replaces.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from pathlib import Path

import pytest

from pwguard.rules import engine
from pwguard.rules.engine import (
    WHITESPACE,
    Page,
    Verdict,
    applicable_rules,
    collapse,
    compiled_rules,
    control_matches,
    fold,
    fold_collapsed,
    literal_alternation,
    page_verdicts,
    text_content,
)
from pwguard.rules.loader import load_paths
from pwguard.rules.model import RuleSet
from pwguard.rules.selectors import compile_alternatives

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = sorted((ROOT / "rules" / "fixtures").rglob("*.html"))
LABELS_TSV = ROOT / "tools" / "zoho" / "labels.tsv"
TRICKY = (
    "<html><body><div id=t>a<?php x ?>b<!--c-->d<script>if(a<b)&amp;</script><style>x{}</style>"
    "&amp;&foo;<textarea>t&lt;</textarea><xmp><b>x</b></xmp><template><i>T</i></template>"
    "<label for=q> \u00a8x\u0301 \u2019y\u201d <span>\U0001d400 \ufeff</span></label>"
    "<input type=checkbox id=q class='c1 c2'></div></body></html>"
)


def labels_tsv_texts() -> list[str]:
    with LABELS_TSV.open(encoding="utf-8", newline="") as fh:
        rows = csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        return sorted({r["value"] for r in rows})


def test_fold_adds_only_plain_spaces_to_other_characters() -> None:
    """fold_collapsed relies on it: NFKD, dropping marks and casefolding never turn a
    character outside WHITESPACE into white space other than U+0020."""
    table = engine._table()
    odd = []
    for cp in range(0x110000):
        c = chr(cp)
        if 0xD800 <= cp <= 0xDFFF or c in WHITESPACE:
            continue
        out = unicodedata.normalize("NFKD", c)
        if out == c and out.isascii():
            continue
        out = out.translate(table).casefold()
        if any(x in WHITESPACE and x != " " for x in out):
            odd.append(cp)
    assert odd == []


@pytest.mark.parametrize(
    "text",
    [
        *labels_tsv_texts(),
        "a \u0301 b",
        "\u0301a",
        "\u00a8",
        "x \u00a8",
        "\u2018Q\u2019 \u00c9",
        "\U0001d400\u0301",
        "a\x85 \x1cb",
        "\u3000 Ｆｕｌｌ ﬁ",
        "",
    ],
)
def test_fold_collapsed_is_fold(text: str) -> None:
    assert fold_collapsed(collapse(text)) == fold(text)
    plain = collapse(
        unicodedata.normalize("NFKD", text).translate(engine._table()).casefold()
    )  # the definition, step 5
    assert fold(text) == plain


def test_marks_regex_drops_exactly_the_table_marks_of_the_bmp() -> None:
    table = engine._table()
    text = "".join(chr(cp) for cp in range(0x10000) if not 0xD800 <= cp <= 0xDFFF)
    assert engine._without_marks(text) == text.translate(table)
    assert engine._without_marks(text + "\u2019") == (text + "\u2019").translate(table)


def test_text_content_is_itertext_on_every_element() -> None:
    pages = [p.read_bytes() for p in FIXTURES] + [TRICKY.encode()]
    checked = 0
    for data in pages:
        for el in Page(data).root.iter():
            if isinstance(el.tag, str):
                assert text_content(el) == "".join(el.itertext())
                checked += 1
    assert checked > 1000


def test_literal_alternation_finds_what_a_longest_first_alternation_finds() -> None:
    texts = labels_tsv_texts()
    phrases = sorted({fold(t)[i : i + n] for t in texts[:300] for i, n in ((0, 9), (3, 5))} - {""})
    trie = literal_alternation(phrases)
    plain = re.compile("|".join(map(re.escape, sorted(phrases, key=len, reverse=True))))
    found = 0
    for t in map(fold, texts):
        a, b = trie.search(t), plain.search(t)
        assert (a and (a.start(), a.group(0))) == (b and (b.start(), b.group(0)))
        found += a is not None
    assert found > 100
    assert literal_alternation([]).search("anything") is None


def rulesets() -> list[RuleSet]:
    from tests.test_conformance import stress_ruleset

    loaded = load_paths([ROOT / "rules"])
    assert loaded.ruleset is not None
    return [loaded.ruleset, stress_ruleset()]


def test_prepared_rules_give_the_verdicts_of_rule_by_rule_matching() -> None:
    """page_verdicts (indexed selectors, shared ancestor ids, phrase pre-check) against the
    plain definition (steps 7 and 9) on every fixture page."""
    covered = 0
    for rs in rulesets():
        rules = applicable_rules(rs, None)
        prepared = compiled_rules(rules)
        for path in [*FIXTURES, None]:
            page = Page(path.read_bytes() if path else TRICKY)
            got = [(v.rule_id, v.action) for v in page_verdicts(page, prepared)]
            want = []
            for el in page.controls:
                folded = fold(page.label_text(el))
                hits = [r for r in rules if any(control_matches(el, c, folded) for c in r.controls)]
                best = next((r for r in hits if r.action == "block"), hits[0] if hits else None)
                want.append((best.id, best.action) if best else (None, None))
            assert got == want, path
            covered += sum(1 for rule_id, _ in got if rule_id)
    assert covered > 500


SELECTORS = [
    "#ter_mob",
    "input[name=clear_mobile]",
    "#terminate_mob_apps input.checkbox_check:not(#include_oneauth)",
    "*#terminate_api_tok .checkbox_check, [id='ter_all'], [id=TER_ALL i]",
    "#pass_esc_devices input",
    "div.checkbox_div > input.checkbox_check[name^=clear_api]",
    "label ~ input, span + input[name~=x]",
]


@pytest.mark.parametrize("selector", SELECTORS)
def test_selector_alternatives_keys_and_scopes_hold(selector: str) -> None:
    matched = exact = 0
    for path in FIXTURES[::7]:
        for el in Page(path.read_bytes()).root.iter():
            if not isinstance(el.tag, str):
                continue
            for alt in compile_alternatives(selector):
                if alt.scope is not None and alt.inner is not None:
                    ids = {a.get("id") for a in el.iterancestors()}
                    assert alt.matcher(el) == (alt.inner(el) and alt.scope in ids)
                if alt.exact:
                    assert alt.key is not None and alt.key[0] == "id"
                    assert alt.matcher(el) == (el.get("id") == alt.key[1])
                    exact += 1
                if not alt.matcher(el):
                    continue
                matched += 1
                if alt.key is not None:
                    kind, value = alt.key
                    if kind == "class":
                        assert value in (el.get("class") or "").split()
                    else:
                        assert el.get(kind) == value
    assert matched > 0
    assert (exact > 0) == any(alt.exact for alt in compile_alternatives(selector))


def test_libxml2_logs_an_error_for_every_page_that_is_not_utf8() -> None:
    """parse_html decodes a page only when the UTF-8 parse logged an error: libxml2 must log
    one for any byte sequence that is not UTF-8, wherever it is."""
    bad = [b"\xe9", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf", b"\x80", b"\xff"]
    bad += [b"\xf8\x88\x80\x80\x80", b"\xe2\x82", b"\xf0\x9f\x98"]
    places = [
        b"<p>%s</p>",
        b"<p title='%s'>x</p>",
        b"<!-- %s -->",
        b"<script>%s</script>",
        b"<style>%s</style>",
        b"<p>x</p>%s",
        b"%s<p>x</p>",
        b"<p %s=1>",
        b"<%s>",
        b"<textarea>%s</textarea>",
        b"<title>%s</title>",
        b"<![CDATA[%s]]>",
        b"<?pi %s?>",
        b"<!DOCTYPE %s>",
    ]
    parser = engine._PARSERS.utf8
    checked = 0
    for place in places:
        for seq in bad:
            for before in (b"", "\u00e9t\u00e9 ".encode(), b"x" * 5000):
                data = before + place.replace(b"%s", seq)
                with pytest.raises(UnicodeDecodeError):
                    data.decode("utf-8")
                engine.parse_html(data)
                assert len(parser.error_log) > 0, data[-40:]
                checked += 1
    assert checked == len(places) * len(bad) * 3
    # and such a page is parsed as the text it is (Latin-1 here, as a browser would)
    page = Page(b"<label>Caf\xe9 <input type=checkbox></label>")
    assert page.label_text(page.controls[0]) == "Caf\u00e9"


def test_verdict_and_control_fill_their_fields_as_the_generated_init_would() -> None:
    """Verdict and Control store their fields into __dict__ themselves (faster than a frozen
    dataclass's generated __init__): same fields in the same order, equality, hash and
    immutability."""
    from dataclasses import FrozenInstanceError, asdict, fields

    from pwguard.scan import Control

    values = (3, "input", "a", "b", "Label", "rule-x", "block")
    v = Verdict(*values)
    assert vars(v) == dict(zip([f.name for f in fields(Verdict)], values, strict=True))
    assert list(vars(v)) == [f.name for f in fields(Verdict)]
    assert v == Verdict(*values) and hash(v) == hash(Verdict(*values))
    assert v != Verdict(4, *values[1:])
    with pytest.raises(FrozenInstanceError):
        v.index = 1  # type: ignore[misc]
    c = Control("page.html", 7, v, ("why",))
    assert list(vars(c)) == [f.name for f in fields(Control)]
    assert vars(c) == {"path": "page.html", "line": 7, "verdict": v, "reasons": ("why",)}
    assert c == Control("page.html", 7, Verdict(*values), ("why",))
    assert c.to_dict() == {**asdict(v), "line": 7, "status": "covered", "reasons": ["why"]}
    with pytest.raises(FrozenInstanceError):
        c.line = 8  # type: ignore[misc]

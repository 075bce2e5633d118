"""The Python matching engine: which checkbox-like controls of a page each rule covers.

A JavaScript twin (extension/engine.js) implements the same steps; a conformance test
compares both control by control on every fixture page. Keep both simple and identical:

1. Parse the page with lxml's HTML parser (libxml2, as lxml.html). Contents of `<template>`
   elements are dropped (they are not part of the DOM tree in a browser). Pages are assumed
   to be in standards mode.
2. Controls are the elements matching `CHECKBOX_SELECTOR`
   (`input[type=checkbox], [role=checkbox], [role=switch]`; `type` compared ASCII
   case-insensitively, `role` exactly), in document order. Hidden elements are NOT skipped.
   (Python only, for speed: a `role` attribute is found when its name is spelt role, ROLE
   or Role in the page source; other casings such as rOLe are missed.)
3. `textContent(el)`: the concatenation of all descendant text nodes (as DOM textContent:
   script and style text included, comments excluded).
4. Label text of a control = the following parts, in this order, joined with one space:
   a. for each id in `aria-labelledby` (split on ASCII whitespace), the textContent of the
      first element in the document with that id (missing ids are skipped);
   b. the `aria-label` attribute;
   c. the textContent of every `label` element whose `for` attribute equals the control's
      (non-empty) `id`, in document order;
   d. the textContent of the nearest ancestor `label`, unless it was already used in (c).
   Then white space is collapsed (see 6) and the result stripped. If that is empty, the
   label text is the textContent of the nearest of the parent, grandparent and
   great-grandparent whose collapsed, stripped textContent is not empty (else "").
5. fold(text) = NFKD; drop nonspacing marks (Unicode category Mn); casefold (Python
   `str.casefold`; in JS `toLowerCase()` then `ß`->`ss` and `ς`->`σ`, which is the same on
   NFKD text except Cherokee and U+1C80-U+1C88); curly quotes to straight (U+2018 U+2019
   U+201A U+201B U+2032 -> `'`, U+201C U+201D U+201E U+201F U+2033 -> `"`); collapse runs
   of WHITESPACE to one space; strip.
6. WHITESPACE is exactly: space, \\t \\n \\v \\f \\r, U+00A0, U+1680, U+2000-U+200A, U+2028,
   U+2029, U+202F, U+205F, U+3000, U+FEFF.
7. A control entry matches a control when the control itself matches its `selector`
   (the portable subset of `pwguard.rules.selectors`), or when fold(label text) contains
   fold(phrase) for one of its `label` phrases (phrases that fold to "" never match; a
   selector outside the portable subset never matches).
   A rule covers a control when one of its `controls` entries matches.
8. When a page URL is given, only rules with a `sites` pattern matching it apply.
9. The verdict of a control names the first covering `block` rule in ruleset order, else
   the first covering `warn` rule, else none.
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

from lxml import etree

from pwguard.rules.model import Control, Rule, RuleSet
from pwguard.rules.selectors import SelectorError, compile_selector
from pwguard.rules.sites import url_matches

Element = Any  # an lxml element of an HTML document

CHECKBOX_SELECTOR = "input[type=checkbox], [role=checkbox], [role=switch]"
WHITESPACE = (
    " \t\n\x0b\x0c\r\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)
_WS_RUN = re.compile("[" + re.escape(WHITESPACE) + "]+")
_ASCII_WS = " \t\n\f\r"
_QUOTE_MAP = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201b": "'",
    "\u2032": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u201f": '"',
    "\u2033": '"',
}


_NOT_OURS = re.compile("[\x1c-\x1f\x85]")  # str.split() white space that WHITESPACE lacks


def collapse(text: str) -> str:
    """Collapse runs of WHITESPACE to one space and strip."""
    if _NOT_OURS.search(text):
        return _WS_RUN.sub(" ", text).strip(" ")
    # str.split() splits on WHITESPACE minus U+FEFF plus the characters above: faster than re
    return " ".join(text.replace("\ufeff", " ").split())


_DROP_MARKS_AND_QUOTES: dict[int, int | None] = {}


def _table() -> dict[int, int | None]:
    """Nonspacing marks (Mn) -> removed, curly quotes -> straight: one str.translate table."""
    if not _DROP_MARKS_AND_QUOTES:
        planes = (range(0x20000), range(0xE0000, 0xE1000))  # every Mn code point lives here
        table: dict[int, int | None] = {
            cp: None for r in planes for cp in r if unicodedata.category(chr(cp)) == "Mn"
        }
        table.update({ord(k): ord(v) for k, v in _QUOTE_MAP.items()})
        _DROP_MARKS_AND_QUOTES.update(table)
    return _DROP_MARKS_AND_QUOTES


def fold(text: str) -> str:
    """The form phrases and label texts are compared in (see the module docstring, step 5).

    Quotes are straightened together with the removal of marks, before casefolding: casefold
    neither produces nor changes curly quotes, so the result is that of the documented order.
    """
    if text.isascii():
        return collapse(text.lower())
    decomposed = unicodedata.normalize("NFKD", text).translate(_table())
    return collapse(decomposed.casefold())


def text_content(el: Element) -> str:
    """DOM textContent: all descendant text, comments excluded."""
    return "".join(el.itertext())


def is_control(el: Element) -> bool:
    tag = el.tag
    if not isinstance(tag, str):
        return False
    if tag == "input" and (el.get("type") or "").lower() == "checkbox":
        return True
    return el.get("role") in ("checkbox", "switch")


@dataclass(frozen=True)
class Verdict:
    """One checkbox-like control and the rule covering it (rule_id/action None if none)."""

    index: int
    tag: str
    id: str
    name: str
    label: str
    rule_id: str | None
    action: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# Plain etree elements (not lxml.html's Python element classes): the same parser, no
# per-element Python class lookup; no XML-id hash table (ids are looked up by attribute).
_UTF8_PARSER = etree.HTMLParser(encoding="utf-8", collect_ids=False)
_PARSER = etree.HTMLParser(collect_ids=False)
_LABELS_FOR = etree.XPath("//label[@for != '']")
_ROLE_VALUE = re.compile(rb"role[ \t\n\r\f]*=[ \t\n\r\f]*[\"']?(?:checkbox|switch)", re.IGNORECASE)


def _may_have_role_controls(data: bytes) -> bool:
    """Whether a `role` attribute (spelt role, ROLE or Role) may say checkbox or switch."""
    for spelling in (b"role", b"ROLE", b"Role"):
        start = data.find(spelling)
        while start != -1:
            if _ROLE_VALUE.match(data, start):
                return True
            start = data.find(spelling, start + 4)
    return False


_BY_ID = etree.XPath("(//*[@id = $ident])[1]")


def parse_html(html: str | bytes) -> Element:
    """lxml document root of a page given as text, or as bytes (UTF-8 unless they are not)."""
    parser = _UTF8_PARSER
    if isinstance(html, str):
        html = html.encode("utf-8", "replace")  # bytes: lxml refuses str with an <?xml encoding>
    else:
        try:
            html.decode("utf-8")
        except UnicodeDecodeError:
            parser = _PARSER  # let lxml honour <meta charset> (else Latin-1, as browsers do)
    try:
        root = None if not html or html.isspace() else etree.fromstring(html, parser)
    except etree.XMLSyntaxError:
        root = None
    return root if root is not None else etree.fromstring(b"<html></html>", parser)


class Page:
    """A parsed page with the indexes label-text computation needs."""

    def __init__(self, html: str | bytes) -> None:
        data = html.encode("utf-8", "replace") if isinstance(html, str) else html
        self.root = parse_html(data)
        if b"emplate" in data or b"EMPLATE" in data:
            for template in list(self.root.iter("template")):
                template.text = None
                for child in list(template):
                    template.remove(child)
        self.labels_for: dict[str, list[Element]] = {}
        self.controls: list[Element] = []
        # Walking every element costs more than the parse: visit only inputs and labels,
        # unless the page may have a role=checkbox/switch element (rare).
        walk = (
            self.root.iter(etree.Element)
            if _may_have_role_controls(data)
            else self.root.iter("input", "label")
        )
        for el in walk:
            tag = el.tag
            if (tag == "input" and (el.get("type") or "").lower() == "checkbox") or el.get(
                "role"
            ) in ("checkbox", "switch"):
                self.controls.append(el)
            if tag == "label" and el.get("for"):
                self.labels_for.setdefault(el.get("for"), []).append(el)
        self._by_id: dict[str, Element | None] = {}

    def element_by_id(self, ident: str) -> Element | None:
        """The first element in document order with this id (getElementById)."""
        if ident not in self._by_id:
            found = _BY_ID(self.root, ident=ident)
            self._by_id[ident] = found[0] if found else None
        return self._by_id[ident]

    def label_text(self, el: Element) -> str:
        """The label text of a control (module docstring, step 4)."""
        parts: list[str] = []
        for ref in (el.get("aria-labelledby") or "").split():
            target = self.element_by_id(ref)
            if target is not None:
                parts.append(text_content(target))
        aria = el.get("aria-label")
        if aria:
            parts.append(aria)
        el_id = el.get("id")
        used = self.labels_for.get(el_id, []) if el_id else []
        parts += [text_content(label) for label in used]
        ancestor = next(el.iterancestors("label"), None)
        if ancestor is not None and not any(ancestor is u for u in used):
            parts.append(text_content(ancestor))
        text = collapse(" ".join(parts))
        if text:
            return text
        for depth, parent in enumerate(el.iterancestors()):
            if depth >= 3:
                break
            text = collapse(text_content(parent))
            if text:
                return text
        return ""


def label_text(el: Element) -> str:
    """Label text of a control of an lxml document (indexes the page: prefer Page)."""
    page = Page.__new__(Page)
    page.root = el.getroottree().getroot()
    page.controls, page.labels_for, page._by_id = [], {}, {}
    for label in _LABELS_FOR(page.root):
        page.labels_for.setdefault(label.get("for"), []).append(label)
    return page.label_text(el)


_FOLDED: dict[tuple[str, ...], tuple[str, ...]] = {}


def folded_phrases(phrases: list[str]) -> tuple[str, ...]:
    """The non-empty folded phrases (cached: rules are matched against many controls)."""
    key = tuple(phrases)
    cached = _FOLDED.get(key)
    if cached is None:
        if len(_FOLDED) > 4096:
            _FOLDED.clear()
        cached = _FOLDED[key] = tuple(p for p in map(fold, phrases) if p)
    return cached


def control_matches(el: Element, control: Control, folded_label: str | None = None) -> bool:
    """Whether one `controls` entry matches the control `el` (label text folded if given)."""
    if control.selector is not None:
        try:
            return compile_selector(control.selector)(el)
        except SelectorError:  # outside the portable subset: never matches (lint reports it)
            return False
    if folded_label is None:
        folded_label = fold(label_text(el))
    return any(p in folded_label for p in folded_phrases(control.label or []))


def rule_covers(el: Element, rule: Rule, folded_label: str) -> bool:
    return any(control_matches(el, c, folded_label) for c in rule.controls)


def applicable_rules(ruleset: RuleSet, url: str | None) -> list[Rule]:
    if url is None:
        return list(ruleset.rules)
    return [r for r in ruleset.rules if any(url_matches(p, url) for p in r.sites)]


class CompiledRule:
    """A rule's selectors compiled and phrases folded once, for matching many controls.

    The phrases become one regex alternation of literals: it finds a match exactly when one
    phrase is a substring of the folded label (and is faster than testing each in turn).
    """

    __slots__ = ("action", "phrases", "rule", "selectors")

    def __init__(self, rule: Rule) -> None:
        self.rule, self.action = rule, rule.action
        self.selectors: list[Callable[[Element], bool]] = []
        phrases: list[str] = []
        for control in rule.controls:
            if control.selector is not None:
                with contextlib.suppress(SelectorError):  # never matches (lint reports it)
                    self.selectors.append(compile_selector(control.selector))
            else:
                phrases += folded_phrases(control.label or [])
        self.phrases = re.compile("|".join(map(re.escape, phrases))) if phrases else None

    def covers(self, el: Element, folded_label: str) -> bool:
        for selector in self.selectors:
            if selector(el):
                return True
        return self.phrases is not None and self.phrases.search(folded_label) is not None


_COMPILED: dict[int, CompiledRule] = {}


def compiled(rule: Rule) -> CompiledRule:
    """CompiledRule of a rule object (cached; the cache holds the rule, so ids stay unique)."""
    hit = _COMPILED.get(id(rule))
    if hit is None or hit.rule is not rule:
        if len(_COMPILED) > 1024:
            _COMPILED.clear()
        hit = _COMPILED[id(rule)] = CompiledRule(rule)
    return hit


def page_verdicts(page: Page, rules: Iterable[Rule]) -> list[Verdict]:
    compiled_rules = [compiled(r) for r in rules]
    out: list[Verdict] = []
    for index, el in enumerate(page.controls):
        label = page.label_text(el)
        folded = fold(label)
        chosen: CompiledRule | None = None
        for rule in compiled_rules:
            if (chosen is None or (chosen.action == "warn" and rule.action == "block")) and (
                rule.covers(el, folded)
            ):
                chosen = rule
                if rule.action == "block":
                    break
        out.append(
            Verdict(
                index=index,
                tag=el.tag,
                id=el.get("id") or "",
                name=el.get("name") or "",
                label=label,
                rule_id=chosen.rule.id if chosen else None,
                action=chosen.action if chosen else None,
            )
        )
    return out


def verdicts(html: str | bytes, ruleset: RuleSet, url: str | None = None) -> list[Verdict]:
    """Verdicts for every checkbox-like control of `html`, in document order."""
    return page_verdicts(Page(html), applicable_rules(ruleset, url))

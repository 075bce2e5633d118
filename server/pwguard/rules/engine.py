"""The Python matching engine: which checkbox-like controls of a page each rule covers.

A JavaScript twin (extension/engine.js) implements the same steps; a conformance test
compares both control by control on every fixture page. Keep both simple and identical:

1. Parse the page with lxml.html. Contents of `<template>` elements are dropped (they are
   not part of the DOM tree in a browser). Pages are assumed to be in standards mode.
2. Controls are the elements matching `CHECKBOX_SELECTOR`
   (`input[type=checkbox], [role=checkbox], [role=switch]`; `type` compared ASCII
   case-insensitively, `role` exactly), in document order. Hidden elements are NOT skipped.
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

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import lxml.html

from pwguard.rules.model import Control, Rule, RuleSet
from pwguard.rules.selectors import SelectorError, compile_selector
from pwguard.rules.sites import url_matches

Element = Any  # lxml.html.HtmlElement

CHECKBOX_SELECTOR = "input[type=checkbox], [role=checkbox], [role=switch]"
WHITESPACE = (
    " \t\n\x0b\x0c\r\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)
_WS_RUN = re.compile("[" + re.escape(WHITESPACE) + "]+")
_ASCII_WS = " \t\n\f\r"
_QUOTES = str.maketrans(
    {
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
)


def collapse(text: str) -> str:
    """Collapse runs of WHITESPACE to one space and strip."""
    return _WS_RUN.sub(" ", text).strip(" ")


def fold(text: str) -> str:
    """The form phrases and label texts are compared in (see the module docstring, step 5)."""
    decomposed = unicodedata.normalize("NFKD", text)
    if not decomposed.isascii():
        decomposed = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    return collapse(decomposed.casefold().translate(_QUOTES))


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


_UTF8_PARSER = lxml.html.HTMLParser(encoding="utf-8")


def parse_html(html: str | bytes) -> Element:
    """lxml.html document of a page given as text, or as bytes (UTF-8 unless they are not)."""
    parser = _UTF8_PARSER
    if isinstance(html, str):
        html = html.encode("utf-8", "replace")  # bytes: lxml refuses str with an <?xml encoding>
    else:
        try:
            html.decode("utf-8")
        except UnicodeDecodeError:
            parser = None  # let lxml honour <meta charset> (else Latin-1, as browsers do)
    try:
        return lxml.html.document_fromstring(html, parser=parser)
    except Exception:  # lxml.etree.ParserError: a document with no element at all
        return lxml.html.document_fromstring(b"<html></html>")


class Page:
    """A parsed page with the indexes label-text computation needs."""

    def __init__(self, html: str | bytes) -> None:
        self.root = parse_html(html)
        for template in list(self.root.iter("template")):
            template.text = None
            for child in list(template):
                template.remove(child)
        self.controls: list[Element] = []
        self.by_id: dict[str, Element] = {}
        self.labels_for: dict[str, list[Element]] = {}
        for el in self.root.iter():
            tag = el.tag
            if not isinstance(tag, str):
                continue
            el_id = el.get("id")
            if el_id is not None and el_id not in self.by_id:
                self.by_id[el_id] = el
            if tag == "label":
                target = el.get("for")
                if target:
                    self.labels_for.setdefault(target, []).append(el)
            elif is_control(el):
                self.controls.append(el)

    def label_text(self, el: Element) -> str:
        """The label text of a control (module docstring, step 4)."""
        parts: list[str] = []
        for ref in (el.get("aria-labelledby") or "").split():
            target = self.by_id.get(ref)
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
    """Label text of a control of an lxml document (builds the page indexes: prefer Page)."""
    page = Page.__new__(Page)
    root = el.getroottree().getroot()
    page.root, page.controls, page.by_id, page.labels_for = root, [], {}, {}
    for node in root.iter():
        if isinstance(node.tag, str):
            if node.get("id") is not None:
                page.by_id.setdefault(node.get("id"), node)
            if node.tag == "label" and node.get("for"):
                page.labels_for.setdefault(node.get("for"), []).append(node)
    return page.label_text(el)


def control_matches(el: Element, control: Control, folded_label: str | None = None) -> bool:
    """Whether one `controls` entry matches the control `el` (label text folded if given)."""
    if control.selector is not None:
        try:
            return compile_selector(control.selector)(el)
        except SelectorError:  # outside the portable subset: never matches (lint reports it)
            return False
    if folded_label is None:
        folded_label = fold(label_text(el))
    return any((p := fold(phrase)) and p in folded_label for phrase in control.label or ())


def rule_covers(el: Element, rule: Rule, folded_label: str) -> bool:
    return any(control_matches(el, c, folded_label) for c in rule.controls)


def applicable_rules(ruleset: RuleSet, url: str | None) -> list[Rule]:
    if url is None:
        return list(ruleset.rules)
    return [r for r in ruleset.rules if any(url_matches(p, url) for p in r.sites)]


def page_verdicts(page: Page, rules: Iterable[Rule]) -> list[Verdict]:
    rules = list(rules)
    out: list[Verdict] = []
    for index, el in enumerate(page.controls):
        label = page.label_text(el)
        folded = fold(label)
        chosen: Rule | None = None
        for rule in rules:
            if (
                chosen is None or (chosen.action == "warn" and rule.action == "block")
            ) and rule_covers(el, rule, folded):
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
                rule_id=chosen.id if chosen else None,
                action=chosen.action if chosen else None,
            )
        )
    return out


def verdicts(html: str | bytes, ruleset: RuleSet, url: str | None = None) -> list[Verdict]:
    """Verdicts for every checkbox-like control of `html`, in document order."""
    return page_verdicts(Page(html), applicable_rules(ruleset, url))

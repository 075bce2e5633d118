"""The Python matching engine: which checkbox-like controls of a page each rule covers.

A JavaScript twin (extension/engine.js) implements the same steps; a conformance test
compares both control by control on every fixture page. Keep both simple and identical:

1. Parse the page with lxml's HTML parser (libxml2, as lxml.html). Contents of `<template>`
   elements are dropped (they are not part of the DOM tree in a browser). What libxml2 nests
   in the void elements it does not know (`wbr`, `embed`, `source`, `track`, `keygen`) is
   moved out after them, where a browser's parser puts it. Pages are assumed
   to be in standards mode.
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
   NFKD text except Cherokee and U+1C80-U+1C88, and characters the two Unicode databases
   disagree on: Python's `unicodedata` may be older than the browser's, e.g. Unicode 14
   in Python 3.11 against 17 in Chromium 156 (Firefox ESR 153 folds every code point as
   Chromium 156 does): the browsers fold code points Python 3.11 has unassigned, such as
   U+A7CB or U+10D50, and keep U+1171E, now a spacing mark; tests/test_conformance.py checks
   every other code point in both browsers); curly quotes to straight (U+2018 U+2019
   U+201A U+201B U+2032 -> `'`, U+201C U+201D U+201E U+201F U+2033 -> `"`); collapse runs
   of WHITESPACE to one space; strip.
6. WHITESPACE is exactly: space, \\t \\n \\v \\f \\r, U+00A0, U+1680, U+2000-U+200A, U+2028,
   U+2029, U+202F, U+205F, U+3000, U+FEFF.
7. A control entry matches a control when the control itself matches its `selector`
   (the portable subset of `pwguard.rules.selectors`), or when fold(label text) contains
   fold(phrase) for one of its `label` phrases (phrases that fold to "" never match; a
   selector outside the portable subset never matches: engine.js checks the subset itself,
   with `portable()`, rather than hand the browser a selector it would match). Attribute
   values compare as in browsers: ASCII case-insensitively for the HTML list of such
   attributes (type, lang, dir, checked, ...) on HTML elements (exactly on SVG and MathML
   ones) and with the `i` flag, and classes split on ASCII white space only (see
   selectors.py).
   A rule covers a control when one of its `controls` entries matches.
8. When a page URL is given, only rules with a `sites` pattern matching it apply.
9. The verdict of a control names the first covering `block` rule in ruleset order, else
   the first covering `warn` rule, else none.
"""

from __future__ import annotations

import contextlib
import re
import threading
import unicodedata
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import ahocorasick  # type: ignore[import-not-found]
from lxml import etree

from pwguard.rules.model import Control, Rule, RuleSet
from pwguard.rules.selectors import (
    Alternative,
    SelectorError,
    compile_alternatives,
    compile_selector,
    split_ascii_whitespace,
)
from pwguard.rules.sites import url_matches

Element = Any  # an lxml element of an HTML document

# Page's index in C (the optional accelerator _walk.c, built where a C compiler is): what the
# Python of Page computes (the controls; their label parts joined and collapsed, the ids above
# them, their (id, name, class) attributes and tags), or None for a page it leaves to that
# Python. None: not built.
_Key = tuple[str | None, str | None, str | None]
_Indexed = tuple[list[Element], list[str], list[tuple[str, ...]], list[_Key], list[str]]
walk_index: Callable[[Element], _Indexed | None] | None
try:
    from pwguard.rules._walk import index as walk_index
except ImportError:  # (not built)
    walk_index = None

CHECKBOX_SELECTOR = "input[type=checkbox], [role=checkbox], [role=switch]"
WHITESPACE = (
    " \t\n\x0b\x0c\r\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)
_WS_RUN = re.compile("[" + re.escape(WHITESPACE) + "]+")
# entries a run-long memo keyed by label text (or attributes) holds before it is emptied
MEMO_LIMIT = 65536
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


_tostring = etree.tostring


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


def _char_class(code_points: Iterable[int]) -> str:
    """A regex character class body of these code points, as ranges."""
    ranges: list[list[int]] = []
    for cp in sorted(code_points):
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    return "".join(
        re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}"
        for a, b in ranges
    )


_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_bmp_marks_sub: Callable[[str, str], str] | None = None


def _without_marks(decomposed: str) -> str:
    """NFKD text without its nonspacing marks, curly quotes straightened: as
    `decomposed.translate(_table())`, but a regex drops the marks of the BMP faster (beyond
    it, marks are too rare to be worth a second, slower character class)."""
    global _bmp_marks_sub
    if _ASTRAL.search(decomposed):
        return decomposed.translate(_table())
    if _bmp_marks_sub is None:
        marks = (cp for cp, to in _table().items() if to is None and cp < 0x10000)
        _bmp_marks_sub = re.compile("[" + _char_class(marks) + "]").sub
    text = _bmp_marks_sub("", decomposed)
    for curly, straight in _QUOTE_MAP.items():
        if curly in text:
            text = text.replace(curly, straight)
    return text


def fold(text: str) -> str:
    """The form phrases and label texts are compared in (see the module docstring, step 5).

    Quotes are straightened together with the removal of marks, before casefolding: casefold
    neither produces nor changes curly quotes, so the result is that of the documented order.
    """
    if text.isascii():
        return collapse(text.lower())
    return collapse(_without_marks(unicodedata.normalize("NFKD", text)).casefold())


def fold_collapsed(text: str) -> str:
    """fold(text) of a text collapse() returned, faster: collapse is idempotent and commutes
    with ASCII lowercasing; and the only white space NFKD, mark removal and casefolding ever
    produce from other characters is U+0020 (a test checks every code point), so the result
    needs collapsing only where spaces now touch each other or an end."""
    if text.isascii():
        return text.lower()
    folded = _without_marks(unicodedata.normalize("NFKD", text)).casefold()
    if "  " in folded or folded[:1] == " " or folded[-1:] == " ":
        return collapse(folded)
    return folded


def text_content(el: Element) -> str:
    """DOM textContent: all descendant text, comments excluded (libxml2 concatenates it:
    the same as joining `el.itertext()`, faster)."""
    return _tostring(el, method="text", encoding="unicode", with_tail=False)  # type: ignore[no-any-return]


@dataclass(frozen=True, init=False)
class Verdict:
    """One checkbox-like control and the rule covering it (rule_id/action None if none)."""

    index: int
    tag: str
    id: str
    name: str
    label: str
    rule_id: str | None
    action: str | None

    def __init__(
        self,
        index: int,
        tag: str,
        id: str,
        name: str,
        label: str,
        rule_id: str | None,
        action: str | None,
    ) -> None:
        # the generated __init__ of a frozen dataclass calls object.__setattr__ per field:
        # storing into __dict__ takes a third of the time (a scan makes one per control)
        fields = self.__dict__
        fields["index"], fields["tag"], fields["id"], fields["name"] = index, tag, id, name
        fields["label"], fields["rule_id"], fields["action"] = label, rule_id, action

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# Plain etree elements (not lxml.html's Python element classes): the same parser, no
# per-element Python class lookup; no XML-id hash table (ids are looked up by attribute).
class _Parsers(threading.local):
    """This thread's parsers (parse_html reads the error log of the last parse)."""

    def __init__(self) -> None:
        self.utf8 = etree.HTMLParser(encoding="utf-8", collect_ids=False)
        self.any = etree.HTMLParser(collect_ids=False)


_PARSERS = _Parsers()
_LABELS_FOR = etree.XPath("//label[@for != '']")
# A pre-check on the lowercased page: without a match, no element has role=checkbox or
# role=switch (attribute names are ASCII case-insensitive; lxml lowercases them), so the
# controls are found among the inputs and labels only. A literal prefix makes it one fast pass.
# A value may spell its letters as character references (role="&#99;heckbox"): a role value
# with a "&" among its first 8 characters counts as a match.
_ANY_ROLE_VALUE = re.compile(rb"role[ \t\n\r\f]*=[ \t\n\r\f]*[\"']?(?:checkbox|switch|[a-z]{0,7}&)")


def _may_have_role_controls(data: bytes) -> bool:
    """Whether a `role` attribute (its name in any case) may say checkbox or switch. Bytes
    with a NUL (UTF-16 or UTF-32 text, whose ASCII letters the search cannot see) may."""
    return b"\0" in data or _ANY_ROLE_VALUE.search(data.lower()) is not None


# Void elements of HTML that libxml2's HTML parser does not know as void: it nests what
# follows `<wbr>` (or embed, source, track, keygen) inside it, up to the parent's end, where a
# browser leaves the element empty. Their content is moved out after them, as a browser has it.
_NESTING_VOIDS = ("wbr", "embed", "source", "track", "keygen")


def _unnest(void: Element) -> None:
    """Move a void element's text and children out, right after it (their order kept)."""
    if void.text is None and len(void) == 0:
        return
    parent = void.getparent()
    tail, void.tail, void.text = void.tail, void.text, None
    at = parent.index(void)
    children = list(void)
    for offset, child in enumerate(children, 1):
        parent.insert(at + offset, child)  # (an lxml element moves with its tail)
    last = children[-1] if children else void
    if tail:
        last.tail = (last.tail or "") + tail


_BY_ID = etree.XPath("(//*[@id = $ident])[1]")
_ROLES = ("checkbox", "switch")


def _parse(html: bytes, parser: etree.HTMLParser) -> Element | None:
    try:
        return None if not html or html.isspace() else etree.fromstring(html, parser)
    except etree.XMLSyntaxError:
        return None


def parse_html(html: str | bytes) -> Element:
    """lxml document root of a page given as text, or as bytes (UTF-8 unless they are not).

    Bytes are parsed as UTF-8 first. Only if libxml2 reported an error (it reports bytes that
    are not UTF-8; most pages give none) are they checked, and parsed again, letting lxml
    honour <meta charset> (else Latin-1, as browsers do) when they are not UTF-8: checking
    every page first would cost a decode of it."""
    parsers = _PARSERS
    parser = parsers.utf8
    if isinstance(html, str):
        html = html.encode("utf-8", "replace")  # bytes: lxml refuses str with an <?xml encoding>
    root = _parse(html, parser)
    if parser.error_log and not html.isascii():  # the error log of this thread's last parse
        try:
            html.decode("utf-8")
        except UnicodeDecodeError:
            parser = parsers.any
            root = _parse(html, parser)
    return root if root is not None else etree.fromstring(b"<html></html>", parser)


class Page:
    """A parsed page with the indexes label-text computation needs."""

    def __init__(self, html: str | bytes) -> None:
        data = html.encode("utf-8", "replace") if isinstance(html, str) else html
        self.root = root = parse_html(data)
        self._by_id: dict[str, Element | None] = {}
        self.controls: list[Element] = []
        self._labels_for: dict[str, list[Element]] | None = {}
        # when walk_index indexed the page, for each control (by its index in `controls`):
        # its label parts joined, white space collapsed (collapse(joined_parts(el))), the
        # non-empty ids of its ancestors, nearest first, its (id, name, class) attributes
        # and its tag (else None: found when needed)
        self.parts: list[str] | None = None
        self.above: list[tuple[str, ...]] | None = None
        self.keys: list[_Key] | None = None
        self.tags: list[str] | None = None
        if walk_index is not None:
            indexed = walk_index(root)
            if indexed is not None:
                self.controls, self.parts, self.above, self.keys, self.tags = indexed
                self._labels_for = None  # (found if asked for)
                return
        if _may_have_role_controls(data):
            self._index(every_element=True)
            return
        # Usually: one pass over the inputs and labels only (walking every element costs more
        # than the parse). A page with a template (lxml lowercases the tag, however it is
        # spelt) or a void element libxml2 nests content in is indexed again by the general
        # pass, which mends those first.
        # No element has role=checkbox or role=switch (the pre-check): the controls are the
        # checkbox inputs.
        controls, labels_for = self.controls, self.labels_for
        for el in root.iter("input", "label", "template", *_NESTING_VOIDS):
            tag = el.tag
            if tag == "input":
                kind = el.get("type")
                if kind is not None and kind.lower() == "checkbox" and kind.isascii():
                    controls.append(el)
            elif tag == "label":
                label_for = el.get("for")
                if label_for:
                    if label_for in labels_for:
                        labels_for[label_for].append(el)
                    else:
                        labels_for[label_for] = [el]
            elif tag != "template" and el.text is None and len(el) == 0:
                continue  # (a void element with nothing nested in it)
            else:
                controls.clear()
                labels_for.clear()
                self._index(every_element=False)
                return

    def _index(self, every_element: bool) -> None:
        """Index controls and labels (templates emptied first, void elements emptied into
        their parent), visiting every element if a role=checkbox/switch element may exist,
        else inputs and labels only."""
        for template in list(self.root.iter("template")):
            template.text = None
            for child in list(template):
                template.remove(child)
        for void in list(self.root.iter(*_NESTING_VOIDS)):  # (in document order: outer first)
            _unnest(void)
        walk = self.root.iter(etree.Element) if every_element else self.root.iter("input", "label")
        for el in walk:
            tag = el.tag
            kind = el.get("type") if tag == "input" else None
            if (kind and kind.lower() == "checkbox" and kind.isascii()) or el.get("role") in _ROLES:
                self.controls.append(el)
            if tag == "label" and el.get("for"):
                self.labels_for.setdefault(el.get("for"), []).append(el)

    @property
    def labels_for(self) -> dict[str, list[Element]]:
        """The label elements with a (non-empty) `for`, by it, in document order."""
        if self._labels_for is None:
            found: dict[str, list[Element]] = {}
            for label in _LABELS_FOR(self.root):
                found.setdefault(label.get("for"), []).append(label)
            self._labels_for = found
        return self._labels_for

    def element_by_id(self, ident: str) -> Element | None:
        """The first element in document order with this id (getElementById)."""
        if ident not in self._by_id:
            try:
                found = _BY_ID(self.root, ident=ident)
            except ValueError:  # lxml takes no XPath string with a control character (U+000B)
                first = next(
                    (el for el in self.root.iter(etree.Element) if el.get("id") == ident), None
                )
                found = [] if first is None else [first]
            self._by_id[ident] = found[0] if found else None
        return self._by_id[ident]

    def joined_parts(self, el: Element) -> str:
        """The parts of step 4 (labelledby texts, aria-label, label[for] texts, the ancestor
        label's text) joined with one space, before white space is collapsed ("" if none)."""
        return self._joined_parts(el, el.get("id"))

    def _joined_parts(self, el: Element, el_id: str | None) -> str:
        """joined_parts(el) of a control whose id attribute is `el_id`."""
        get = el.get
        used = self.labels_for.get(el_id) if el_id else None
        ancestor = None
        for ancestor in el.iterancestors("label"):  # noqa: B007 (the nearest one)
            break
        if ancestor is not None and used and ancestor in used:  # elements compare by identity
            ancestor = None
        labelledby = get("aria-labelledby")
        aria = get("aria-label")
        if not labelledby and not aria and used and len(used) == 1:  # the usual control
            text: str = _tostring(used[0], method="text", encoding="unicode", with_tail=False)
            if ancestor is None:
                return text
            return text + " " + text_content(ancestor)
        parts: list[str] = []
        if labelledby:
            for ref in split_ascii_whitespace(labelledby):  # (str.split() splits on more)
                target = self.element_by_id(ref)
                if target is not None:
                    parts.append(text_content(target))
        if aria:
            parts.append(aria)
        if used:
            parts += [text_content(label) for label in used]
        if ancestor is not None:
            parts.append(text_content(ancestor))
        return " ".join(parts)

    def fallback_text(self, el: Element) -> str:
        """The label text of a control whose parts (step 4) collapse to nothing: the text of
        the nearest of its parent, grandparent and great-grandparent that has some."""
        for depth, parent in enumerate(el.iterancestors()):
            if depth >= 3:
                break
            text = collapse(text_content(parent))
            if text:
                return text
        return ""

    def label_text(self, el: Element) -> str:
        """The label text of a control (module docstring, step 4)."""
        return collapse(self.joined_parts(el)) or self.fallback_text(el)


def label_text(el: Element) -> str:
    """Label text of a control of an lxml document (indexes the page: prefer Page)."""
    page = Page.__new__(Page)
    page.root = el.getroottree().getroot()
    page.controls, page._labels_for, page._by_id = [], None, {}
    page.parts = page.above = page.keys = page.tags = None
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


def literal_alternation(texts: Iterable[str]) -> re.Pattern[str]:
    """A regex that finds any of these (non-empty) literal texts: at the leftmost position
    where one occurs, the longest one occurring there (as an alternation sorted longest
    first would), but written as a trie, which the regex engine tries much faster."""
    trie: dict[str, Any] = {}
    for text in texts:
        node = trie
        for ch in text:
            node = node.setdefault(ch, {})
        node[""] = {}  # a text ends here

    def emit(node: dict[str, Any]) -> str:
        branches = []
        for ch in sorted(k for k in node if k):
            literal, child = ch, node[ch]
            while len(child) == 1 and "" not in child:  # a chain without branching
                ((ch2, child),) = child.items()
                literal += ch2
            branches.append(re.escape(literal) + emit(child))
        if not branches:
            return ""
        if "" in node:  # longer texts first (greedy), then the one ending here
            return "(?:" + "|".join(branches) + ")?"
        return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"

    return re.compile(emit(trie) or "(?!)")


def literal_automaton(values: Mapping[str, Any]) -> Any:
    """An Aho-Corasick automaton (pyahocorasick) of these (non-empty) literal texts, or None
    if there are none: `.iter(text)` yields (end index, value) for every occurrence of every
    one in the text, in one pass over it (built once, as rules are compiled)."""
    if not values:
        return None
    automaton = ahocorasick.Automaton()
    for text, value in values.items():
        automaton.add_word(text, value)
    automaton.make_automaton()
    return automaton


class CompiledRule:
    """A rule's selectors compiled and phrases folded once, for matching many controls.

    The phrases become one regex of literals: it finds a match exactly when one phrase is a
    substring of the folded label (and is faster than testing each in turn).
    """

    __slots__ = ("action", "alternatives", "phrases", "rule", "selectors")

    def __init__(self, rule: Rule) -> None:
        self.rule, self.action = rule, rule.action
        self.selectors: list[Callable[[Element], bool]] = []
        self.alternatives: list[Alternative] = []
        phrases: list[str] = []
        for control in rule.controls:
            if control.selector is not None:
                with contextlib.suppress(SelectorError):  # never matches (lint reports it)
                    self.selectors.append(compile_selector(control.selector))
                    self.alternatives += compile_alternatives(control.selector)
            else:
                phrases += folded_phrases(control.label or [])
        self.phrases = literal_alternation(phrases) if phrases else None

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


_NONE: frozenset[str] = frozenset()


def _scopes_above(
    el: Element, scopes: frozenset[str], memo: dict[Element, frozenset[str]]
) -> frozenset[str]:
    """Which of these ids an ancestor of the element has. `memo` (one per page) maps each
    element walked so far to the scope ids of it and its ancestors: the controls of a page
    share most of their ancestors, whose ids are then read once."""
    chain = []
    found = _NONE
    for node in el.iterancestors():
        hit = memo.get(node)  # elements hash by identity; the memo keeps their proxies alive
        if hit is not None:
            found = hit
            break
        chain.append(node)
    for node in reversed(chain):
        ident = node.get("id")
        if ident in scopes:
            found = found | {ident}
        memo[node] = found
    return found


# (rule bit, matcher, scope, inner, exact) of a selector alternative (see Alternative)
_Entry = tuple[int, Callable[[Element], bool], str | None, Callable[[Element], bool] | None, bool]


_LabelEntry = tuple[str, str, int]  # label text, its fold, its phrase_bits
# a control's candidate selector alternatives: the rule bits of those it matches by its
# attributes alone, [(rule bit, matcher)], [(rule bit, scope, inner)]
_Plan = tuple[
    int,
    list[tuple[int, Callable[[Element], bool]]],
    list[tuple[int, str | None, Callable[[Element], bool]]],
]


class CompiledRules:
    """Rules (in order) prepared to give verdicts: selector alternatives indexed by the id,
    name or class a control must have for them to match, so that each control tests only
    the few that can ("#scope inner" alternatives read the ancestors' ids once per page); the
    phrases of all rules in one Aho-Corasick automaton, which finds the rules of every phrase
    occurring in a label in one pass.

    What a label text implies (its collapsed and folded forms and the rules whose phrases
    occur in it) is a function of the text alone: it is remembered by the text (before white
    space is collapsed) so that a label seen again, on this page or another, is not folded
    and searched again; likewise the selector alternatives a control may match, by its id,
    name and class attributes. `clear_memo()` forgets them (the memos are also bounded).

    Matching is meant for the controls of a Page (elements, never comments)."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules = [compiled(r) for r in rules]
        self.by_id: dict[str, list[_Entry]] = {}
        self.by_name: dict[str, list[_Entry]] = {}
        self.by_class: dict[str, list[_Entry]] = {}
        self.other: list[_Entry] = []
        self.block_bits = sum(1 << i for i, r in enumerate(self.rules) if r.action == "block")
        indexes = {"id": self.by_id, "name": self.by_name, "class": self.by_class}
        self.scopes = frozenset(a.scope for r in self.rules for a in r.alternatives if a.scope)
        for i, rule in enumerate(self.rules):
            for alt in rule.alternatives:
                entry = (1 << i, alt.matcher, alt.scope, alt.inner, alt.exact)
                if alt.key is None:
                    self.other.append(entry)
                else:
                    indexes[alt.key[0]].setdefault(alt.key[1], []).append(entry)
        # phrase -> the rules with that phrase, found all at once in a label (see phrase_bits)
        rules_of: dict[str, int] = {}
        for i, rule in enumerate(self.rules):
            for c in rule.rule.controls:
                for p in folded_phrases(c.label or []):
                    rules_of[p] = rules_of.get(p, 0) | 1 << i
        self.phrases = literal_automaton(rules_of)
        self.labels: dict[str, _LabelEntry] = {}  # joined label parts -> what they imply
        self.plans: dict[tuple[str | None, str | None, str | None], _Plan] = {}

    def clear_memo(self) -> None:
        """Forget the label texts (and id, name, class attributes) seen so far."""
        self.labels.clear()
        self.plans.clear()

    def phrase_bits(self, folded: str) -> int:
        """Bit i set: a phrase of rule i occurs in this folded label (one pass of the phrase
        automaton over the label, whatever the number of rules and phrases)."""
        bits = 0
        if self.phrases is not None:
            for _, rule_bits in self.phrases.iter(folded):
                bits |= rule_bits
        return bits

    def label_entry(
        self, page: Page, el: Element, joined: str, collapsed: bool = False
    ) -> _LabelEntry:
        """(label text, folded label, phrase bits) of a control whose label parts, joined,
        are `joined` (as `page.joined_parts(el)`; `collapsed`: white space collapsed already),
        remembered by that text when it alone decides them (a label made of nothing comes
        from the element's parents). The entry is also remembered by the collapsed text
        (collapse(label) == label: the same entry), so that texts differing only in white
        space are folded and searched once."""
        labels = self.labels
        if len(labels) >= MEMO_LIMIT:
            labels.clear()
        label = joined if collapsed else collapse(joined)
        if not label:
            joined = label = page.fallback_text(el)
            if not label:
                return ("", "", 0)
        hit = labels.get(label)
        if hit is None:
            folded = fold_collapsed(label)
            hit = labels[label] = (label, folded, self.phrase_bits(folded))
        labels[joined] = hit
        return hit

    def plan(self, key: tuple[str | None, str | None, str | None]) -> _Plan:
        """The selector alternatives a control with this (id, name, class) attribute may
        match: those without an index key, and those indexed under its id, name or one of its
        classes: the rules of those that are just #id of its id, and the others split into
        plain and "#scope inner" ones (remembered by the attributes)."""
        plans = self.plans
        if len(plans) >= MEMO_LIMIT:
            plans.clear()
        el_id, name, classes = key
        candidates = list(self.other)
        if el_id is not None:
            candidates += self.by_id.get(el_id, ())
        if name is not None:
            candidates += self.by_name.get(name, ())
        if classes:
            for c in split_ascii_whitespace(classes):
                candidates += self.by_class.get(c, ())
        exact = 0
        plain = []
        scoped = []
        for bit, matcher, scope, inner, is_exact in candidates:
            if is_exact:  # indexed under the id: the control has it
                exact |= bit
            elif inner is None:
                plain.append((bit, matcher))
            else:
                scoped.append((bit, scope, inner))
        plan = plans[key] = (exact, plain, scoped)
        return plan

    def selector_hits(self, el: Element, hits: int = 0) -> int:
        """`hits` plus bit i set when one of the selectors of rule i matches the control, for
        every rule that may decide the verdict."""
        get = el.get
        return self._selector_hits(el, (get("id"), get("name"), get("class")), hits, {}, None)

    def _selector_hits(
        self,
        el: Element,
        key: tuple[str | None, str | None, str | None],
        hits: int,
        above_memo: dict[Element, frozenset[str]],
        ids_above: tuple[str, ...] | None,
    ) -> int:
        """selector_hits(el, hits) of a control whose (id, name, class) attributes are `key`;
        `ids_above`: the ids of its ancestors if known (Page.above), else found with
        `above_memo`: the scope ids above elements of its page walked so far (see
        _scopes_above), kept for the other controls of the page."""
        exact, plain, scoped = self.plans.get(key) or self.plan(key)
        hits |= exact
        for bit, matcher in plain:
            if not hits & bit and matcher(el):
                hits |= bit
        if not scoped:
            return hits
        # "#scope inner" alternatives walk the ancestors: skip those of rules after the first
        # block rule already matched (they cannot change the verdict, see pick)
        first_block = hits & self.block_bits
        first_block &= -first_block
        above: Collection[str] | None = ids_above  # the (scope) ids of the ancestors
        for bit, scope, inner in scoped:
            if hits & bit or (first_block and bit > first_block):
                continue
            if inner(el):
                if above is None:
                    above = _scopes_above(el, self.scopes, above_memo)
                if scope in above:
                    hits |= bit
        return hits

    def pick(self, hits: int) -> CompiledRule | None:
        """The first covering block rule, else the first covering warn rule (step 9), of the
        rules whose bits are set in `hits`."""
        block = hits & self.block_bits
        if block:
            hits = block
        elif not hits:
            return None
        return self.rules[(hits & -hits).bit_length() - 1]

    def choose(self, el: Element, folded: str) -> CompiledRule | None:
        """The first covering block rule, else the first covering warn rule (step 9)."""
        return self.pick(self.selector_hits(el, self.phrase_bits(folded)))


_COMPILED_SETS: dict[tuple[int, ...], tuple[list[Rule], CompiledRules]] = {}


def compiled_rules(rules: Iterable[Rule]) -> CompiledRules:
    """CompiledRules of these rule objects in this order (cached, holding the rules)."""
    rule_list = list(rules)
    key = tuple(map(id, rule_list))
    hit = _COMPILED_SETS.get(key)
    if hit is None or any(a is not b for a, b in zip(hit[0], rule_list, strict=True)):
        if len(_COMPILED_SETS) > 64:
            _COMPILED_SETS.clear()
        hit = _COMPILED_SETS[key] = (rule_list, CompiledRules(rule_list))
    return hit[1]


def page_verdicts(
    page: Page, rules: Iterable[Rule] | CompiledRules, folded_out: list[str] | None = None
) -> list[Verdict]:
    """Verdicts of the page's controls; `folded_out` (if given) receives their folded labels."""
    prepared = rules if isinstance(rules, CompiledRules) else compiled_rules(rules)
    labels, label_entry = prepared.labels, prepared.label_entry
    selector_hits, joined_parts = prepared._selector_hits, page._joined_parts
    pick = prepared.pick
    out: list[Verdict] = []
    above_memo: dict[Element, frozenset[str]] = {}
    walked = page.parts is not None  # (walk_index gave the parts, above, keys and tags)
    parts, aboves = page.parts or [], page.above or []
    keys, tags = page.keys or [], page.tags or []
    for index, el in enumerate(page.controls):
        if walked:
            key, tag, above, joined = keys[index], tags[index], aboves[index], parts[index]
        else:
            get = el.get
            key = (get("id"), get("name"), get("class"))  # each read once
            tag, above = el.tag, None
            joined = joined_parts(el, key[0])
        label, folded, bits = labels.get(joined) or label_entry(page, el, joined, walked)
        if folded_out is not None:
            folded_out.append(folded)
        chosen = pick(selector_hits(el, key, bits, above_memo, above))
        out.append(  # Verdict(index, tag, id, name, label, rule_id, action)
            Verdict(index, tag, key[0] or "", key[1] or "", label,
                    chosen.rule.id if chosen else None, chosen.action if chosen else None)
        )
    return out


def verdicts(html: str | bytes, ruleset: RuleSet, url: str | None = None) -> list[Verdict]:
    """Verdicts for every checkbox-like control of `html`, in document order."""
    return page_verdicts(Page(html), applicable_rules(ruleset, url))

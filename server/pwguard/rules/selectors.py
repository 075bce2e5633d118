"""The portable CSS selector subset rules may use, parsed and matched on lxml elements.

Browsers and soupsieve agree on this subset (a test holds soupsieve to it on the fixtures):

    selector list   complex ("," complex)*
    complex         compound (combinator compound)*   combinators: " " ">" "+" "~"
    compound        [type | "*"] simple*  (at least one part)
    simple          "#" ident | "." ident | "[" ident [op value [" i"]] "]"
                    | ":not(" compound ")"
    op              =  ~=  |=  ^=  $=  *=
    value           ident | "double-quoted" | 'single-quoted' (no backslash escapes)
    ident           [A-Za-z_-][A-Za-z0-9_-]*  (not "-" + digit, not "--" custom-property style)

Type and attribute names are ASCII case-insensitive on every element (lxml lowercases them;
engine.js hands the browser canonical names, as Firefox compares them exactly on SVG and
MathML elements); ids, classes and attribute values are case-sensitive (standards mode),
except the values of the attributes HTML lists in "case-sensitivity of selectors" (`type`,
`lang`, `dir`, `checked`, `align`, ...: CASE_INSENSITIVE_ATTRIBUTES), which Chromium and
Firefox compare ASCII case-insensitively (soupsieve only `type`) on HTML elements, and
exactly on SVG and MathML ones (elements in `<svg>` or `<math>` outside their HTML
integration points: `in_foreign_content`). The `i` flag, too, is ASCII case-insensitive:
`[title="été" i]` does not match "ÉTÉ". The `s` flag is refused (Chromium does not parse
it). `.class` and `~=` split the attribute value on ASCII white space only (space, tab, LF,
FF, CR), as browsers do: a no-break space is part of a class name. Everything else
(pseudo-classes such as `:checked` or `:has()`, pseudo-elements, namespaces `|`, escapes,
`:nth-*`) is refused with a `SelectorError` whose `hint` says what to write instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

Element = Any  # an lxml.html element
Matcher = Callable[[Element], bool]
# A condition every element a selector alternative matches must meet, cheap to index on:
# ("id", v): its id attribute is v; ("name", v): its name attribute is v; ("class", c): c is
# one of `split_ascii_whitespace(el.get("class") or "")`. None: no such condition is known.
Key = tuple[str, str] | None


class Alternative(NamedTuple):
    """One comma-separated alternative of a selector, prepared for indexing."""

    matcher: Matcher  # the alternative itself
    key: Key  # a condition the matched element meets (see Key)
    # For "#scope inner" (a compound that is just an id, a descendant combinator, one more
    # compound): the id, and the inner compound's predicate; matcher(el) is then exactly
    # inner(el) and an ancestor of el has id `scope`. Else None, None.
    scope: str | None
    inner: Matcher | None
    # True when the alternative is just its key (#id or *#id): an element matches exactly
    # when it meets the key's condition.
    exact: bool = False


# attribute values that browsers compare ASCII case-insensitively in a selector (HTML,
# "case-sensitivity of selectors"; the same list in Chromium and Firefox)
CASE_INSENSITIVE_ATTRIBUTES = frozenset({
    "accept", "accept-charset", "align", "alink", "axis", "bgcolor", "charset", "checked",
    "clear", "codetype", "color", "compact", "declare", "defer", "dir", "direction",
    "disabled", "enctype", "face", "frame", "hreflang", "http-equiv", "lang", "language",
    "link", "media", "method", "multiple", "nohref", "noresize", "noshade", "nowrap",
    "readonly", "rel", "rev", "rules", "scope", "scrolling", "selected", "shape", "target",
    "text", "type", "valign", "valuetype", "vlink",
})
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
# white space of str.split() that is not ASCII white space (U+000B, U+00A0, U+2003, ...)
_NOT_ASCII_WS = re.compile(r"[^\S \t\n\r\f]")
_ASCII_WS_RUN = re.compile("[ \t\n\r\f]+")


def ascii_lower(text: str) -> str:
    """Only A-Z lowercased (CSS's ASCII case-insensitivity: "É" and "\u212a" stay)."""
    return text.lower() if text.isascii() else text.translate(_ASCII_LOWER)


def split_ascii_whitespace(text: str) -> list[str]:
    """The tokens of a class (or `~=`) attribute: split on ASCII white space only, as
    browsers do (str.split() would also split on U+000B, U+00A0, U+2003...)."""
    if _NOT_ASCII_WS.search(text) is None:
        return text.split()
    return [token for token in _ASCII_WS_RUN.split(text) if token]


_IDENT = r"-?[A-Za-z_][A-Za-z0-9_-]*"
_TOKEN = re.compile(
    rf"""
    (?P<ws>[ \t\n\r\f]+)
  | (?P<comb>[>+~])
  | (?P<comma>,)
  | (?P<type>{_IDENT}|\*)
  | (?P<id>\#{_IDENT})
  | (?P<cls>\.{_IDENT})
  | (?P<attr>\[[ \t]*(?P<aname>{_IDENT})[ \t]*
        (?:(?P<op>[~|^$*]?=)[ \t]*
            (?P<val>{_IDENT}|"[^"\\\n]*"|'[^'\\\n]*')[ \t]*(?P<flag>[iI])?[ \t]*)?\])
  | (?P<not>:not\()
  | (?P<close>\))
    """,
    re.VERBOSE,
)
_WS = " \t\n\r\f"


class SelectorError(ValueError):
    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message, self.hint = message, hint


def _unsupported(text: str, pos: int) -> SelectorError:
    rest = text[pos:]
    if rest.startswith("::") or rest.startswith(":"):
        name = re.match(r"::?[A-Za-z-]*", rest)
        what = name.group(0) if name else rest[:2]
        return SelectorError(
            f"`{what}` is not in the portable selector subset",
            "match the control by type, #id, .class or [attribute] (state such as :checked "
            "changes as the user clicks; :has()/:nth-*/pseudo-elements differ across engines)",
        )
    if rest.startswith("|") or ("|" in rest.split("]")[0] and rest.startswith("[")):
        return SelectorError("namespaces are not portable", "drop the `ns|` prefix")
    if re.match(r"\[[^\]]*[ \t][sS][ \t]*\]", rest):
        return SelectorError(
            "the `s` flag of an attribute selector is not portable (Chromium refuses it)",
            "drop it: values are compared case-sensitively without a flag",
        )
    if "\\" in rest[:1]:
        return SelectorError("CSS escapes are not portable", 'quote the value: [id="a.b"]')
    return SelectorError(
        f"unexpected {rest[:12]!r} at column {pos + 1}",
        "use the subset: type, #id, .class, [attr], [attr=v] (also ~= |= ^= $= *=), "
        ":not(compound), and the combinators ' ', '>', '+', '~'",
    )


_RANK = {"id": 0, "name": 1, "class": 2}  # the more selective key is preferred


def _simple_key(kind: str, m: re.Match[str]) -> Key:
    """The index key a simple selector implies (exactly what its matcher tests), if any."""
    if kind == "id":
        return ("id", m.group(0)[1:])
    if kind == "cls":
        return ("class", m.group(0)[1:])
    if kind == "attr" and m.group("op") == "=" and not m.group("flag"):
        aname = m.group("aname").lower()
        if aname in ("id", "name"):
            raw = m.group("val")
            return (aname, raw[1:-1] if raw[0] in "\"'" else raw)
    return None


def _simple_matcher(kind: str, m: re.Match[str]) -> Matcher:
    if kind == "type":
        name = m.group(0).lower()
        if name == "*":
            return lambda el: True
        return lambda el: el.tag == name
    if kind == "id":
        ident = m.group(0)[1:]
        return lambda el: el.get("id") == ident
    if kind == "cls":
        cls = m.group(0)[1:]
        # (a class the attribute does not even contain is no token of it: no split)
        return lambda el: cls in (v := el.get("class") or "") and cls in split_ascii_whitespace(v)
    # attribute
    aname = m.group("aname").lower()
    op = m.group("op")
    if op is None:
        return lambda el: el.get(aname) is not None
    raw = m.group("val")
    value = raw[1:-1] if raw[0] in "\"'" else raw
    if m.group("flag"):
        lowered = _value_test(op, ascii_lower(value))
        return lambda el: lowered(_lower_or_none(el.get(aname)))
    exact = _value_test(op, value)
    if aname not in CASE_INSENSITIVE_ATTRIBUTES:
        return lambda el: exact(el.get(aname))
    # ASCII case-insensitive on HTML elements only: on an SVG or MathML element the browsers
    # compare these values exactly too
    insensitive = _value_test(op, ascii_lower(value))
    return lambda el: exact(v := el.get(aname)) or (
        insensitive(_lower_or_none(v)) and not in_foreign_content(el))


def _lower_or_none(v: str | None) -> str | None:
    return None if v is None else ascii_lower(v)


def _value_test(op: str, value: str) -> Callable[[str | None], bool]:
    """Whether an attribute value (None: no such attribute) passes `[name <op> value]`."""
    if op == "=":
        return lambda v: v == value
    if op == "~=":
        return lambda v: (bool(value) and v is not None and value in v
                          and value in split_ascii_whitespace(v))
    if op == "|=":
        return lambda v: v is not None and (v == value or v.startswith(value + "-"))
    if op == "^=":
        return lambda v: bool(value) and (v or "").startswith(value)
    if op == "$=":
        return lambda v: bool(value) and (v or "").endswith(value)
    return lambda v: bool(value) and value in (v or "")


# HTML tree construction: the children of these SVG elements (HTML integration points) and of
# these MathML elements (text integration points, but for mglyph and malignmark) are HTML
_SVG_HTML_POINTS = frozenset({"foreignobject", "desc", "title"})
_MATHML_TEXT_POINTS = frozenset({"mi", "mo", "mn", "ms", "mtext"})
# HTML, "parsing tokens in foreign content": these start tags (and <font> with color, face
# or size) end the SVG or MathML content: the browser makes them HTML elements, outside it
# (libxml2 leaves them nested in it), and what they hold is HTML too
_BREAKOUT = frozenset({
    "b", "big", "blockquote", "body", "br", "center", "code", "dd", "div", "dl", "dt", "em",
    "embed", "h1", "h2", "h3", "h4", "h5", "h6", "head", "hr", "i", "img", "li", "listing",
    "menu", "meta", "nobr", "ol", "p", "pre", "ruby", "s", "small", "span", "strong", "strike",
    "sub", "sup", "table", "tt", "u", "ul", "var",
})


def _namespace(el: Element) -> str:
    """"html", "svg" or "math": the namespace the HTML parser gives `el` (lxml's HTML parser
    keeps none), from its own and its ancestors' names, as HTML's tree construction does in
    foreign content (<svg> and <math> open it; integration points return to HTML)."""
    tag = el.tag
    if tag in ("svg", "math"):
        return str(tag)
    if tag in _BREAKOUT or (tag == "font" and any(el.get(a) is not None
                                                  for a in ("color", "face", "size"))):
        return "html"
    parent = el.getparent()
    if parent is None:
        return "html"
    outer = _namespace(parent)
    if outer == "html":
        return "html"
    if outer == "svg":
        return "html" if parent.tag in _SVG_HTML_POINTS else "svg"
    if parent.tag in _MATHML_TEXT_POINTS and tag not in ("mglyph", "malignmark"):
        return "html"
    if parent.tag == "annotation-xml" and ascii_lower(parent.get("encoding") or "") in (
            "text/html", "application/xhtml+xml"):
        return "html"
    return "math"


def in_foreign_content(el: Element) -> bool:
    """Whether `el` is an SVG or MathML element (not an HTML one) in the browser's DOM."""
    return _namespace(el) != "html"


def _negate(inner: Matcher) -> Matcher:
    return lambda el: not inner(el)


def _all(parts: list[Matcher]) -> Matcher:
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:
        first, second = parts
        return lambda el: first(el) and second(el)
    if len(parts) == 3:
        first, second, third = parts
        return lambda el: first(el) and second(el) and third(el)
    return lambda el: all(p(el) for p in parts)


class Subject(NamedTuple):
    """The rightmost compound of one alternative, as far as it decides whether the element it
    matches can be a checkbox-like control (see `subjects`)."""

    alternative: str  # the alternative's text
    tag: str | None  # its type selector, lowercased; None for none or `*`
    types: Matcher  # its [type...] attribute selectors (outside :not()), all of them
    roles: Matcher  # its [role...] attribute selectors (outside :not()), all of them
    has_role: bool  # whether it has a [role...] attribute selector (outside :not())


@dataclass
class _Parser:
    text: str
    pos: int = 0
    key: Key = None  # index key of the last compound parsed outside :not()
    only_id: str | None = None  # of that compound, if it is just #id (or *#id)
    # of that compound: its tag, [type] and [role] selectors (see Subject)
    identity: tuple[str | None, list[Matcher], list[Matcher]] = (None, [], [])
    subjects: list[Subject] | None = None  # filled by complex() when a list is given

    def next(self) -> tuple[str, re.Match[str]] | None:
        if self.pos >= len(self.text):
            return None
        m = _TOKEN.match(self.text, self.pos)
        if not m or m.lastgroup is None:
            raise _unsupported(self.text, self.pos)
        kind = m.lastgroup if m.lastgroup not in {"aname", "op", "val", "flag"} else "attr"
        return kind, m

    def compound(self, inside_not: bool = False) -> Matcher | None:
        parts: list[Matcher] = []
        seen_type = False
        key: Key = None
        kinds: list[str] = []
        tag: str | None = None
        types: list[Matcher] = []
        roles: list[Matcher] = []
        while (tok := self.next()) is not None:
            kind, m = tok
            if kind == "type":
                if parts or seen_type:
                    raise SelectorError(
                        f"type selector {m.group(0)!r} must come first in a compound",
                        "write the element name before #id/.class/[attr], e.g. input#ter_mob",
                    )
                seen_type = True
            elif kind == "not":
                if inside_not:
                    raise SelectorError("nested :not() is not portable", "flatten it")
                self.pos = m.end()
                self._skip_ws()
                inner = self.compound(inside_not=True)
                self._skip_ws()
                close = self.next()
                if inner is None or close is None or close[0] != "close":
                    raise SelectorError(
                        ":not() takes one compound selector", "e.g. input:not(#ter_all)"
                    )
                self.pos = close[1].end()
                parts.append(_negate(inner))
                kinds.append("not")  # (the compound is then more than its #id)
                continue
            elif kind not in {"id", "cls", "attr"}:
                break
            parts.append(_simple_matcher(kind, m))
            kinds.append(m.group(0) if kind == "type" else kind)
            if kind == "type":
                tag = None if m.group(0) == "*" else m.group(0).lower()
            elif kind == "attr" and m.group("aname").lower() == "type":
                types.append(parts[-1])
            elif kind == "attr" and m.group("aname").lower() == "role":
                roles.append(parts[-1])
            simple_key = _simple_key(kind, m)
            if simple_key is not None and (key is None or _RANK[simple_key[0]] < _RANK[key[0]]):
                key = simple_key
            self.pos = m.end()
        if not inside_not:
            self.key = key
            self.only_id = key[1] if key and kinds in (["id"], ["*", "id"]) else None
            self.identity = (tag, types, roles)
        return _all(parts) if parts else None

    def _skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in _WS:
            self.pos += 1

    def complex(self) -> Alternative:
        self._skip_ws()
        begin = self.pos
        first = self.compound()
        first_id = self.only_id
        if first is None:
            raise (
                _unsupported(self.text, self.pos)
                if self.pos < len(self.text)
                else SelectorError("empty selector", "write a selector such as input#ter_mob")
            )
        # chain: list of (combinator, compound) from left to right
        chain: list[tuple[str, Matcher]] = [("", first)]
        while True:
            start = self.pos
            self._skip_ws()
            comb = " " if self.pos > start else ""
            tok = self.next()
            if tok is None or tok[0] in {"comma", "close"}:
                break
            if tok[0] == "comb":
                comb = tok[1].group(0)
                self.pos = tok[1].end()
                self._skip_ws()
            elif not comb:
                raise _unsupported(self.text, self.pos)
            nxt = self.compound()
            if nxt is None:
                raise SelectorError(
                    f"combinator {comb.strip() or 'descendant'!r} needs a selector after it",
                    "complete or remove the combinator",
                )
            chain.append((comb, nxt))
        if self.subjects is not None:
            tag, types, roles = self.identity
            self.subjects.append(Subject(self.text[begin:self.pos].strip(_WS), tag,
                                         _all(types), _all(roles), bool(roles)))
        if len(chain) == 2 and chain[1][0] == " " and first_id is not None:
            return Alternative(_chain_matcher(chain), self.key, first_id, chain[1][1])
        return Alternative(
            _chain_matcher(chain), self.key, None, None, len(chain) == 1 and first_id is not None
        )

    def selector_list(self) -> list[Alternative]:
        alternatives = [self.complex()]
        while (tok := self.next()) is not None:
            if tok[0] != "comma":
                raise _unsupported(self.text, self.pos)
            self.pos = tok[1].end()
            alternatives.append(self.complex())
        return alternatives


def _prev_elements(el: Element) -> Any:
    sib = el.getprevious()
    while sib is not None:
        if isinstance(sib.tag, str):
            yield sib
        sib = sib.getprevious()


def _chain_matcher(chain: list[tuple[str, Matcher]]) -> Matcher:
    def match_at(el: Element, i: int) -> bool:
        comb, compound = chain[i]
        if not compound(el):
            return False
        if i == 0:
            return True
        if comb == ">":
            parent = el.getparent()
            return parent is not None and match_at(parent, i - 1)
        if comb == " ":
            for ancestor in el.iterancestors():  # noqa: SIM110 (a loop is faster than any())
                if match_at(ancestor, i - 1):
                    return True
            return False
        if comb == "+":
            prev = next(_prev_elements(el), None)
            return prev is not None and match_at(prev, i - 1)
        return any(match_at(s, i - 1) for s in _prev_elements(el))  # "~"

    last = len(chain) - 1
    if last == 0:
        only = chain[0][1]
        return lambda el: isinstance(el.tag, str) and only(el)
    if last == 1 and chain[1][0] == " ":  # the common "ancestor descendant": no recursion
        outer, inner = chain[0][1], chain[1][1]

        def descendant(el: Element) -> bool:
            if not isinstance(el.tag, str) or not inner(el):
                return False
            for ancestor in el.iterancestors():  # noqa: SIM110 (a loop is faster than any())
                if outer(ancestor):
                    return True
            return False

        return descendant
    if sum(comb in (" ", "~") for comb, _ in chain) >= 2:
        # Two combinators that try several elements (` ` and `~`) nest: plain backtracking
        # takes time exponential in their number on a deep page (`a * * * * input`)
        return _memoised_chain_matcher(chain)
    return lambda el: isinstance(el.tag, str) and match_at(el, last)


def _memoised_chain_matcher(chain: list[tuple[str, Matcher]]) -> Matcher:
    """The matcher of `_chain_matcher`, in time linear in the page's depth and width.

    at(el, i): el matches the chain's first i+1 compounds (compound i being el itself).
    For ` ` the question is whether some ancestor x of el has at(x, i - 1); its answer for x
    also holds for every element between el and x, so one walk up answers (and remembers)
    it for all of them; `~` walks earlier siblings the same way. Memos last one call.
    """
    last = len(chain) - 1

    def matches(el: Element) -> bool:
        if not isinstance(el.tag, str):
            return False
        at_memo: dict[tuple[Element, int], bool] = {}
        # (x, i) -> at(y, i) holds for x or an ancestor y of x (` `) / an earlier sibling (`~`)
        up_memo: dict[tuple[Element, int], bool] = {}
        left_memo: dict[tuple[Element, int], bool] = {}

        def at(x: Element, i: int) -> bool:
            key = (x, i)
            known = at_memo.get(key)
            if known is None:
                known = at_memo[key] = _at(x, i)
            return known

        def _at(x: Element, i: int) -> bool:
            comb, compound = chain[i]
            if not compound(x):
                return False
            if i == 0:
                return True
            if comb == ">":
                parent = x.getparent()
                return parent is not None and at(parent, i - 1)
            if comb == "+":
                prev = next(_prev_elements(x), None)
                return prev is not None and at(prev, i - 1)
            if comb == " ":
                return walk(x.getparent(), i - 1, up_memo, _parent)
            return walk(next(_prev_elements(x), None), i - 1, left_memo, _previous)  # "~"

        def walk(
            y: Element | None, i: int, memo: dict[tuple[Element, int], bool], step: Any
        ) -> bool:
            """Whether at(z, i) holds for y or an element `step` reaches from it."""
            visited = []
            found = False
            while y is not None:
                known = memo.get((y, i))
                if known is not None:
                    found = known
                    break
                visited.append(y)
                if at(y, i):
                    found = True
                    break
                y = step(y)
            for z in visited:
                memo[(z, i)] = found
            return found

        return at(el, last)

    return matches


def _parent(el: Element) -> Element | None:
    return el.getparent()


def _previous(el: Element) -> Element | None:
    return next(_prev_elements(el), None)


@lru_cache(maxsize=1024)
def compile_selector(text: str) -> Matcher:
    """A predicate for lxml elements, or SelectorError (with `.hint`) outside the subset."""
    alternatives = [alternative.matcher for alternative in compile_alternatives(text)]
    if len(alternatives) == 1:
        return alternatives[0]
    return lambda el: any(a(el) for a in alternatives)


@lru_cache(maxsize=1024)
def compile_alternatives(text: str) -> tuple[Alternative, ...]:
    """The comma-separated alternatives of a selector, each a predicate (an element matches
    the selector when one of them is true) with the index `Key` its rightmost compound
    implies; SelectorError (with `.hint`) outside the subset."""
    return tuple(_parser(text).selector_list())


def _parser(text: str, subjects: list[Subject] | None = None) -> _Parser:
    """A parser of the selector `text`, or SelectorError when it is empty."""
    text = text.strip(_WS)  # CSS white space only: a no-break space is an ident character
    if not text:
        raise SelectorError("empty selector", "write a selector such as input#ter_mob")
    return _Parser(text, subjects=subjects)


def subjects(text: str) -> list[Subject]:
    """The rightmost compound of each alternative of a selector (the element it matches), as
    far as it decides whether that element can be a checkbox-like control: its type selector
    and its [type] and [role] attribute selectors (`:not()` is left out: what it excludes
    only narrows, so a subject said to be a possible control may still match none);
    SelectorError outside the subset."""
    found: list[Subject] = []
    _parser(text, found).selector_list()
    return found

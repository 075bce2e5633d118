"""A seeded random grammar of adversarial but well-formed pages and rulesets, for the
differential fuzz test of the two matching engines (tests/test_conformance_fuzz.py).

Pages are written so that lxml (libxml2) and a browser's HTML5 parser build the same tree:
a doctype (standards mode), every element closed in order, no element whose start or end
tag the HTML5 parser treats specially when nested (p, li, a, table, select, option,
headings, form in form, button in button), no <wbr> (libxml2 2.14 does not know it is
void and nests what follows in it), no self-closing syntax (`<div/>`), no <noscript> (raw
text in a browser with scripting on), attribute values quoted and escaped, no character
references the two parsers read differently (&#x80;-&#x9f;). The test checks
that the trees are the same before it compares verdicts, so a divergence it reports is one
of the engines. What is random is what the engines read: label structure, ids, white
space, Unicode, attributes, roles, types, templates and selectors.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from pwguard.rules.model import Control, RequestGuard, Rule, RuleSet

# engine.py step 6, every character
WHITESPACE = [
    " ", "\t", "\n", "\x0b", "\x0c", "\r", "\u00a0", "\u1680",
    *(chr(c) for c in range(0x2000, 0x200B)),
    "\u2028", "\u2029", "\u202f", "\u205f", "\u3000", "\ufeff",
]
# white space elsewhere (str.split, Unicode Zs of old, C1 NEL) that is not step 6's
LOOKALIKES = ["\u200b", "\u180e", "\u0085", "\x1c", "\x1f", "\u2060", "\u00ad"]
ASCII_WS = [" ", "\t", "\n", "\x0c", "\r"]

WORDS = [
    "sign", "Sign", "SIGN", "out", "Out", "apps", "app\u2019s", "app's", "app\u2032s",
    "mobile", "M\u00f3bile", "Mo\u0301bile", "MOBILE", "\ufb01le", "file", "Stra\u00dfe",
    "STRASSE", "strasse", "\u1f48\u0394\u03a5\u03a3\u03a3\u0395\u038e\u03a3",
    "\u03bf\u03b4\u03c5\u03c3\u03c3\u03b5\u03c5\u03c2", "\u03c3", "\u03c2", "\u0130stanbul",
    "istanbul", "\u0131stanbul", "\u201ctokens\u201d", '"tokens"', "\u201etokens\u201f",
    "\uff21\uff30\uff29", "api", "API", "\u01c5", "d\u017e", "\u216b", "xii", "e\u0301",
    "\u00e9", "\u00f1", "n\u0303", "\ufb00", "ff", "\u2460", "1", "x", "\u1e9e", "ss",
    "\u0915\u094d\u0937", "\uff53\uff49\uff47\uff4e", "delete", "D\u00e9l\u00e8te",
    "de\u0301le\u0300te", "\u212a", "k", "\u00c5", "\u212b", "a\u030a",
]

IDS = ["", "a", "b", "c", "A", "x-1", "_y", "sign-out", "z", "\u00e9", "a\u00a0b", "c d", "1x",
       "q\x0bq", "w\u200bw"]
SELECTOR_IDS = ["a", "b", "c", "A", "x-1", "_y", "sign-out", "z"]  # CSS identifiers
CLASSES = ["k", "K", "k-2", "m", "n", "\u00e9", "_k"]
SELECTOR_CLASSES = ["k", "K", "k-2", "m", "n", "_k"]
CLASS_SEPARATORS = [" ", "  ", "\t", "\n", "\x0c", "\u00a0", "\x0b", "\u2003", "\u0085"]
NAMES = ["n", "clear_api", "clear_web", "x", "mobile", "N", "a b"]
INPUT_TYPES = ["checkbox", "CHECKBOX", "CheckBox", " checkbox", "checkbox ", "checkbo",
               "radio", "text", "", "chec\u212abox", "hidden", "switch"]
ROLES = ["checkbox", "switch", "Checkbox", "SWITCH", "checkbox switch", " checkbox",
         "menuitemcheckbox", "switch\u00a0", "button"]
ROLE_TAGS = ["div", "span", "button", "label", "x-box", "section", "b"]
CONTAINERS = ["div", "span", "b", "em", "section", "label", "x-box", "fieldset", "button",
              "small"]
# attribute values browsers compare ASCII case-insensitively in selectors (HTML, "case-
# sensitivity of selectors"), and others, with values differing in case only
OTHER_ATTRIBUTES = {
    "lang": ["en", "EN", "en-US", "EN-us", "fr"],
    "dir": ["rtl", "RTL", "ltr"],
    "title": ["abc", "ABC", "a b", "\u00e9t\u00e9", "\u00c9T\u00c9", "\u212a", "k"],
    "data-x": ["v", "V", "v-w", "V w"],
    "aria-checked": ["true", "TRUE", "false"],
    "checked": ["", "checked", "CHECKED"],
    "align": ["left", "LEFT"],
    "hidden": ["", "hidden"],
    "style": ["display:none", "visibility:hidden"],
}
SELECTOR_ATTRIBUTES = ["id", "name", "class", "type", "role", "for", *OTHER_ATTRIBUTES]
SELECTOR_VALUES = ["checkbox", "CHECKBOX", "switch", "en", "EN", "en-us", "rtl", "RTL",
                   "abc", "ABC", "v", "V", "true", "TRUE", "checked", "left", "LEFT", "k",
                   "K", "m", "a", "b", "x-1", "clear_api", "mobile", "n", "box", "che",
                   "clear", "_"]
QUOTED_VALUES_EXTRA = ["\u00e9t\u00e9", "\u00c9T\u00c9", "\u212a"]
QUOTED_VALUES = ["a b", "", "\u00e9", "k\u00a0m", "c d", "V w", " checkbox", "a\u00a0b"]
TYPE_SELECTORS = ["input", "div", "span", "label", "button", "*", "INPUT", "x-box",
                  "section", "b", "Label"]
COMBINATORS = [" ", " > ", ">", " + ", "~", " ~ ", "\t", "  >  "]
# selectors outside the portable subset: they never match, in either engine (step 7)
NON_PORTABLE = [
    "input:checked", ":is(input)", "input:first-child", "#\\61", "*|input", "input::before",
    ":not(:not(input))", "[data-x=\u00e9]", "#\u00e9", "div:NOT(.k)", "div:has(> input)",
    "input:nth-child(1)", "[name='a\\'b']", "input[type=checkbox s]", "[\nlang]",
    "[id=a S]", ".k:not(input .k)", "input,", "--x", "[role=checkbox", "input[name=\"x",
    ":root input", "input:where(.k)", "x-box:defined", "INPUT:Checked", "\u00a0input",
    "input\u3000", "[lang=en\u00a0i]",
]


def text_piece(rnd: random.Random, words: int = 3) -> str:
    """Words joined by runs of white space, lookalikes or nothing."""
    out = []
    for i in range(rnd.randint(1, words)):
        if i or rnd.random() < 0.2:
            out.append(separator(rnd))
        out.append(rnd.choice(WORDS))
    if rnd.random() < 0.2:
        out.append(separator(rnd))
    return "".join(out)


def separator(rnd: random.Random) -> str:
    r = rnd.random()
    if r < 0.35:
        return " "
    if r < 0.75:
        return "".join(rnd.choice(WHITESPACE) for _ in range(rnd.randint(1, 3)))
    if r < 0.9:
        return rnd.choice(LOOKALIKES)
    return ""


def phrase(rnd: random.Random) -> str:
    """A label phrase made of the same pieces as the pages' texts, so that it matches some."""
    r = rnd.random()
    if r < 0.35:
        return rnd.choice(WORDS)
    if r < 0.7:
        return f"{rnd.choice(WORDS)}{rnd.choice([' ', '  ', chr(0xa0), chr(0x2003)])}" \
            f"{rnd.choice(WORDS)}"
    if r < 0.8:
        return f"{rnd.choice(WORDS)}{rnd.choice(LOOKALIKES)}{rnd.choice(WORDS)}"
    if r < 0.9:
        word = rnd.choice(WORDS)
        start = rnd.randrange(len(word))
        return word[start:start + rnd.randint(1, 3)]
    return rnd.choice(["  ", "\u0301", "\u200b", "\u00a0", "ss", "\u03c3", "i\u0307", "'",
                       '"', "sign out", "e"])


NAMED = {"\u00a0": "&nbsp;", "\t": "&Tab;", "\n": "&NewLine;", "\u2002": "&ensp;",
         "\u2003": "&emsp;", "\u2009": "&thinsp;", "\u00ad": "&shy;", "\u200c": "&zwnj;",
         "\u00e9": "&eacute;", "\u00df": "&szlig;", "\u2019": "&rsquo;", "\u201c": "&ldquo;"}


def escape(text: str, specials: dict[str, str], rnd: random.Random | None = None) -> str:
    """Markup for text: the special characters escaped; with `rnd`, some other characters
    written as character references (decimal, hex or named; never &#x80;-&#x9f;, which
    HTML reads as windows-1252, nor a carriage return, which it reads as a line feed)."""
    out = []
    for ch in text:
        if ch in specials:
            out.append(specials[ch])
        elif rnd is not None and ch != "\r" and rnd.random() < 0.08:
            r = rnd.random()
            if ch in NAMED and r < 0.4:
                out.append(NAMED[ch])
            else:
                out.append(f"&#{ord(ch)};" if r < 0.7 else f"&#x{ord(ch):X};")
        else:
            out.append(ch)
    return "".join(out)


def escape_text(text: str, rnd: random.Random | None = None) -> str:
    return escape(text, {"&": "&amp;", "<": "&lt;", ">": "&gt;"}, rnd)


def escape_attr(text: str, rnd: random.Random | None = None) -> str:
    return escape(text, {"&": "&amp;", '"': "&quot;", "<": "&lt;"}, rnd)


@dataclass
class Gen:
    """One page being generated."""

    rnd: random.Random

    def attrs(self, tag: str, extra: dict[str, str] | None = None) -> str:
        rnd = self.rnd
        attributes: dict[str, str] = dict(extra or {})
        if rnd.random() < 0.45:
            attributes["id"] = rnd.choice(IDS)
        if rnd.random() < 0.35:
            names = rnd.sample(CLASSES, rnd.randint(1, 3))
            seps = [rnd.choice(CLASS_SEPARATORS) for _ in names]
            attributes["class"] = "".join(s + n for s, n in zip(seps, names, strict=True))[
                rnd.randint(0, 1):]
        if rnd.random() < 0.25:
            attributes["name"] = rnd.choice(NAMES)
        if rnd.random() < 0.25:
            attributes["aria-labelledby"] = self.labelledby()
        if rnd.random() < 0.2:
            attributes["aria-label"] = rnd.choice(
                ["", " ", "\u00a0\u3000", text_piece(rnd), text_piece(rnd, 1)])
        if (tag == "label" and rnd.random() < 0.6) or rnd.random() < 0.03:  # (only label's counts)
            attributes["for"] = rnd.choice([*IDS, ""])
        for _ in range(rnd.randint(0, 2)):
            name = rnd.choice(list(OTHER_ATTRIBUTES))
            attributes[name] = rnd.choice(OTHER_ATTRIBUTES[name])
        return "".join(f' {self.case(k)}="{escape_attr(v, rnd)}"' for k, v in attributes.items())

    def case(self, name: str) -> str:
        """A tag or attribute name, sometimes in upper or mixed case (HTML lowercases it)."""
        r = self.rnd.random()
        if r < 0.9:
            return name
        return name.upper() if r < 0.95 else "".join(
            c.upper() if self.rnd.random() < 0.5 else c for c in name)

    def labelledby(self) -> str:
        rnd = self.rnd
        ids = [rnd.choice([*IDS, "nope"]) for _ in range(rnd.randint(1, 4))]
        seps = [*ASCII_WS, "  ", " \t\n", "\u00a0", "\x0b", "\u3000"]
        lead = rnd.choice(["", "", " ", "\n\t"])
        return lead + "".join(i + rnd.choice(seps) for i in ids)[: -1 if rnd.random() < 0.7
                                                               else None]

    def text(self) -> str:
        return escape_text(text_piece(self.rnd), self.rnd)

    def control(self, in_button: bool) -> str:
        rnd = self.rnd
        if rnd.random() < 0.55:
            kind = rnd.choice(INPUT_TYPES if rnd.random() < 0.4 else ["checkbox", "CHECKBOX"])
            typ = "" if kind == "" and rnd.random() < 0.5 else \
                f' {self.case("type")}="{escape_attr(kind, rnd)}"'
            return f"<{self.case('input')}{typ}{self.attrs('input')}>"
        tag = rnd.choice(ROLE_TAGS)
        if tag == "button" and in_button:  # (a button start tag closes an open button)
            tag = "span"
        role = rnd.choice(ROLES if rnd.random() < 0.4 else ["checkbox", "switch"])
        inner = self.text() if rnd.random() < 0.5 else ""
        role_attr = self.case("role")
        return f'<{self.case(tag)} {role_attr}="{escape_attr(role, rnd)}"{self.attrs(tag)}>' \
            f"{inner}</{self.case(tag)}>"

    def node(self, depth: int, in_button: bool, labels: int) -> str:
        """One random node; `labels`: how many label elements enclose it."""
        rnd = self.rnd
        r = rnd.random()
        if depth <= 0 or r < 0.25:
            return self.leaf(in_button, labels)
        if r < 0.45:
            return self.control(in_button)
        tag = rnd.choice(CONTAINERS)
        if (tag == "button" and in_button) or (tag == "label" and labels >= 2):
            tag = "span"
        kids = "".join(
            self.node(depth - 1, in_button or tag == "button", labels + (tag == "label"))
            for _ in range(rnd.randint(0, 3))
        )
        return f"<{self.case(tag)}{self.attrs(tag)}>{kids}</{self.case(tag)}>"

    def leaf(self, in_button: bool, labels: int) -> str:
        rnd = self.rnd
        r = rnd.random()
        if r < 0.45:
            return self.text()
        if r < 0.55:
            return f"<!--{text_piece(rnd).replace('-', '').replace('>', '')}-->"
        if r < 0.62:
            body = text_piece(rnd).replace("<", "")
            return f"<script>{body}</script>" if rnd.random() < 0.5 else f"<style>{body}</style>"
        if r < 0.7:
            inner = self.node(1, in_button, labels)
            return f"<template>{inner}{self.text()}</template>"
        if r < 0.75:
            return rnd.choice(["<br>", '<img alt="x">', "<hr>"])
        if r < 0.85:
            return f"<{self.case('label')}{self.attrs('label')}>{self.text()}</label>"
        return self.control(in_button)

    def page(self) -> list[str]:
        """The top-level blocks of a page's body (see `html`)."""
        rnd = self.rnd
        blocks = [self.node(rnd.randint(1, 4), False, 0) for _ in range(rnd.randint(2, 6))]
        blocks.append(self.control(False))
        rnd.shuffle(blocks)
        lang = rnd.choice(["en", "es", "EN"])
        return [f'<html lang="{lang}">', *blocks]


def html(page: list[str]) -> str:
    """The markup of a page: its <html> start tag, then the blocks of its body."""
    return (f'<!DOCTYPE html>{page[0]}<head><meta charset="utf-8"><title>fuzz</title></head>'
            f"<body>{''.join(page[1:])}</body></html>")


def selector(rnd: random.Random) -> str:
    """A selector list: mostly portable (every kind of simple selector and combinator),
    sometimes not (those never match)."""
    if rnd.random() < 0.12:
        return rnd.choice(NON_PORTABLE)
    alternatives = []
    for _ in range(1 if rnd.random() < 0.8 else 2):
        parts = [compound(rnd)]
        for _ in range(rnd.choice([0, 0, 1, 1, 2])):
            parts.append(rnd.choice(COMBINATORS))
            parts.append(compound(rnd))
        alternatives.append("".join(parts))
    return ", ".join(alternatives)


def compound(rnd: random.Random, inside_not: bool = False) -> str:
    out = rnd.choice(TYPE_SELECTORS) if rnd.random() < 0.5 else ""
    for _ in range(rnd.randint(0 if out else 1, 2)):
        r = rnd.random()
        if r < 0.2:
            out += "#" + rnd.choice(SELECTOR_IDS)
        elif r < 0.4:
            out += "." + rnd.choice(SELECTOR_CLASSES)
        elif r < 0.85 or inside_not:
            out += attribute_selector(rnd)
        else:
            out += f":not({compound(rnd, inside_not=True)})"
    return out


def attribute_selector(rnd: random.Random) -> str:
    name = rnd.choice(SELECTOR_ATTRIBUTES)
    if rnd.random() < 0.2:
        name = name.upper()
    op = rnd.choice(["", "=", "=", "~=", "|=", "^=", "$=", "*="])
    if not op:
        return f"[{name}]"
    if rnd.random() < 0.7:
        value = rnd.choice(SELECTOR_VALUES)
    else:
        q = rnd.choice(["'", '"'])
        value = q + rnd.choice([*QUOTED_VALUES, *QUOTED_VALUES_EXTRA, *SELECTOR_VALUES]) + q
    flag = rnd.choice(["", "", "", " i", " I"])
    pad = rnd.choice(["", "", " "])
    return f"[{pad}{name}{op}{value}{flag}{pad}]"


SITES = ["https://accounts.zoho.eu/*"]


def ruleset(rnd: random.Random) -> RuleSet:
    """Rules like test_conformance.stress_ruleset's: label phrases, selectors, warn rules
    competing with block rules, in random order."""
    rules = []
    for i in range(rnd.randint(3, 6)):
        controls = []
        for _ in range(rnd.randint(1, 3)):
            if rnd.random() < 0.5:
                controls.append(Control(selector=selector(rnd)))
            else:
                controls.append(Control(label=[phrase(rnd) for _ in range(rnd.randint(1, 3))]))
        action = "warn" if rnd.random() < 0.4 else "block"
        rules.append(Rule(
            id=f"r{i}-{action}", title="fuzz", why="fuzz", action=action,  # type: ignore[arg-type]
            sites=SITES, controls=controls,
            request=RequestGuard(method="PUT", path="*/x", json_true=["x"]),
            message={"en": "fuzz"}, help="https://{host}/h"))
    return RuleSet(rules=rules)


def case(seed: int, pages: int) -> tuple[RuleSet, list[list[str]]]:
    """The ruleset and pages (as `Gen.page` gives them) of one seed."""
    rnd = random.Random(seed)
    rs = ruleset(rnd)
    return rs, [Gen(rnd).page() for _ in range(pages)]

"""C and L: selectors (valid, portable, not matching harmless controls) and label phrases
(not empty, not too short, not only common words, not matching harmless controls)."""

from __future__ import annotations

import unicodedata

import lxml.html
import soupsieve

from pwguard.lint.context import Context
from pwguard.rules.engine import fold
from pwguard.rules.finding import shown
from pwguard.rules.selectors import SelectorError, Subject, compile_selector, subjects
from pwguard.rules.vocab import load as load_vocab
from pwguard.rules.vocab import words

MIN_PHRASE = 5  # after folding; wide (CJK) characters count 2


def width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _checkbox_input(subject: Subject) -> bool:
    """Whether the subject can be an input[type=checkbox] (a control whatever its role: its
    [role] selectors are left to the page)."""
    if subject.tag not in (None, "input"):
        return False
    return subject.types(lxml.html.Element("input", {"type": "checkbox"}))


def _role_control(subject: Subject) -> bool:
    """Whether the subject can be an element with role=checkbox or role=switch (any element,
    whatever its type attribute: its [type] selectors are left to the page)."""
    return any(
        subject.roles(lxml.html.Element("span", {"role": role}))  # (roles reads role only)
        for role in ("checkbox", "switch")
    )


def control_problems(selector: str) -> list[str]:
    """C005 messages for the alternatives of a (valid, portable) selector that cannot match
    a checkbox-like control as written: each message names the alternative and the fix."""
    problems = []
    for subject in subjects(selector):
        alt = shown(subject.alternative)
        if _checkbox_input(subject):
            continue  # an input[type=checkbox] (any element for `#id`, `.class`, `*`)
        if not _role_control(subject):
            problems.append(
                f"selector {alt} can never match a checkbox-like control (input[type=checkbox], "
                "[role=checkbox], [role=switch]): its type or role says otherwise; select the "
                "box itself, e.g. input#ter_mob"
            )
        elif not subject.has_role:
            problems.append(
                f"selector {alt} matches a checkbox-like control only if that "
                f"{f'<{subject.tag}>' if subject.tag else 'element'} has role=checkbox or "
                "role=switch: if it has, say so (add [role=switch] or "
                "[role=checkbox]); else select the box itself, e.g. input#ter_mob"
            )
    return problems


def check(ctx: Context) -> None:
    common = set(load_vocab()["common_words"])
    for index, rule in ctx.rules():
        if not rule.controls:
            ctx.report(
                "C004", index, ("controls",), "`controls` is empty; add a selector or label entry"
            )
        fixtures = ctx.fixtures(index)
        harmless = fixtures.harmless() if fixtures and fixtures.exists else []
        seen: set[str] = set()
        for c, control in enumerate(rule.controls):
            if control.selector is not None:
                keys: tuple[str | int, ...] = ("controls", c, "selector")
                try:
                    matcher = compile_selector(control.selector)
                except SelectorError as exc:
                    try:
                        soupsieve.compile(control.selector)
                    except Exception as sv_exc:  # soupsieve.SelectorSyntaxError and friends
                        first = str(sv_exc).splitlines()[0]
                        ctx.report(
                            "C001",
                            index,
                            keys,
                            f"invalid selector {shown(control.selector)}: {first}",
                        )
                    else:
                        ctx.report(
                            "C002",
                            index,
                            keys,
                            f"{shown(control.selector)}: {exc.message}; {exc.hint}",
                        )
                    continue
                for problem in control_problems(control.selector):
                    ctx.report("C005", index, keys, problem)
                hit = next((h for h in harmless if matcher(h.element)), None)
                if hit:
                    ctx.report(
                        "C003",
                        index,
                        keys,
                        f"selector {shown(control.selector)} matches the harmless control {hit.describe()}",  # noqa: E501
                    )
                continue
            phrases = control.label or []
            if not phrases:
                ctx.report("L001", index, ("controls", c, "label"), "`label` has no phrases")
            for p, phrase in enumerate(phrases):
                keys = ("controls", c, "label", p)
                folded = fold(phrase)
                if not folded:
                    ctx.report(
                        "L001", index, keys, "empty label phrase: it would match every checkbox"
                    )
                    continue
                if folded in seen:
                    ctx.report(
                        "L005",
                        index,
                        keys,
                        f"phrase {shown(phrase)} is listed twice (after folding)",
                    )
                seen.add(folded)
                if width(folded) < MIN_PHRASE:
                    ctx.report(
                        "L002",
                        index,
                        keys,
                        f"phrase {shown(phrase)} is shorter than {MIN_PHRASE} characters (CJK count 2); quote more of the label",  # noqa: E501
                    )
                    continue
                ws = words(folded)
                if not ws:
                    # punctuation or invisible characters only ("......", zero-width spaces):
                    # nothing in it says which box it means
                    ctx.report(
                        "L003",
                        index,
                        keys,
                        f"phrase {shown(phrase)} has no words; quote the words of the label that make the box dangerous",  # noqa: E501
                    )
                    continue
                if all(w in common for w in ws):
                    ctx.report(
                        "L003",
                        index,
                        keys,
                        f"phrase {shown(phrase)} has only common words; add the words that make the box dangerous",  # noqa: E501
                    )
                    continue
                hit = next((h for h in harmless if folded in h.folded), None)
                if hit:
                    ctx.report(
                        "L004",
                        index,
                        keys,
                        f"phrase {shown(phrase)} matches the harmless control {hit.describe()}",
                    )

"""`pwguard scan PAGE.html...`: list a saved page's checkbox-like controls, the rule covering
each, and flag dangerous-looking controls no rule covers (exit 1), e.g. after Zoho redesigns
its page.

A control looks dangerous when (unless a rule covers it):
- its folded label contains one of Zoho's dangerous labels in any language of labels.tsv, or
  three words of one language's dangerous wording (`pwguard.rules.vocab`); or
- its id, name or class contains a structural cue (mobile, apitok, session, oneauth, ...),
unless its label is one of Zoho's known harmless labels (web sessions, Include OneAuth).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pwguard.cliargs import DEFAULT_RULES_MISSING, parse_args, write_output
from pwguard.lint import lint_paths
from pwguard.lint.formatters import FORMATS, render
from pwguard.rules.engine import (
    MEMO_LIMIT,
    CompiledRules,
    Element,
    Page,
    Verdict,
    applicable_rules,
    compiled_rules,
    literal_automaton,
    page_verdicts,
)
from pwguard.rules.files import MAX_PAGE, FileProblem, read_limited
from pwguard.rules.finding import Finding, printable
from pwguard.rules.vocab import load as load_vocab
from pwguard.rules.vocab import words

STRUCTURAL = re.compile(
    r"mobile|apitok|api_tok|authtok|(app|mob|device)[_-]?ses|oneauth|signout|revoke|devices?_?log",
    re.IGNORECASE,
)
# the forms that hold Zoho's "terminate sessions" boxes (PAGE.md): an unknown box in one is
# worth a look whatever its wording (no other boxes are there)
SIGNOUT_CHOICES = frozenset({"pass_esc_devices", "terminate_session_form"})
MIN_WORDS = 3  # words of one language's dangerous wording that make a label look dangerous
DANGEROUS, HARMLESS = 1, 2  # kinds of Zoho's labels in the vocabulary


@dataclass(frozen=True, init=False)
class Control:
    path: str
    line: int
    verdict: Verdict
    reasons: tuple[str, ...]

    def __init__(self, path: str, line: int, verdict: Verdict, reasons: tuple[str, ...]) -> None:
        # as Verdict: a third of the time of the frozen dataclass's generated __init__
        fields = self.__dict__
        fields["path"], fields["line"], fields["verdict"], fields["reasons"] = (
            path, line, verdict, reasons
        )

    @property
    def status(self) -> str:
        if self.verdict.rule_id:
            return "covered"
        return "DANGEROUS" if self.reasons else "ok"

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.verdict.to_dict(),
            "line": self.line,
            "status": self.status,
            "reasons": list(self.reasons),
        }


class Vocabulary:
    def __init__(self) -> None:
        data = load_vocab()
        # Zoho's dangerous and harmless labels, all found in one pass over a label
        kinds: dict[str, int] = {}
        for text in data["dangerous_labels"]:
            kinds[text] = kinds.get(text, 0) | DANGEROUS
        for text in data["harmless_labels"]:
            kinds[text] = kinds.get(text, 0) | HARMLESS
        self.labels = literal_automaton({text: (text, kind) for text, kind in kinds.items()})
        self.by_lang = {lang: set(ws) for lang, ws in data["danger_words"].items()}
        # word -> the languages (by their order in by_lang) whose dangerous wording has it
        self.langs_of: dict[str, list[int]] = {}
        for n, ws in enumerate(self.by_lang.values()):
            for w in ws:
                self.langs_of.setdefault(w, []).append(n)
        self.lang_names = list(self.by_lang)
        # folded label -> what its wording says (None: a known harmless box); a function of
        # the text alone, remembered for one run over many pages (`clear_memo` forgets it)
        self.by_label: dict[str, tuple[str, ...] | None] = {}

    def clear_memo(self) -> None:
        """Forget the labels seen so far."""
        self.by_label.clear()

    def label_reasons(self, folded: str) -> tuple[str, ...] | None:
        """Why a control with this folded label looks dangerous by its wording (None: it is a
        known harmless box, whatever its attributes say)."""
        # the longest dangerous label at the leftmost place one occurs: the most telling match
        dangerous: tuple[int, int, str] | None = None  # (start, -length, label)
        harmless = False
        if self.labels is not None:
            for end, (text, kind) in self.labels.iter(folded):
                if kind & DANGEROUS:
                    hit = (end + 1 - len(text), -len(text), text)
                    if dangerous is None or hit < dangerous:
                        dangerous = hit
                if kind & HARMLESS:
                    harmless = True
        if dangerous is not None:
            return (f"label contains Zoho's wording {dangerous[2][:50]!r}",)
        if harmless:
            return None  # a known harmless box (web sessions, Include OneAuth)
        label_words = set(words(folded))
        # the language with the most of the label's words, at least MIN_WORDS (on a tie,
        # the first in by_lang order): the one the message names
        counts: dict[int, int] = {}
        for w in label_words:
            for n in self.langs_of.get(w, ()):
                counts[n] = counts.get(n, 0) + 1
        found = [n for n, c in counts.items() if c >= MIN_WORDS]
        if not found:
            return ()
        lang = self.lang_names[min(found, key=lambda n: (-counts[n], n))]
        common = sorted(label_words & self.by_lang[lang])
        return (f"label has dangerous wording ({lang}: {', '.join(common[:4])})",)

    def reasons(
        self, el: Element, folded: str, ids_above: tuple[str, ...] | None = None
    ) -> list[str]:
        """Why an uncovered control looks dangerous ([] if not); `folded` is its folded label,
        `ids_above` the ids of its ancestors, nearest first, if known (Page.above)."""
        by_label = self.by_label
        if folded in by_label:
            wording = by_label[folded]
        else:
            if len(by_label) >= MEMO_LIMIT:
                by_label.clear()
            wording = by_label[folded] = self.label_reasons(folded)
        if wording is None:
            return []
        out = list(wording)
        for attr in ("id", "name", "class"):
            value = el.get(attr)
            if value and (m := STRUCTURAL.search(value)):
                out.append(f"{attr} {value!r} contains {m.group(0)!r}")
        above: Iterable[str | None] = (
            ids_above if ids_above is not None else (a.get("id") for a in el.iterancestors()))
        for ident in above:
            if ident in SIGNOUT_CHOICES:
                out.append(f"one of Zoho's sign-out choices (inside #{ident})")
                break
        return out


def scan_page(
    path: Path, page: Page, rules: list[Any] | CompiledRules, vocab: Vocabulary
) -> list[Control]:
    folded: list[str] = []
    verdicts = page_verdicts(page, rules, folded)
    where = str(path)
    out = []
    above = page.above
    for i, (el, verdict, folded_label) in enumerate(
        zip(page.controls, verdicts, folded, strict=True)
    ):
        if verdict.rule_id:
            reasons: tuple[str, ...] = ()
        else:
            ids_above = above[i] if above is not None else None
            reasons = tuple(vocab.reasons(el, folded_label, ids_above))
        out.append(Control(where, el.sourceline or 0, verdict, reasons))
    return out


def findings_of(controls: list[Control]) -> list[Finding]:
    out = []
    for c in controls:
        if c.status == "DANGEROUS":
            ident = f"#{c.verdict.id}" if c.verdict.id else f"control {c.verdict.index}"
            out.append(
                Finding.at(
                    c.path,
                    c.line,
                    1,
                    "P001",
                    f"{ident} ({c.verdict.label[:60]!r}) is not covered by any rule: "
                    + "; ".join(c.reasons),
                )
            )
    return out


def table(controls: list[Control]) -> str:
    lines = []
    for c in controls:
        v = c.verdict
        ident = " ".join(
            x for x in (f"#{v.id}" if v.id else "", f"name={v.name}" if v.name else "") if x
        )
        rule = f"{v.rule_id} ({v.action})" if v.rule_id else "-"
        where = f"{printable(c.path)}:{c.line}: [{c.status}]"
        lines.append(f"{where} {v.tag} {ident or '-'} rule={rule} label={v.label[:80]!r}")
    return "".join(line + "\n" for line in lines)


MIME_HEADERS = (b"from:", b"mime-version:", b"content-type:", b"subject:", b"date:",
                b"snapshot-content-location:", b"content-location:", b"message-id:")


def is_mhtml(data: bytes) -> bool:
    """Whether a saved page is an MHTML (.mht/.mhtml) archive rather than HTML: it opens with
    MIME headers and declares multipart/related."""
    head = data[:4096].lstrip().lower()
    return head.startswith(MIME_HEADERS) and b"multipart/related" in head


def url_problem(url: str | None) -> str | None:
    """Why --url cannot be a page's URL, or None. A relative or non-https URL matches no
    rule's sites, so every dangerous box would be reported uncovered."""
    if url is None:
        return None
    try:
        parts = urlsplit(url)
        ok = parts.scheme.lower() == "https" and bool(parts.hostname) and parts.port != 0
    except ValueError:  # e.g. a bad port or IPv6 literal
        ok = False
    if ok and not any(c.isspace() for c in url):
        return None
    return f"--url must be an absolute https URL like https://accounts.zoho.com/... (got {url!r})"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="pwguard scan",
        description="List the checkbox-like controls of saved pages and the rules covering them; "
        "exit 1 when a dangerous-looking control is not covered.",
    )
    parser.add_argument("pages", nargs="+", help="saved HTML pages")
    parser.add_argument(
        "--url", help="the page's https URL: only rules whose sites match it apply"
    )
    parser.add_argument("--rules", help="rules folder or file (default: rules)")
    parser.add_argument("--format", choices=FORMATS, default="text")
    args = parse_args(parser, argv, lambda a: url_problem(a.url))
    if isinstance(args, int):
        return args
    if args.rules is None:
        if not os.path.lexists("rules"):
            print(f"pwguard scan: {DEFAULT_RULES_MISSING}", file=sys.stderr)
            return 2
        args.rules = "rules"
    if not os.path.lexists(args.rules):  # a broken link is reported by lint_paths (F001)
        print(f"pwguard scan: {printable(args.rules)}: no such file or directory", file=sys.stderr)
        return 2
    result = lint_paths([args.rules], select=("F", "S"))
    if result.ruleset is None:
        for f in result.errors:
            print(f, file=sys.stderr)
        print(
            f"pwguard scan: cannot load the rules in {printable(args.rules)}; "
            f"run `pwguard lint {printable(args.rules)}`",
            file=sys.stderr,
        )
        return 2
    rules = compiled_rules(applicable_rules(result.ruleset, args.url))
    vocab = Vocabulary()
    controls: list[Control] = []
    for name in args.pages:
        path = Path(name)
        try:  # a regular file (not /dev/zero, no wait on a FIFO), MAX_PAGE bytes at most
            data = read_limited(path, MAX_PAGE)
        except FileProblem as exc:
            reason = f"larger than {MAX_PAGE} bytes" if exc.too_large else exc.reason
            print(f"pwguard scan: cannot read {printable(name)}: {reason}", file=sys.stderr)
            return 2
        if is_mhtml(data):  # its HTML is quoted-printable: every box would go unseen
            print(f"pwguard scan: {printable(name)} is an MHTML archive (\"Webpage, Single "
                  "File\"), which scan does not read: save the page as \"Webpage, Complete\" "
                  "(an .html file) and scan that", file=sys.stderr)
            return 2
        controls += scan_page(path, Page(data), rules, vocab)
    findings = findings_of(controls)
    if args.format == "json":
        doc = {
            "controls": [c.to_dict() for c in controls],
            "findings": [f.to_dict() for f in findings],
        }
        out = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    elif args.format == "text":
        covered = sum(1 for c in controls if c.verdict.rule_id)
        out = (
            table(controls)
            + render(findings, "text")
            + f"{len(controls)} controls, {covered} covered, {len(findings)} dangerous and "
            "uncovered\n"
        )
    else:
        out = render(findings, args.format)
    failed = write_output(out, "pwguard scan")
    if failed is not None:
        return failed
    return 1 if findings else 0

"""Zoho's wording of the dangerous and harmless boxes, in every language of labels.tsv.

`danger_vocab.json` (package data beside this module) is generated from
`tools/zoho/labels.tsv` by `python -m pwguard.rules.vocab --write` (a test fails when it is
stale). All texts are folded (`engine.fold`) and stripped of trailing punctuation; words are
`\\w+` runs of folded text.

- `dangerous_labels`: the mobile/desktop-app-sessions, API-token/connected-apps and old
  combined box labels; `harmless_labels`: the web-sessions box and "Include OneAuth".
- `common_words`: words of the harmless labels, the dialog title and "Continue" in every
  language, plus English function words: a phrase made only of them is over-generic.
- `danger_words[lang]`: words of that language's dangerous labels and their descriptions
  that are not common words (short words only if telling: api, app): three of them in one
  label make a control look dangerous to `pwguard scan`.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

from pwguard.rules.engine import fold

DATA = Path(__file__).with_name("danger_vocab.json")
LABELS_TSV = Path(__file__).resolve().parents[3] / "tools" / "zoho" / "labels.tsv"

DANGEROUS_KEYS = {
    "IAM.RESET.PASSWORD.SIGNOUT.MOBILE.SESSION",
    "IAM.RESET.PASSWORD.DELETE.APITOKENS",
    "IAM.RESET.PASSWORD.SIGNOUT.MOBILE",
}
DANGEROUS_DESC_KEYS = {
    "IAM.RESET.PASSWORD.BROWSER.MOBILE.SESSION.DESC",
    "IAM.RESET.PASSWORD.REVOKE.CONNECTED.APPS.DESC",
}
HARMLESS_KEYS = {"IAM.RESET.PASSWORD.SIGNOUT.WEB", "IAM.PASSWORD.TERMINATE.INCLUDE.ONEAUTH"}
COMMON_KEYS = HARMLESS_KEYS | {"IAM.PASSWORD.QUITSESSIONS.HEAD", "IAM.CONTINUE"}
ENGLISH_COMMON = [
    "a",
    "an",
    "and",
    "the",
    "of",
    "to",
    "in",
    "on",
    "at",
    "for",
    "from",
    "by",
    "with",
    "your",
    "you",
    "my",
    "me",
    "all",
    "this",
    "that",
    "these",
    "those",
    "is",
    "are",
    "be",
    "will",
    "it",
    "its",
    "or",
    "not",
    "no",
    "yes",
    "any",
    "every",
    "each",
    "please",
    "here",
    "there",
    "from",
    "into",
    "out",
    "off",
    "up",
    "down",
    "zoho",
    "remember",
    "keep",
    "stay",
    "signed",
    "accept",
    "agree",
    "terms",
    "privacy",
    "policy",
    "newsletter",
    "email",
    "again",
    "need",
    "them",
    "information",
    "sign",
    "new",
]

_WORD = re.compile(r"\w+")
_TRAILING = re.compile(r"[\s.。।!?！？:：;；、,，]+$")


SHORT_TELLING = {"api", "app", "apps"}


def _telling(word: str) -> bool:
    """Short words are mostly function words (para, dans, esta): keep only long ones, the
    few short ones that matter, and words of scripts written without spaces (CJK...)."""
    return len(word) >= 5 or word in SHORT_TELLING or any(ord(c) >= 0x2E80 for c in word)


def words(folded: str) -> list[str]:
    return _WORD.findall(folded)


def clean(text: str) -> str:
    return _TRAILING.sub("", fold(text))


def build(labels_tsv: Path = LABELS_TSV) -> dict[str, Any]:
    """The vocabulary, from labels.tsv (columns: snapshot, lang, key, value)."""
    with labels_tsv.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    dangerous, harmless, common = set(), set(), set(ENGLISH_COMMON)
    by_lang: dict[str, set[str]] = {}
    for row in rows:
        key, lang, text = row["key"], row["lang"], clean(row["value"] or "")
        if not text:
            continue
        if key in DANGEROUS_KEYS:
            dangerous.add(text)
        if key in HARMLESS_KEYS:
            harmless.add(text)
        if key in COMMON_KEYS:
            common.update(words(text))
        if key in DANGEROUS_KEYS | DANGEROUS_DESC_KEYS:
            by_lang.setdefault(lang, set()).update(words(text))
    danger_words = {
        lang: sorted(w for w in ws if w not in common and _telling(w))
        for lang, ws in sorted(by_lang.items())
    }
    return {
        "source": "tools/zoho/labels.tsv",
        "dangerous_labels": sorted(dangerous),
        "harmless_labels": sorted(harmless - dangerous),
        "common_words": sorted(common),
        "danger_words": danger_words,
    }


def dumps(vocab: dict[str, Any]) -> str:
    return json.dumps(vocab, ensure_ascii=False, indent=1, sort_keys=True) + "\n"


@lru_cache(maxsize=1)
def load() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DATA.read_text(encoding="utf-8"))
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Regenerate danger_vocab.json from labels.tsv.")
    parser.add_argument("--labels", type=Path, default=LABELS_TSV)
    parser.add_argument("--write", action="store_true", help=f"write {DATA.name} (else print)")
    args = parser.parse_args(argv)
    text = dumps(build(args.labels))
    if args.write:
        DATA.write_text(text, encoding="utf-8")
        print(f"wrote {DATA}")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

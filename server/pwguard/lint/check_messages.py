"""M and H: banner messages (en required, es expected, plain text, short) and the help link."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from pwguard.lint.context import Context
from pwguard.rules.finding import shown

MAX_MESSAGE = 300
LANG_TAG = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
MARKUP = re.compile(r"<[A-Za-z/!?]|&(#\d+|#x[0-9A-Fa-f]+|[A-Za-z]+);")
PLACEHOLDER = re.compile(r"\{[^{}]*\}")
NOT_IN_LINK = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")
# breaks a line wherever it is (a line feed only inside the text: `title: >` ends in one)
LINE_BREAK = re.compile("[\r\u2028\u2029]")
# what makes a shown text other than the text written: control characters (a tab or a line
# break aside) and the bidirectional embeddings and overrides (U+202A-U+202E), which reorder
# the characters after them ("Trojan Source"); marks and isolates (U+200E/F, U+2066-9) stay,
# right-to-left languages need them
HIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e]")


def hidden(ctx: Context, index: int, keys: tuple[str, ...], name: str, text: str) -> None:
    """M008 when `text` holds a character that shows other than it reads."""
    if m := HIDDEN.search(text):
        ctx.report("M008", index, keys,
                   f"{name} holds U+{ord(m.group(0)):04X} at character {m.start() + 1}, which "
                   "shows nothing or reorders the text after it; remove it")


def check(ctx: Context) -> None:
    for index, rule in ctx.rules():
        for field in ("title", "why"):
            value: str = getattr(rule, field)
            hidden(ctx, index, (field,), f"`{field}`", value)
            # (a carriage return alone breaks the line too, which M008 leaves to this check: in
            # a log or a terminal the text after it overwrites the text before; so do Unicode's
            # line and paragraph separators, in a banner and in JavaScript's own lines; those
            # at either end too, which .strip() would take for spaces)
            if "\n" in value.strip() or LINE_BREAK.search(value) or MARKUP.search(value):
                ctx.report("M007", index, (field,), f"`{field}` must be one line of plain text")
        if "en" not in rule.message:
            ctx.report(
                "M001", index, ("message",), "`message` has no `en`; English is the fallback"
            )
        if "es" not in rule.message:
            ctx.report("M002", index, ("message",), "`message` has no `es` (Spanish)")
        for lang, text in rule.message.items():
            keys = ("message", lang)
            if not LANG_TAG.fullmatch(lang):
                ctx.report(
                    "M006",
                    index,
                    keys,
                    f"{shown(lang)} is not a language tag like `en`, `es` or `pt-BR`",
                )
            hidden(ctx, index, keys, f"message `{lang}`", text)
            if "\r" in text:  # as in a title (M007); a line feed stays allowed (`message: >`)
                ctx.report(
                    "M007",
                    index,
                    keys,
                    f"message `{lang}` holds a carriage return (U+000D at character "
                    f"{text.index(chr(13)) + 1}): in a log or a terminal the text after it "
                    "overwrites the text before; use a space",
                )
            if not text.strip():
                ctx.report("M005", index, keys, f"message `{lang}` is empty")
            elif m := MARKUP.search(text):
                ctx.report(
                    "M003",
                    index,
                    keys,
                    f"message `{lang}` contains markup ({m.group(0)!r}); write plain text",
                )
            if len(text) > MAX_MESSAGE:
                ctx.report(
                    "M004",
                    index,
                    keys,
                    f"message `{lang}` has {len(text)} characters (max {MAX_MESSAGE}); put details behind `help`",  # noqa: E501
                )
        unknown = [p for p in PLACEHOLDER.findall(rule.help) if p != "{host}"]
        if unknown:
            ctx.report(
                "H002",
                index,
                ("help",),
                f"unknown placeholder {unknown[0]}; only {{host}} is replaced",
            )
        url = rule.help.replace("{host}", "accounts.zoho.com")
        try:
            parts = urlsplit(url)
            ok = parts.scheme == "https" and bool(parts.hostname)
        except ValueError:
            ok = False
        if not ok:
            ctx.report(
                "H001",
                index,
                ("help",),
                f"help {shown(rule.help)} is not an absolute https URL (https://{{host}}/u/h#sessions)",
            )
        elif NOT_IN_LINK.search(rule.help):
            # browsers drop a tab or line break from a URL and refuse a space in its host:
            # the link would not be the one written
            ctx.report(
                "H001",
                index,
                ("help",),
                f"help {shown(rule.help)} holds white space or a control character; remove it "
                "(a space in a path is %20)",
            )
        elif "{" in (parts.hostname or "") or "}" in (parts.hostname or ""):
            ctx.report(
                "H001",
                index,
                ("help",),
                f"help {shown(rule.help)}: its host {shown(parts.hostname or '')} is not a host "
                "name (a brace left over?); write https://{host}/... or the host itself",
            )

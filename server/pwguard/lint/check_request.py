"""R: the request guard's shape (method, path glob, json_true field names)."""

from __future__ import annotations

import re

from pwguard.lint.context import Context
from pwguard.rules.finding import shown

METHODS = ("PUT", "POST", "PATCH", "DELETE")
FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
NOT_IN_PATH = re.compile(r"[?#\s\x00-\x1f\x7f]|[^\x00-\x7f]")


def check(ctx: Context) -> None:
    for index, rule in ctx.rules():
        guard = rule.request
        if guard is None:
            continue
        if guard.method not in METHODS:
            ctx.report(
                "R001",
                index,
                ("request", "method"),
                f"method {shown(guard.method)} must be one of {', '.join(METHODS)}",
            )
        if rule.action != "block":
            # the extension enforces request guards of block rules only (content.js)
            ctx.report(
                "R005",
                index,
                ("action",),
                "`request` is ignored on a `warn` rule; use `action: block` or remove it",
            )
        if not guard.path.startswith(("/", "*")):
            ctx.report(
                "R002",
                index,
                ("request", "path"),
                f"path {shown(guard.path)} must start with `/` or `*`",
            )
        elif NOT_IN_PATH.search(guard.path):
            # the extension globs the URL's pathname: no query or fragment, percent-encoded
            ctx.report(
                "R002",
                index,
                ("request", "path"),
                f"path {shown(guard.path)} can never match a URL path: drop any `?query` or "
                "`#fragment` and percent-encode spaces and non-ASCII characters",
            )
        if not guard.json_true:
            ctx.report(
                "R003",
                index,
                ("request", "json_true"),
                "`json_true` is empty; name the fields, e.g. [rmappses]",
            )
        for i, name in enumerate(guard.json_true):
            if not FIELD.fullmatch(name):  # not `$`: it allows a trailing newline
                ctx.report(
                    "R004",
                    index,
                    ("request", "json_true", i),
                    f"{shown(name)} is not a JSON field name",
                )

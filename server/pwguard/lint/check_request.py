"""R: the request guard's shape (method, path glob, json_true field names)."""

from __future__ import annotations

import re

from pwguard.lint.context import Context

METHODS = ("PUT", "POST", "PATCH", "DELETE")
FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


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
                f"method {guard.method!r} must be one of {', '.join(METHODS)}",
            )
        if not guard.path.startswith(("/", "*")):
            ctx.report(
                "R002",
                index,
                ("request", "path"),
                f"path {guard.path!r} must start with `/` or `*`",
            )
        if not guard.json_true:
            ctx.report(
                "R003",
                index,
                ("request", "json_true"),
                "`json_true` is empty; name the fields, e.g. [rmappses]",
            )
        for i, name in enumerate(guard.json_true):
            if not FIELD.match(name):
                ctx.report(
                    "R004", index, ("request", "json_true", i), f"{name!r} is not a JSON field name"
                )

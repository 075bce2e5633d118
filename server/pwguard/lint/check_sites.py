"""U: `sites` match patterns: valid, https, not all sites, inside the host permissions."""

from __future__ import annotations

import re

from pwguard.lint.context import Context
from pwguard.rules.finding import cut, shown
from pwguard.rules.sites import PatternError, is_all_sites, parse_pattern, permission_of

# characters a URL's path and query never hold as such (the extension matches a pattern's
# path against `pathname + search`, which browsers percent-encode): a pattern with one
# matches no page at all
NOT_IN_URL = re.compile(r'[#\s\x00-\x1f\x7f"<>]|[^\x00-\x7f]')


def check(ctx: Context) -> None:
    for index, rule in ctx.rules():
        if not rule.sites:
            ctx.report(
                "U006",
                index,
                ("sites",),
                "`sites` is empty; name the Zoho hosts, e.g. https://accounts.zoho.com/*",
            )
        seen: set[str] = set()
        for i, pattern in enumerate(rule.sites):
            keys = ("sites", i)
            if pattern in seen:
                ctx.report("U007", index, keys, f"{shown(pattern)} is listed twice")
            seen.add(pattern)
            try:
                p = parse_pattern(pattern)
            except PatternError as exc:
                ctx.report("U001", index, keys, str(exc))
                continue
            if NOT_IN_URL.search(p.path):
                ctx.report(
                    "U001",
                    index,
                    keys,
                    f"{shown(pattern)}: the path {shown(p.path)} can never match a URL: drop any "
                    "`#fragment` and percent-encode spaces and non-ASCII characters",
                )
                continue
            if is_all_sites(p):
                ctx.report(
                    "U003",
                    index,
                    keys,
                    f"{shown(pattern)} matches every site; name the hosts (https://accounts.zoho.com/*)",
                )
                continue
            if p.scheme != "https":
                https = f"https://{p.host or 'host'}{p.path}"
                ctx.report(
                    "U002",
                    index,
                    keys,
                    f"{shown(pattern)} is not https; write {cut(https)}",
                )
                continue
            where = permission_of(pattern)
            if where is None:
                ctx.report(
                    "U004",
                    index,
                    keys,
                    f"{shown(pattern)} lies outside the extension's host permissions "
                    "(pwguard.rules.sites.ZOHO_HOSTS / OPTIONAL_HOSTS)",
                )
            elif where == "optional":
                ctx.report(
                    "U005",
                    index,
                    keys,
                    f"{shown(pattern)} is only in the optional host permission: it works once an administrator grants that host",  # noqa: E501
                )

"""WebExtension match patterns (`https://accounts.zoho.eu/*`), with browser semantics.

`<scheme>://<host><path>`: scheme `*` (http or https), `http`, `https`, `ws`, `wss`, `ftp`
or `file`; host `*`, `*.example.com` (the domain and its subdomains) or an exact name;
path a glob where `*` matches any run of characters, and matched against path plus query.
A port in the pattern or the URL is ignored (Firefox ignores it, Chrome accepts `:*`).
`<all_urls>` matches every URL. The extension's host permissions are `ZOHO_HOSTS`
(required) and `OPTIONAL_HOSTS` (white-label hosts an administrator grants at run time).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from pwguard.rules.finding import cut, shown

ZOHO_HOSTS: tuple[str, ...] = (
    "https://accounts.zoho.com/*",
    "https://accounts.zoho.eu/*",
    "https://accounts.zoho.in/*",
    "https://accounts.zoho.com.au/*",
    "https://accounts.zoho.jp/*",
    "https://accounts.zoho.com.cn/*",
    "https://accounts.zoho.sa/*",
    "https://accounts.zohocloud.ca/*",
    "https://accounts.zoho.uk/*",
)
OPTIONAL_HOSTS: tuple[str, ...] = ("https://*/*",)

SCHEMES = {"*", "http", "https", "ws", "wss", "ftp", "file"}
_HOST = re.compile(r"^(\*|(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*)$")
MANIFEST = Path(__file__).resolve().parents[3] / "extension" / "manifest.json"


class PatternError(ValueError):
    """An invalid match pattern; the message says what is wrong and how to write it."""


@dataclass(frozen=True)
class MatchPattern:
    text: str
    scheme: str  # "*" means http or https; "<all_urls>" for everything
    host: str  # "*", "*.example.com" or "example.com"; "" for file
    path: str  # glob

    @property
    def all_urls(self) -> bool:
        return self.scheme == "<all_urls>"

    def host_matches(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        if self.host == "*":
            return True
        if self.host.startswith("*."):
            base = self.host[2:]
            return host == base or host.endswith("." + base)
        return host == self.host

    def matches(self, url: str) -> bool:
        try:
            parts = urlsplit(url)
            host = parts.hostname or ""
        except ValueError:
            return False
        scheme = parts.scheme.lower()
        if self.all_urls:
            return scheme in SCHEMES - {"*"}
        if self.scheme == "*":
            if scheme not in {"http", "https"}:
                return False
        elif scheme != self.scheme:
            return False
        if scheme != "file" and not self.host_matches(host):
            return False
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return glob_match(self.path, target)


def glob_match(glob: str, text: str) -> bool:
    """`*` matches any run of characters (including `/`); everything else is literal."""
    return re.fullmatch(glob_regex(glob), text, re.DOTALL) is not None


def glob_regex(glob: str) -> str:
    """The regex (for re.DOTALL) of a glob, in time linear in the text it is matched against.

    `".*".join(literals)` backtracks through every placement of the literals between two `*`:
    `**********x` or `*/*/*/*/closesession` took minutes on a path of a few hundred
    characters. Each such literal is taken at its first place after the previous one and
    kept there (an atomic group): a match, if there is one, can always put it there, so the
    answer is the same. engine.js and guard-main.js build the same (JavaScript has no atomic
    group: a lookahead, which never backtracks either, captures it and a backreference
    consumes it).
    """
    parts = [re.escape(part) for part in glob.split("*")]
    if len(parts) == 1:
        return parts[0]
    middles = "".join(f"(?>.*?{middle})" for middle in parts[1:-1] if middle)
    return f"{parts[0]}{middles}.*{parts[-1]}"


def parse_pattern(pattern: str) -> MatchPattern:
    """Parse a match pattern or raise PatternError saying what is wrong."""
    if not isinstance(pattern, str):
        raise PatternError("a match pattern must be a string like https://accounts.zoho.com/*")
    if pattern == "<all_urls>":
        return MatchPattern(pattern, "<all_urls>", "*", "*")
    scheme, sep, rest = pattern.partition("://")
    if not sep:
        raise PatternError(f"{shown(pattern)} has no `://`; write it like https://accounts.zoho.com/*")
    if scheme not in SCHEMES:
        raise PatternError(
            f"{shown(pattern)}: scheme {shown(scheme)} is not one of {', '.join(sorted(SCHEMES))}"
        )
    host, slash, path = rest.partition("/")
    if not slash:
        raise PatternError(f"{shown(pattern)} has no path; add `/*` ({cut(f'https://{host}/*')})")
    if scheme == "file":
        return MatchPattern(pattern, scheme, "", "/" + path)
    if ":" in host:  # ports are ignored (Firefox) or must be `*` (Chrome): drop them
        host, _, port = host.partition(":")
        if port != "*" and not re.fullmatch(r"[0-9]+", port):  # ASCII digits, as engine.js
            raise PatternError(f"{shown(pattern)}: invalid port {shown(port)}")
    if "@" in host:
        raise PatternError(f"{shown(pattern)}: a match pattern cannot contain a user name")
    if host != host.lower():
        raise PatternError(f"{shown(pattern)}: write the host in lowercase ({cut(host.lower())})")
    if not host or not _HOST.fullmatch(host):  # not `$`: it would accept a trailing newline
        raise PatternError(
            f"{shown(pattern)}: invalid host {shown(host)}; use `*`, `*.example.com` or an exact "
            "host name"
        )
    return MatchPattern(pattern, scheme, host, "/" + path)


def url_matches(pattern: str, url: str) -> bool:
    """Whether `url` is matched by the pattern (False for an invalid pattern)."""
    try:
        return parse_pattern(pattern).matches(url)
    except PatternError:
        return False


def pattern_within(inner: MatchPattern, outer: MatchPattern) -> bool:
    """Whether every URL `inner` matches is also matched by `outer`."""
    if outer.all_urls:
        return True
    if inner.all_urls:
        return False
    schemes = {"http", "https"} if inner.scheme == "*" else {inner.scheme}
    outer_schemes = {"http", "https"} if outer.scheme == "*" else {outer.scheme}
    if not schemes <= outer_schemes:
        return False
    if outer.host != "*":
        if inner.host == "*":
            return False
        if outer.host.startswith("*."):
            base = outer.host[2:]
            inner_base = inner.host[2:] if inner.host.startswith("*.") else inner.host
            if not (inner_base == base or inner_base.endswith("." + base)):
                return False
        elif inner.host != outer.host:
            return False
    # paths: `/*` covers everything; else the inner glob must be the outer one or a literal it matches  # noqa: E501
    return (
        outer.path == "/*"
        or inner.path == outer.path
        or ("*" not in inner.path and glob_match(outer.path, inner.path))
    )


def is_all_sites(p: MatchPattern) -> bool:
    """Patterns that match every host (`<all_urls>`, `*://*/*`, `https://*/*`...)."""
    return p.all_urls or p.host == "*"


def manifest_host_permissions(manifest: Path = MANIFEST) -> tuple[list[str], list[str]]:
    """(host_permissions, optional_host_permissions) of the extension's manifest.json."""
    data = json.loads(manifest.read_text(encoding="utf-8"))
    return list(data.get("host_permissions", [])), list(data.get("optional_host_permissions", []))


def permission_of(pattern: str) -> str | None:
    """ "required" / "optional" when the pattern lies inside ZOHO_HOSTS / OPTIONAL_HOSTS, else None."""  # noqa: E501
    try:
        p = parse_pattern(pattern)
    except PatternError:
        return None
    if any(pattern_within(p, parse_pattern(h)) for h in ZOHO_HOSTS):
        return "required"
    if any(pattern_within(p, parse_pattern(h)) for h in OPTIONAL_HOSTS):
        return "optional"
    return None

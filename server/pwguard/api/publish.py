"""`pwguard publish [DIR] --server URL`: lint a rules folder locally, then PUT it to a server."""

from __future__ import annotations

import argparse
import email.utils
import ipaddress
import math
import os
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from pwguard.api.build import build_dir, format_finding
from pwguard.api.request_body import BodyError, RequestBody, request_body
from pwguard.cliargs import parse_args, write_output
from pwguard.lint import unreadable
from pwguard.rules import loader
from pwguard.rules.finding import Finding, Severity


def rule_files(path: Path) -> list[Path]:
    """The files `pwguard lint` and `pwguard serve` read: a folder's *.yaml/*.yml, or the file."""
    return loader.rule_files([path])


# Characters an HTTP header cannot carry (a tab can: a token may hold one).
HEADER_UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f]")
ADMIN_RULES = "/v1/admin/rules"  # the server's path publish PUTs to, below --server


# Longer than `pwguard serve` waits for a locked SQLite file (Storage's busy timeout, 30 s)
# before it answers 503 with Retry-After: a shorter one gave up just before that answer.
DEFAULT_TIMEOUT = 60.0


def timeout_seconds(value: str) -> float:
    """argparse type of --timeout: a finite number of seconds above 0."""
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not (0 < seconds < 1e6):  # also refuses nan and inf
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds above 0")
    return seconds


def server_url_problem(server: str) -> str | None:
    """Why --server is not an http(s) base URL, or None."""
    try:
        url = httpx.URL(server)
    except (httpx.InvalidURL, ValueError):
        url = None
    if url is None or url.scheme not in ("http", "https") or not url.host:
        return f"--server {server!r} is not a URL: give the server's base URL, e.g. " \
            "https://rules.corp or http://127.0.0.1:8080"
    # the admin path is appended to --server: a query or fragment would swallow it
    base = server.split("#", 1)[0].split("?", 1)[0].rstrip("/")
    if "?" in server.split("#", 1)[0]:
        return (f"--server {server!r} has a query (?...): give the server's base URL without "
                f"it, e.g. {base}")
    if "#" in server:
        return (f"--server {server!r} has a fragment (#...): give the server's base URL "
                f"without it, e.g. {base}")
    if url.port is not None and not 0 < url.port < 65536:
        return (f"--server {server!r}: port {url.port} is not a port (1-65535): give the port "
                "the server listens on")
    return None


def cleartext_warning(server: str) -> str | None:
    """A warning when --server is plain http to another machine: the token travels in clear."""
    url = httpx.URL(server)
    host = url.host.strip("[]").lower()
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost" or host.endswith(".localhost")
    if url.scheme != "http" or loopback:
        return None
    return (f"warning: {server} is plain http: the admin token and the rules travel in clear; "
            "use the https:// URL of the server's TLS proxy")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="pwguard publish",
        description="Lint a rules folder, then publish it to a rules server as the new active "
        "version (PUT /v1/admin/rules). The token comes from PWGUARD_ADMIN_TOKEN. "
        "Exit 0 published, 1 lint findings (local or from the server), 2 usage, network or "
        "authentication error, a rule file that cannot be read, or a request the server "
        "refused (e.g. a note too long). A "
        f"busy server (503 or 429 with Retry-After) is asked again as it advises, up to "
        f"{MAX_ATTEMPTS} attempts and {MAX_WAIT_SECONDS} s of waiting in all.",
    )
    parser.add_argument("dir", nargs="?", type=Path,
                        help="rules folder or file (default: rules)")
    parser.add_argument("--server", required=True, help="server base URL, e.g. https://rules.corp")
    parser.add_argument("--note", default="", help="why: stored with the version and audit log")
    parser.add_argument("--timeout", type=timeout_seconds, default=DEFAULT_TIMEOUT,
                        help=f"HTTP timeout in seconds (default {DEFAULT_TIMEOUT:g})")
    args = parse_args(parser, argv)
    if isinstance(args, int):
        return args

    token = os.environ.get("PWGUARD_ADMIN_TOKEN", "").strip()
    if not token:
        print("pwguard publish: set PWGUARD_ADMIN_TOKEN to the server's admin token",
              file=sys.stderr)
        return 2
    url_problem = server_url_problem(args.server)
    if url_problem:
        print(f"pwguard publish: {url_problem}", file=sys.stderr)
        return 2
    warning = cleartext_warning(args.server)
    if warning:
        print(f"pwguard publish: {warning}", file=sys.stderr)
    if len(args.note) > 500:
        print("pwguard publish: --note is limited to 500 characters", file=sys.stderr)
        return 2
    if not token.isascii():
        print("pwguard publish: PWGUARD_ADMIN_TOKEN has non-ASCII characters; an HTTP header "
              "cannot carry them: copy the server's token exactly", file=sys.stderr)
        return 2
    if HEADER_UNSAFE.search(token):  # the token itself is never printed
        print("pwguard publish: PWGUARD_ADMIN_TOKEN contains a line break or another control "
              "character, which an HTTP header cannot carry: copy the server's token exactly, "
              "on one line", file=sys.stderr)
        return 2
    if args.dir is None:
        if not Path("rules").exists():
            print("pwguard publish: no rules folder here (`rules`, the default when no folder "
                  "is given): name it, e.g. pwguard publish /srv/pwguard/rules --server URL",
                  file=sys.stderr)
            return 2
        args.dir = Path("rules")
    if not args.dir.exists():
        print(f"pwguard publish: {args.dir} not found", file=sys.stderr)
        return 2
    files = rule_files(args.dir)
    if not files:
        print(f"pwguard publish: no *.yaml/*.yml rule files in {args.dir}", file=sys.stderr)
        return 2
    outcome = build_dir(args.dir)
    for f in outcome.findings:
        print(format_finding(f), file=sys.stderr)
    if outcome.built is None:
        if unreadable(outcome.findings):  # an I/O error, as `pwguard lint` exits on it
            print(f"pwguard publish: cannot read the rules in {args.dir} (F001 above); "
                  "nothing sent", file=sys.stderr)
            return 2
        print(f"pwguard publish: {args.dir} has lint errors; nothing sent", file=sys.stderr)
        return 1
    try:
        body = request_body(files, outcome.built.version)
    except BodyError as exc:
        for f in exc.findings:
            print(format_finding(f), file=sys.stderr)
        print(f"pwguard publish: {exc.message}", file=sys.stderr)
        return 2
    url = args.server.rstrip("/") + ADMIN_RULES
    # note and actor as query parameters: URL-encoded, any language (headers are ASCII)
    actor = os.environ.get("USER") or "pwguard publish"
    params = {"actor": actor[:100], **({"note": args.note} if args.note else {})}
    # A busy server (a lock held past its timeout, a conflict, no connection free) answers 503
    # (or 429) with Retry-After: the same PUT is then sent again, as advised. That is safe: the
    # PUT is idempotent. Versions are content-addressed (the same rules are one version, stored
    # once), and publishing the active version again changes and records nothing
    # (test_publishing_the_active_version_again_says_nothing_changed); the server's 503 for a
    # database failure comes from a rolled-back transaction ("nothing changed"), and had an
    # attempt been stored all the same, the next finds its version active and says so.
    waited, note = 0, ""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            resp = httpx.put(
                url, content=body.data, params=params,
                headers={"Authorization": f"Bearer {token}", "Content-Type": body.content_type},
                timeout=args.timeout,
            )
        except httpx.HTTPError as exc:
            reason = str(exc) or type(exc).__name__
            if len(token) >= 8:  # httpx's messages do not quote headers; should one ever, hide it
                reason = reason.replace(token, "***")
            print(f"pwguard publish: cannot reach {url}: {reason}{tls_hint(reason)}",
                  file=sys.stderr)
            return 2
        advised = retry_after(resp)
        if advised is None:
            break
        if attempt == MAX_ATTEMPTS:
            note = f"still busy after {MAX_ATTEMPTS} attempts: publish again later"
            break
        if waited + advised > MAX_WAIT_SECONDS:
            more = (f"more than publish waits ({MAX_WAIT_SECONDS} s in all)" if not waited
                    else f"past the {MAX_WAIT_SECONDS} s publish waits in all ({waited} s "
                    "waited already)")
            note = f"the server advises retrying in {advised} s, {more}: publish again later"
            break
        print(f"pwguard publish: server busy: {answer_text(resp)}; retrying in {advised} s "
              f"(attempt {attempt + 1} of {MAX_ATTEMPTS})", file=sys.stderr, flush=True)
        time.sleep(advised)  # the wait the server asked for
        waited += advised
    return report(resp, url, body, note)


MAX_ATTEMPTS = 3  # PUTs of one publish to a server that answers "busy, retry in N s"
MAX_WAIT_SECONDS = 30  # the most publish waits between them, in all
RETRY_STATUSES = (429, 503)
MAX_DELAY_DIGITS = 12  # a Retry-After longer than this (over 30,000 years) is not read


def retry_after(resp: httpx.Response) -> int | None:
    """The seconds a 503 or 429 answer's Retry-After asks to wait (delay-seconds or an
    HTTP-date, RFC 9110 10.2.3), rounded up; None for another answer, or none readable."""
    if resp.status_code not in RETRY_STATUSES:
        return None
    value = resp.headers.get("retry-after", "").strip()
    if value.isascii() and value.isdigit():
        # (a run of thousands of digits is no delay: int() refuses over 4300 with ValueError)
        digits = value.lstrip("0") or "0"
        return int(digits) if len(digits) <= MAX_DELAY_DIGITS else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # (an HTTP-date is GMT)
        when = when.replace(tzinfo=UTC)
    return max(0, math.ceil((when - datetime.now(UTC)).total_seconds()))


def answer_text(resp: httpx.Response) -> str:
    """What an answer says, in one line: its JSON `detail`, else the start of its text."""
    try:
        data: Any = resp.json()
    except (ValueError, RecursionError):
        data = None
    detail = data.get("detail") if isinstance(data, dict) else None
    said = detail if isinstance(detail, str) else one_line(resp.text)
    return " ".join(said.split()) or "(no explanation)"


def tls_hint(reason: str) -> str:
    """The likely fix of a TLS failure, from its message; empty for other failures."""
    if "CERTIFICATE_VERIFY_FAILED" in reason:
        return ("; if the server's certificate comes from your own CA, set SSL_CERT_FILE to "
                "that CA's PEM file (publish trusts the certifi bundle, not the system store)")
    if any(sign in reason for sign in ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE",
                                       "PACKET_LENGTH_TOO_LONG")):
        return ("; the server answers plain HTTP there (`pwguard serve` does): use the https:// "
                "URL of its TLS proxy, or http:// on a trusted network")
    return ""


REDIRECTS = (301, 302, 303, 307, 308)


def server_finding(raw: Any, body: RequestBody | None) -> Finding | None:
    """One entry of a 422's `findings` as a Finding in the user's files; None if unreadable."""
    if not isinstance(raw, dict):
        return None

    def number(key: str) -> int:
        value = raw.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    severity: Severity = "warning" if raw.get("severity") == "warning" else "error"
    finding = Finding(str(raw.get("code") or "?"), str(raw.get("path") or "request"),
                      number("line"), number("col"), str(raw.get("message") or "(no message)"),
                      severity)
    return body.locate(finding) if body is not None else finding


def redirect_problem(resp: httpx.Response, url: str) -> str:
    """Why a redirect is not followed, and the --server to give instead."""
    location = resp.headers.get("location", "").strip()
    if not location:
        return (f"{url} answered {resp.status_code} (a redirect) without saying where: pass "
                "--server with the server's final base URL (https:// if it has one)")
    try:
        target = resp.request.url.join(location).copy_with(query=None, fragment=None)
    except (httpx.InvalidURL, ValueError):
        return (f"{url} answered {resp.status_code}, a redirect to {location[:200]!r}, which is "
                "not a URL: pass --server with the server's final base URL")
    suggestion = str(target)
    if target.path.endswith(ADMIN_RULES):
        suggestion = str(target.copy_with(path=target.path.removesuffix(ADMIN_RULES) or "/"))
    return (f"{url} answered {resp.status_code}, a redirect to {target}; publish does not "
            "follow redirects (the rules and the token would go to another address): pass "
            f"--server {suggestion.rstrip('/')}")


def not_a_server_hint(url: str) -> str:
    """What to check when the PUT URL is not a pwguard server's admin API (404, 405, 501)."""
    base = url.removesuffix(ADMIN_RULES)
    for tail in ("/v1/rules.json", "/v1/rules", "/v1/admin", "/v1"):
        if base.rstrip("/").endswith(tail):
            return (f"--server is the server's base URL, without {tail}: pass --server "
                    f"{base.rstrip('/').removesuffix(tail) or base}")
    return (f"is {base} a pwguard server (`pwguard serve`, whose {base}/v1/rules is the "
            "bundle)? --server is its base URL; a static export or CDN cannot be published to")


HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)


def one_line(text: str) -> str:
    """A non-JSON answer told in one line: an HTML error page by its title, else its start."""
    title = HTML_TITLE.search(text[:4000])
    return " ".join((title.group(1) if title else text[:300]).split())[:300]


def report(resp: httpx.Response, url: str, body: RequestBody | None = None,
           note: str = "") -> int:
    """Print what the server answered to the PUT; return the exit code. `note` ends the line
    of an error answer (why it was not retried)."""
    try:
        data: Any = resp.json()
    except (ValueError, RecursionError):
        data = None
    rules_url = url.removesuffix(ADMIN_RULES) + "/v1/rules"
    if resp.status_code in (200, 201) and isinstance(data, dict):
        version = data.get("version")
        if data.get("changed") is False:
            said = (f"already active: {version} is what {rules_url} serves; nothing changed "
                    "(nothing recorded, the note included)")
        elif data.get("created"):
            said = f"published {version} (new version): now active, served at {rules_url}"
        else:
            said = f"published {version} (stored before): now active, served at {rules_url}"
        # (published all the same when stdout cannot be written: the exit code says it failed)
        return write_output(said + "\n", "pwguard publish") or 0
    detail = data.get("detail") if isinstance(data, dict) else None
    findings = detail.get("findings") if isinstance(detail, dict) else None
    message = (detail.get("message") if isinstance(detail, dict) else None) or "no reason given"
    if resp.status_code == 422 and isinstance(detail, dict) and not findings:
        # not the rules but the request (e.g. a note over the server's limit): a usage error
        print(f"pwguard publish: the server refused the request: {message}", file=sys.stderr)
        return 2
    if resp.status_code == 422 and isinstance(detail, dict):
        entries = findings if isinstance(findings, list) else [findings]
        unreadable = 0
        for raw in entries:
            finding = server_finding(raw, body)
            if finding is None:
                unreadable += 1
            else:
                print(format_finding(finding), file=sys.stderr)
        if unreadable:
            print(f"pwguard publish: {unreadable} finding(s) in the server's answer are not "
                  "objects with code, path, line, col and message: not shown", file=sys.stderr)
        if body is not None and body.merged > 1 and any(
            isinstance(raw, dict) and raw.get("path") == "request.yaml" for raw in entries
        ):
            print(f"pwguard publish: request.yaml is the {body.merged} rule files merged into "
                  "one request", file=sys.stderr)
        print(f"pwguard publish: the server refused the rules: {message}", file=sys.stderr)
        return 1
    if resp.status_code == 401 and isinstance(detail, str) and "disabled" in detail:
        # the server has no token at all (e.g. `make run`): the one sent is not the problem
        print("pwguard publish: the server's admin API is off (it was started without "
              "PWGUARD_ADMIN_TOKEN): restart it with PWGUARD_ADMIN_TOKEN set to the token you "
              "publish with", file=sys.stderr)
        return 2
    if resp.status_code == 401:
        print("pwguard publish: the server refused the token: check PWGUARD_ADMIN_TOKEN",
              file=sys.stderr)
        return 2
    if resp.status_code in REDIRECTS:
        print(f"pwguard publish: {redirect_problem(resp, url)}", file=sys.stderr)
        return 2
    said = detail if detail is not None else one_line(resp.text)
    line = f"pwguard publish: {url} answered {resp.status_code}: {said or '(no explanation)'}"
    if resp.status_code == 413:
        line += (f"; the rules ({len(body.data) if body else '?'} bytes) are over the server's "
                 "PWGUARD_MAX_BODY_BYTES: raise it on the server")
    if resp.status_code in (404, 405, 501):
        line += f"; {not_a_server_hint(url)}"
    if note:
        line += f"; {note}"
    print(line, file=sys.stderr)
    return 2

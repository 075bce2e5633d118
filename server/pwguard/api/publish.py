"""`pwguard publish [DIR] --server URL`: lint a rules folder locally, then PUT it to a server."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import httpx

from pwguard.api.build import build_dir, format_finding
from pwguard.api.request_body import BodyError, RequestBody, request_body
from pwguard.cliargs import parse_args
from pwguard.rules import loader
from pwguard.rules.finding import Finding, Severity


def rule_files(path: Path) -> list[Path]:
    """The files `pwguard lint` and `pwguard serve` read: a folder's *.yaml/*.yml, or the file."""
    return loader.rule_files([path])


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
    return None


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="pwguard publish",
        description="Lint a rules folder, then publish it to a rules server as the new active "
        "version (PUT /v1/admin/rules). The token comes from PWGUARD_ADMIN_TOKEN. "
        "Exit 0 published, 1 lint findings (local or from the server), 2 usage, network or "
        "authentication error, or a request the server refused (e.g. a note too long).",
    )
    parser.add_argument("dir", nargs="?", default="rules", type=Path,
                        help="rules folder or file (default: rules)")
    parser.add_argument("--server", required=True, help="server base URL, e.g. https://rules.corp")
    parser.add_argument("--note", default="", help="why: stored with the version and audit log")
    parser.add_argument("--timeout", type=timeout_seconds, default=30.0,
                        help="HTTP timeout in seconds")
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
    if len(args.note) > 500:
        print("pwguard publish: --note is limited to 500 characters", file=sys.stderr)
        return 2
    if not token.isascii():
        print("pwguard publish: PWGUARD_ADMIN_TOKEN has non-ASCII characters; an HTTP header "
              "cannot carry them: copy the server's token exactly", file=sys.stderr)
        return 2
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
        print(f"pwguard publish: {args.dir} has lint errors; nothing sent", file=sys.stderr)
        return 1
    try:
        body = request_body(files, outcome.built.version)
    except BodyError as exc:
        for f in exc.findings:
            print(format_finding(f), file=sys.stderr)
        print(f"pwguard publish: {exc.message}", file=sys.stderr)
        return 2
    url = args.server.rstrip("/") + "/v1/admin/rules"
    try:
        # note and actor as query parameters: URL-encoded, any language (headers are ASCII)
        actor = os.environ.get("USER") or "pwguard publish"
        params = {"actor": actor[:100], **({"note": args.note} if args.note else {})}
        resp = httpx.put(
            url, content=body.data, params=params,
            headers={"Authorization": f"Bearer {token}", "Content-Type": body.content_type},
            timeout=args.timeout,
        )
    except httpx.HTTPError as exc:
        print(f"pwguard publish: cannot reach {url}: {exc}", file=sys.stderr)
        return 2
    return report(resp, url, body)


def report(resp: httpx.Response, url: str, body: RequestBody | None = None) -> int:
    """Print what the server answered to the PUT; return the exit code."""
    try:
        data: Any = resp.json()
    except ValueError:
        data = None
    if resp.status_code in (200, 201) and isinstance(data, dict):
        state = "new version" if data.get("created") else "already stored"
        print(f"published {data.get('version')} ({state}), now active on {url}")
        return 0
    detail = data.get("detail") if isinstance(data, dict) else None
    if resp.status_code == 422 and isinstance(detail, dict) and not detail.get("findings"):
        # not the rules but the request (e.g. a note over the server's limit): a usage error
        print(f"pwguard publish: the server refused the request: {detail.get('message')}",
              file=sys.stderr)
        return 2
    if resp.status_code == 422 and isinstance(detail, dict):
        for f in detail.get("findings", []):
            severity: Severity = "warning" if f.get("severity") == "warning" else "error"
            finding = Finding(f["code"], f["path"], f["line"], f["col"], f["message"], severity)
            print(format_finding(body.locate(finding) if body else finding), file=sys.stderr)
        if body is not None and body.merged > 1 and any(
            f.get("path") == "request.yaml" for f in detail.get("findings", [])
        ):
            print(f"pwguard publish: request.yaml is the {body.merged} rule files merged into "
                  "one request", file=sys.stderr)
        print(f"pwguard publish: the server refused the rules: {detail.get('message')}",
              file=sys.stderr)
        return 1
    if resp.status_code == 401:
        print("pwguard publish: the server refused the token: check PWGUARD_ADMIN_TOKEN",
              file=sys.stderr)
        return 2
    print(f"pwguard publish: {url} answered {resp.status_code}: {detail or resp.text[:300]}",
          file=sys.stderr)
    return 2

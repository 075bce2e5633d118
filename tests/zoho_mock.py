"""A local HTTPS mock of Zoho Accounts, answering on every data-centre hostname.

One threaded HTTPS server on 127.0.0.1 and a free port serves, for whatever Host the
browser asks for (the browsers map every hostname below to 127.0.0.1), the live pages
rendered by ``tools/zoho_pages.py`` and records every request it receives so that tests
can assert what reached "Zoho".

Routes (on every data-centre host):

    GET  /u/h        change-password dialog (opens on the hash ``#security/security_pwd``)
    GET  /password   password-reset page (the same boxes, ``form#terminate_session_form``)
    GET  /signin     sign-in with an expired password (``#termin_mob`` ...)
    PUT  .../webclient/v1/account/self/user/self/password       -> 200 success JSON
    PUT  .../webclient/v1/account/self/user/self/closesession   -> 200 success JSON
    any path added with ``ZohoMock.add_page(path, html)``        -> that HTML

Query parameters of the page routes choose the variant:

    lang=es            language of the labels (any language of labels.tsv; default en)
    snapshot=NAME      labels.tsv snapshot (default: the renderer's choice)
    step=2             /u/h only: render with step 2 (Terminate Sessions) already shown
    rows=web,mobile    which rows the "server" shows (any of web, mobile, api; default all)
    oneauth=0          /u/h only: hide the "Include OneAuth" toggle
    ui=legacy          /u/h only: the old one-box UI (combined mobile + authtokens box)

An unknown parameter or value is answered with 400 and a message naming it. On the
unrelated host (``www.example.org``) ``/`` serves a page with the very same dangerous
boxes, so a content script injected where no rule names the site would show.
"""

from __future__ import annotations

import http.server
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tools import zoho_pages

from tests.certs import CertFiles, make_cert

# One host per data centre (the pages' own list), plus one site no rule names.
ZOHO_HOSTS: tuple[str, ...] = tuple(zoho_pages.HOSTS)
UNRELATED_HOST = "www.example.org"
ALL_HOSTS: tuple[str, ...] = (*ZOHO_HOSTS, UNRELATED_HOST)

PASSWORD_API = "/webclient/v1/account/self/user/self/password"
CLOSESESSION_API = "/webclient/v1/account/self/user/self/closesession"
ROWS = ("web", "mobile", "api")

PASSWORD_OK = {"resource_name": "password", "code": "SUCCESS", "status_code": 200,
               "message": "Your password has been changed."}
CLOSESESSION_OK = {"resource_name": "closesession", "code": "SUCCESS", "status_code": 200,
                   "message": "Sessions terminated."}


@dataclass(frozen=True)
class Recorded:
    """One request as the mock received it."""

    method: str
    host: str  # hostname without port, lower case
    path: str  # URL path without query
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    json: Any  # parsed JSON body, or None when the body is empty or not JSON
    at: float = field(default_factory=time.monotonic)


class BadVariant(ValueError):
    """A page request whose query string the mock does not understand."""


def _renderer() -> ModuleType:
    return zoho_pages


def _one(query: dict[str, list[str]], name: str, default: str) -> str:
    values = query.get(name)
    return values[-1] if values else default


def render_page(path: str, query: dict[str, list[str]],
                pages: ModuleType | None = None) -> str | None:
    """HTML of a mocked Zoho page route, or None when ``path`` is not a page route."""
    if path not in ("/u/h", "/password", "/signin"):
        return None
    zp = pages or _renderer()
    allowed = {"/u/h": {"lang", "snapshot", "step", "rows", "oneauth", "ui"},
               "/password": {"lang", "snapshot", "rows"},
               "/signin": {"lang", "snapshot"}}[path]
    unknown = sorted(set(query) - allowed)
    if unknown:
        raise BadVariant(f"{path}: unknown query parameter(s) {', '.join(unknown)}; "
                         f"this page understands {', '.join(sorted(allowed))} "
                         "(see tests/zoho_mock.py)")
    lang = _one(query, "lang", "en")
    langs = getattr(zp, "LANGS", None)
    if langs is not None and lang not in langs:
        raise BadVariant(f"{path}: lang={lang} is not a language of labels.tsv; "
                         f"use one of {', '.join(sorted(langs))}")
    snapshot = _one(query, "snapshot", "") or None
    rows_text = _one(query, "rows", ",".join(ROWS))
    rows = tuple(r for r in rows_text.split(",") if r)
    bad_rows = [r for r in rows if r not in ROWS]
    if bad_rows:
        raise BadVariant(f"{path}: rows={rows_text} names unknown row(s) "
                         f"{', '.join(bad_rows)}; use a comma list of {', '.join(ROWS)}")
    if path == "/password":
        return str(zp.reset_password_page(lang, snapshot=snapshot, rows=rows, live=True))
    if path == "/signin":
        return str(zp.expired_password_page(lang, snapshot=snapshot, live=True))
    ui = _one(query, "ui", "current")
    if ui == "legacy":
        return str(zp.legacy_combined_page(lang, snapshot=snapshot, live=True))
    if ui != "current":
        raise BadVariant(f"/u/h: ui={ui} is unknown; use ui=legacy or leave it out")
    step_text = _one(query, "step", "1")
    if step_text not in ("1", "2"):
        raise BadVariant(f"/u/h: step={step_text} is unknown; use step=1 or step=2")
    oneauth_text = _one(query, "oneauth", "1")
    if oneauth_text not in ("0", "1"):
        raise BadVariant(f"/u/h: oneauth={oneauth_text} is unknown; use 0 or 1")
    return str(zp.change_password_page(lang, snapshot=snapshot, step=int(step_text),
                                       rows=rows, oneauth=oneauth_text == "1", live=True))


UNRELATED_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Example site</title></head>
<body>
<h1>An unrelated site</h1>
<p>It has the same dangerous boxes as Zoho's dialog; no rule names this site.</p>
<form id="pass_esc_devices">
  <div id="terminate_web_sess"><input type="checkbox" class="checkbox_check" id="ter_all"
    name="clear_web"><label for="ter_all">Terminate all the browsers sessions.</label></div>
  <div id="terminate_mob_apps"><input type="checkbox" class="checkbox_check" id="ter_mob"
    name="clear_mobile"><label for="ter_mob">Terminate all the desktop and mobile app
    sessions.</label></div>
  <div id="terminate_api_tok"><input type="checkbox" class="checkbox_check" id="ter_apiToken"
    name="clear_apiToken"><label for="ter_apiToken">Revoke connected app's access to your
    account.</label></div>
</form>
</body></html>
"""


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the mock's records are the log

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(30)

    def _serve(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parsed: Any = None
        if body:
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].lower()
        query = parse_qs(url.query, keep_blank_values=True)
        self.server.mock._record(Recorded(
            method=self.command, host=host, path=url.path, query=query,
            headers={k.lower(): v for k, v in self.headers.items()}, body=body, json=parsed))
        try:
            status, ctype, payload = self.server.mock._respond(self.command, host, url.path,
                                                              query)
        except ValueError as exc:  # BadVariant, or the renderer refusing a language/snapshot
            status, ctype, payload = 400, "text/plain; charset=utf-8", str(exc).encode()
        origin = self.headers.get("Origin")
        if self.server.mock.cors and origin and self.command == "OPTIONS":
            status, ctype, payload = 204, "text/plain", b""  # a CORS preflight, granted
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        if self.server.mock.cors and origin:
            self.send_header("Access-Control-Allow-Origin", origin)
            self.send_header("Vary", "Origin")
            if self.command == "OPTIONS":
                for asked, allowed in (("Method", "Methods"), ("Headers", "Headers")):
                    value = self.headers.get(f"Access-Control-Request-{asked}")
                    if value:
                        self.send_header(f"Access-Control-Allow-{allowed}", value)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_OPTIONS = do_PATCH = _serve


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    mock: ZohoMock

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Browsers probe the self-signed certificate, abort preloads and drop keep-alive
        # connections; none of that is a test failure, and tracebacks would bury real ones.
        pass


class ZohoMock:
    """The HTTPS mock. Start with ``start()`` (or use as a context manager)."""

    def __init__(self, workdir: Path, *, pages: ModuleType | None = None) -> None:
        self.workdir = workdir
        self.cert: CertFiles = make_cert(workdir, list(ALL_HOSTS))
        self._pages = pages
        self._extra: dict[str, tuple[str, bytes]] = {}
        self._records: list[Recorded] = []
        self._cond = threading.Condition()
        self._server: _Server | None = None
        # answer CORS preflights and let every origin read every answer (off: as Zoho, whose
        # API a page of another origin cannot call); a test that turns it on turns it off
        self.cors = False
        self._thread: threading.Thread | None = None
        self.port = 0

    # lifecycle ---------------------------------------------------------------------------
    def start(self) -> ZohoMock:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.mock = self
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert.cert, self.cert.key)
        # The handshake happens in the handler thread, so a slow client blocks nobody.
        server.socket = ctx.wrap_socket(server.socket, server_side=True,
                                        do_handshake_on_connect=False)
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(target=server.serve_forever, name="zoho-mock",
                                        kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> ZohoMock:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # URLs and pages -------------------------------------------------------------------------
    def url(self, host: str = "accounts.zoho.eu", path: str = "/u/h#security/security_pwd") -> str:
        """``https://HOST:PORT/PATH`` for one of the hosts the mock answers for."""
        if host not in ALL_HOSTS:
            raise ValueError(f"zoho.url: {host!r} is not a mocked host; use one of "
                             f"{', '.join(ALL_HOSTS)}")
        if not path.startswith("/"):
            raise ValueError(f"zoho.url: path {path!r} must start with '/'")
        return f"https://{host}:{self.port}{path}"

    def add_page(self, path: str, html: str, content_type: str = "text/html; charset=utf-8"
                 ) -> None:
        """Serve ``html`` at ``path`` (no query) on every host, e.g. a page a test builds."""
        with self._cond:
            self._extra[path] = (content_type, html.encode())

    def _respond(self, method: str, host: str, path: str, query: dict[str, list[str]]
                 ) -> tuple[int, str, bytes]:
        with self._cond:
            extra = self._extra.get(path)
        if extra is not None:
            return 200, extra[0], extra[1]
        if method == "PUT" and path.endswith(PASSWORD_API):
            return 200, "application/json;charset=UTF-8", json.dumps(PASSWORD_OK).encode()
        if method == "PUT" and path.endswith(CLOSESESSION_API):
            return 200, "application/json;charset=UTF-8", json.dumps(CLOSESESSION_OK).encode()
        if method in ("GET", "HEAD"):
            if host == UNRELATED_HOST:
                if path == "/":
                    return 200, "text/html; charset=utf-8", UNRELATED_PAGE.encode()
            else:
                html = render_page(path, query, self._pages)
                if html is not None:
                    return 200, "text/html; charset=utf-8", html.encode()
            if path == "/favicon.ico":
                return 204, "image/x-icon", b""
        return 404, "text/plain; charset=utf-8", f"mock: no route for {method} {path}".encode()

    # records -----------------------------------------------------------------------------------
    def _record(self, rec: Recorded) -> None:
        with self._cond:
            self._records.append(rec)
            self._cond.notify_all()

    @property
    def requests(self) -> list[Recorded]:
        """A snapshot of every request received since the last ``clear()``."""
        with self._cond:
            return list(self._records)

    def clear(self) -> None:
        with self._cond:
            self._records.clear()

    def api_requests(self, suffix: str = CLOSESESSION_API) -> list[Recorded]:
        """Recorded PUTs whose path ends with ``suffix`` (default: closesession)."""
        return [r for r in self.requests if r.method == "PUT" and r.path.endswith(suffix)]

    def wait_for(self, predicate: Callable[[Recorded], bool], timeout: float = 10,
                 what: str = "a matching request") -> Recorded:
        """The first recorded request satisfying ``predicate``, waiting up to ``timeout`` s."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for rec in self._records:
                    if predicate(rec):
                        return rec
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [f"{r.method} {r.host}{r.path}" for r in self._records]
                    raise TimeoutError(f"zoho mock: no {what} within {timeout}s; saw {seen}")
                self._cond.wait(left)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def client_context(cert: CertFiles) -> ssl.SSLContext:
    """A client TLS context that trusts exactly the mock's certificate."""
    return ssl.create_default_context(cafile=str(cert.cert))

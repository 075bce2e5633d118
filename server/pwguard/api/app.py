"""The rules server: GET /v1/rules for every browser, /v1/admin for whoever holds the token.

Caching across workers: each worker keeps the active bundle's bytes in memory and
re-reads only the active version id (one single-row SELECT) when its copy is older
than `active_check_seconds` (default 1 s). A publish or rollback updates the copy of
the worker that handled it at once; other workers follow within that interval.
"""

from __future__ import annotations

import copy
import hmac
import logging
import re
import threading
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any

import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.utils import generate_unique_id
from pydantic import BaseModel, Field
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

from pwguard import __version__
from pwguard.api.build import build_text, finding_json
from pwguard.api.keys import resolve_signing_key
from pwguard.api.metrics import Metrics, MetricsMiddleware
from pwguard.api.settings import Settings, configure_logging
from pwguard.api.signing import bundle_etag, key_id, sign_bundle, signed_by
from pwguard.api.storage import Storage, database_failure, driver_message
from pwguard.rules.loader import LoadError, decode_any_size

log = logging.getLogger("pwguard.api")

CACHE_CONTROL = "no-cache"
RULES_CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "ETag",
}

EXAMPLE_YAML = """\
rules:
  - id: zoho-terminate-mobile-sessions
    title: Keep mobile and desktop app sessions
    why: Ticking it signs out every Zoho app and breaks integrations; end sessions one by one.
    action: block
    sites: ["https://accounts.zoho.eu/*"]
    controls:
      - selector: "input#ter_mob"
    message:
      en: This box signs out every Zoho app. Close sessions one by one instead.
      es: Esta casilla cierra todas las apps de Zoho. Cierre las sesiones una a una.
    help: "https://{host}/u/h#sessions"
"""


@dataclass(frozen=True)
class Cached:
    """One version's response, headers included, built once."""

    version: str
    etag: str
    body: bytes

    def headers(self, *, full: bool) -> dict[str, str]:
        """The headers of a 200 (full) or a 304 answer, GET and HEAD alike."""
        headers = {"ETag": self.etag, "Cache-Control": CACHE_CONTROL, **RULES_CORS}
        if full:
            headers |= {"Content-Type": "application/json", "Content-Length": str(len(self.body))}
        return headers

    @cached_property
    def raw_ok(self) -> list[tuple[bytes, bytes]]:
        return _raw(self.headers(full=True))

    @cached_property
    def raw_not_modified(self) -> list[tuple[bytes, bytes]]:
        return _raw(self.headers(full=False))


def _raw(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]


class RulesFastPath:
    """Answer GET/HEAD /v1/rules straight from the cache, before FastAPI's routing.

    This is the request a whole fleet sends every few minutes; skipping the router and
    dependency machinery roughly doubles its throughput. Anything else (stale cache,
    other paths) goes to the FastAPI route below, which gives the same answers.
    """

    def __init__(self, app: ASGIApp, cache: RulesCache, route: Any) -> None:
        self.app = app
        self.cache = cache
        self.route = route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        current = None
        if (
            scope["type"] == "http"
            and scope["path"] == "/v1/rules"
            and scope["method"] in ("GET", "HEAD")
        ):
            current = self.cache.fresh()
        if current is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = self.route  # for the metrics' route label
        inm = next((v for k, v in scope["headers"] if k == b"if-none-match"), None)
        if inm is not None and etag_matches(inm.decode("latin-1"), current.etag):
            await send({"type": "http.response.start", "status": 304,
                        "headers": current.raw_not_modified})
            await send({"type": "http.response.body", "body": b""})
            return
        await send({"type": "http.response.start", "status": 200, "headers": current.raw_ok})
        body = current.body if scope["method"] == "GET" else b""
        await send({"type": "http.response.body", "body": body})


class RulesCache:
    """The active bundle's bytes, prepared once per version.

    When the database stops answering, the last bundle read keeps being served (protection
    never lapses: it is signed, and was active when last seen); `error` says why, for /healthz,
    and the database is asked again once per interval.
    """

    def __init__(self, storage: Storage, interval: float, key: Ed25519PrivateKey) -> None:
        self.storage = storage
        self.interval = interval
        self.key = key
        self.current: Cached | None = None
        self.checked_at = float("-inf")
        self.error: str | None = None  # why the database did not answer the last check
        self._lock = threading.Lock()

    def fresh(self) -> Cached | None:
        """The cached copy if it was checked recently enough, else None (call refresh)."""
        if self.current is not None and time.monotonic() - self.checked_at < self.interval:
            return self.current
        return None

    def refresh(self) -> Cached | None:
        """Re-read the active version id; load the bytes only when it changed. With a bundle in
        memory, a request that finds another one asking the database is answered with it at
        once (a database that hangs, say a locked SQLite file or an unreachable host, holds one
        request, not all); with none, requests wait for that answer, and after a failed one the
        database is asked again only once the interval has passed."""
        if self.current is not None:
            if not self._lock.acquire(blocking=False):
                return self.current
        else:
            self._lock.acquire()
        try:
            if self.fresh() is not None:
                return self.current
            if (self.current is None and self.error is not None
                    and time.monotonic() - self.checked_at < self.interval):
                return None  # (the database failed to answer a moment ago)
            try:
                version = self.storage.active_version()
                if version is None:
                    self.current = None
                elif self.current is None or self.current.version != version:
                    body = self.storage.bundle_of(version)
                    self.current = None if body is None else self._cached(version, body)
            except Exception as exc:  # any driver error: keep serving what we have
                self.failed(exc)
            else:
                if self.error is not None:
                    log.warning("database answers again; serving version %s",
                                self.current.version if self.current else None)
                self.error = None
            self.checked_at = time.monotonic()
            return self.current
        finally:
            self._lock.release()

    def failed(self, exc: Exception) -> None:
        """Note a database error: one log line when it starts, not one per request, with the
        fix of a failure `database_failure` names (/healthz names it without the fix, and
        no admin call may come to log it)."""
        reason = database_error(exc)
        if self.error is None:
            serving = self.current.version if self.current else None
            try:
                failure = database_failure(exc, self.storage.url)
            except Exception:  # naming it must never keep the bundle in memory from being served
                failure = None
            log.warning("database unavailable (%s); GET /v1/rules %s until it answers%s", reason,
                        f"serves version {serving} from memory" if serving else "answers 503",
                        f": {failure.detail}" if failure else "")
        self.error = reason

    def set(self, version: str, body: bytes) -> None:
        """Install a version this worker just activated."""
        with self._lock:
            self.current = self._cached(version, body)
            self.checked_at = time.monotonic()

    def _cached(self, version: str, body: bytes) -> Cached:
        # stored under an earlier key (rotation): served signed by the current one
        return Cached(version, bundle_etag(version, key_id(self.key)), signed_by(body, self.key))


def database_error(exc: BaseException) -> str:
    """A database error as one line: its type and the driver's first line (no traceback)."""
    kind = type(getattr(exc, "orig", None) or exc).__name__
    first = driver_message(exc)[:200]
    return f"{kind}: {first}" if first else kind


def etag_matches(if_none_match: str, etag: str) -> bool:
    """If-None-Match with weak comparison (RFC 9110 13.1.2): a comma list, W/ accepted, `*`."""
    for part in if_none_match.split(","):
        tag = part.strip()
        if tag == "*":
            return True
        if tag.startswith("W/"):
            tag = tag[2:]
        if tag == etag:
            return True
    return False


class VersionOut(BaseModel):
    version: str = Field(examples=["3f2a9c0d1e4b5a67"])
    created_at: datetime
    note: str = Field(examples=["zoho renamed the mobile-sessions box"])
    actor: str = Field(examples=["alice"])
    active: bool


class PublishOut(VersionOut):
    created: bool = Field(description="false when the same rules were already stored")
    changed: bool = Field(
        default=True, description="false when these rules were the active version already: "
        "nothing was stored, activated or audited (the note is not recorded)")
    warnings: list[dict[str, Any]] = Field(
        default=[], description="linter findings of warning severity (they do not block)")


class AuditOut(BaseModel):
    at: datetime
    actor: str = Field(examples=["alice@10.0.0.5"])
    action: str = Field(examples=["publish", "activate"])
    version: str | None = Field(examples=["3f2a9c0d1e4b5a67"])
    previous: str | None = Field(examples=["0b1c2d3e4f5a6b7c"])
    note: str = Field(examples=["rollback: the new label broke nothing but the banner"])


class HealthOut(BaseModel):
    status: str = Field(examples=["ok"])
    database: str = Field(
        examples=["ok"], description="ok, else what fails in one line: a failure the admin "
        "API names too (a lock, a full disk, a connection refused...) in its words, without "
        "the fix the admin API and the log give; any other as `unreachable: <error type>`")
    active_version: str | None = Field(
        examples=["3f2a9c0d1e4b5a67"], description="the active version in the database "
        "(null when nothing is active or the database does not answer)")
    serving: str | None = Field(
        default=None, examples=["3f2a9c0d1e4b5a67"], description="the version this process's "
        "GET /v1/rules serves from memory; while the database does not answer it keeps "
        "serving the last one it read")
    server_version: str = Field(examples=[__version__])


class ErrorOut(BaseModel):
    detail: Any


class LintErrorDetail(BaseModel):
    message: str
    findings: list[dict[str, Any]]


class LintErrorOut(BaseModel):
    detail: LintErrorDetail


REFUSED_422 = {
    "model": LintErrorOut,
    "description": "a note or actor (query parameter or header) over its limit: `message` "
    "names it and the fix, `findings` is empty; nothing changed",
}
PLACES = {"query": "query parameter", "path": "path parameter", "header": "header",
          "body": "body", "cookie": "cookie"}


def too_long(where: str, limit: Any, got: int) -> str:
    """The refusal of a text over its limit (query parameter or header)."""
    return f"{where}: at most {limit} characters (got {got}); shorten it"


def refusal(message: str) -> dict[str, Any]:
    """A 422 detail in the shape of lint refusals, for a request refused before any lint."""
    return {"message": f"{message} (nothing changed)", "findings": []}


def request_problem(err: Any) -> str:
    """One request-validation error as `<place>: <what is wrong>; <fix>` (no input echoed)."""
    loc = [str(p) for p in err.get("loc", ())]
    kind = PLACES.get(loc[0], loc[0]) if loc else "request"
    where = f"{kind} {'.'.join(loc[1:])}".strip()
    ctx = err.get("ctx") or {}
    given = err.get("input")
    if err.get("type") == "string_too_long" and isinstance(given, str):
        return too_long(where, ctx.get("max_length"), len(given))
    if err.get("type") == "missing":
        return f"{where}: required; add it"
    return f"{where}: {err.get('msg', 'invalid')}; see /docs for what it accepts"


async def refuse_bad_request(request: Request, exc: Exception) -> JSONResponse:
    """422 in the shape of lint refusals ({detail: {message, findings}}), not FastAPI's list."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    problems = [request_problem(e) for e in errors] or ["invalid request"]
    return JSONResponse({"detail": refusal("; ".join(problems))}, status_code=422)


async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """503 with one log line when the database fails a request (not a 500 and a traceback).

    A failure the administrator can act on (`database_failure`: read-only, permission denied,
    a full disk, a lock, too many connections...) is named with the fix: /healthz only reads,
    so it would say the database is fine. A transient one says when to retry (Retry-After).
    """
    reason = database_error(exc)
    failure = database_failure(exc, request.app.state.storage.url)
    if failure is not None:
        log.warning("%s %s: the database %s (%s): %s", request.method, request.url.path,
                    failure.state, reason, failure.fix)
        retry = {} if failure.retry_after is None else {"Retry-After": str(failure.retry_after)}
        return JSONResponse({"detail": f"{failure.detail}; nothing changed"}, status_code=503,
                            headers=retry)
    log.warning("%s %s: database unavailable (%s)", request.method, request.url.path, reason)
    return JSONResponse(
        {"detail": "database unavailable; nothing changed (see /healthz)"}, status_code=503
    )


FORM = "application/x-www-form-urlencoded"  # curl's type for -d and --data-binary alike
FLATTENED = (f"; the body came as a form ({FORM}) without a line break: `curl -d` removes "
             "them, send the file with `curl --data-binary @FILE`")
FORM_UPLOAD = ("body is a multipart form upload (curl -F): send the rules file itself as the "
               "body, e.g. curl -X PUT --data-binary @rules.yaml -H 'Content-Type: "
               "application/yaml' (or use `pwguard publish`); nothing changed")
VERSION_ID = re.compile(r"[0-9a-f]{16}")
NOTE_MAX, ACTOR_MAX = 500, 100  # characters of the audit note and actor (query or header)
NOTE_HELP = f"why (audit log); or header X-Pwguard-Note (UTF-8); at most {NOTE_MAX} characters"
ACTOR_HELP = f"who (audit log); or header X-Pwguard-Actor (UTF-8); at most {ACTOR_MAX} characters"


def header_text(request: Request, name: str) -> str:
    """A header as UTF-8 text (Starlette decodes latin-1, which garbles "señal")."""
    raw = request.headers.get(name, "")
    try:
        return raw.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return raw


def bounded_header(request: Request, name: str, limit: int) -> str:
    """A note/actor header as text, refused (422, the query parameters' shape) over `limit`."""
    text = header_text(request, name)
    if len(text) > limit:
        raise HTTPException(status_code=422,
                            detail=refusal(too_long(f"header {name.title()}", limit, len(text))))
    return text


def without_nul(text: str | None) -> str:
    """Audit text PostgreSQL can store (its text type refuses NUL)."""
    return (text or "").replace("\x00", "")


bearer = HTTPBearer(auto_error=False, description="PWGUARD_ADMIN_TOKEN")


def create_app(
    settings: Settings,
    *,
    storage: Storage | None = None,
    key: Ed25519PrivateKey | None = None,
) -> FastAPI:
    """Build the rules server app on an existing (or new) database."""
    store = storage if storage is not None else Storage(settings.database_url)
    if storage is None:
        store.create_schema()
    signing_key = key if key is not None else resolve_signing_key(settings)
    cache = RulesCache(store, settings.active_check_seconds, signing_key)
    metrics = Metrics()
    # examples in published rules resolve in the rules folder's fixtures (else the linter's default)
    fixtures = Path(settings.rules_dir or "rules") / "fixtures"
    fixtures_dir = fixtures if fixtures.is_dir() else None
    expected_token = settings.admin_token.strip().encode()

    app = FastAPI(
        title="pwguard rules server",
        version=__version__,
        description="Signed rule bundles for the pwguard extension, and the admin API that "
        "publishes them behind the same linter as `pwguard lint`.",
        # a trailing slash got a bodiless 307 to http://<Host>/...: behind a TLS proxy a plain
        # http address, and `curl -X PUT .../v1/admin/rules/` said nothing (see not_found)
        redirect_slashes=False,
    )
    app.state.settings = settings
    app.state.storage = store
    app.state.cache = cache
    app.state.metrics = metrics
    app.add_exception_handler(RequestValidationError, refuse_bad_request)
    app.add_exception_handler(SQLAlchemyError, database_unavailable)

    async def not_found(request: Request, exc: Exception) -> Response:
        """FastAPI's answer, but a path that exists without its trailing slash names it."""
        path = request.url.path
        if (isinstance(exc, StarletteHTTPException) and exc.status_code == 404
                and exc.detail == "Not Found" and path.endswith("/") and path.strip("/")):
            bare = {**request.scope, "path": path.rstrip("/")}
            if any(route.matches(bare)[0] != Match.NONE for route in app.router.routes):
                return JSONResponse({"detail": f"no such path {path}: did you mean "
                                     f"{bare['path']} (without the trailing slash)?"},
                                    status_code=404)
        return await http_exception_handler(request, exc)  # type: ignore[arg-type]

    app.add_exception_handler(StarletteHTTPException, not_found)

    def require_admin_token(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> None:
        """Refuse requests without the admin bearer token (constant-time compare)."""
        given = credentials.credentials.encode() if credentials is not None else b""
        # compare_digest even when disabled or missing, so timing says nothing about the token.
        ok = hmac.compare_digest(given, expected_token)
        if not expected_token or not ok:
            raise HTTPException(
                status_code=401,
                detail="missing or wrong bearer token"
                if expected_token
                else "admin API disabled: set PWGUARD_ADMIN_TOKEN",
                headers={"WWW-Authenticate": "Bearer"},
            )

    AdminDep = Depends(require_admin_token)

    @app.api_route(
        "/v1/rules",
        methods=["GET", "HEAD"],
        tags=["rules"],
        response_class=Response,
        responses={
            200: {
                "description": "The active signed bundle (docs/internals.md)",
                "content": {"application/json": {"example": {
                    "format": "pwguard-bundle/1", "key_id": "9b1c2d3e4f5a6b7c",
                    "payload": '{"format":1,"rules":[],"version":"3f2a9c0d1e4b5a67"}',
                    "signature": "base64...",
                }}},
            },
            304: {"description": "The bundle named in If-None-Match is still the active one"},
            503: {"description": "No version is active yet", "model": ErrorOut},
        },
    )
    async def get_rules(request: Request) -> Response:
        """Return the active rules bundle (ETag = its version; 304 when If-None-Match has it)."""
        current = cache.fresh() or await run_in_threadpool(cache.refresh)
        if current is None:
            # CORS here too: else a browser reports a network error instead of the 503
            detail = "no active rules version" if cache.error is None else \
                "rules unavailable: the database does not answer (see /healthz)"
            raise HTTPException(status_code=503, detail=detail,
                                headers={"Cache-Control": CACHE_CONTROL, **RULES_CORS})
        inm = request.headers.get("if-none-match")
        if inm is not None and etag_matches(inm, current.etag):
            return Response(status_code=304, headers=current.headers(full=False))
        return Response(
            content=current.body if request.method == "GET" else b"",
            headers=current.headers(full=True),
        )

    @app.options("/v1/rules", tags=["rules"], status_code=204, response_class=Response)
    def rules_preflight() -> Response:
        """Answer CORS preflights for GET /v1/rules with If-None-Match."""
        return Response(
            status_code=204,
            headers={
                **RULES_CORS,
                "Access-Control-Allow-Methods": "GET, HEAD",
                "Access-Control-Allow-Headers": "If-None-Match",
                "Access-Control-Max-Age": "86400",
            },
        )

    # HEAD too (as GET, without the body): load balancers check with it (HAProxy's
    # `option httpchk HEAD /healthz`, `curl -I`), and a 405 took a healthy server out
    @app.api_route(
        "/healthz",
        methods=["GET", "HEAD"],
        tags=["ops"],
        response_model=HealthOut,
        responses={503: {"model": HealthOut, "description": "database down or nothing active"}},
    )
    def healthz() -> JSONResponse:
        """Report whether the database answers and which version is active."""
        serving = cache.current.version if cache.current is not None else None
        try:
            version = store.active_version()
        except Exception as exc:  # any driver error means the same thing to a load balancer
            # a failure the admin calls name (a lock, a full disk, a connection refused...) is
            # named here in the same words, without the fix: this answer needs no token, and
            # the fix names files, roles and databases (the admin calls and the log give it)
            failure = database_failure(exc, store.url)
            said = failure.summary if failure else f"unreachable: {type(exc).__name__}"
            out = HealthOut(status="error", database=said, active_version=None,
                            serving=serving, server_version=__version__)
            return JSONResponse(out.model_dump(), status_code=503)
        ok = version is not None
        out = HealthOut(status="ok" if ok else "no active version", database="ok",
                        active_version=version, serving=serving, server_version=__version__)
        return JSONResponse(out.model_dump(), status_code=200 if ok else 503)

    @app.api_route("/metrics", methods=["GET", "HEAD"], tags=["ops"],
                   response_class=PlainTextResponse)
    def get_metrics() -> PlainTextResponse:
        """Prometheus metrics of this process."""
        try:
            version, total = store.active_version(), store.count_versions()
        except Exception:  # still report request counters when the database is down
            version, total = None, None
        return PlainTextResponse(
            metrics.render(version, total), media_type="text/plain; version=0.0.4"
        )

    admin = APIRouter(prefix="/v1/admin", dependencies=[AdminDep], tags=["admin"], responses={
        401: {"model": ErrorOut, "description": "missing or wrong bearer token"},
    })

    def actor_of(request: Request, actor: str | None) -> str:
        host = request.client.host if request.client else "unknown"
        return f"{without_nul(actor) or 'admin'}@{host}"[:200]

    @admin.put(
        "/rules",
        status_code=201,
        response_model=PublishOut,
        responses={
            200: {"model": PublishOut, "description": "same rules already stored; now active "
                  "(`changed` false: they were active already, nothing changed)"},
            201: {"model": PublishOut, "description": "new version stored and active"},
            413: {"model": ErrorOut, "description": "body larger than PWGUARD_MAX_BODY_BYTES"},
            415: {"model": ErrorOut, "description": "body is not UTF-8 text, or is a "
                  "multipart form upload"},
            422: {"model": LintErrorOut, "description": "lint errors (`findings` lists them), "
                  "or a note/actor (query or header) too long (`findings` empty); nothing changed"},
        },
        openapi_extra={"requestBody": {
            "required": True,
            "description": "a ruleset: YAML (application/yaml) or JSON (application/json)",
            "content": {
                "application/yaml": {"schema": {"type": "string"}, "example": EXAMPLE_YAML},
                "application/json": {
                    "schema": {"type": "object"},
                    "example": yaml.safe_load(EXAMPLE_YAML),
                },
            },
        }},
    )
    async def put_rules(
        request: Request,
        note: Annotated[str | None, Query(max_length=NOTE_MAX, description=NOTE_HELP)] = None,
        actor: Annotated[str | None, Query(max_length=ACTOR_MAX, description=ACTOR_HELP)] = None,
    ) -> JSONResponse:
        """Publish a ruleset: lint it, store it as a version and make it active."""
        header_note = bounded_header(request, "x-pwguard-note", NOTE_MAX)
        header_actor = bounded_header(request, "x-pwguard-actor", ACTOR_MAX)
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype == "multipart/form-data":  # its boundary lines are no ruleset: say how to send
            raise HTTPException(status_code=415, detail=FORM_UPLOAD)
        limit = settings.max_body_bytes
        too_large = (f"body larger than {limit} bytes (the server's PWGUARD_MAX_BODY_BYTES); "
                     "nothing changed")
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise HTTPException(status_code=413, detail=too_large)
        chunks, size = [], 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise HTTPException(status_code=413, detail=too_large)
                chunks.append(chunk)
        except ClientDisconnect:  # nobody is left to answer: one line, not a traceback
            host = request.client.host if request.client else "unknown"
            log.warning("PUT /v1/admin/rules from %s: the client disconnected after %d bytes "
                        "of its body; nothing changed", host, size)
            return JSONResponse({"detail": "client disconnected"}, status_code=400)
        try:
            text = decode_any_size(b"".join(chunks))  # (the size is the limit's, checked above)
        except LoadError as exc:
            # where, as `pwguard lint` says it for a file: a curl user has no linter to ask
            raise HTTPException(status_code=415, detail="body must be UTF-8 YAML or JSON: "
                                f"line {exc.line}, column {exc.col}: {exc.message}") from None
        is_json = ctype.endswith("json") or (
            not ctype.endswith("yaml") and text.lstrip()[:1] in ("{", "[")
        )
        name = "request.json" if is_json else "request.yaml"
        outcome = await run_in_threadpool(build_text, text, name, fixtures_dir)
        if outcome.built is None:
            errors = outcome.errors or outcome.findings
            # `curl -d @rules.yaml` removes every line break (and says it sends a form): the
            # findings then speak of a text the admin never wrote
            # (one-line JSON is JSON as written: its findings are the admin's own)
            flattened = (ctype == FORM and not is_json and "\n" not in text
                         and "\r" not in text)
            raise HTTPException(status_code=422, detail={
                "message": f"rules rejected by the linter ({len(errors)} error(s)); "
                "nothing changed" + (FLATTENED if flattened else ""),
                "findings": [finding_json(f) for f in outcome.findings],
            })
        built = outcome.built
        bundle = sign_bundle(built.payload, signing_key)
        note_text = without_nul(note or header_note)
        who = actor_of(request, actor or header_actor)
        done = await run_in_threadpool(
            lambda: store.publish(built.version, built.payload, bundle,
                                  note=note_text, actor=who)
        )
        stored, created = done.version, done.created
        # an identical ruleset keeps its first signature: serve the stored bytes, not ours
        served = bundle if created else await run_in_threadpool(store.bundle_of, stored.version)
        cache.set(stored.version, served if served is not None else bundle)
        out = PublishOut(**asdict(stored), active=True, created=created, changed=done.changed,
                         warnings=[finding_json(f) for f in outcome.findings
                                   if f.severity == "warning"])
        return JSONResponse(out.model_dump(mode="json"), status_code=201 if created else 200)

    @admin.get("/versions", response_model=list[VersionOut])
    def list_versions() -> list[VersionOut]:
        """List stored versions, newest first, with the active one marked."""
        return [VersionOut(**asdict(v), active=a) for v, a in store.list_versions()]

    @admin.post(
        "/versions/{version}/activate",
        response_model=VersionOut,
        responses={404: {"model": ErrorOut, "description": "no such version"},
                   422: REFUSED_422},
    )
    def activate(
        request: Request,
        version: str,
        note: Annotated[str | None, Query(max_length=NOTE_MAX, description=NOTE_HELP)] = None,
        actor: Annotated[str | None, Query(max_length=ACTOR_MAX, description=ACTOR_HELP)] = None,
    ) -> VersionOut:
        """Make a stored version the active one (rollback)."""
        if not VERSION_ID.fullmatch(version):
            raise HTTPException(status_code=404, detail=f"no version {version[:64]!r}: versions "
                                "are 16 lowercase hex digits (GET /v1/admin/versions lists them)")
        header_note = bounded_header(request, "x-pwguard-note", NOTE_MAX)
        header_actor = bounded_header(request, "x-pwguard-actor", ACTOR_MAX)
        who = actor_of(request, actor or header_actor)
        stored = store.activate(version, actor=who, note=without_nul(note or header_note))
        if stored is None:
            raise HTTPException(status_code=404, detail=f"no version {version!r}")
        body = store.bundle_of(version)
        if body is not None:
            cache.set(version, body)
        return VersionOut(**asdict(stored), active=True)

    @admin.get("/audit", response_model=list[AuditOut])
    def list_audit() -> list[AuditOut]:
        """List every change (publish, activate) in order, with who, when and why."""
        return [AuditOut(**asdict(e)) for e in store.audit_entries()]

    app.include_router(admin)

    def openapi() -> dict[str, Any]:
        """FastAPI's schema, but a route answering GET and HEAD is two operations with an id
        each: from the one route FastAPI gave both its one id, which OpenAPI forbids, and
        warned "Duplicate Operation ID" into the server's log at the first visit of /docs."""
        if app.openapi_schema is None:
            routes: list[BaseRoute] = []
            for route in app.routes:
                if not isinstance(route, APIRoute) or len(route.methods or ()) < 2:
                    routes.append(route)
                    continue
                for method in sorted(route.methods or ()):
                    one = copy.copy(route)  # for the schema only; the app still routes `route`
                    one.methods = {method}
                    one.unique_id = generate_unique_id(one)
                    routes.append(one)
            app.openapi_schema = get_openapi(
                title=app.title, version=app.version, openapi_version=app.openapi_version,
                description=app.description, routes=routes,
                separate_input_output_schemas=app.separate_input_output_schemas)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    rules_route = next(r for r in app.routes if getattr(r, "path", None) == "/v1/rules")
    # added last = outermost: metrics see every answer, fast path or not
    app.add_middleware(RulesFastPath, cache=cache, route=rules_route)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app


def app_from_env() -> FastAPI:
    """uvicorn factory for `pwguard serve` workers: settings from the environment."""
    settings = Settings()
    configure_logging(settings.log_level)  # worker processes start with bare logging
    app = create_app(settings)
    # read the active bundle now, while the database answers (`pwguard serve` has just used
    # it): served from memory if the database is lost before the first GET /v1/rules
    app.state.cache.refresh()
    return app

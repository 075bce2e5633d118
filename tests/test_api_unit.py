"""Unit checks of the server's pieces where real HTTP adds nothing (in-process ASGI, temp SQLite).

Starlette's TestClient now wants the `httpx2` package; httpx's own ASGITransport does the job.
"""

from __future__ import annotations

import asyncio
import base64
import errno
import os
import sqlite3
import subprocess
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy import event

from pwguard.api.app import RulesCache, app_from_env, create_app, etag_matches
from pwguard.api.serve import build_parser
from pwguard.api.settings import (
    Settings,
    as_given,
    database_url_problem,
    shown_url,
    validation_problems,
)
from pwguard.api.signing import bundle_etag, key_id, public_key_b64
from pwguard.api.storage import Storage, engine_url
from tests.server_cases import GOOD_TEXT, check_bundle, etag_for, variant

TOKEN = "unit-test-token-0123456789abcdef"


class Client:
    """A synchronous face on httpx's in-process ASGI transport."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def request(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                return await c.request(method, path, **kwargs)  # type: ignore[arg-type]

        return asyncio.run(go())

    def get(self, path: str, **kwargs: object) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def put(self, path: str, **kwargs: object) -> httpx.Response:
        return self.request("PUT", path, **kwargs)

    def post(self, path: str, **kwargs: object) -> httpx.Response:
        return self.request("POST", path, **kwargs)


@pytest.mark.parametrize(
    ("header", "matches"),
    [('"v1"', True), ('W/"v1"', True), ('"a", "v1"', True), ('"a",W/"v1"', True), ("*", True),
     (' "v1" ', True), ('"v2"', False), ("v1", False), ('W/"v2", "a"', False), ("", False),
     ('"v1', False), ('w/"v1"', False)],
)
def test_if_none_match_parsing(header, matches):
    assert etag_matches(header, '"v1"') is matches


@pytest.mark.parametrize(
    ("changes", "problem"),
    [({"admin_token": ""}, "PWGUARD_ADMIN_TOKEN is empty"),
     ({"admin_token": "CHANGEME"}, "placeholder"),
     ({"admin_token": "changeme-changeme-changeme"}, "placeholder"),
     ({"admin_token": "<your-admin-token-goes-here>"}, "placeholder"),
     ({"admin_token": "replace-with-a-random-token"}, "placeholder"),
     ({"admin_token": "short-but-random"}, "at least 24"),
     ({"signing_key": ""}, "PWGUARD_SIGNING_KEY is empty"),
     ({"database_url": "::"}, "PWGUARD_DATABASE_URL")],
)
def test_production_settings_problems_name_the_variable_and_the_fix(changes, problem):
    base = {"env": "production", "admin_token": "f3a9c2e1b7d4" * 3, "signing_key": "/k"}
    settings = Settings(**{**base, **changes})
    found = settings.problems()
    assert len(found) == 1 and problem in found[0]
    assert Settings(**base).problems() == []
    assert Settings(env="dev", admin_token="").problems() == []


def test_environment_and_log_level_names_are_taken_in_any_case(monkeypatch):
    # as loggers and people write them: INFO, Production
    monkeypatch.setenv("PWGUARD_ENV", " Production ")
    monkeypatch.setenv("PWGUARD_LOG_LEVEL", "INFO")
    settings = Settings()
    assert (settings.env, settings.log_level) == ("production", "info")
    monkeypatch.setenv("PWGUARD_LOG_LEVEL", "verbose")
    with pytest.raises(ValidationError) as refused:
        Settings()
    assert [p.split(":")[0] for p in validation_problems(refused.value)] == ["PWGUARD_LOG_LEVEL"]
    args = build_parser().parse_args(["--env", "Production", "--log-level", "DEBUG"])
    assert (args.env, args.log_level) == ("production", "debug")


@pytest.mark.parametrize("env", ["dev", "production"])
def test_a_non_ascii_admin_token_is_refused_in_every_environment(env):
    # HTTP headers arrive as latin-1 text: a token with "é" could never be presented
    settings = Settings(env=env, admin_token="clé-" + "f3a9c2e1b7d4" * 3, signing_key="/k")
    assert settings.problems() == [
        "PWGUARD_ADMIN_TOKEN has non-ASCII characters, which no HTTP client can send: "
        "set a random ASCII token (e.g. `openssl rand -hex 32`)"
    ]


@pytest.mark.parametrize("env", ["dev", "production"])
@pytest.mark.parametrize("inside", ["\n", "\r\n", "\x00", "\x1b", "\x7f"])
def test_an_admin_token_with_a_line_break_or_control_character_is_refused(env, inside):
    # `PWGUARD_ADMIN_TOKEN="$(cat two-line-file)"`: no HTTP header can carry the token, so
    # every admin call answered 401 while `pwguard publish` refused to send it at all
    settings = Settings(env=env, admin_token="f3a9c2e1b7d4" * 2 + inside + "9d8c7b6a5f4e" * 2,
                        signing_key="/k")
    assert settings.problems() == [
        "PWGUARD_ADMIN_TOKEN contains a line break or another control character, which no "
        "HTTP client can send: set the token on one line (e.g. `openssl rand -hex 32`)"
    ]


def test_an_admin_token_with_a_tab_or_space_inside_works(tmp_path):
    # a header value may hold a tab or a space: such a token is presented as set
    for token in ("f3a9c2e1b7d4\t9d8c7b6a5f4e", "f3a9c2e1b7d4 9d8c7b6a5f4e"):
        assert Settings(admin_token=token).problems() == []
        settings = Settings(database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
                            admin_token=token, rules_dir="")
        client = Client(create_app(settings, key=Ed25519PrivateKey.generate()))
        assert client.get("/v1/admin/versions",
                          headers={"Authorization": f"Bearer {token}"}).status_code == 200


@pytest.mark.parametrize("env", ["dev", "production"])
@pytest.mark.parametrize(
    ("field", "value"),
    [("admin_token", '"f3a9c2e1b7d4f3a9c2e1b7d4"'), ("admin_token", "'f3a9c2e1b7d4f3a9c2e1b7d4'"),
     ("database_url", '"sqlite:///pwguard.db"'), ("rules_dir", "'/srv/pwguard/rules'"),
     ("host", '"127.0.0.1"')],
)
def test_a_setting_in_quotes_an_env_file_kept_is_refused_saying_to_remove_them(
    env, field, value
):
    # `docker run --env-file` keeps quotes a shell would remove: the token became '"abc..."'
    # (every publish got 401) and the database URL "is not a database URL"
    base = {"env": env, "admin_token": "f3a9c2e1b7d4" * 3, "signing_key": "/k"}
    found = Settings(**{**base, field: value}).problems()
    assert found == [
        f"PWGUARD_{field.upper()} is in quotes, which are part of its value here (an env file "
        "read as is keeps them: `docker run --env-file`, unlike a shell): remove them"
    ]
    assert value[1:-1] not in found[0] or field != "admin_token"  # the token is never shown


def test_a_setting_in_quotes_given_as_an_option_is_not_blamed_on_an_env_file():
    # `pwguard serve --rules '"rules"'` was told of `docker run --env-file`, never used
    found = Settings(rules_dir='"rules"').problems()
    assert [as_given(p, {"rules_dir": "--rules"}) for p in found] == [
        "--rules is in quotes, which are part of its value here (quoted twice on the command "
        "line?): remove them"]


def test_a_database_url_with_bytes_that_are_not_utf8_is_refused_without_a_traceback(tmp_path):
    # a folder named in Latin-1 (os.environ keeps its bytes as surrogates): serve and export
    # died with "UnicodeEncodeError: 'utf-8' codec can't encode ... surrogates not allowed"
    url = f"sqlite:///{tmp_path}/caf\udce9/pwguard.db"
    shown = f"sqlite:///{tmp_path}/caf\\xe9/pwguard.db"
    assert Settings(database_url=url).problems() == [
        f"PWGUARD_DATABASE_URL '{shown}' has bytes that are not UTF-8 text (a file or folder "
        "name in another encoding): point it at a path whose names are UTF-8"]
    secret = "postgresql://pwguard:s3cr\udce9t@db/pwguard"
    assert "s3cr" not in Settings(database_url=secret).problems()[0]


@pytest.mark.parametrize("url", [
    "postgresql://pwguard:s3cret@pw1/xyz@127.0.0.1:1/pwguard",  # a `/` after the `@`
    "postgresql://pwguard:s3cret@pw1?xyz@127.0.0.1:1/pwguard",  # a `?` after the `@`
    "postgresql://pwguard:s3cret@pw1@127.0.0.1:1/pwguard?password=xyz",  # and ?password=
])
def test_a_password_with_an_at_and_a_slash_or_question_mark_is_never_shown(url):
    # "s3cret@pw1/xyz": read as the password "s3cret", the host "pw1" and the database
    # "xyz@127.0.0.1...", shown as 'postgresql://pwguard:***@pw1/xyz%40127.0.0.1...' at start
    # (and psycopg's "failed to resolve host 'pw1'"): the rest of the password, in the log
    problem = database_url_problem(url)
    assert problem == (
        f"PWGUARD_DATABASE_URL {shown_url(url)!r}: the user name or password holds an `@`, "
        "which ends it early (the host read is not the server's): write each `@` in them as "
        "%40, e.g. postgresql://user:p%40ss@host/db")
    assert "pw1" not in problem and "xyz" not in problem
    assert shown_url(url).startswith("postgresql://***@127.0.0.1:1/pwguard")


def test_an_at_in_a_query_value_is_no_at_in_the_password():
    url = "postgresql://u:pw@h/db?sslrootcert=/etc/me@corp/root.crt"
    assert database_url_problem(url) is None
    assert shown_url(url).startswith("postgresql://u:***@h/db?")


def test_plain_postgresql_urls_use_the_psycopg3_driver():
    assert engine_url("postgresql://u@h/db").startswith("postgresql+psycopg://")
    assert engine_url("sqlite:///x.db") == "sqlite:///x.db"


def test_sqlite_database_runs_in_wal_mode(tmp_path):
    store = Storage(f"sqlite:///{tmp_path / 'w.db'}")
    store.create_schema()
    store.close()
    with sqlite3.connect(tmp_path / "w.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_openapi_gives_get_and_head_their_own_operation_ids_without_a_warning(tmp_path):
    # /v1/rules, /healthz and /metrics answer GET and HEAD from one route: FastAPI gave both
    # operations the route's one id ("healthz_healthz_head" for GET too), which OpenAPI forbids
    # (client generators fail), and warned "Duplicate Operation ID" into the server's log
    # at the first visit of /docs
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'db.sqlite'}", rules_dir="")
    app = create_app(settings, key=Ed25519PrivateKey.generate())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        spec = Client(app).get("/openapi.json").json()
    ids = {(method, path): op["operationId"]
           for path, ops in spec["paths"].items() for method, op in ops.items()}
    assert len(set(ids.values())) == len(ids), ids
    for path in ("/v1/rules", "/healthz", "/metrics"):
        assert ids["get", path].endswith("_get") and ids["head", path].endswith("_head")
    assert spec["paths"]["/healthz"]["head"]["responses"] == \
        spec["paths"]["/healthz"]["get"]["responses"]


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[tuple[Client, Client, str]]:
    """Two app instances on one database, as two uvicorn workers would be."""
    key = Ed25519PrivateKey.generate()
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    settings = Settings(database_url=url, admin_token=TOKEN, rules_dir="",
                        active_check_seconds=0)
    store_a, store_b = Storage(url), Storage(url)
    store_a.create_schema()
    a = Client(create_app(settings, storage=store_a, key=key))
    b = Client(create_app(settings, storage=store_b, key=key))
    yield a, b, public_key_b64(key)
    store_a.close()
    store_b.close()


def test_nothing_published_yet_answers_503_not_an_empty_bundle(two_workers):
    a, _, _ = two_workers
    assert a.get("/v1/rules").status_code == 503
    assert a.get("/healthz").status_code == 503
    assert a.get("/healthz").json()["status"] == "no active version"


def test_503_before_any_publish_carries_cors_so_the_extension_can_report_it(two_workers):
    # without Access-Control-Allow-Origin the extension sees a network error, not "HTTP 503"
    a, _, _ = two_workers
    resp = a.get("/v1/rules", headers={"Origin": "chrome-extension://abc"})
    assert resp.status_code == 503
    assert resp.json() == {"detail": "no active rules version"}
    assert resp.headers["access-control-allow-origin"] == "*"
    assert resp.headers["cache-control"] == "no-cache"
    assert "access-control-allow-credentials" not in resp.headers


def test_with_no_bundle_in_memory_and_the_database_gone_rules_answer_503_saying_so(tmp_path):
    url = f"sqlite:///{tmp_path / 'gone.db'}"
    settings = Settings(database_url=url, admin_token=TOKEN, rules_dir="")
    c = Client(create_app(settings, key=Ed25519PrivateKey.generate()))
    for db in tmp_path.glob("gone.db*"):
        db.unlink()
    resp = c.get("/v1/rules")
    assert resp.status_code == 503
    assert resp.json() == {"detail": "rules unavailable: the database does not answer "
                                     "(see /healthz)"}
    assert resp.headers["access-control-allow-origin"] == "*"
    c.app.state.storage.close()


def admin_app(url: str, store: Storage, **settings: Any) -> Client:
    """The app on `store` (its database at `url`): the admin token, no rules folder, a new
    signing key, and `settings` besides."""
    return Client(create_app(
        Settings(database_url=url, admin_token=TOKEN, rules_dir="", **settings),
        storage=store, key=Ed25519PrivateKey.generate()))


def test_publish_and_rollback_on_a_database_that_refuses_writes_say_so_and_the_fix(tmp_path):
    # they answered "database unavailable ... (see /healthz)" while /healthz said "ok"
    writable = Storage(f"sqlite:///{tmp_path / 'ro.db'}")
    writable.create_schema()
    writable.add_version("aaaaaaaaaaaaaaaa", b"{}", b"{}")
    writable.add_version("bbbbbbbbbbbbbbbb", b"{}", b"{}")
    writable.close()
    url = f"sqlite:///file:{tmp_path / 'ro.db'}?mode=ro&uri=true"
    store = Storage(url)
    c = admin_app(url, store)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    refused = {"detail": "the database refuses writes (read-only): remove mode=ro from "
                         "PWGUARD_DATABASE_URL; nothing changed"}
    resp = c.put("/v1/admin/rules", content=GOOD_TEXT.encode(), headers=auth)
    assert (resp.status_code, resp.json()) == (503, refused)
    resp = c.post("/v1/admin/versions/aaaaaaaaaaaaaaaa/activate", headers=auth)
    assert (resp.status_code, resp.json()) == (503, refused)
    assert c.get("/healthz").json()["database"] == "ok"  # it reads: the message says what to do
    assert store.active_version() == "bbbbbbbbbbbbbbbb"
    store.close()


def two_versions(path: Path, size: int = 2) -> str:
    """An SQLite database at `path` holding versions a... and b... (active), each with a
    payload and a bundle of `size` bytes; its URL."""
    url = f"sqlite:///{path}"
    store = Storage(url)
    store.create_schema()
    store.add_version("aaaaaaaaaaaaaaaa", b"{" * size, b"}" * size)
    store.add_version("bbbbbbbbbbbbbbbb", b"{" * size, b"}" * size)
    store.close()
    return url


def stored(store: Storage) -> tuple[str | None, list[str], list[str]]:
    """The active version, the stored versions and the audit actions: what a failed write
    must leave as it was."""
    return (store.active_version(), [v.version for v, _ in store.list_versions()],
            [e.action for e in store.audit_entries()])


def test_a_publish_on_a_full_sqlite_database_says_so_and_where_to_free_space(tmp_path):
    # it answered "database unavailable ... (see /healthz)" while /healthz said "ok"
    url = two_versions(tmp_path / "full.db", size=1700)  # one version per 4 KiB page
    store = Storage(url)

    @event.listens_for(store.engine, "connect")
    def no_more_pages(dbapi_conn: sqlite3.Connection, _record: object) -> None:
        # SQLite's own limit: a write that needs a new page fails with SQLITE_FULL
        pages = dbapi_conn.execute("PRAGMA page_count").fetchone()[0]
        dbapi_conn.execute(f"PRAGMA max_page_count = {pages}")

    c = admin_app(url, store)
    before = stored(store)
    resp = c.put("/v1/admin/rules", content=GOOD_TEXT.encode(),
                 headers={"Authorization": f"Bearer {TOKEN}"})
    assert (resp.status_code, resp.json()) == (503, {
        "detail": f"the database is full (disk full): free disk space at {tmp_path}, where the "
                  "SQLite file and its -wal file grow; nothing changed"})
    assert "retry-after" not in resp.headers
    assert c.get("/healthz").json()["database"] == "ok"
    assert stored(store) == before
    store.close()


def test_publish_and_rollback_while_another_process_holds_the_sqlite_lock_say_retry(tmp_path):
    url = two_versions(tmp_path / "locked.db")
    store = Storage(url, busy_timeout_ms=100)
    c = admin_app(url, store)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    before = stored(store)
    other = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # the write lock, held past the busy timeout
    locked = {"detail": "the database is locked (busy): another process held the SQLite write "
                        f"lock on {tmp_path / 'locked.db'} past the busy timeout; retry, and if "
                        "it persists find the process that holds it (fuser "
                        f"{tmp_path / 'locked.db'}); nothing changed"}
    resp = c.put("/v1/admin/rules", content=GOOD_TEXT.encode(), headers=auth)
    assert (resp.status_code, resp.json(), resp.headers["retry-after"]) == (503, locked, "5")
    resp = c.post("/v1/admin/versions/aaaaaaaaaaaaaaaa/activate", headers=auth)
    assert (resp.status_code, resp.json(), resp.headers["retry-after"]) == (503, locked, "5")
    assert stored(store) == before
    other.rollback()
    other.close()
    assert c.put("/v1/admin/rules", content=GOOD_TEXT.encode(), headers=auth).status_code == 201
    assert c.post("/v1/admin/versions/aaaaaaaaaaaaaaaa/activate", headers=auth).status_code \
        == 200
    store.close()


def test_a_server_worker_holds_the_active_bundle_from_its_start(tmp_path, monkeypatch):
    # `pwguard serve` activates its rules, then its worker read them only at the first
    # GET /v1/rules: /healthz said "serving": null until then, and a database lost before
    # that first request left the new server with nothing to serve (503)
    url = two_versions(tmp_path / "w.db")
    seed = Ed25519PrivateKey.generate().private_bytes_raw()
    for name, value in (("DATABASE_URL", url), ("RULES_DIR", ""),
                        ("SIGNING_KEY", base64.b64encode(seed).decode())):
        monkeypatch.setenv(f"PWGUARD_{name}", value)
    app = app_from_env()
    try:
        assert Client(app).get("/healthz").json()["serving"] == "bbbbbbbbbbbbbbbb"
    finally:
        app.state.storage.close()


def test_healthz_names_a_locked_database_as_the_admin_calls_do(tmp_path):
    # it said only "unreachable: OperationalError" while a publish named the lock and the fix
    url = two_versions(tmp_path / "locked.db")
    store = Storage(url, busy_timeout_ms=100)
    c = admin_app(url, store)
    assert c.get("/v1/rules").status_code == 200  # a bundle in memory: served all along
    other = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
    other.execute("PRAGMA locking_mode = EXCLUSIVE")  # kept until the connection closes,
    other.execute("BEGIN EXCLUSIVE")  # and in WAL mode it locks readers out too
    other.execute("UPDATE pwguard_active SET version = version")
    other.rollback()
    resp = c.put("/v1/admin/rules", content=GOOD_TEXT.encode(),
                 headers={"Authorization": f"Bearer {TOKEN}"})
    assert resp.status_code == 503
    assert resp.json()["detail"].startswith("the database is locked (busy): ")
    health = c.get("/healthz")
    assert "locked.db" not in health.text  # (the fix, with the file, is for token holders)
    assert (health.status_code, health.json()) == (503, {
        "status": "error", "database": "the database is locked (busy)", "active_version": None,
        "serving": "bbbbbbbbbbbbbbbb", "server_version": health.json()["server_version"]})
    other.close()
    assert c.get("/healthz").json()["database"] == "ok"
    store.close()


def test_the_log_names_the_fix_of_a_database_failure_that_healthz_names_without_it(
    tmp_path, caplog
):
    # /healthz leaves the fix out (it needs no token); with no admin call made, the log
    # said only "database unavailable (OperationalError: database is locked)"
    url = two_versions(tmp_path / "locked.db")
    store = Storage(url, busy_timeout_ms=100)
    c = admin_app(url, store, active_check_seconds=0)
    assert c.get("/v1/rules").status_code == 200
    other = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
    other.execute("PRAGMA locking_mode = EXCLUSIVE")
    other.execute("BEGIN EXCLUSIVE")
    other.execute("UPDATE pwguard_active SET version = version")
    other.rollback()
    try:
        with caplog.at_level("WARNING", logger="pwguard"):
            assert c.get("/v1/rules").status_code == 200  # served from memory
            assert c.get("/healthz").json()["database"] == "the database is locked (busy)"
    finally:
        other.close()
    lines = [r.getMessage() for r in caplog.records if "database unavailable" in r.getMessage()]
    assert len(lines) == 1, lines
    assert lines[0].endswith(
        "; GET /v1/rules serves version bbbbbbbbbbbbbbbb from memory until it answers: the "
        f"database is locked (busy): another process held the SQLite write lock on "
        f"{tmp_path / 'locked.db'} past the busy timeout; retry, and if it persists find the "
        f"process that holds it (fuser {tmp_path / 'locked.db'})"), lines[0]
    store.close()


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs: a disk that really fills up (needs root)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(disk)],
                             capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=True)


def fill(disk: Path) -> Path:
    """Write to a file on `disk` until the disk is full; return it (delete it to free the
    space)."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        while True:
            os.write(fd, bytes(4096))
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


def test_publish_and_rollback_on_a_full_disk_say_so_and_work_again_once_space_is_freed(
    tiny_disk,
):
    url = two_versions(tiny_disk / "pwguard.db")
    store = Storage(url)
    c = admin_app(url, store)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    before = stored(store)
    free = (f"free disk space at {tiny_disk}, where the SQLite file and its -wal file grow; "
            "nothing changed")
    # another connection keeps the -shm file: the write itself finds the disk full
    reader = sqlite3.connect(tiny_disk / "pwguard.db")
    reader.execute("SELECT version FROM pwguard_active").fetchall()
    filler = fill(tiny_disk)
    full = {"detail": f"the database is full (disk full): {free}"}
    resp = c.put("/v1/admin/rules", content=GOOD_TEXT.encode(), headers=auth)
    assert (resp.status_code, resp.json()) == (503, full)
    resp = c.post("/v1/admin/versions/aaaaaaaaaaaaaaaa/activate", headers=auth)
    assert (resp.status_code, resp.json()) == (503, full)
    # no connection left (the -wal and -shm files are gone): a new one cannot make its -shm
    # file (SQLITE_IOERR_SHMSIZE)
    reader.close()
    fill(tiny_disk)
    resp = c.put("/v1/admin/rules", content=GOOD_TEXT.encode(), headers=auth)
    assert (resp.status_code, resp.json()) == (503, {
        "detail": f"the database is full (disk full, or an I/O error growing its -shm file): "
                  f"{free}"})
    assert "retry-after" not in resp.headers
    filler.unlink()
    assert stored(store) == before
    assert c.put("/v1/admin/rules", content=GOOD_TEXT.encode(), headers=auth).status_code == 201
    assert c.post("/v1/admin/versions/aaaaaaaaaaaaaaaa/activate", headers=auth).status_code \
        == 200
    store.close()


def test_a_publish_on_one_worker_is_served_by_the_other(two_workers):
    a, b, public = two_workers
    auth = {"Authorization": f"Bearer {TOKEN}"}
    first = a.put("/v1/admin/rules", content=GOOD_TEXT.encode(), headers=auth).json()["version"]
    assert check_bundle(b.get("/v1/rules"), public)["version"] == first
    second = b.put("/v1/admin/rules", content=variant(41).encode(), headers=auth).json()["version"]
    assert check_bundle(a.get("/v1/rules"), public)["version"] == second
    assert a.post(f"/v1/admin/versions/{first}/activate", headers=auth).status_code == 200
    def revalidate(version: str) -> int:
        return b.get("/v1/rules", headers={"If-None-Match": etag_for(version, public)}).status_code

    assert revalidate(second) == 200
    assert revalidate(first) == 304


def test_other_workers_follow_within_the_check_interval_not_per_request(tmp_path):
    key = Ed25519PrivateKey.generate()
    url = f"sqlite:///{tmp_path / 'i.db'}"
    slow = Settings(database_url=url, admin_token=TOKEN, rules_dir="", active_check_seconds=300)
    store_a, store_b = Storage(url), Storage(url)
    store_a.create_schema()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    a = Client(create_app(slow, storage=store_a, key=key))
    b = Client(create_app(slow, storage=store_b, key=key))
    first = a.put("/v1/admin/rules", content=GOOD_TEXT.encode(), headers=auth)
    def etag(resp: httpx.Response) -> str:
        return bundle_etag(resp.json()["version"], key_id(key))

    assert b.get("/v1/rules").headers["etag"] == etag(first)
    second = a.put("/v1/admin/rules", content=variant(42).encode(), headers=auth)
    # the publishing worker switches at once; the other keeps its copy until it re-checks
    assert a.get("/v1/rules").headers["etag"] == etag(second)
    assert b.get("/v1/rules").headers["etag"] == etag(first)
    b.app.state.cache.checked_at = float("-inf")  # the interval elapsed
    assert b.get("/v1/rules").headers["etag"] == etag(second)
    store_a.close()
    store_b.close()


def test_after_a_signing_key_rotation_every_stored_version_is_served_signed_by_the_new_key(
    tmp_path,
):
    # a rotated (say leaked) key must stop signing what the fleet downloads, rollbacks included
    old, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    url = f"sqlite:///{tmp_path / 'r.db'}"
    settings = Settings(database_url=url, admin_token=TOKEN, rules_dir="")
    auth = {"Authorization": f"Bearer {TOKEN}"}
    store = Storage(url)
    store.create_schema()
    before = Client(create_app(settings, storage=store, key=old))
    first = before.put("/v1/admin/rules", content=GOOD_TEXT.encode(), headers=auth)
    second = before.put("/v1/admin/rules", content=variant(43).encode(), headers=auth)
    after = Client(create_app(settings, storage=store, key=new))
    assert check_bundle(after.get("/v1/rules"), public_key_b64(new))["version"] == \
        second.json()["version"]
    again = after.put("/v1/admin/rules", content=variant(43).encode(), headers=auth)
    assert again.status_code == 200  # already stored: still served with the new key
    assert check_bundle(after.get("/v1/rules"), public_key_b64(new))
    version = first.json()["version"]
    assert after.post(f"/v1/admin/versions/{version}/activate", headers=auth).status_code == 200
    assert check_bundle(after.get("/v1/rules"), public_key_b64(new))["version"] == version
    store.close()


def test_a_signing_key_rotation_changes_the_etag_so_caches_drop_the_old_signature(tmp_path):
    # same rules, new key: a browser revalidating with the old ETag must get the new bytes
    old, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    url = f"sqlite:///{tmp_path / 'k.db'}"
    settings = Settings(database_url=url, admin_token=TOKEN, rules_dir="")
    store = Storage(url)
    store.create_schema()
    before = Client(create_app(settings, storage=store, key=old))
    before.put("/v1/admin/rules", content=GOOD_TEXT.encode(),
               headers={"Authorization": f"Bearer {TOKEN}"})
    old_etag = before.get("/v1/rules").headers["etag"]
    after = Client(create_app(settings, storage=store, key=new))
    resp = after.get("/v1/rules", headers={"If-None-Match": old_etag})
    assert resp.status_code == 200 and resp.headers["etag"] != old_etag
    check_bundle(resp, public_key_b64(new))
    store.close()


def test_metrics_fold_unknown_methods_into_one_label_value(tmp_path):
    # each invented method was its own time series: unbounded memory and /metrics size
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'm.db'}", admin_token=TOKEN,
                        rules_dir="")
    c = Client(create_app(settings, key=Ed25519PrivateKey.generate()))
    for i in range(3):
        c.request(f"X{i}", "/v1/rules")
        c.request("GET", f"/nothing/{i}")
    text = c.get("/metrics").text
    assert 'pwguard_http_requests_total{route="/v1/rules",method="OTHER",status="405"} 3' in text
    assert 'pwguard_http_requests_total{route="(unmatched)",method="GET",status="404"} 3' in text
    assert 'method="X0"' not in text
    c.app.state.storage.close()


def test_admin_api_is_disabled_without_a_token(tmp_path):
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'd.db'}", admin_token="",
                        rules_dir="")
    c = Client(create_app(settings, key=Ed25519PrivateKey.generate()))
    resp = c.get("/v1/admin/versions", headers={"Authorization": "Bearer "})
    assert resp.status_code == 401
    assert resp.json() == {"detail": "admin API disabled: set PWGUARD_ADMIN_TOKEN"}
    c.app.state.storage.close()


@pytest.mark.parametrize(
    ("method", "headers"),
    [("GET", {}), ("HEAD", {}), ("GET", {"If-None-Match": 'W/"{v}"'}),
     ("GET", {"If-None-Match": '"x"'})],
)
def test_fast_path_and_fastapi_route_give_identical_answers(tmp_path, method, headers):
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'f.db'}", admin_token=TOKEN,
                        rules_dir="", active_check_seconds=60)
    a = Client(create_app(settings, key=Ed25519PrivateKey.generate()))
    auth = {"Authorization": f"Bearer {TOKEN}"}
    version = a.put("/v1/admin/rules", content=GOOD_TEXT.encode(), headers=auth).json()["version"]
    headers = {k: v.format(v=version) for k, v in headers.items()}
    cache = a.app.state.cache
    cache.checked_at = float("-inf")  # stale: the request goes through the FastAPI route
    via_route = a.request(method, "/v1/rules", headers=headers)
    assert cache.fresh() is not None  # the route refreshed it: the next one takes the fast path
    via_fast_path = a.request(method, "/v1/rules", headers=headers)
    assert via_route.status_code == via_fast_path.status_code
    assert via_route.content == via_fast_path.content
    assert sorted(via_route.headers.multi_items()) == sorted(via_fast_path.headers.multi_items())
    metrics = a.get("/metrics").text
    status = via_route.status_code
    assert f'route="/v1/rules",method="{method}",status="{status}"}} 2' in metrics
    a.app.state.storage.close()


class _DeadStorage:
    """A database that fails every call at once."""

    def __init__(self) -> None:
        self.calls = 0

    def active_version(self) -> str:
        self.calls += 1
        raise RuntimeError("database is down")


def test_an_outage_with_nothing_in_memory_asks_the_database_once_per_interval() -> None:
    storage = _DeadStorage()
    cache = RulesCache(storage, 60.0, Ed25519PrivateKey.generate())  # type: ignore[arg-type]
    for _ in range(20):
        assert (cache.fresh() or cache.refresh()) is None
    assert storage.calls == 1 and cache.error


def test_a_hanging_database_holds_one_request_not_all_while_a_bundle_is_in_memory() -> None:
    entered, release = threading.Event(), threading.Event()

    class Hanging:  # a locked SQLite file (busy timeout), a black-holed PostgreSQL host
        def active_version(self) -> str:
            entered.set()
            release.wait(30)
            raise RuntimeError("database is locked")

    cache = RulesCache(Hanging(), 0.05, Ed25519PrivateKey.generate())  # type: ignore[arg-type]
    cache.current = cache._cached("0123456789abcdef", b'{"payload": "x"}')
    cache.checked_at = float("-inf")
    first = threading.Thread(target=cache.refresh, daemon=True)
    first.start()
    try:
        assert entered.wait(5)
        got: list[object] = []
        second = threading.Thread(target=lambda: got.append(cache.fresh() or cache.refresh()),
                                  daemon=True)
        second.start()
        second.join(timeout=5)
        assert got and got[0] is cache.current, "the request waited for the hanging database"
    finally:
        release.set()
        first.join(timeout=5)

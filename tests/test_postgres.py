"""The storage layer and the real server on a real PostgreSQL (a throwaway cluster per module)."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import create_engine, insert
from sqlalchemy.exc import SQLAlchemyError

from pwguard.api.app import create_app
from pwguard.api.build import build_text
from pwguard.api.settings import Settings, shown_url
from pwguard.api.storage import Storage, engine_url, versions
from tests.serve import free_port, start_server, wait_until
from tests.server_cases import GOOD_DIR, GOOD_TEXT, check_bundle, variant
from tests.test_api_unit import TOKEN, Client

PG_BIN = Path(os.environ.get("PWGUARD_PG_BIN", "/usr/lib/postgresql/15/bin"))

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not (PG_BIN / "initdb").exists() or not (PG_BIN / "pg_ctl").exists(),
        reason=f"PostgreSQL binaries not found in {PG_BIN} (apt-get install postgresql, "
        "or set PWGUARD_PG_BIN)",
    ),
]


def _as_postgres(cmd: list[str]) -> list[str]:
    """initdb/postgres refuse to run as root: run them as the `postgres` user then."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    """Start a PostgreSQL cluster on a unix socket in a temp folder; yield its URL."""
    root = Path(tempfile.mkdtemp(prefix="pwguard-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    data, port = root / "data", free_port()
    started = False
    try:
        subprocess.run(
            _as_postgres([str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                          "--no-sync", "-E", "UTF8"]),
            check=True, capture_output=True, timeout=120,
        )
        subprocess.run(
            _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w",
                          "-t", "60", "-o",
                          f"-k {root} -p {port} -c listen_addresses='' -c fsync=off", "start"]),
            check=True, capture_output=True, timeout=120,
        )
        started = True
        yield f"postgresql://postgres@/postgres?host={root}&port={port}"
    finally:
        if started:
            subprocess.run(
                _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w",
                              "stop"]),
                capture_output=True, timeout=60,
            )
        shutil.rmtree(root, ignore_errors=True)


def drop_tables(url: str) -> None:
    """Leave a clean database for the next test."""
    store = Storage(url)
    with store.engine.begin() as conn:
        conn.exec_driver_sql(
            "DROP TABLE IF EXISTS pwguard_audit, pwguard_active, pwguard_versions CASCADE")
    store.close()


@pytest.fixture
def storage(pg_url: str) -> Iterator[Storage]:
    store = Storage(pg_url)
    store.create_schema()
    yield store
    store.close()
    drop_tables(pg_url)


def test_storage_on_postgresql_stores_activates_and_rolls_back(storage):
    v1, created = storage.add_version("aaaa", b'{"p":1}', b'{"b":1}', note="first", actor="t")
    assert created and storage.active_version() == "aaaa"
    _, again = storage.add_version("aaaa", b'{"p":1}', b'{"b":1}')
    assert again is False
    storage.add_version("bbbb", b'{"p":2}', b'{"b":2}')
    active = storage.active_bundle()
    assert active is not None and (active.version, active.bundle) == ("bbbb", b'{"b":2}')
    assert storage.activate("aaaa", actor="t", note="rollback") is not None
    assert storage.activate("zzzz") is None
    assert storage.active_version() == "aaaa"
    assert [(v.version, a) for v, a in storage.list_versions()] == [("bbbb", False),
                                                                     ("aaaa", True)]
    assert [e.action for e in storage.audit_entries()] == ["publish", "publish", "activate"]
    assert v1.created_at.tzinfo is not None


def test_concurrent_writers_on_postgresql_never_conflict(storage):
    errors: list[BaseException] = []

    def write(i: int) -> None:
        try:
            storage.add_version(f"v{i % 8}", b"p", b"b")  # same versions raced on purpose
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert storage.count_versions() == 8
    assert sum(a for _, a in storage.list_versions()) == 1


def test_real_server_on_postgresql_publishes_rolls_back_and_survives_restart(tmp_path, pg_url):
    with start_server(tmp_path, rules_dir=GOOD_DIR, env={"PWGUARD_DATABASE_URL": pg_url}) as srv:
        first = check_bundle(httpx.get(srv.url + "/v1/rules"), srv.public_key)["version"]
        resp = httpx.put(srv.url + "/v1/admin/rules", content=variant(31).encode(),
                         headers=srv.admin_headers)
        assert resp.status_code == 201
        second = resp.json()["version"]
        assert check_bundle(httpx.get(srv.url + "/v1/rules"), srv.public_key)["version"] == second
        assert httpx.post(f"{srv.url}/v1/admin/versions/{first}/activate",
                          headers=srv.admin_headers).status_code == 200
        srv.restart()
        assert check_bundle(httpx.get(srv.url + "/v1/rules"), srv.public_key)["version"] == first
        health = httpx.get(srv.url + "/healthz").json()
        assert health == {**health, "database": "ok", "active_version": first}
    drop_tables(pg_url)


def test_serve_with_a_role_that_may_only_select_exits_2_naming_the_grant(tmp_path, storage, pg_url):
    # it was a traceback from the SELECT ... FOR UPDATE that stores the rules folder
    with storage.engine.begin() as conn:
        conn.exec_driver_sql("CREATE ROLE pwguard_reader LOGIN")
        conn.exec_driver_sql("GRANT SELECT ON pwguard_versions, pwguard_active, pwguard_audit "
                             "TO pwguard_reader")
    try:
        url = pg_url.replace("postgres@", "pwguard_reader@")
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("PWGUARD_")},
               "PWGUARD_DATABASE_URL": url, "PWGUARD_PORT": str(free_port())}
        proc = subprocess.run([sys.executable, "-m", "pwguard.cli", "serve", "--rules",
                               str(GOOD_DIR)], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=60)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.splitlines()[-1] == (
            f"pwguard serve: PWGUARD_DATABASE_URL {url!r}: the database refuses writes "
            "(permission denied: permission denied for table pwguard_active), and the server "
            "stores each rules version there: GRANT SELECT, INSERT, UPDATE ON pwguard_versions, "
            "pwguard_active, pwguard_audit TO pwguard_reader, and USAGE ON SEQUENCE "
            "pwguard_audit_id_seq (CREATE on the schema while the tables do not exist yet)")
        assert "Traceback" not in proc.stderr
    finally:
        with storage.engine.begin() as conn:
            conn.exec_driver_sql("DROP OWNED BY pwguard_reader")
            conn.exec_driver_sql("DROP ROLE pwguard_reader")


# A password in every URL below: no message may show it.
PASSWORD = "pw-s3cret-never-shown"
SEEDED = ("aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb")


@pytest.fixture
def writer(storage: Storage, pg_url: str) -> Iterator[str]:
    """A role with the privileges the server needs, on a database holding two versions
    (the second active); yield its URL (with a password, which trust auth ignores)."""
    for version in SEEDED:
        storage.add_version(version, b"{}", b"{}")
    with storage.engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE ROLE pwguard_writer LOGIN PASSWORD '{PASSWORD}'")
        conn.exec_driver_sql("GRANT SELECT, INSERT, UPDATE ON pwguard_versions, pwguard_active, "
                             "pwguard_audit TO pwguard_writer")
        conn.exec_driver_sql("GRANT USAGE ON SEQUENCE pwguard_audit_id_seq TO pwguard_writer")
    try:
        yield pg_url.replace("postgres@", f"pwguard_writer:{PASSWORD}@")
    finally:
        with storage.engine.begin() as conn:
            conn.exec_driver_sql("DROP OWNED BY pwguard_writer")
            conn.exec_driver_sql("DROP ROLE pwguard_writer")


@pytest.fixture
def admin_client() -> Iterator[Callable[..., Client]]:
    """Make the app in process on a URL (a new pool: role settings changed before apply)."""
    made: list[Storage] = []

    def make(url: str, **storage_options: Any) -> Client:
        made.append(Storage(url, **storage_options))
        settings = Settings(database_url=url, admin_token=TOKEN, rules_dir="")
        return Client(create_app(settings, storage=made[-1], key=Ed25519PrivateKey.generate()))

    yield make
    for store in made:
        store.close()


AUTH = {"Authorization": f"Bearer {TOKEN}"}


def publish(c: Client) -> httpx.Response:
    return c.put("/v1/admin/rules", content=GOOD_TEXT.encode(), headers=AUTH)


def roll_back(c: Client) -> httpx.Response:
    return c.post(f"/v1/admin/versions/{SEEDED[0]}/activate", headers=AUTH)


def unchanged(storage: Storage) -> bool:
    """Nothing stored, activated or audited since the `writer` fixture."""
    return (storage.active_version(), storage.count_versions(),
            [e.action for e in storage.audit_entries()]) == (SEEDED[1], 2, ["publish"] * 2)


def waits_for_a_lock(storage: Storage) -> bool:
    with storage.engine.connect() as conn:
        return bool(conn.exec_driver_sql(
            "SELECT count(*) FROM pg_stat_activity WHERE usename = 'pwguard_writer' "
            "AND wait_event_type = 'Lock'").scalar())


def in_thread(call: Callable[[], httpx.Response]) -> tuple[threading.Thread, list[httpx.Response]]:
    answers: list[httpx.Response] = []
    thread = threading.Thread(target=lambda: answers.append(call()))
    thread.start()
    return thread, answers


def test_publish_and_rollback_past_the_lock_timeout_on_postgresql_say_retry(
    storage, writer, admin_client, caplog
):
    # they answered "database unavailable ... (see /healthz)" while /healthz said "ok"
    with storage.engine.begin() as conn:
        conn.exec_driver_sql("ALTER ROLE pwguard_writer SET lock_timeout = '200ms'")
    c = admin_client(writer)
    locked = {"detail": "the database is locked (lock timeout): another session held a lock on "
                        "the pwguard tables past lock_timeout; retry, and if it persists find "
                        "that session in pg_locks and pg_stat_activity; nothing changed"}
    with storage.engine.connect() as holder:
        holder.exec_driver_sql("SELECT * FROM pwguard_active FOR UPDATE")
        for resp in (publish(c), roll_back(c)):
            assert (resp.status_code, resp.json(), resp.headers["retry-after"]) == \
                (503, locked, "5")
        assert c.get("/healthz").json()["database"] == "ok"
        holder.rollback()
    assert unchanged(storage)
    assert publish(c).status_code == 201  # once the lock is released, the same call works
    assert PASSWORD not in caplog.text


def test_a_lock_held_forever_on_postgresql_answers_503_retry_not_a_hang(
    storage, writer, admin_client
):
    # PostgreSQL's lock_timeout is 0 by default: a publish waited for the lock for as long as
    # the session holding it lived (a migration, a transaction left open), then the client
    # gave up with no answer. The server now sets its own wait, as SQLite's busy timeout.
    c = admin_client(writer, busy_timeout_ms=300)
    with storage.engine.connect() as holder:
        holder.exec_driver_sql("SELECT * FROM pwguard_active FOR UPDATE")
        resp = publish(c)
        assert (resp.status_code, resp.headers["retry-after"]) == (503, "5"), resp.text
        assert resp.json()["detail"].startswith("the database is locked (lock timeout)")
        holder.rollback()
    assert unchanged(storage)
    assert publish(c).status_code == 201


def test_a_lock_timeout_the_administrator_set_on_postgresql_is_kept(storage, writer):
    with storage.engine.begin() as conn:
        conn.exec_driver_sql("ALTER ROLE pwguard_writer SET lock_timeout = '7s'")
    mine = Storage(writer, busy_timeout_ms=300)
    try:
        with mine.engine.connect() as conn:
            assert conn.exec_driver_sql("SHOW lock_timeout").scalar() == "7s"
    finally:
        mine.close()
    default = Storage(storage.url)  # (the superuser's: no setting of its own)
    try:
        with default.engine.connect() as conn:
            assert conn.exec_driver_sql("SHOW lock_timeout").scalar() == "30s"
    finally:
        default.close()


def test_healthz_of_a_real_server_names_a_database_refusing_connections(
    tmp_path, storage, writer
):
    # it said only "unreachable: OperationalError"
    with start_server(tmp_path, rules_dir=GOOD_DIR, env={"PWGUARD_DATABASE_URL": writer}) as srv:
        with storage.engine.begin() as conn:
            conn.exec_driver_sql("ALTER ROLE pwguard_writer CONNECTION LIMIT 0")
            # its pooled connections go: the next check must open a new one
            conn.exec_driver_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                 "WHERE usename = 'pwguard_writer'")
        resp = httpx.get(srv.url + "/healthz", timeout=30)
        assert (resp.status_code, resp.json()["status"], resp.json()["database"]) == (
            503, "error", "the database refuses connections (too many connections)")
        assert "pwguard_writer" not in resp.text  # (the fix, with names, is for token holders)
        assert PASSWORD not in resp.text
        with storage.engine.begin() as conn:
            conn.exec_driver_sql("ALTER ROLE pwguard_writer CONNECTION LIMIT -1")
        assert httpx.get(srv.url + "/healthz", timeout=30).json()["database"] == "ok"
        assert PASSWORD not in srv.log()


def test_a_serialization_failure_on_postgresql_answers_503_retry(storage, writer, admin_client):
    with storage.engine.begin() as conn:
        conn.exec_driver_sql("ALTER ROLE pwguard_writer SET default_transaction_isolation = "
                             "'repeatable read'")
    c = admin_client(writer)
    with storage.engine.connect() as holder:
        holder.exec_driver_sql("UPDATE pwguard_active SET updated_at = now()")
        thread, answers = in_thread(lambda: publish(c))
        wait_until(lambda: waits_for_a_lock(storage), 30, "the publish to wait for the row")
        holder.commit()  # the row it waits for changed: repeatable read cannot go on
        thread.join(30)
    resp = answers[0]
    assert (resp.status_code, resp.json(), resp.headers["retry-after"]) == (503, {
        "detail": "the database is busy (serialization failure): a concurrent transaction "
                  "changed the same rows; retry; nothing changed"}, "1")
    assert unchanged(storage)
    assert publish(c).status_code == 201


def test_a_deadlock_on_postgresql_answers_503_retry(storage, writer, admin_client):
    c = admin_client(writer)
    built = build_text(GOOD_TEXT, "request.yaml", None).built
    assert built is not None
    with storage.engine.connect() as holder:
        holder.exec_driver_sql("SET LOCAL deadlock_timeout = '20s'")  # the publish finds it
        holder.execute(insert(versions).values(  # the publish's version, not committed
            version=built.version, created_at=datetime.now(UTC), note="", actor="",
            payload=b"{}", bundle=b"{}"))
        thread, answers = in_thread(lambda: publish(c))
        wait_until(lambda: waits_for_a_lock(storage), 30, "the publish to wait for the insert")
        holder.exec_driver_sql("SELECT * FROM pwguard_active FOR UPDATE")  # the publish holds it
        thread.join(30)
        holder.rollback()
    resp = answers[0]
    assert (resp.status_code, resp.json(), resp.headers["retry-after"]) == (503, {
        "detail": "the database is busy (deadlock): another session locked the pwguard tables "
                  "in another order; retry; nothing changed"}, "1")
    assert unchanged(storage)
    assert publish(c).status_code == 201


def test_too_many_connections_on_postgresql_answer_503_naming_the_limits(
    storage, writer, admin_client, caplog
):
    with storage.engine.begin() as conn:
        conn.exec_driver_sql("ALTER ROLE pwguard_writer CONNECTION LIMIT 0")
    c = admin_client(writer)
    for resp in (publish(c), roll_back(c)):
        assert (resp.status_code, resp.json(), resp.headers["retry-after"]) == (503, {
            "detail": "the database refuses connections (too many connections): raise "
                      "max_connections on the PostgreSQL server (or the CONNECTION LIMIT of role "
                      "pwguard_writer or database postgres), or have other clients hold fewer, "
                      "then retry; nothing changed"}, "5")
    assert PASSWORD not in caplog.text
    assert unchanged(storage)


def test_out_of_memory_on_postgresql_answers_503_naming_it(storage, writer, admin_client):
    # no test can exhaust the server's memory: a trigger raises the error as PostgreSQL would
    with storage.engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE FUNCTION pwguard_test_oom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "RAISE EXCEPTION 'out of memory' USING ERRCODE = 'out_of_memory', "
            "DETAIL = 'Failed on request of size 8192.'; END $$")
        conn.exec_driver_sql("CREATE TRIGGER oom BEFORE INSERT ON pwguard_versions "
                             "FOR EACH ROW EXECUTE FUNCTION pwguard_test_oom()")
    c = admin_client(writer)
    try:
        resp = publish(c)
        assert (resp.status_code, resp.json()) == (503, {
            "detail": "the database is out of memory (out of memory): free memory on the "
                      "PostgreSQL server or lower its memory settings (work_mem, "
                      "shared_buffers), then retry; nothing changed"})
        assert "retry-after" not in resp.headers
        assert unchanged(storage)
    finally:
        with storage.engine.begin() as conn:
            conn.exec_driver_sql("DROP TRIGGER oom ON pwguard_versions")
            conn.exec_driver_sql("DROP FUNCTION pwguard_test_oom")


@pytest.fixture
def tiny_tablespace(pg_url: str) -> Iterator[str]:
    """A database whose tables live on a 512 KiB tmpfs (needs root); yield its URL."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    disk = Path(tempfile.mkdtemp(prefix="pwguard-tablespace-"))  # (postgres can reach it)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(disk)],
                             capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        disk.rmdir()
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr.strip()}")
    shutil.chown(disk, "postgres", "postgres")
    admin = create_engine(engine_url(pg_url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE TABLESPACE pwguard_tiny LOCATION '{disk}'")
            conn.exec_driver_sql("CREATE DATABASE pwguard_disk")
            conn.exec_driver_sql("ALTER DATABASE pwguard_disk SET default_tablespace = "
                                 "pwguard_tiny")
        yield pg_url.replace("/postgres?", "/pwguard_disk?").replace(
            "postgres@", f"postgres:{PASSWORD}@")
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql("DROP DATABASE IF EXISTS pwguard_disk WITH (FORCE)")
            conn.exec_driver_sql("DROP TABLESPACE IF EXISTS pwguard_tiny")
        admin.dispose()
        subprocess.run(["umount", "-l", str(disk)], check=True)
        disk.rmdir()


def test_a_publish_on_a_full_postgresql_disk_answers_503_naming_it(tiny_tablespace,
                                                                  admin_client):
    store = Storage(tiny_tablespace)
    store.create_schema()  # pwguard_versions has no page yet: a version needs a new one
    with store.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE filler (b bytea)")
    with pytest.raises(SQLAlchemyError) as full:  # fill the tablespace
        for _ in range(1000):
            with store.engine.begin() as conn:
                conn.exec_driver_sql("INSERT INTO filler SELECT decode(repeat('ab', 8000), "
                                     "'hex') FROM generate_series(1, 8)")
    assert getattr(full.value.orig, "sqlstate", None) == "53100"
    c = admin_client(tiny_tablespace)
    resp = publish(c)
    assert (resp.status_code, resp.json()) == (503, {
        "detail": "the database is full (disk full): free disk space on the PostgreSQL server, "
                  "where its data directory or the tables' tablespace lives; nothing changed"})
    assert "retry-after" not in resp.headers
    assert (store.active_version(), store.count_versions(), store.audit_entries()) == \
        (None, 0, [])
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE filler")
    assert publish(c).status_code == 201
    store.close()


def serve_refused(tmp_path: Path, url: str) -> str:
    """Run `pwguard serve` on `url` expecting exit 2; its one line of stderr."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PWGUARD_")},
           "PWGUARD_DATABASE_URL": url, "PWGUARD_PORT": str(free_port()),
           "PWGUARD_SIGNING_KEY": base64.b64encode(bytes(32)).decode()}
    proc = subprocess.run([sys.executable, "-m", "pwguard.cli", "serve", "--rules",
                           str(GOOD_DIR)], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert PASSWORD not in proc.stderr + proc.stdout
    assert len(proc.stderr.splitlines()) == 1, proc.stderr
    return proc.stderr.rstrip("\n")


def as_role(pg_url: str, role: str, database: str = "postgres", password: str = PASSWORD) -> str:
    credentials = f"{role}:{password}" if password else role
    return pg_url.replace("postgres@", f"{credentials}@").replace("/postgres?", f"/{database}?")


def test_serve_refused_at_connect_says_why_and_the_fix_in_one_line(tmp_path, pg_url):
    # a role without CONNECT got two lines (the server's FATAL and DETAIL) and no fix
    admin = create_engine(engine_url(pg_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE ROLE pwguard_guest LOGIN PASSWORD '{PASSWORD}'")
        conn.exec_driver_sql("CREATE ROLE pwguard_limited LOGIN CONNECTION LIMIT 0")
        conn.exec_driver_sql("CREATE DATABASE pwguard_closed")
        conn.exec_driver_sql("REVOKE CONNECT ON DATABASE pwguard_closed FROM PUBLIC")
    refused = "the database refuses the connection"
    try:
        cases = {
            as_role(pg_url, "pwguard_guest", "pwguard_closed"):
                f'{refused} (permission denied: permission denied for database "pwguard_closed"'
                "): GRANT CONNECT ON DATABASE pwguard_closed TO pwguard_guest",
            as_role(pg_url, "pwguard_nobody"):
                f'{refused} (role refused: role "pwguard_nobody" does not exist): check that '
                "role pwguard_nobody exists and may log in (CREATE ROLE pwguard_nobody LOGIN), "
                "and that pg_hba.conf lets it connect to postgres from this host",
            as_role(pg_url, "pwguard_guest", "pwguard_missing"):
                f'{refused} (no such database: database "pwguard_missing" does not exist): '
                "create it (createdb -O pwguard_guest pwguard_missing), or fix the database "
                "name in PWGUARD_DATABASE_URL",
            as_role(pg_url, "pwguard_limited"):
                "the database refuses connections (too many connections: too many connections "
                'for role "pwguard_limited"): raise max_connections on the PostgreSQL server '
                "(or the CONNECTION LIMIT of role pwguard_limited or database postgres), or "
                "have other clients hold fewer, then retry",
        }
        for url, said in cases.items():
            assert serve_refused(tmp_path, url) == \
                f"pwguard serve: PWGUARD_DATABASE_URL {shown_url(url)!r}: {said}"
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql("DROP DATABASE pwguard_closed")
            conn.exec_driver_sql("DROP ROLE pwguard_guest")
            conn.exec_driver_sql("DROP ROLE pwguard_limited")
        admin.dispose()


def test_serve_refused_a_password_says_check_it_or_give_it(tmp_path, pg_url):
    admin = create_engine(engine_url(pg_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE ROLE pwguard_guest LOGIN PASSWORD '{PASSWORD}'")
        hba = Path(conn.exec_driver_sql("SHOW hba_file").scalar())
    trusted = hba.read_text()
    hba.write_text("local all pwguard_guest scram-sha-256\n" + trusted)  # a password, for it

    def asks_for_password() -> bool:
        with admin.connect() as conn:
            conn.exec_driver_sql("SELECT pg_reload_conf()")
        probe = create_engine(engine_url(as_role(pg_url, "pwguard_guest", password="")))
        try:
            probe.connect().close()
        except SQLAlchemyError:
            return True
        finally:
            probe.dispose()
        return False

    try:
        wait_until(asks_for_password, 30, "pg_hba.conf to ask pwguard_guest for a password")
        refused = "the database refuses the connection"
        wrong = as_role(pg_url, "pwguard_guest", password="wrong-" + PASSWORD)
        assert serve_refused(tmp_path, wrong) == (
            f"pwguard serve: PWGUARD_DATABASE_URL {shown_url(wrong)!r}: {refused} (wrong "
            'password: password authentication failed for user "pwguard_guest"): check the '
            "password of role pwguard_guest in PWGUARD_DATABASE_URL (ALTER ROLE pwguard_guest "
            "PASSWORD sets it), and the authentication method pg_hba.conf gives this host")
        none = as_role(pg_url, "pwguard_guest", password="")
        assert serve_refused(tmp_path, none) == (
            f"pwguard serve: PWGUARD_DATABASE_URL {shown_url(none)!r}: {refused} (no password: "
            "fe_sendauth: no password supplied): pg_hba.conf asks role pwguard_guest for a "
            "password: put it in PWGUARD_DATABASE_URL (postgresql://user:password@host/db)")
        right = create_engine(engine_url(as_role(pg_url, "pwguard_guest")))
        right.connect().close()  # (the right password gets in)
        right.dispose()
    finally:
        hba.write_text(trusted)
        with admin.connect() as conn:
            conn.exec_driver_sql("SELECT pg_reload_conf()")
            conn.exec_driver_sql("DROP ROLE pwguard_guest")
        admin.dispose()

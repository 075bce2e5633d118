"""The storage layer and the real server on a real PostgreSQL (a throwaway cluster per module)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pwguard.api.storage import Storage
from tests.serve import free_port, start_server
from tests.server_cases import GOOD_DIR, check_bundle, variant

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

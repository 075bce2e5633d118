"""`pwguard serve` start-up: refuses bad rules and unsafe settings clearly, with no traceback."""

from __future__ import annotations

import base64
import errno
import importlib
import os
import re
import socket
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from pwguard.api.keys import resolve_signing_key
from pwguard.api.serve import listen_problem, prepare
from pwguard.api.settings import Settings
from pwguard.api.signing import (
    SigningKeyError,
    load_private_key,
    private_key_pem,
    public_key_b64,
)
from pwguard.api.storage import Storage, WriteRefusal, write_refusal
from tests.serve import ROOT, free_port, start_server
from tests.server_cases import GOOD_DIR, GOOD_TEXT, check_bundle, etag_for, variant


def serve(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run `pwguard serve` expecting it to refuse to start (so it returns quickly)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("PWGUARD_")}
    full_env = {**base, "PWGUARD_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
                "PWGUARD_PORT": str(free_port()), **env}
    return subprocess.run([sys.executable, "-m", "pwguard.cli", "serve", *args],
                          cwd=tmp_path, env=full_env, capture_output=True, text=True, timeout=60)


def test_serve_help_documents_every_setting_and_its_environment_variable():
    out = subprocess.run([sys.executable, "-m", "pwguard.cli", "serve", "--help"],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    for name, field in Settings.model_fields.items():
        assert f"PWGUARD_{name.upper()}" in out
        assert field.description and field.description.split()[0] in out
    for env in ("PWGUARD_DATABASE_URL", "PWGUARD_SIGNING_KEY", "PWGUARD_ADMIN_TOKEN",
                "PWGUARD_ENV", "PWGUARD_RULES_DIR", "PWGUARD_MAX_BODY_BYTES"):
        assert env in out


def test_serve_help_says_what_dev_mode_does_with_admin_tokens():
    # it said dev "accepts any admin token": with none set, every admin call gets 401
    out = subprocess.run([sys.executable, "-m", "pwguard.cli", "serve", "--help"],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    text = " ".join(out.split())
    assert "accepts any admin token" not in text
    assert "dev generates a signing key if absent and allows a weak PWGUARD_ADMIN_TOKEN (with " \
        "none set, every admin request gets 401)" in text


def test_serve_refuses_to_start_on_lint_errors_and_prints_the_findings(tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "bad.yaml").write_text(GOOD_TEXT.replace("method: PUT", "method: GET"))
    proc = serve(tmp_path, "--rules", str(rules))
    assert proc.returncode == 2
    assert re.search(r"^\S*bad\.yaml:\d+:\d+: R001 ", proc.stderr, re.M), proc.stderr
    # warnings are marked as `pwguard lint` marks them, so they don't read as the errors
    assert re.search(r"^\S*bad\.yaml:\d+:\d+: E004 .* \(warning\)$", proc.stderr, re.M)
    assert not re.search(r"R001 .*\(warning\)", proc.stderr)
    assert "lint error(s); fix them" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    # checked before anything is made: no SQLite file, no development key left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rules"]


def test_serve_refusing_its_rules_folder_leaves_no_database_or_key_behind(tmp_path):
    # (a first `make run` in a folder without rules/ made pwguard.db and its key, then refused)
    proc = serve(tmp_path, "--rules", str(tmp_path / "nope"))
    assert proc.returncode == 2 and "not found" in proc.stderr, proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_serve_refuses_a_missing_rules_folder_with_the_fix(tmp_path):
    proc = serve(tmp_path, "--rules", str(tmp_path / "nope"))
    assert proc.returncode == 2
    assert "rules folder" in proc.stderr and "--rules DIR" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_serve_says_a_rules_file_is_not_a_folder(tmp_path):
    (tmp_path / "zoho.yaml").write_text(GOOD_TEXT)
    proc = serve(tmp_path, "--rules", str(tmp_path / "zoho.yaml"))
    assert proc.returncode == 2
    assert f"rules folder '{tmp_path / 'zoho.yaml'}' is a file, not a folder" in proc.stderr


def test_serve_on_an_unwritable_database_location_says_what_to_fix(tmp_path):
    seed = base64.b64encode(bytes(32)).decode()
    proc = serve(tmp_path, "--rules", str(GOOD_DIR), PWGUARD_SIGNING_KEY=seed,
                 PWGUARD_DATABASE_URL="sqlite:////proc/pwguard-test.db")
    assert proc.returncode == 2
    assert "cannot open the database PWGUARD_DATABASE_URL='sqlite:////proc/pwguard-test.db'" \
        in proc.stderr
    assert "the folder must exist and be writable" in proc.stderr
    assert "Traceback" not in proc.stderr


def read_only_database(tmp_path: Path) -> str:
    """The URL of a pwguard database the server can read but not write: SQLite's mode=ro, as
    a read-only file does to a server that is not root (root writes whatever the mode bits)."""
    store = Storage(f"sqlite:///{tmp_path / 'ro.db'}")
    store.create_schema()
    store.close()
    return f"sqlite:///file:{tmp_path / 'ro.db'}?mode=ro&uri=true"


def test_a_database_that_refuses_writes_exits_2_with_one_line_naming_the_reason_and_fix(
    tmp_path,
):
    # it opened, then the rules folder's new version could not be stored: a traceback
    url = read_only_database(tmp_path)
    seed = base64.b64encode(bytes(32)).decode()
    proc = serve(tmp_path, "--rules", str(GOOD_DIR), PWGUARD_SIGNING_KEY=seed,
                 PWGUARD_DATABASE_URL=url)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines() == [
        f"pwguard serve: PWGUARD_DATABASE_URL {url!r}: the database refuses writes (read-only: "
        "attempt to write a readonly database), and the server stores each rules version "
        "there: remove mode=ro from PWGUARD_DATABASE_URL"]


def test_a_database_that_refuses_writes_is_refused_even_when_it_holds_the_folders_rules(
    tmp_path, capsys, caplog
):
    # nothing new to store: it started, and every publish and rollback answered 503
    seed = base64.b64encode(bytes(32)).decode()
    writable = f"sqlite:///{tmp_path / 'ro.db'}"
    assert prepare(Settings(database_url=writable, signing_key=seed, rules_dir=str(GOOD_DIR),
                            port=free_port())) == 0
    url = f"sqlite:///file:{tmp_path / 'ro.db'}?mode=ro&uri=true"
    capsys.readouterr()
    assert prepare(Settings(database_url=url, signing_key=seed, rules_dir=str(GOOD_DIR),
                            port=free_port())) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"pwguard serve: PWGUARD_DATABASE_URL {url!r}: the database refuses writes (read-only: "
        "attempt to write a readonly database), and the server stores each rules version "
        "there: remove mode=ro from PWGUARD_DATABASE_URL"]
    # with no rules folder to store it can still serve what is active: it starts, and says why
    # publishes will fail
    caplog.clear()
    assert prepare(Settings(database_url=url, signing_key=seed, rules_dir="",
                            port=free_port())) == 0
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [
        f"PWGUARD_DATABASE_URL {url!r}: the database refuses writes (read-only: attempt to "
        "write a readonly database), and the server stores each rules version there: remove "
        "mode=ro from PWGUARD_DATABASE_URL; until it is fixed, publishes and rollbacks answer "
        "503"]
    store = Storage(writable)  # the check wrote nothing: the first start's publish only
    assert [(e.action, e.version) for e in store.audit_entries()] == [
        ("publish", store.active_version())]
    store.close()


def test_a_read_only_sqlite_file_is_told_to_be_made_writable(tmp_path):
    read_only_database(tmp_path)
    path = tmp_path / "ro.db"
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    with pytest.raises(sqlite3.OperationalError) as refused:
        conn.execute("DELETE FROM pwguard_audit")
    conn.close()
    refusal = write_refusal(refused.value, f"sqlite:///{path}")
    assert refusal == WriteRefusal("read-only", f"make {path}, its -wal and -shm files and its "
                                   "folder writable by the user pwguard runs as")


def test_a_damaged_database_file_is_not_blamed_on_its_folder(tmp_path):
    store = Storage(f"sqlite:///{tmp_path / 'db.sqlite'}")
    store.create_schema()
    store.close()
    damaged = bytearray((tmp_path / "db.sqlite").read_bytes())
    damaged[100:4096] = b"\xff" * (4096 - 100)  # page 1 past the header: the schema
    (tmp_path / "db.sqlite").write_bytes(damaged)
    proc = serve(tmp_path, "--rules", str(GOOD_DIR),
                 PWGUARD_SIGNING_KEY=base64.b64encode(bytes(32)).decode())
    assert proc.returncode == 2
    assert "database disk image is malformed; the file is damaged: restore it from a backup" \
        in proc.stderr
    assert "the folder must exist" not in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("token", "expected"),
    [("", "PWGUARD_ADMIN_TOKEN is empty"),
     ("changeme", "looks like a placeholder"),
     ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "looks like a placeholder"),
     ("s3cr3t-but-short", "use at least 24")],
    ids=["empty", "placeholder", "one-letter", "short"],
)
def test_production_refuses_weak_admin_tokens_with_a_clear_message(tmp_path, token, expected):
    key = tmp_path / "k"
    proc = serve(tmp_path, "--rules", str(GOOD_DIR), PWGUARD_ENV="production",
                 PWGUARD_ADMIN_TOKEN=token, PWGUARD_SIGNING_KEY=str(key))
    assert proc.returncode == 2
    assert expected in proc.stderr and "openssl rand -hex 32" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_production_never_generates_a_signing_key(tmp_path):
    proc = serve(tmp_path, "--rules", str(GOOD_DIR), PWGUARD_ENV="production",
                 PWGUARD_ADMIN_TOKEN="f" * 8 + "0123456789abcdef0123456789")
    assert proc.returncode == 2
    assert "PWGUARD_SIGNING_KEY is empty" in proc.stderr and "pwguard keygen" in proc.stderr
    assert not list(tmp_path.glob("*signing*"))


@pytest.mark.parametrize(
    ("env", "expected"),
    [({"PWGUARD_PORT": "http"}, "PWGUARD_PORT"),
     ({"PWGUARD_ENV": "staging"}, "PWGUARD_ENV"),
     ({"PWGUARD_SIGNING_KEY": "/nonexistent/key.pem"}, "no key file at /nonexistent/key.pem"),
     ({"PWGUARD_DATABASE_URL": "not a url"}, "PWGUARD_DATABASE_URL"),
     ({"PWGUARD_DATABASE_URL": "mysql://u@localhost/db"},
      "PWGUARD_DATABASE_URL 'mysql://u@localhost/db': database 'mysql' is not supported: "
      "use sqlite:///path.db or postgresql://user@host/db"),
     ({"PWGUARD_DATABASE_URL": "postgresql://u:s3cret@127.0.0.1:1/db"},
      "cannot open the database PWGUARD_DATABASE_URL='postgresql://u:***@127.0.0.1:1/db'"),
     ({"PWGUARD_DATABASE_URL": "sqlite:///:memory:"},
      "PWGUARD_DATABASE_URL 'sqlite:///:memory:': an in-memory database"),
     ({"PWGUARD_DATABASE_URL": "sqlite://"}, "PWGUARD_DATABASE_URL 'sqlite://': an in-memory"),
     ({"PWGUARD_DATABASE_URL": "sqlite:///{tmp}/x.db?timeout=abc"},
      "PWGUARD_DATABASE_URL 'sqlite:///{tmp}/x.db?timeout=abc' cannot be used (could not "
      "convert string to float: 'abc'): fix or remove the options after `?`"),
     ({"PWGUARD_DATABASE_URL": "sqlite:///{tmp}/not-a-db"},
      "PWGUARD_DATABASE_URL 'sqlite:///{tmp}/not-a-db': '{tmp}/not-a-db' is not an SQLite "
      "database: point it at the database of a pwguard server, or at a new file"),
     ({"PWGUARD_DATABASE_URL": "sqlite:///{tmp}/a-folder"},
      "PWGUARD_DATABASE_URL 'sqlite:///{tmp}/a-folder': '{tmp}/a-folder' is not a regular file"),
     ({"PWGUARD_SIGNING_KEY": "{tmp}/binary.key"},
      "PWGUARD_SIGNING_KEY: {tmp}/binary.key is not a key file (it has binary content); it "
      "must hold an Ed25519 private key as PEM text (-----BEGIN PRIVATE KEY----- ...) or the "
      "base64 of a 32-byte seed, as `pwguard keygen --out DIR` writes"),
     ({"PWGUARD_SIGNING_KEY": "-----BEGIN PRIVATE KEY-----\\nMC4CAQAwBQYDK2VwBCIEIA==\\n"
       "-----END PRIVATE KEY-----"},
      "PWGUARD_SIGNING_KEY: the PEM key has a literal \\n (backslash and n) where its line "
      "breaks belong: put real line breaks there"),
     ({"PWGUARD_SIGNING_KEY": "/dev/zero"},
      "PWGUARD_SIGNING_KEY: /dev/zero is not a regular file; it must hold an Ed25519 private "
      "key")],
    ids=["port", "env", "key", "database", "unsupported-database", "password-masked",
         "sqlite-memory", "sqlite-no-path", "database-option", "not-sqlite", "database-folder",
         "binary-key", "pem-backslash-n", "key-device"],
)
def test_bad_settings_are_reported_by_name_without_a_traceback(tmp_path, env, expected):
    (tmp_path / "not-a-db").write_bytes(b"\x7fELF" + bytes(200))
    (tmp_path / "a-folder").mkdir()
    (tmp_path / "binary.key").write_bytes(bytes(range(256)))
    env = {k: v.format(tmp=tmp_path) for k, v in env.items()}
    expected = expected.format(tmp=tmp_path)
    proc = serve(tmp_path, "--rules", str(GOOD_DIR), **env)
    assert proc.returncode == 2
    assert expected in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and "s3cret" not in proc.stderr


@pytest.mark.parametrize(
    ("url", "expected"),
    [("postgresql://pwguard:s3cret@pw1@127.0.0.1:1/pwguard",
      "PWGUARD_DATABASE_URL 'postgresql://***@127.0.0.1:1/pwguard': the user name or password "
      "holds an `@`, which ends it early (the host read is not the server's): write each `@` in "
      "them as %40, e.g. postgresql://user:p%40ss@host/db"),
     ("postgresql://pwguard@127.0.0.1:1/pwguard?password=s3cretpw1",
      "PWGUARD_DATABASE_URL='postgresql://pwguard@127.0.0.1:1/pwguard?password=***'")],
    ids=["at-sign-in-password", "password-in-query"],
)
def test_a_database_password_is_never_shown_however_the_url_holds_it(tmp_path, url, expected):
    # "s3cret@pw1": the URL was read with the password "s3cret" and the host "pw1@127.0.0.1",
    # and the message showed 'postgresql://pwguard:***@pw1@127.0.0.1...' and psycopg's
    # "failed to resolve host 'pw1@127.0.0.1'": the password's end, and no word of the fix
    proc = serve(tmp_path, "--rules", str(GOOD_DIR), PWGUARD_DATABASE_URL=url)
    assert proc.returncode == 2
    assert expected in proc.stderr, proc.stderr
    assert "pw1" not in proc.stderr and "Traceback" not in proc.stderr


def test_a_signing_key_pasted_in_a_form_not_read_is_not_echoed_at_start(tmp_path):
    # the PEM body without its BEGIN/END lines was printed whole as "no key file at ..."
    pem = private_key_pem(Ed25519PrivateKey.from_private_bytes(bytes(range(32)))).decode()
    body = "".join(pem.splitlines()[1:-1])
    proc = serve(tmp_path, "--rules", str(GOOD_DIR), PWGUARD_SIGNING_KEY=body)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "pwguard serve: PWGUARD_SIGNING_KEY (64 characters) names no file and looks like key "
        "material in a form pwguard does not read (PEM without its BEGIN/END lines, unpadded, "
        "URL-safe or 64-byte base64, hex): give the PEM text (with its BEGIN/END lines), the "
        "44-character base64 seed, or the key file's path (`pwguard keygen --out DIR` writes "
        "one)"]
    assert body[16:32] not in proc.stderr


HOST_FIX = ("set PWGUARD_HOST (or --host) to 127.0.0.1 (this machine only), 0.0.0.0 (every "
            "interface) or another address of this machine")


@pytest.mark.parametrize(
    ("host", "expected"),
    [("no.such.host.invalid", "PWGUARD_HOST 'no.such.host.invalid' is not an address to listen "
      "on ("),
     ("192.0.2.1", "PWGUARD_HOST '192.0.2.1' is not an address of this machine: "),
     ("bad host!", "PWGUARD_HOST 'bad host!' is not an address to listen on (")],
    ids=["unresolvable", "not-this-machine", "not-a-name"],
)
def test_a_host_it_cannot_listen_on_exits_2_naming_pwguard_host_before_storing_anything(
    tmp_path, host, expected
):
    proc = serve(tmp_path, "--rules", str(GOOD_DIR), PWGUARD_HOST=host)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"pwguard serve: {expected}"), proc.stderr
    assert lines[0].endswith(HOST_FIX)
    assert not (tmp_path / "db.sqlite").exists()  # checked before the rules are stored


@pytest.mark.parametrize(
    ("given", "name", "fix"),
    [("option", "--port", "give --port a free port, e.g. 8080 (`make run PORT=8080` when "
      "`make run` started it)"),
     ("variable", "PWGUARD_PORT", "set PWGUARD_PORT (or --port) to a free port, e.g. 8080")],
)
def test_a_port_in_use_exits_2_naming_what_gave_it_and_the_running_server_keeps_its_rules(
    tmp_path, given, name, fix
):
    # it named PWGUARD_PORT when the port came from --port
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.yaml").write_text(variant(31))
    with start_server(tmp_path / "srv", rules_dir=GOOD_DIR) as srv:
        listed = httpx.get(srv.url + "/v1/admin/versions", headers=srv.admin_headers).json()
        # a second server on the same database and port, with other rules in its folder
        port = {"--port": str(srv.port)} if given == "option" else {}
        proc = serve(tmp_path, "--rules", str(rules), *[a for kv in port.items() for a in kv],
                     PWGUARD_DATABASE_URL=srv.database_url,
                     PWGUARD_SIGNING_KEY=srv.env["PWGUARD_SIGNING_KEY"],
                     PWGUARD_PORT=str(free_port() if given == "option" else srv.port))
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.strip().splitlines() == [
            f"pwguard serve: {name} {srv.port} is already in use on '127.0.0.1' (another "
            f"server listens there): stop it or {fix}"]
        # its rules were neither stored nor activated under the running server
        assert httpx.get(srv.url + "/v1/admin/versions",
                         headers=srv.admin_headers).json() == listed
        assert "Traceback" not in srv.log()


@pytest.mark.parametrize("given", [{"port": "--port"}, {}], ids=["option", "variable"])
def test_the_default_port_in_use_is_not_the_free_port_the_fix_suggests(given):
    # with 8080 taken (the default port, and `make run`'s), the fix said "e.g. 8080"
    holder = socket.socket()
    try:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            holder.bind(("127.0.0.1", 8080))
            holder.listen()
        except OSError as exc:  # another process listens there: in use all the same
            assert exc.errno == errno.EADDRINUSE, exc
        problem = listen_problem("127.0.0.1", 8080, given)
    finally:
        holder.close()
    assert problem is not None and "8080 is already in use" in problem, problem
    assert problem.endswith("a free port, e.g. 8081" + (
        " (`make run PORT=8081` when `make run` started it)" if given else "")), problem


def test_make_run_on_a_port_in_use_says_how_to_give_make_run_another(tmp_path):
    # `make run` passes --port $(PORT): the fix said "give --port", which a `make run` user
    # cannot; `make run PORT=N` is what they type
    holder = socket.socket()
    try:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PWGUARD_", "MAKE"))}
        env["PWGUARD_DATABASE_URL"] = f"sqlite:///{tmp_path / 'db.sqlite'}"  # (never created)
        proc = subprocess.run(
            ["make", "-s", "-C", str(ROOT), "-o", "install", "run", f"PORT={port}",
             f"BIN={Path(sys.executable).parent}"],
            env=env, capture_output=True, text=True, timeout=60, check=False,
        )
    finally:
        holder.close()
    assert proc.returncode != 0
    assert (f"pwguard serve: --port {port} is already in use on '127.0.0.1' (another server "
            "listens there): stop it or give --port a free port, e.g. 8080 (`make run PORT=8080` "
            "when `make run` started it)") in proc.stderr.splitlines(), proc.stderr
    assert not (tmp_path / "db.sqlite").exists()


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [(["--port", "70000"], {}, "--port: Input should be less than or equal to 65535 (got "
      "'70000')"),
     ([], {"PWGUARD_PORT": "70000"}, "PWGUARD_PORT: Input should be less than or equal to "
      "65535 (got '70000')"),
     (["--port", "-1"], {}, "--port: Input should be greater than or equal to 0 (got '-1')"),
     (["--host", "192.0.2.1"], {}, "--host '192.0.2.1' is not an address of this machine: "
      "give --host 127.0.0.1 (this machine only), 0.0.0.0 (every interface) or another "
      "address of this machine")],
    ids=["port-option", "port-variable", "negative-port-option", "host-option"],
)
def test_a_bad_port_or_host_is_named_as_the_user_gave_it(tmp_path, args, env, expected):
    # the messages named PWGUARD_PORT / PWGUARD_HOST when the value came from --port / --host
    proc = serve(tmp_path, "--rules", str(GOOD_DIR), *args, **env)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [f"pwguard serve: {expected}"]
    assert not (tmp_path / "db.sqlite").exists()


def test_dev_generates_a_private_signing_key_beside_the_database_once(tmp_path):
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'x.db'}", signing_key="")
    first = resolve_signing_key(settings)
    path = tmp_path / "x.db.signing-key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert public_key_b64(resolve_signing_key(settings)) == public_key_b64(first)
    assert public_key_b64(load_private_key(str(path))) == public_key_b64(first)


def test_every_start_logs_the_public_key_the_extension_needs(tmp_path):
    # dev prints it once when it generates the key; a later start must still say it
    with start_server(tmp_path, rules_dir=GOOD_DIR, env={"PWGUARD_SIGNING_KEY": ""}) as srv:
        key = public_key_b64(load_private_key(str(tmp_path / "pwguard.db.signing-key")))
        srv.log_path.unlink()
        srv.restart()
        assert "generated a dev signing key" not in srv.log()
        assert f"public key {key} (the extension's publicKey)" in srv.log()


def test_dev_never_creates_the_folder_of_the_database(tmp_path):
    # it created the missing folders (as root: /nonexistent/dir/) for the dev signing key
    missing = tmp_path / "nonexistent" / "dir"
    proc = serve(tmp_path, "--rules", str(GOOD_DIR),
                 PWGUARD_DATABASE_URL=f"sqlite:///{missing / 'pwguard.db'}")
    assert proc.returncode == 2
    assert proc.stderr == (
        f"pwguard serve: PWGUARD_DATABASE_URL 'sqlite:///{missing / 'pwguard.db'}': the folder "
        f"'{missing}' must exist (it is not created): create it, or point PWGUARD_DATABASE_URL "
        "at a file in an existing folder\n")
    assert not (tmp_path / "nonexistent").exists()
    settings = Settings(database_url=f"sqlite:///{missing / 'pwguard.db'}", signing_key="")
    with pytest.raises(SigningKeyError, match=r"the folder .* must exist \(it is not created"):
        resolve_signing_key(settings)  # `pwguard export` takes the key this way
    assert not (tmp_path / "nonexistent").exists()


def test_database_problems_name_the_option_when_the_url_came_from_database_url(tmp_path):
    # the messages named PWGUARD_DATABASE_URL, which the user had not set, as the thing to fix
    missing = tmp_path / "nonexistent" / "dir"
    url = f"sqlite:///{missing / 'pwguard.db'}"
    proc = serve(tmp_path, "--rules", str(GOOD_DIR), "--database-url", url)
    assert proc.returncode == 2
    assert proc.stderr == (
        f"pwguard serve: --database-url '{url}': the folder '{missing}' must exist (it is not "
        "created): create it, or point --database-url at a file in an existing folder\n")
    proc = serve(tmp_path, "--database-url", "mysql://db/pwguard")
    assert proc.returncode == 2
    assert proc.stderr.startswith(
        "pwguard serve: --database-url 'mysql://db/pwguard': database 'mysql' is not supported")
    assert "PWGUARD_DATABASE_URL" not in proc.stderr
    damaged = tmp_path / "damaged.db"
    damaged.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4096)
    proc = serve(tmp_path, "--rules", str(GOOD_DIR), "--database-url", f"sqlite:///{damaged}")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "--database-url" in proc.stderr and "PWGUARD_DATABASE_URL" not in proc.stderr


def test_a_signing_key_file_others_can_read_is_warned_about_at_start(tmp_path):
    with start_server(tmp_path, rules_dir=GOOD_DIR) as srv:
        assert "chmod 600" not in srv.log()  # 0600, as keygen writes it
        key = Path(srv.env["PWGUARD_SIGNING_KEY"])
        key.chmod(0o644)
        srv.restart()
        assert f"WARNING pwguard.serve: signing key {key} has mode 0644, open to other users " \
            "(whoever reads it can sign rules every browser accepts); it should be 0600: " \
            f"chmod 600 {key}" in srv.log()


def test_restart_keeps_a_published_version_active_and_new_folder_rules_take_over(tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.yaml").write_text(GOOD_TEXT)
    with start_server(tmp_path / "srv", rules_dir=rules) as srv:
        start = httpx.get(srv.url + "/v1/rules").headers["etag"]
        pub = httpx.put(srv.url + "/v1/admin/rules", content=variant(7).encode(),
                        headers=srv.admin_headers).json()["version"]
        srv.restart()  # same folder: the publish stays active
        assert httpx.get(srv.url + "/v1/rules").headers["etag"] == etag_for(pub, srv.public_key)
        (rules / "r.yaml").write_text(variant(8))
        srv.restart()  # new rules in the folder: stored and activated
        now = httpx.get(srv.url + "/v1/rules").headers["etag"]
        assert now not in (start, etag_for(pub, srv.public_key))
        assert "Traceback" not in srv.log()


def test_repository_rules_folder_starts_the_server(tmp_path):
    assert list((ROOT / "rules").glob("*.yaml"))
    with start_server(tmp_path) as srv:  # default: the repository's rules/
        check_bundle(httpx.get(srv.url + "/v1/rules"), srv.public_key)


@pytest.mark.parametrize("module", ["serve", "keys", "export", "publish"])
def test_subcommand_main_returns_the_exit_code_for_usage_errors_and_help(module, capsys):
    # STYLE.md: main(argv) -> int, so callers and tests get 2 / 0 instead of SystemExit
    main = importlib.import_module(f"pwguard.api.{module}").main
    assert main(["--no-such-option"]) == 2
    assert f"usage: pwguard {module.replace('keys', 'keygen')}" in capsys.readouterr().err
    assert main(["--help"]) == 0
    assert "usage: pwguard" in capsys.readouterr().out


def test_export_refuses_rules_and_from_db_together_with_exit_2(tmp_path, capsys):
    from pwguard.api import export

    argv = ["--out", str(tmp_path / "o"), "--rules", str(GOOD_DIR), "--from-db"]
    assert export.main(argv) == 2
    assert "give --rules or --from-db, not both" in capsys.readouterr().err


def test_audit_lines_are_written_even_when_the_log_level_hides_info(tmp_path):
    with start_server(tmp_path, rules_dir=GOOD_DIR, env={"PWGUARD_LOG_LEVEL": "warning"}) as srv:
        new = httpx.put(srv.url + "/v1/admin/rules", params={"note": "quiet publish"},
                        content=variant(32).encode(), headers=srv.admin_headers)
        assert new.status_code == 201, new.text
        old = str(new.json()["version"])
        entries = httpx.get(srv.url + "/v1/admin/audit", headers=srv.admin_headers).json()
        start = entries[0]["version"]
        back = httpx.post(f"{srv.url}/v1/admin/versions/{start}/activate",
                          params={"note": "quiet rollback"}, headers=srv.admin_headers)
        assert back.status_code == 200, back.text
        log = srv.log()
    assert re.search(rf"INFO pwguard\.audit: audit action=publish version={start} previous=None "
                     r"actor='pwguard serve'", log), log
    assert re.search(rf"INFO pwguard\.audit: audit action=publish version={old} "
                     rf"previous={start} actor='admin@127\.0\.0\.1' note='quiet publish'", log), log
    assert re.search(rf"INFO pwguard\.audit: audit action=activate version={start} "
                     rf"previous={old} actor='admin@127\.0\.0\.1' note='quiet rollback'", log), log
    # the level still quiets everything else
    assert "INFO pwguard.serve" not in log and "Application startup complete" not in log


@pytest.mark.parametrize(("url", "key"), [
    ("sqlite:///{tmp}/x.db", "{tmp}/x.db.signing-key"),
    ("sqlite+pysqlite:///{tmp}/x.db", "{tmp}/x.db.signing-key"),
    # an SQLite URI names no plain file (file:NAME?options): the key goes to ./.pwguard/
    ("sqlite:///file:{tmp}/x.db?mode=rwc&uri=true", ".pwguard/signing-key"),
    ("postgresql://u@db.example/pwguard", ".pwguard/signing-key"),
])
def test_the_dev_signing_key_lives_beside_an_sqlite_file_else_in_dot_pwguard(tmp_path, url, key):
    settings = Settings(database_url=url.format(tmp=tmp_path), signing_key="")
    assert settings.default_key_path() == Path(key.format(tmp=tmp_path))

"""`pwguard export`: the signed bundle as static files, served by a plain static file server."""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from pwguard.api import export, keys
from pwguard.api.signing import (
    BundleError,
    bundle_etag,
    load_private_key,
    public_key_b64,
    sign_bundle,
    verify_bundle,
)
from pwguard.api.storage import Storage
from pwguard.lint import lint_paths
from pwguard.rules.bundle import payload_bytes, version_of
from pwguard.rules.files import PairWriteError, write_atomic, write_together
from tests.serve import free_port, start_server, wait_until
from tests.server_cases import GOOD_DIR, GOOD_TEXT


@contextmanager
def static_server(root: Path) -> Iterator[str]:
    """`python -m http.server` rooted at `root` (no ETag logic of ours anywhere)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
         "--directory", str(root)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert proc.poll() is None, "http.server exited"
        try:
            httpx.get(url + "/", timeout=1)
        except httpx.HTTPError:
            return False
        return True

    try:
        wait_until(up, 20, "python -m http.server")
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def key_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    assert keys.main(["--out", str(tmp_path / "keys")]) == 0
    capsys.readouterr()
    return tmp_path / "keys"


def run_export(monkeypatch: pytest.MonkeyPatch, argv: list[str], **env: str) -> int:
    for name in [k for k in os.environ if k.startswith("PWGUARD_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return export.main(argv)


def test_a_bad_setting_is_one_line_naming_its_variable_as_serve_says_it(
    tmp_path, monkeypatch, capsys
):
    # it was pydantic's several lines naming the field `workers`
    code = run_export(monkeypatch, ["--out", str(tmp_path / "site")], PWGUARD_WORKERS="abc")
    assert code == 2
    assert capsys.readouterr().err.splitlines() == [
        "pwguard export: PWGUARD_WORKERS: Input should be a valid integer, unable to parse "
        "string as an integer (got 'abc')"]
    assert not (tmp_path / "site").exists()


@pytest.mark.parametrize("from_db", [False, True], ids=["rules-folder", "from-db"])
def test_a_signing_key_pasted_in_a_form_not_read_is_not_echoed(
    tmp_path, monkeypatch, capsys, from_db
):
    # the unpadded base64 seed was printed whole as "no key file at ..."
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    store = Storage(url)
    store.create_schema()
    store.add_version("0123456789abcdef", b"{}", b"{}")
    store.close()
    seed = base64.b64encode(bytes(range(32))).decode().rstrip("=")
    argv = ["--out", str(tmp_path / "site"), *(["--from-db"] if from_db else
                                                 ["--rules", str(GOOD_DIR)])]
    assert run_export(monkeypatch, argv, PWGUARD_SIGNING_KEY=seed,
                      PWGUARD_DATABASE_URL=url) == 2
    err = capsys.readouterr().err
    assert err.startswith("pwguard export: PWGUARD_SIGNING_KEY (43 characters) names no file "
                          "and looks like key material in a form pwguard does not read"), err
    assert len(err.splitlines()) == 1 and seed[8:24] not in err
    assert not (tmp_path / "site").exists()


def test_export_from_a_rules_folder_serves_a_verifiable_bundle_from_a_static_server(
    tmp_path, key_dir, monkeypatch, capsys
):
    out = tmp_path / "site"
    code = run_export(monkeypatch, ["--out", str(out), "--rules", str(GOOD_DIR)],
                      PWGUARD_SIGNING_KEY=str(key_dir / keys.PRIVATE_NAME))
    assert code == 0
    ruleset = lint_paths([GOOD_DIR]).ruleset
    assert ruleset is not None
    printed = capsys.readouterr().out
    assert (out / "v1" / "rules").read_bytes() == (out / "v1" / "rules.json").read_bytes()
    public = (key_dir / keys.PUBLIC_NAME).read_text().strip()
    with static_server(out) as url:
        resp = httpx.get(url + "/v1/rules")
        assert resp.status_code == 200
        assert "etag" not in resp.headers  # nothing but the file itself vouches for it
        payload = verify_bundle(resp.content, public)
        assert json.loads(resp.content)["payload"].encode() == payload_bytes(ruleset)
        assert payload["version"] in printed
        assert httpx.get(url + "/v1/rules.json").content == resp.content
    tampered = bytearray((out / "v1" / "rules").read_bytes())
    tampered[tampered.index(b"Keep mobile")] ^= 0x20
    with pytest.raises(BundleError):
        verify_bundle(bytes(tampered), public)


def fail_second_file_in(folder: Path, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    """The second file the export writes in `folder` fails: its data does not fit (a full
    disk: `write`), or its rename is refused (`rename`). What comes after is left alone."""
    seen: list[str] = []

    def second(path: str) -> bool:
        if Path(path).parent != folder or Path(path).name.startswith(".rules.old"):
            return False
        seen.append(path)
        return len(seen) == 2

    real_fdopen, real_replace = os.fdopen, os.replace

    class Full:
        def __init__(self, fh):  # type: ignore[no-untyped-def]
            self.fh = fh

        def __enter__(self):  # type: ignore[no-untyped-def]
            return self

        def __exit__(self, *exc):  # type: ignore[no-untyped-def]
            self.fh.close()

        def __getattr__(self, name):  # type: ignore[no-untyped-def]
            return getattr(self.fh, name)

        def write(self, data):  # type: ignore[no-untyped-def]
            raise OSError(28, "No space left on device")

    def fdopen(fd, *args, **kwargs):  # type: ignore[no-untyped-def]
        fh = real_fdopen(fd, *args, **kwargs)
        if how == "write" and second(os.readlink(f"/proc/self/fd/{fd}")):
            return Full(fh)
        return fh

    def replace(src, dst):  # type: ignore[no-untyped-def]
        if how == "rename" and Path(src).name.startswith(".rules") and second(str(dst)):
            raise OSError(1, "Operation not permitted")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "fdopen", fdopen)
    monkeypatch.setattr(os, "replace", replace)


@pytest.mark.parametrize("how", ["write", "rename"])
def test_an_export_that_fails_halfway_leaves_the_previous_pair_as_it_was(
    tmp_path, key_dir, monkeypatch, capsys, how
):
    # v1/rules was replaced, then writing v1/rules.json failed (a full disk): a static server
    # served one version at /v1/rules and another at /v1/rules.json
    out, v1 = tmp_path / "site", tmp_path / "site" / "v1"
    v1.mkdir(parents=True)
    (v1 / "rules").write_bytes(b"old bundle\n")
    (v1 / "rules.json").write_bytes(b"old bundle\n")
    env = {"PWGUARD_SIGNING_KEY": str(key_dir / keys.PRIVATE_NAME)}
    with monkeypatch.context() as patched:
        fail_second_file_in(v1, patched, how)
        code = run_export(monkeypatch, ["--out", str(out), "--rules", str(GOOD_DIR)], **env)
    err = capsys.readouterr().err
    assert code == 2, err
    assert (v1 / "rules").read_bytes() == (v1 / "rules.json").read_bytes() == b"old bundle\n"
    assert sorted(p.name for p in v1.iterdir()) == ["rules", "rules.json"]  # no temporary left
    assert err.startswith(f"pwguard export: cannot write to {out}: ")
    assert err.endswith(f"; {v1 / 'rules'} and rules.json are left as they were\n")
    assert run_export(monkeypatch, ["--out", str(out), "--rules", str(GOOD_DIR)], **env) == 0
    assert (v1 / "rules").read_bytes() == (v1 / "rules.json").read_bytes() != b"old bundle\n"


@contextmanager
def renames_failing(monkeypatch: pytest.MonkeyPatch, onto: Path, error: BaseException,
                    put_back_too: bool = False) -> Iterator[None]:
    """os.replace raising `error` for a rename onto `onto` and, with `put_back_too`, for
    putting back a kept old file (`.rules.old-*`) as well."""
    real_replace = os.replace

    def replace(src, dst):  # type: ignore[no-untyped-def]
        if Path(dst) == onto or (put_back_too and Path(src).name.startswith(".rules.old")):
            raise error
        return real_replace(src, dst)

    with monkeypatch.context() as patched:
        patched.setattr(os, "replace", replace)
        yield


def test_a_pair_that_cannot_be_put_back_says_which_file_changed(tmp_path, monkeypatch):
    # the second rename fails, and so does putting the first file back: the error names it
    paths = [tmp_path / "rules", tmp_path / "rules.json"]
    for p in paths:
        p.write_bytes(b"old")
    refused = OSError(1, "Operation not permitted")
    with renames_failing(monkeypatch, paths[1], refused, True), \
            pytest.raises(PairWriteError) as caught:
        write_together(paths, b"new")
    assert caught.value.changed == [paths[0]]
    assert [p.read_bytes() for p in paths] == [b"new", b"old"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rules", "rules.json"]


def test_an_export_whose_pair_cannot_be_put_back_says_which_file_holds_what(
    tmp_path, key_dir, monkeypatch, capsys
):
    out, v1 = tmp_path / "site", tmp_path / "site" / "v1"
    v1.mkdir(parents=True)
    for name in ("rules", "rules.json"):
        (v1 / name).write_bytes(b"old")
    error = OSError(1, "Operation not permitted")
    with renames_failing(monkeypatch, v1 / "rules.json", error, put_back_too=True):
        code = run_export(monkeypatch, ["--out", str(out), "--rules", str(GOOD_DIR)],
                          PWGUARD_SIGNING_KEY=str(key_dir / keys.PRIVATE_NAME))
    assert code == 2
    version = lint_paths([GOOD_DIR]).ruleset
    assert version is not None
    assert capsys.readouterr().err.endswith(
        f"; only {v1 / 'rules'} holds version {version_of(version)} now: run the export again\n")
    assert (v1 / "rules.json").read_bytes() == b"old" != (v1 / "rules").read_bytes()


def test_a_pair_interrupted_between_its_renames_is_put_back(tmp_path, monkeypatch):
    # Ctrl-C (or any exception but OSError) after the first rename left the first file new
    # and the second old, and removed the backup that could have put the first one back
    paths = [tmp_path / "rules", tmp_path / "rules.json"]
    for p in paths:
        p.write_bytes(b"old")
    with renames_failing(monkeypatch, paths[1], KeyboardInterrupt()), \
            pytest.raises(KeyboardInterrupt):
        write_together(paths, b"new")
    assert [p.read_bytes() for p in paths] == [b"old", b"old"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rules", "rules.json"]


def test_a_pair_whose_second_file_links_to_the_first_is_written_once(tmp_path):
    # both names led to the same file: two temporary files and two backups, one of each left
    (tmp_path / "rules").write_bytes(b"old")
    (tmp_path / "rules.json").symlink_to("rules")
    write_together([tmp_path / "rules", tmp_path / "rules.json"], b"new")
    assert (tmp_path / "rules.json").is_symlink() and (tmp_path / "rules").read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rules", "rules.json"]


def test_a_pair_given_as_relative_paths_whose_second_file_links_to_the_first_is_written_once(
    tmp_path, monkeypatch
):
    # (`pwguard export --out public/`): the link was resolved to an absolute path and the
    # other name left relative, so the one file was written, synced and renamed over twice
    (tmp_path / "rules").write_bytes(b"old")
    (tmp_path / "rules.json").symlink_to("rules")
    monkeypatch.chdir(tmp_path)
    renamed: list[str] = []
    real_replace = os.replace

    def replace(src, dst):  # type: ignore[no-untyped-def]
        renamed.append(os.path.realpath(dst))
        return real_replace(src, dst)

    with monkeypatch.context() as patched:
        patched.setattr(os, "replace", replace)
        write_together([Path("rules"), Path("rules.json")], b"new")
    assert renamed == [str((tmp_path / "rules").resolve())]
    assert (tmp_path / "rules.json").is_symlink() and (tmp_path / "rules").read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rules", "rules.json"]


def test_export_from_the_database_is_byte_for_byte_what_the_server_serves(
    tmp_path, monkeypatch, capsys
):
    with start_server(tmp_path / "srv", rules_dir=GOOD_DIR) as srv:
        httpx.put(srv.url + "/v1/admin/rules", headers=srv.admin_headers,
                  content=GOOD_TEXT.replace("Keep connected apps", "Keep every connected app"))
        live = httpx.get(srv.url + "/v1/rules")
        code = run_export(monkeypatch, ["--out", str(tmp_path / "site"), "--from-db"],
                          PWGUARD_DATABASE_URL=srv.database_url)
        assert code == 0, capsys.readouterr().err
    exported = (tmp_path / "site" / "v1" / "rules").read_bytes()
    assert exported == live.content
    with static_server(tmp_path / "site") as url:
        payload = verify_bundle(httpx.get(url + "/v1/rules").content, srv.public_key)
    kid = json.loads(live.content)["key_id"]
    assert live.headers["etag"] == bundle_etag(payload["version"], kid)


def test_export_from_the_database_after_a_key_rotation_signs_with_the_current_key(
    tmp_path, key_dir, monkeypatch, capsys
):
    # as the server does: a version stored under the old key is served signed by the new one
    ruleset = lint_paths([GOOD_DIR]).ruleset
    assert ruleset is not None
    url = f"sqlite:///{tmp_path / 'rotated.db'}"
    store = Storage(url)
    store.create_schema()
    old = Ed25519PrivateKey.generate()
    payload = payload_bytes(ruleset)
    store.add_version(version_of(ruleset), payload, sign_bundle(payload, old), note="", actor="t")
    store.close()
    new = key_dir / keys.PRIVATE_NAME
    code = run_export(monkeypatch, ["--out", str(tmp_path / "site"), "--from-db"],
                      PWGUARD_DATABASE_URL=url, PWGUARD_SIGNING_KEY=str(new))
    assert code == 0, capsys.readouterr().err
    exported = (tmp_path / "site" / "v1" / "rules").read_bytes()
    new_public = public_key_b64(load_private_key(str(new)))
    assert verify_bundle(exported, new_public)["version"] == version_of(ruleset)


def test_export_takes_a_rules_file_as_lint_and_bundle_do(tmp_path, key_dir, monkeypatch, capsys):
    # it said "rules folder ... not found" for a file that exists
    rule_file = next(GOOD_DIR.glob("*.yaml"))
    code = run_export(monkeypatch, ["--out", str(tmp_path / "site"), "--rules", str(rule_file)],
                      PWGUARD_SIGNING_KEY=str(key_dir / keys.PRIVATE_NAME))
    assert code == 0, capsys.readouterr().err
    ruleset = lint_paths([rule_file]).ruleset
    assert ruleset is not None
    public = (key_dir / keys.PUBLIC_NAME).read_text().strip()
    exported = (tmp_path / "site" / "v1" / "rules").read_bytes()
    assert verify_bundle(exported, public)["version"] == version_of(ruleset)


def test_export_refuses_rules_with_lint_errors_and_writes_nothing(
    tmp_path, key_dir, monkeypatch, capsys
):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "bad.yaml").write_text(GOOD_TEXT.replace("id: keep-app-sessions", "id: Bad Id"))
    code = run_export(monkeypatch, ["--out", str(tmp_path / "site"), "--rules", str(rules)],
                      PWGUARD_SIGNING_KEY=str(key_dir / keys.PRIVATE_NAME))
    assert code == 1
    err = capsys.readouterr().err
    assert "bad.yaml:" in err and "S004" in err and "nothing written" in err
    assert not (tmp_path / "site").exists()


def test_export_of_a_rule_file_it_cannot_read_exits_2_as_lint_does(
    tmp_path, key_dir, monkeypatch, capsys
):
    # it exited 1 (lint findings) where `pwguard lint` exits 2 (an I/O error)
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "good.yaml").write_text(GOOD_TEXT)
    (rules / "r.yaml").symlink_to(tmp_path / "gone.yaml")
    code = run_export(monkeypatch, ["--out", str(tmp_path / "site"), "--rules", str(rules)],
                      PWGUARD_SIGNING_KEY=str(key_dir / keys.PRIVATE_NAME))
    assert code == 2
    err = capsys.readouterr().err
    assert " F001 cannot read r.yaml: broken symbolic link" in err
    assert f"pwguard export: cannot read the rules in {rules} (F001 above); nothing written" in err
    assert not (tmp_path / "site").exists()


def test_export_from_an_empty_or_foreign_database_says_what_to_do(tmp_path, monkeypatch, capsys):
    empty = Storage(f"sqlite:///{tmp_path / 'empty.db'}")
    empty.create_schema()
    empty.close()
    code = run_export(monkeypatch, ["--out", str(tmp_path / "site"), "--from-db"],
                      PWGUARD_DATABASE_URL=f"sqlite:///{tmp_path / 'empty.db'}")
    assert code == 2
    assert "no active version" in capsys.readouterr().err
    with sqlite3.connect(tmp_path / "other.db") as conn:
        conn.execute("CREATE TABLE t (x)")
    code = run_export(monkeypatch, ["--out", str(tmp_path / "site"), "--from-db"],
                      PWGUARD_DATABASE_URL=f"sqlite:///{tmp_path / 'other.db'}")
    assert code == 2
    err = capsys.readouterr().err
    assert "cannot read" in err and "pwguard serve" in err and "Traceback" not in err
    assert not (tmp_path / "site").exists()


def test_export_from_a_foreign_empty_or_non_sqlite_file_leaves_it_as_it_was(
    tmp_path, monkeypatch, capsys
):
    # reading it, export switched another application's SQLite database to WAL mode (and made
    # an empty file a database): a command that only reads must not write
    with sqlite3.connect(tmp_path / "other.db") as conn:
        conn.execute("CREATE TABLE t (x)")
    conn.close()
    (tmp_path / "empty.db").write_bytes(b"")
    (tmp_path / "notes.db").write_text("not a database\n")
    expected = {
        "other.db": "(no such table: pwguard_active); is it the database a `pwguard serve` ran "
                    "on?",
        "empty.db": "is empty, not the database of a pwguard server: point PWGUARD_DATABASE_URL "
                    "at the database `pwguard serve` runs on",
        "notes.db": "is not an SQLite database",
    }
    for name, said in expected.items():
        before = (tmp_path / name).read_bytes()
        code = run_export(monkeypatch, ["--out", str(tmp_path / "site"), "--from-db"],
                          PWGUARD_DATABASE_URL=f"sqlite:///{tmp_path / name}")
        err = capsys.readouterr().err
        assert code == 2 and said in err and "Traceback" not in err, err
        assert (tmp_path / name).read_bytes() == before
        assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(name)) == [name]
    assert not (tmp_path / "site").exists()


def test_export_from_a_missing_database_file_says_so_and_creates_nothing(
    tmp_path, monkeypatch, capsys
):
    code = run_export(monkeypatch, ["--out", str(tmp_path / "site"), "--from-db"],
                      PWGUARD_DATABASE_URL=f"sqlite:///{tmp_path / 'typo.db'}")
    assert code == 2
    assert f"no database file at {tmp_path / 'typo.db'}" in capsys.readouterr().err
    assert not (tmp_path / "typo.db").exists() and not (tmp_path / "site").exists()


@pytest.mark.parametrize("from_db", [True, False], ids=["from-db", "from-rules"])
@pytest.mark.parametrize(
    ("url", "expected"),
    [("mysql://u@localhost/db", "database 'mysql' is not supported"),
     ("postgresql+psycopg2://u@localhost/db", "database 'postgresql+psycopg2' is not supported"),
     ("::", "is not a database URL")],
    ids=["mysql", "psycopg2", "unparsable"],
)
def test_export_with_an_unusable_database_url_names_it_and_the_fix(
    tmp_path, monkeypatch, capsys, url, expected, from_db
):
    argv = ["--out", str(tmp_path / "site")]
    argv += ["--from-db"] if from_db else ["--rules", str(GOOD_DIR)]
    assert run_export(monkeypatch, argv, PWGUARD_DATABASE_URL=url) == 2
    err = capsys.readouterr().err
    assert expected in err and "PWGUARD_DATABASE_URL" in err and "sqlite:///path.db" in err
    assert not (tmp_path / "site").exists()


def test_export_errors_never_show_the_database_password(tmp_path, monkeypatch, capsys):
    url = "postgresql://pwguard:s3cret@127.0.0.1:1/pwguard"
    code = run_export(monkeypatch, ["--out", str(tmp_path / "site"), "--from-db"],
                      PWGUARD_DATABASE_URL=url)
    assert code == 2
    err = capsys.readouterr().err
    assert "cannot read 'postgresql://pwguard:***@127.0.0.1:1/pwguard'" in err
    assert "s3cret" not in err


@pytest.mark.parametrize("from_db", [True, False], ids=["from-db", "from-rules"])
def test_export_with_a_bad_database_url_option_names_the_setting_without_a_traceback(
    tmp_path, monkeypatch, capsys, from_db
):
    url = f"sqlite:///{tmp_path / 'x.db'}?timeout=abc"
    argv = ["--out", str(tmp_path / "site")]
    argv += ["--from-db"] if from_db else ["--rules", str(GOOD_DIR)]
    assert run_export(monkeypatch, argv, PWGUARD_DATABASE_URL=url) == 2
    assert capsys.readouterr().err == (
        f"pwguard export: PWGUARD_DATABASE_URL {url!r} cannot be used (could not convert string "
        "to float: 'abc'): fix or remove the options after `?`\n")
    assert not (tmp_path / "site").exists()


@pytest.mark.parametrize("write", ["atomic", "together"])
def test_new_files_are_on_disk_before_their_rename_and_the_rename_after_it(
    tmp_path, monkeypatch, write
):
    # a power loss must leave the old file or the new one: the data synced before the rename
    # (else a renamed, empty file), the folder after it (else the rename may be lost)
    target = tmp_path / "v1" / "rules"
    synced: list[tuple[str, bytes | None]] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        kind = "folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file"
        synced.append((kind, target.read_bytes() if target.exists() else None))
        real_fsync(fd)

    with monkeypatch.context() as patched:
        patched.setattr(os, "fsync", fsync)
        if write == "atomic":
            write_atomic(target, b"new")
        else:
            write_together([target, target.with_name("rules.json")], b"new")
    files = 1 if write == "atomic" else 2
    assert synced == [("file", None)] * files + [("folder", b"new")], synced

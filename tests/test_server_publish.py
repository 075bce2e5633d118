"""`pwguard publish DIR --server URL` on a real server: exit codes 0/1/2, lint-format output."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import uvicorn
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI

from pwguard.api import publish
from pwguard.api.app import create_app
from pwguard.api.settings import Settings
from pwguard.api.storage import Storage
from pwguard.lint import lint_paths
from pwguard.rules import loader
from pwguard.rules.bundle import MAX_SIGNED_BYTES, payload_bytes, signed_size, version_of
from tests.certs import CertFiles, make_cert
from tests.serve import (
    ROOT,
    RunningServer,
    free_port,
    server_fixture,
    start_server,
    wait_until,
)
from tests.server_cases import GOOD_DIR, GOOD_TEXT, check_bundle, variant

publish_server = server_fixture("module", rules_dir=GOOD_DIR)


def run(monkeypatch: pytest.MonkeyPatch, token: str | None, *argv: str) -> int:
    if token is None:
        monkeypatch.delenv("PWGUARD_ADMIN_TOKEN", raising=False)
    else:
        monkeypatch.setenv("PWGUARD_ADMIN_TOKEN", token)
    return publish.main(list(argv))


def served_version(server: RunningServer) -> str:
    return str(check_bundle(httpx.get(server.url + "/v1/rules"), server.public_key)["version"])


def two_files(folder: Path, n: int, first: tuple[str, str] = ("", ""),
              second: tuple[str, str] = ("", "")) -> tuple[Path, Path]:
    """variant(n) split into two rule files, each with one (old, new) text replaced."""
    head, tail = variant(n).split("  - id: keep-connected-apps")
    paths = folder / "a.yaml", folder / "b.yaml"
    paths[0].write_text(head.replace(*first), "utf-8")
    paths[1].write_text(("rules:\n  - id: keep-connected-apps" + tail).replace(*second), "utf-8")
    return paths


def line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text("utf-8").splitlines(), 1)
                if text in line)


def test_publish_a_folder_makes_its_version_active(publish_server, tmp_path, monkeypatch, capsys):
    (tmp_path / "r.yaml").write_text(variant(21))
    code = run(monkeypatch, publish_server.admin_token, str(tmp_path),
               "--server", publish_server.url + "/", "--note", "from the cli")
    assert code == 0, capsys.readouterr().err
    ruleset = lint_paths([tmp_path]).ruleset
    assert ruleset is not None
    version = version_of(ruleset)
    assert f"published {version} (new version)" in capsys.readouterr().out
    assert served_version(publish_server) == version
    listed = httpx.get(publish_server.url + "/v1/admin/versions",
                       headers=publish_server.admin_headers).json()
    assert [v["note"] for v in listed if v["version"] == version] == ["from the cli"]


def test_publish_merges_several_rule_files_into_one_ruleset(
    publish_server, tmp_path, monkeypatch, capsys
):
    doc = yaml.safe_load(variant(22))
    for i, rule in enumerate(doc["rules"]):
        (tmp_path / f"{i}.yaml").write_text(yaml.safe_dump({"rules": [rule]}, allow_unicode=True))
    assert run(monkeypatch, publish_server.admin_token, str(tmp_path),
               "--server", publish_server.url) == 0, capsys.readouterr().err
    ruleset = lint_paths([tmp_path]).ruleset
    assert ruleset is not None and len(ruleset.rules) == 2
    assert served_version(publish_server) == version_of(ruleset)


def test_publish_sends_the_files_lint_and_serve_read_and_no_others(
    publish_server, tmp_path, monkeypatch, capsys
):
    # `pwguard lint DIR` and `pwguard serve --rules DIR` read *.yaml/*.yml only (a rules
    # folder holds schema.json): publish must not add the folder's JSON files to the ruleset
    (tmp_path / "r.yaml").write_text(variant(23))
    doc = yaml.safe_load(variant(24))
    for rule in doc["rules"]:
        rule["id"] += "-extra"
    (tmp_path / "extra.json").write_text(json.dumps(doc))
    shutil.copy(ROOT / "rules" / "schema.json", tmp_path / "schema.json")
    assert run(monkeypatch, publish_server.admin_token, str(tmp_path),
               "--server", publish_server.url) == 0, capsys.readouterr().err
    ruleset = lint_paths([tmp_path]).ruleset
    assert ruleset is not None and len(ruleset.rules) == 2
    assert served_version(publish_server) == version_of(ruleset)


def test_publish_of_several_files_sends_the_rules_lint_checked(
    publish_server, tmp_path, monkeypatch, capsys
):
    # merged with yaml.safe_load, `no:` (Norwegian) became False (the server refused: M006)
    # and an escaped emoji made a UnicodeEncodeError traceback
    spanish = '      es: "Esta casilla cerraría'
    two_files(tmp_path, 51,
              first=(spanish, f'      no: "Denne boksen logger deg ut."\n{spanish}'),
              second=("Revoke them one by one instead.", "Revoke them one by one \\ud83d\\ude00."))
    result = lint_paths([tmp_path])
    assert result.ruleset is not None and not result.errors
    assert run(monkeypatch, publish_server.admin_token, str(tmp_path),
               "--server", publish_server.url) == 0, capsys.readouterr().err
    payload = check_bundle(httpx.get(publish_server.url + "/v1/rules"), publish_server.public_key)
    assert payload["version"] == version_of(result.ruleset)
    first, second = payload["rules"]
    assert first["message"]["no"] == "Denne boksen logger deg ut."
    assert second["message"]["en"].endswith("Revoke them one by one \U0001f600.")


def test_publish_of_several_files_keeps_their_silencing_comments(
    publish_server, tmp_path, monkeypatch, capsys
):
    # `pwguard lint` honours `# pwguard: ignore[...]`; a merged body without them was refused
    two_files(tmp_path, 52, first=(
        "method: PUT", "method: GET  # pwguard: ignore[R001] this endpoint takes GET here"))
    assert not lint_paths([tmp_path]).errors
    assert run(monkeypatch, publish_server.admin_token, str(tmp_path),
               "--server", publish_server.url) == 0, capsys.readouterr().err
    payload = check_bundle(httpx.get(publish_server.url + "/v1/rules"), publish_server.public_key)
    assert payload["rules"][0]["request"]["method"] == "GET"


def test_server_findings_on_several_files_point_at_the_users_file_and_line(
    publish_server, tmp_path, monkeypatch, capsys
):
    # the server's page legacy/en.html is not the folder's: clean locally, E002 on the server
    page = tmp_path / "fixtures" / "legacy" / "en.html"
    page.parent.mkdir(parents=True)
    shutil.copy(ROOT / "rules" / "fixtures" / "change-password" / "ar.2024.html", page)
    first, _ = two_files(tmp_path, 53, first=(
        '    help: "https://{host}/u/h#sessions"\n',
        '    help: "https://{host}/u/h#sessions"\n    examples:\n      match:\n'
        "        - legacy/en.html\n"))
    assert not lint_paths([tmp_path]).errors
    assert run(monkeypatch, publish_server.admin_token, str(tmp_path),
               "--server", publish_server.url) == 1
    err = capsys.readouterr().err
    line = line_of(first, "- legacy/en.html")
    assert re.search(rf"^{re.escape(str(first))}:{line}:11: E002 ", err, re.M), err
    assert "request.json" not in err and "Traceback" not in err


def test_publish_with_local_lint_errors_exits_1_and_sends_nothing(
    publish_server, tmp_path, monkeypatch, capsys
):
    before = served_version(publish_server)
    (tmp_path / "r.yaml").write_text(GOOD_TEXT.replace("action: block", "action: blok"))
    assert run(monkeypatch, publish_server.admin_token, str(tmp_path),
               "--server", publish_server.url) == 1
    err = capsys.readouterr().err
    assert f"{tmp_path / 'r.yaml'}:" in err and " S003 " in err and "nothing sent" in err
    assert served_version(publish_server) == before


def test_publish_refused_by_the_server_prints_its_findings_and_exits_1(
    publish_server, tmp_path, monkeypatch, capsys
):
    # Examples resolve in the folder's own fixtures locally; the server has a different page
    # under the same name, which the rule does not match: the server's linter refuses (E002)
    # and publish shows its findings.
    page = tmp_path / "fixtures" / "legacy" / "en.html"
    page.parent.mkdir(parents=True)
    shutil.copy(ROOT / "rules" / "fixtures" / "change-password" / "ar.2024.html", page)
    text = GOOD_TEXT.replace(
        '    help: "https://{host}/u/h#sessions"\n  - id: keep-connected-apps',
        '    help: "https://{host}/u/h#sessions"\n'
        "    examples:\n      match: [legacy/en.html]\n  - id: keep-connected-apps")
    assert "legacy/en.html" in text
    (tmp_path / "r.yaml").write_text(text)
    assert not lint_paths([tmp_path]).errors  # clean locally
    before = served_version(publish_server)
    assert run(monkeypatch, publish_server.admin_token, str(tmp_path),
               "--server", publish_server.url) == 1
    err = capsys.readouterr().err
    assert " E002 " in err and "r.yaml:" in err and "the server refused the rules" in err
    # the server's warnings are marked as the local ones are (E004: printed by both)
    warnings = [line for line in err.splitlines() if " E004 " in line]
    assert len(warnings) == 2 and all(line.endswith(" (warning)") for line in warnings), err
    assert served_version(publish_server) == before


@pytest.mark.parametrize(
    ("token", "server", "expected"),
    [(None, "ok", "set PWGUARD_ADMIN_TOKEN"),
     ("wrong", "ok", "refused the token"),
     ("x", "down", "cannot reach")],
    ids=["no-token", "wrong-token", "server-down"],
)
def test_publish_usage_and_connection_problems_exit_2(
    publish_server, tmp_path, monkeypatch, capsys, token, server, expected
):
    (tmp_path / "r.yaml").write_text(variant(23))
    url = publish_server.url if server == "ok" else f"http://127.0.0.1:{free_port()}"
    assert run(monkeypatch, token, str(tmp_path), "--server", url, "--timeout", "5") == 2
    assert expected in capsys.readouterr().err


def test_publish_to_a_server_started_without_an_admin_token_says_so(
    tmp_path, monkeypatch, capsys
):
    # `make run` starts one: the token sent is not what is wrong, the server has none
    (tmp_path / "r.yaml").write_text(variant(24))
    with start_server(tmp_path / "srv", GOOD_DIR, {"PWGUARD_ADMIN_TOKEN": ""}) as srv:
        assert run(monkeypatch, "any-token", str(tmp_path), "--server", srv.url) == 2
    err = capsys.readouterr().err
    assert "the server's admin API is off (it was started without PWGUARD_ADMIN_TOKEN)" in err
    assert "refused the token" not in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("path", "expected"),
    [("/v1/rules", "--server is the server's base URL, without /v1/rules: pass --server {url}"),
     ("/v1/", "--server is the server's base URL, without /v1: pass --server {url}"),
     ("/pwguard", "is {url}/pwguard a pwguard server (`pwguard serve`, whose "
      "{url}/pwguard/v1/rules is the bundle)? --server is its base URL")],
    ids=["rules-url", "v1", "other-path"],
)
def test_a_server_url_with_a_path_that_answers_404_says_which_url_to_give(
    publish_server, tmp_path, monkeypatch, capsys, path, expected
):
    (tmp_path / "r.yaml").write_text(variant(26))
    before = served_version(publish_server)
    assert run(monkeypatch, publish_server.admin_token, str(tmp_path), "--server",
               publish_server.url + path) == 2
    err = capsys.readouterr().err
    assert "answered 404" in err and expected.format(url=publish_server.url) in err, err
    assert served_version(publish_server) == before


def test_publish_by_a_user_with_a_non_ascii_name_records_it_as_the_actor(
    publish_server, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("USER", "José Müller")
    (tmp_path / "r.yaml").write_text(variant(25))
    assert run(monkeypatch, publish_server.admin_token, str(tmp_path), "--server",
               publish_server.url, "--note", "señal") == 0, capsys.readouterr().err
    version = served_version(publish_server)
    listed = httpx.get(publish_server.url + "/v1/admin/versions",
                       headers=publish_server.admin_headers).json()
    assert [(v["actor"], v["note"]) for v in listed if v["version"] == version] == [
        ("José Müller@127.0.0.1", "señal")]


def test_publish_with_a_non_ascii_token_says_so(tmp_path, monkeypatch, capsys):
    (tmp_path / "r.yaml").write_text(variant(23))
    assert run(monkeypatch, "tökén", str(tmp_path), "--server", "http://127.0.0.1:1") == 2
    err = capsys.readouterr().err
    assert "PWGUARD_ADMIN_TOKEN has non-ASCII characters" in err and "Traceback" not in err


def test_publish_refuses_a_note_the_server_would_refuse(tmp_path, monkeypatch, capsys):
    (tmp_path / "r.yaml").write_text(variant(23))
    assert run(monkeypatch, "t", str(tmp_path), "--server", "http://127.0.0.1:1",
               "--note", "x" * 501) == 2
    assert "--note is limited to 500 characters" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [(["--server", "http://[::1"], "--server 'http://[::1' is not a URL"),
     (["--server", "localhost:8080"], "--server 'localhost:8080' is not a URL"),
     (["--server", "ftp://rules.corp"], "--server 'ftp://rules.corp' is not a URL"),
     (["--server", "http://127.0.0.1:1", "--timeout", "nan"], "--timeout"),
     (["--server", "http://127.0.0.1:1", "--timeout", "-1"], "--timeout")],
    ids=["bad-port", "no-scheme", "ftp", "timeout-nan", "timeout-negative"],
)
def test_publish_with_a_bad_server_url_or_timeout_exits_2_without_a_traceback(
    tmp_path, monkeypatch, capsys, argv, expected
):
    (tmp_path / "r.yaml").write_text(variant(23))
    assert run(monkeypatch, "t", str(tmp_path), *argv) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("server", "expected"),
    [("http://127.0.0.1:18600/?tenant=a",
      "--server 'http://127.0.0.1:18600/?tenant=a' has a query (?...): give the server's base "
      "URL without it, e.g. http://127.0.0.1:18600"),
     ("https://rules.corp/#top",
      "--server 'https://rules.corp/#top' has a fragment (#...): give the server's base URL "
      "without it, e.g. https://rules.corp"),
     ("http://127.0.0.1:99999",
      "--server 'http://127.0.0.1:99999': port 99999 is not a port (1-65535): give the port "
      "the server listens on"),
     ("http://127.0.0.1:0",
      "--server 'http://127.0.0.1:0': port 0 is not a port (1-65535): give the port the "
      "server listens on"),
     ("http://127.0.0.1:8080/?", "--server 'http://127.0.0.1:8080/?' has a query (?...): "
      "give the server's base URL without it, e.g. http://127.0.0.1:8080")],
    ids=["query", "fragment", "port-too-large", "port-0", "empty-query"],
)
def test_publish_refuses_a_server_url_it_would_send_somewhere_else(
    tmp_path, monkeypatch, capsys, server, expected
):
    # the query was glued before /v1/admin/rules (PUT http://host/?tenant=a/v1/admin/rules: a
    # 404 "is http://host/?tenant=a a pwguard server?"), and port 99999 "connection refused"
    (tmp_path / "r.yaml").write_text(variant(23))
    monkeypatch.setattr(publish.httpx, "put", lambda *a, **k: pytest.fail("sent"))
    assert run(monkeypatch, "t", str(tmp_path), "--server", server) == 2
    assert capsys.readouterr().err == f"pwguard publish: {expected}\n"


def test_publish_of_a_missing_folder_exits_2(monkeypatch, capsys, tmp_path: Path):
    assert run(monkeypatch, "t", str(tmp_path / "nope"), "--server", "http://127.0.0.1:1") == 2
    assert "not found" in capsys.readouterr().err


def test_publish_of_a_rule_file_it_cannot_read_exits_2_as_lint_does(
    monkeypatch, capsys, tmp_path: Path
):
    # it exited 1 (lint findings) where `pwguard lint` exits 2 (an I/O error); nothing is sent
    (tmp_path / "r.yaml").write_text(variant(29))
    (tmp_path / "s.yaml").symlink_to(tmp_path / "gone.yaml")
    assert run(monkeypatch, "t", str(tmp_path), "--server", "http://127.0.0.1:1") == 2
    err = capsys.readouterr().err
    assert " F001 cannot read s.yaml: broken symbolic link" in err
    assert f"pwguard publish: cannot read the rules in {tmp_path} (F001 above); nothing sent" in err


def test_a_request_the_server_refuses_is_shown_with_its_message_and_exits_2(
    publish_server, tmp_path, capsys
):
    # publish refuses long notes itself; a server with a tighter limit (or an older
    # client) answers 422 with the lint-refusal shape and no findings
    before = served_version(publish_server)
    url = publish_server.url + "/v1/admin/rules"
    resp = httpx.put(url, params={"note": "n" * 731}, content=variant(37).encode(),
                     headers=publish_server.admin_headers, timeout=30)
    assert resp.status_code == 422
    assert publish.report(resp, url) == 2
    err = capsys.readouterr().err
    assert err == ("pwguard publish: the server refused the request: query parameter note: "
                   "at most 500 characters (got 731); shorten it (nothing changed)\n")
    assert served_version(publish_server) == before


@contextmanager
def answering(status: int, body: object = None, headers: dict[str, str] | None = None,
              tls: CertFiles | None = None, puts: list[str] | None = None) -> Iterator[str]:
    """A real HTTP server on a free loopback port that answers every PUT with `status`, the
    JSON of `body` (bytes: as they are, as HTML) and `headers` (over TLS with `tls`); yields
    its base URL. Each PUT's path is appended to `puts`."""
    data = body if isinstance(body, bytes) else b"" if body is None else json.dumps(body).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if puts is not None:
                puts.append(self.path)
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type",
                             "text/html" if isinstance(body, bytes) else "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls.cert, tls.key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_odd_findings_in_a_422_are_shown_as_far_as_they_go_without_a_traceback(
    tmp_path, monkeypatch, capsys
):
    (tmp_path / "r.yaml").write_text(variant(61))
    findings = [{"code": "X001"}, "not an object", 7, None,
                {"code": "X002", "path": "request.yaml", "line": "3", "col": 4, "message": "m"}]
    detail = {"message": "rules rejected", "findings": findings}
    with answering(422, {"detail": detail}) as url:
        assert run(monkeypatch, "t", str(tmp_path), "--server", url) == 1
    err = capsys.readouterr().err
    assert "request: X001 (no message)" in err  # no line: line 0 is not shown
    assert f"{tmp_path / 'r.yaml'}: X002 m" in err  # the line was not a number
    assert "3 finding(s) in the server's answer are not objects" in err
    assert "the server refused the rules: rules rejected" in err and "Traceback" not in err


def test_an_html_error_page_is_told_in_one_line_by_its_title(tmp_path, monkeypatch, capsys):
    # nginx serving a static export answers a PUT with its HTML 405 page
    (tmp_path / "r.yaml").write_text(variant(67))
    page = (b"<html>\r\n<head><title>405 Not Allowed</title></head>\r\n<body>\r\n"
            b"<center><h1>405 Not Allowed</h1></center>\r\n</body>\r\n</html>\r\n")
    with answering(405, page) as url:
        assert run(monkeypatch, "t", str(tmp_path), "--server", url) == 2
    err = capsys.readouterr().err
    assert "<" not in err, err
    assert f"pwguard publish: {url}/v1/admin/rules answered 405: 405 Not Allowed; is {url} a " \
        "pwguard server" in err, err


@pytest.mark.parametrize(
    ("headers", "expected"),
    [({"Location": "https://{host}/v1/admin/rules?actor=me"},
      "answered 301, a redirect to https://{host}/v1/admin/rules; publish does not follow "
      "redirects (the rules and the token would go to another address): pass "
      "--server https://{host}"),
     ({}, "answered 301 (a redirect) without saying where: pass --server with the server's "
      "final base URL (https:// if it has one)")],
    ids=["to-https", "no-location"],
)
def test_a_redirect_names_where_it_goes_and_the_server_url_to_give(
    tmp_path, monkeypatch, capsys, headers, expected
):
    (tmp_path / "r.yaml").write_text(variant(62))
    with answering(301, None, {"Location": "https://127.0.0.1:1/v1/admin/rules?actor=me"}
                   if headers else {}) as url:
        assert run(monkeypatch, "t", str(tmp_path), "--server", url) == 2
    err = capsys.readouterr().err
    assert expected.format(host="127.0.0.1:1") in err, err


def test_a_certificate_from_an_unknown_ca_names_ssl_cert_file(tmp_path, monkeypatch, capsys):
    (tmp_path / "r.yaml").write_text(variant(64))
    cert = make_cert(tmp_path / "tls", ["rules.corp"])
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    with answering(200, {"version": "v", "changed": False}, tls=cert) as url:
        assert run(monkeypatch, "t", str(tmp_path), "--server", url) == 2
        err = capsys.readouterr().err
        assert "CERTIFICATE_VERIFY_FAILED" in err and "set SSL_CERT_FILE to that CA's PEM" in err
        monkeypatch.setenv("SSL_CERT_FILE", str(cert.cert))  # the fix it names works
        assert run(monkeypatch, "t", str(tmp_path), "--server", url) == 0


@pytest.mark.parametrize(
    ("server", "warned"),
    [("http://192.0.2.1:9", True), ("http://rules.corp.invalid", True),
     ("http://127.0.0.1:9", False), ("http://localhost:9", False), ("http://[::1]:9", False),
     ("https://192.0.2.1:9", False)],
)
def test_plain_http_to_another_machine_is_warned_about(
    tmp_path, monkeypatch, capsys, server, warned
):
    (tmp_path / "r.yaml").write_text(variant(66))
    assert run(monkeypatch, "t", str(tmp_path), "--server", server, "--timeout", "0.5") == 2
    err = capsys.readouterr().err
    assert ("the admin token and the rules travel in clear" in err) == warned, err


def test_https_to_the_plain_http_server_says_it_speaks_http(
    publish_server, tmp_path, monkeypatch, capsys
):
    (tmp_path / "r.yaml").write_text(variant(65))
    url = publish_server.url.replace("http://", "https://")
    assert run(monkeypatch, publish_server.admin_token, str(tmp_path), "--server", url) == 2
    err = capsys.readouterr().err
    assert "cannot reach" in err and "the server answers plain HTTP there" in err, err


@pytest.mark.parametrize("token", ["tok\nSECRET123", "tok\x01SECRET123", "tok\rSECRET123"],
                         ids=["line-feed", "control", "carriage-return"])
def test_a_token_with_a_line_break_or_control_character_is_named_never_printed(
    publish_server, tmp_path, monkeypatch, capsys, token
):
    (tmp_path / "r.yaml").write_text(variant(63))
    before = served_version(publish_server)
    assert run(monkeypatch, token, str(tmp_path), "--server", publish_server.url) == 2
    err = capsys.readouterr().err
    assert "PWGUARD_ADMIN_TOKEN contains a line break or another control character" in err
    assert "SECRET123" not in err and "cannot reach" not in err
    assert served_version(publish_server) == before


def test_publishing_the_active_version_again_says_nothing_changed(
    publish_server, tmp_path, monkeypatch, capsys
):
    (tmp_path / "r.yaml").write_text(variant(64))
    token, url = publish_server.admin_token, publish_server.url
    assert run(monkeypatch, token, str(tmp_path), "--server", url, "--note", "first") == 0
    version = served_version(publish_server)
    assert capsys.readouterr().out == (
        f"published {version} (new version): now active, served at {url}/v1/rules\n")
    audit = httpx.get(url + "/v1/admin/audit", headers=publish_server.admin_headers).json()
    assert run(monkeypatch, token, str(tmp_path), "--server", url, "--note", "again") == 0
    assert capsys.readouterr().out == (
        f"already active: {version} is what {url}/v1/rules serves; nothing changed (nothing "
        "recorded, the note included)\n")
    assert httpx.get(url + "/v1/admin/audit", headers=publish_server.admin_headers).json() \
        == audit


def test_a_lint_clean_file_at_the_loaders_size_limit_is_accepted_by_a_default_server(
    publish_server, tmp_path, monkeypatch, capsys
):
    # the loader takes files up to 1 MiB; the server refused bodies over 1,000,000 bytes (413)
    text = variant(65)
    pad = "# " + "x" * 98 + "\n"
    text += pad * ((loader.MAX_BYTES - len(text.encode())) // len(pad))
    (tmp_path / "r.yaml").write_text(text)
    assert 1_000_000 < len(text.encode()) <= loader.MAX_BYTES
    assert not lint_paths([tmp_path]).errors
    assert run(monkeypatch, publish_server.admin_token, str(tmp_path),
               "--server", publish_server.url) == 0, capsys.readouterr().err


def test_several_files_of_multibyte_text_near_the_extensions_limit_are_accepted(
    publish_server, tmp_path, monkeypatch, capsys
):
    # merged into one request, the files' text may take up to 4 bytes a character: the
    # server's body limit must not refuse rules the linter and the extension take (their
    # signed bundle just under the extension's limit, F009)
    why = "why: Ticking it signs out every Zoho app"
    long_why = f"{why} {'€' * 165_000}"
    two_files(tmp_path, 66, first=(why, long_why), second=("why: Ticking it", long_why))
    result = lint_paths([tmp_path])
    assert result.ruleset is not None and not result.errors, result.errors
    size = signed_size(payload_bytes(result.ruleset))
    assert 0.9 * MAX_SIGNED_BYTES < size <= MAX_SIGNED_BYTES, size
    assert run(monkeypatch, publish_server.admin_token, str(tmp_path),
               "--server", publish_server.url) == 0, capsys.readouterr().err
    assert served_version(publish_server) == version_of(result.ruleset)


def test_several_files_too_large_for_the_extension_are_refused_before_sending(
    tmp_path, monkeypatch, capsys
):
    # together over the extension's limit (each file well under the linter's F003)
    long_why = f"why: Ticking it signs out every Zoho app {'x' * 600_000}"
    two_files(tmp_path, 67, first=("why: Ticking it signs out every Zoho app", long_why),
              second=("why: Ticking it", long_why))
    assert run(monkeypatch, "t", str(tmp_path), "--server", "http://127.0.0.1:1") == 1
    err = capsys.readouterr().err
    assert re.search(r"[ab]\.yaml:\d+:\d+: F009 the rules sign to a \d+-byte bundle, over the "
                     rf"extension's {MAX_SIGNED_BYTES}-byte limit", err), err
    assert "could not reach" not in err and "nothing sent" in err, err


@contextmanager
def uvicorn_serving(app: FastAPI) -> Iterator[str]:
    """Real uvicorn serving `app` over real HTTP, in a thread, on a loopback port; yields its
    base URL. (For a server built on a Storage made here: `pwguard serve` waits 30 s for an
    SQLite lock before it answers 503.)"""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started or not thread.is_alive(), 30, "uvicorn to start")
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


def publish_process(rules: Path, server: str, token: str) -> subprocess.Popen[str]:
    """`pwguard publish RULES --server SERVER` as a process, its output piped."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PWGUARD_")},
           "PWGUARD_ADMIN_TOKEN": token,
           "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT / "server"),
                                                     os.environ.get("PYTHONPATH", "")) if p)}
    return subprocess.Popen([sys.executable, "-m", "pwguard.cli", "publish", str(rules),
                             "--server", server], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def read_until(proc: subprocess.Popen[str], text: str) -> list[str]:
    """Lines of the process's stderr up to the first holding `text` (each read waits for the
    next line); fails with what it said if it ends first."""
    assert proc.stderr is not None
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if text in line:
            return lines
    proc.wait(30)
    raise AssertionError(f"publish exited {proc.returncode} without saying {text!r}:\n"
                         + "".join(lines))


TOKEN = "publish-retry-token-0123456789"


def test_publish_on_a_locked_database_waits_as_the_server_advises_and_then_publishes(tmp_path):
    # it printed the 503 and exited 2, though the server said when to retry (Retry-After)
    db = tmp_path / "pwguard.db"
    url = f"sqlite:///{db}"
    store = Storage(url, busy_timeout_ms=200)
    store.create_schema()
    app = create_app(Settings(database_url=url, admin_token=TOKEN, rules_dir=""), storage=store,
                     key=Ed25519PrivateKey.generate())
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.yaml").write_text(variant(81))
    ruleset = lint_paths([rules]).ruleset
    assert ruleset is not None
    version = version_of(ruleset)
    holder = sqlite3.connect(db, isolation_level=None)
    with uvicorn_serving(app) as server:
        holder.execute("BEGIN IMMEDIATE")  # the write lock, as another process would hold it
        with publish_process(rules, server, TOKEN) as proc:
            try:
                said = read_until(proc, "retrying in")[-1]
                assert store.active_version() is None  # nothing published while locked
                holder.rollback()  # released while publish waits
                out, err = proc.communicate(timeout=60)
            finally:
                holder.close()
                proc.kill()
    assert said == (
        "pwguard publish: server busy: the database is locked (busy): another process held the "
        f"SQLite write lock on {db} past the busy timeout; retry, and if it persists find the "
        f"process that holds it (fuser {db}); nothing changed; retrying in 5 s (attempt 2 of "
        "3)\n")
    assert proc.returncode == 0, err
    assert out == (f"published {version} (new version): now active, served at "
                   f"{server}/v1/rules\n")
    assert "Traceback" not in err
    assert store.active_version() == version
    store.close()


@pytest.mark.slow
def test_publish_with_its_defaults_outwaits_pwguard_serve_on_a_locked_sqlite_file(tmp_path):
    # the server waits 30 s for the lock before its 503; publish gave up at 30 s ("cannot
    # reach ...: timed out"), so it never saw the Retry-After
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.yaml").write_text(variant(85))
    with start_server(tmp_path / "srv", rules_dir=GOOD_DIR) as srv:
        holder = sqlite3.connect(tmp_path / "srv" / "pwguard.db", isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        with publish_process(rules, srv.url, srv.admin_token) as proc:
            try:
                said = read_until(proc, "retrying in")[-1]
                holder.rollback()
                out, err = proc.communicate(timeout=90)
            finally:
                holder.close()
                proc.kill()
        assert said.startswith("pwguard publish: server busy: the database is locked (busy): ")
        assert proc.returncode == 0, err
        assert out.startswith("published ") and "(new version)" in out
        assert "Traceback" not in srv.log()


BUSY = {"detail": "the database is locked (busy): retry; nothing changed"}


@pytest.mark.parametrize("status", [503, 429])
def test_publish_tries_three_times_at_most_then_reports_the_last_answer(
    tmp_path, monkeypatch, capsys, status
):
    (tmp_path / "r.yaml").write_text(variant(82))
    puts: list[str] = []
    with answering(status, BUSY, {"Retry-After": "0"}, puts=puts) as url:
        assert run(monkeypatch, "t", str(tmp_path), "--server", url) == 2
    err = capsys.readouterr().err.splitlines()
    retrying = [line for line in err if "retrying" in line]
    assert retrying == [
        "pwguard publish: server busy: the database is locked (busy): retry; nothing changed; "
        f"retrying in 0 s (attempt {n} of 3)" for n in (2, 3)]
    assert len(puts) == 3
    assert err[-1] == (f"pwguard publish: {url}/v1/admin/rules answered {status}: the database "
                       "is locked (busy): retry; nothing changed; still busy after 3 attempts: "
                       "publish again later")


@pytest.mark.parametrize(
    ("retry_after", "said"),
    [("31", "the server advises retrying in 31 s, more than publish waits (30 s in all): "
      "publish again later"),
     ("Wed, 21 Oct 2099 07:28:00 GMT", "the server advises retrying in "),
     ("soon", ""),
     # (int() refuses a string of over 4300 digits: publish ended in a ValueError traceback)
     ("9" * 5000, "")],
    ids=["over-30-s", "http-date-far-off", "unreadable", "thousands-of-digits"],
)
def test_a_retry_after_publish_will_not_wait_for_is_reported_at_once(
    tmp_path, monkeypatch, capsys, retry_after, said
):
    (tmp_path / "r.yaml").write_text(variant(83))
    puts: list[str] = []
    with answering(503, BUSY, {"Retry-After": retry_after}, puts=puts) as url:
        assert run(monkeypatch, "t", str(tmp_path), "--server", url) == 2
    err = capsys.readouterr().err
    assert len(puts) == 1 and "server busy" not in err  # no "retrying in N s" line
    last = err.splitlines()[-1]
    assert last.startswith(f"pwguard publish: {url}/v1/admin/rules answered 503: the database "
                           "is locked (busy): retry; nothing changed")
    assert said in last if said else last.endswith("nothing changed"), last


def test_a_retry_that_would_wait_past_30_s_in_all_says_so(tmp_path, monkeypatch, capsys):
    # it said "advises retrying in 20 s, more than publish waits (30 s in all)": 20 is not
    (tmp_path / "r.yaml").write_text(variant(86))
    puts: list[str] = []
    slept: list[float] = []
    monkeypatch.setattr(publish.time, "sleep", slept.append)  # (the waits, not made)
    with answering(503, BUSY, {"Retry-After": "20"}, puts=puts) as url:
        assert run(monkeypatch, "t", str(tmp_path), "--server", url) == 2
    assert (len(puts), slept) == (2, [20])
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"pwguard publish: {url}/v1/admin/rules answered 503: the database is locked (busy): "
        "retry; nothing changed; the server advises retrying in 20 s, past the 30 s publish "
        "waits in all (20 s waited already): publish again later")


def test_a_503_without_retry_after_is_reported_at_once(tmp_path, monkeypatch, capsys):
    # e.g. a full disk: retrying as it is would fail the same way
    (tmp_path / "r.yaml").write_text(variant(84))
    puts: list[str] = []
    full = {"detail": "the database is full (disk full): free disk space; nothing changed"}
    with answering(503, full, puts=puts) as url:
        assert run(monkeypatch, "t", str(tmp_path), "--server", url) == 2
    assert len(puts) == 1
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"pwguard publish: {url}/v1/admin/rules answered 503: the database is full (disk full): "
        "free disk space; nothing changed")


def test_ctrl_c_while_publish_waits_says_so_in_one_line() -> None:
    # it ended in a KeyboardInterrupt traceback (time.sleep of the advised wait)
    with answering(503, BUSY, {"Retry-After": "20"}) as url:
        proc = publish_process(GOOD_DIR, url, TOKEN)
        try:
            read_until(proc, "retrying in 20 s")
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=30)
        finally:
            proc.kill()
    assert proc.returncode == 130
    assert "Traceback" not in err and err.startswith("pwguard publish: interrupted; "), err

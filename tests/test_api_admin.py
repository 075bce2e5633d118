"""Admin API over real HTTP: bearer token, lint gate (422), size limit (413), publish, rollback."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from pwguard.lint import lint_text
from tests.serve import RunningServer, server_fixture, wait_until
from tests.server_cases import GOOD_TEXT, check_bundle, etag_for, variant

MAX_BODY = 8192
admin_server = server_fixture(
    "module", rules_dir=Path(__file__).parent / "server_cases" / "good",
    env={"PWGUARD_MAX_BODY_BYTES": str(MAX_BODY)},
)

ADMIN_CALLS = [
    ("PUT", "/v1/admin/rules"),
    ("GET", "/v1/admin/versions"),
    ("GET", "/v1/admin/audit"),
    ("POST", "/v1/admin/versions/0123456789abcdef/activate"),
]


@pytest.fixture
def client(admin_server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=admin_server.url, headers=admin_server.admin_headers,
                      timeout=30) as c:
        yield c


def versions(client: httpx.Client) -> list[dict[str, object]]:
    resp = client.get("/v1/admin/versions")
    assert resp.status_code == 200
    out: list[dict[str, object]] = resp.json()
    return out


@pytest.mark.parametrize(("method", "path"), ADMIN_CALLS)
@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong-token", "Bearer", "Basic YWRtaW46YWRtaW4="],
    ids=["none", "wrong", "empty", "basic"],
)
def test_admin_calls_without_the_right_token_get_401_and_change_nothing(
    admin_server, method, path, authorization
):
    before = httpx.get(admin_server.url + "/v1/rules", timeout=10)
    headers = {"Authorization": authorization} if authorization else {}
    resp = httpx.request(method, admin_server.url + path, headers=headers,
                         content=variant(99).encode() if method == "PUT" else None, timeout=10)
    assert resp.status_code == 401
    assert resp.json() == {"detail": "missing or wrong bearer token"}
    assert resp.headers["www-authenticate"] == "Bearer"
    assert httpx.get(admin_server.url + "/v1/rules", timeout=10).content == before.content


def test_a_token_that_only_shares_a_prefix_with_the_real_one_is_refused(admin_server):
    for token in (admin_server.admin_token[:-1], admin_server.admin_token + "x"):
        resp = httpx.get(admin_server.url + "/v1/admin/versions",
                         headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert resp.status_code == 401


# One broken ruleset per family of lint codes, and the code it must produce.
BAD_RULES = {
    "F004-yaml-syntax": ("rules: [\n  - id: x\n", "F004"),
    "F007-root-not-rules": ("- just a list\n", "F007"),
    "F008-no-rules": ("rules: []\n", "F008"),
    "F002-lone-surrogate": (GOOD_TEXT.replace('["Revoke access for all connected apps"]',
                                              '["Revoke access \\ud800 connected apps"]'), "F002"),
    "S001-unknown-field": (GOOD_TEXT.replace("    action: block", "    acton: block"), "S001"),
    "S002-missing-field": (GOOD_TEXT.replace("    why: Ticking", "    #why: x", 1), "S002"),
    "S004-bad-id": (GOOD_TEXT.replace("id: keep-app-sessions", "id: Keep_App"), "S004"),
    "S006-duplicate-id": (GOOD_TEXT.replace("id: keep-connected-apps", "id: keep-app-sessions"),
                          "S006"),
    "U002-site-not-https": (
        GOOD_TEXT.replace("https://accounts.zoho.eu/*", "http://accounts.zoho.eu/*"), "U002"),
    "C001-invalid-selector": (GOOD_TEXT.replace('"input#ter_mob"', '"input[#ter_mob"'), "C001"),
    "L001-empty-phrase": (GOOD_TEXT.replace('["Revoke access for all connected apps"]', '[""]'),
                          "L001"),
    "M001-no-english": (GOOD_TEXT.replace('      en: "This box would sign', '      fr: "Cette'),
                        "M001"),
    "M003-markup": (GOOD_TEXT.replace("Close sessions one by one instead.\"",
                                      "Close <b>sessions</b> one by one.\""), "M003"),
    "H001-help-not-https": (GOOD_TEXT.replace('"https://{host}/u/h#sessions"',
                                              '"http://{host}/u/h#sessions"', 1), "H001"),
    "R001-bad-method": (GOOD_TEXT.replace("method: PUT", "method: GET"), "R001"),
    "E002-example-not-matched": (GOOD_TEXT.replace(
        "    help: \"https://{host}/u/h#sessions\"\n  - id: keep-connected-apps",
        "    help: \"https://{host}/u/h#sessions\"\n"
        "    examples:\n      match: [harmless/newsletter.html]\n"
        "  - id: keep-connected-apps"), "E002"),
    "E005-dot-example": (GOOD_TEXT.replace(
        "    help: \"https://{host}/u/h#sessions\"\n  - id: keep-connected-apps",
        "    help: \"https://{host}/u/h#sessions\"\n"
        "    examples:\n      match: [\".\"]\n"
        "  - id: keep-connected-apps"), "E005"),
}


@pytest.mark.parametrize(("text", "code"), list(BAD_RULES.values()), ids=list(BAD_RULES))
def test_publishing_rules_with_lint_errors_gets_422_with_the_cli_findings_and_changes_nothing(
    admin_server, client, text, code
):
    assert text != GOOD_TEXT
    before, listed = httpx.get(admin_server.url + "/v1/rules", timeout=10), versions(client)
    resp = client.put("/v1/admin/rules", content=text.encode(),
                      headers={"Content-Type": "application/yaml"})
    assert resp.status_code == 422, resp.text
    detail = resp.json()["detail"]
    assert re.fullmatch(r"rules rejected by the linter \(\d+ error\(s\)\); nothing changed",
                        detail["message"])
    codes = [f["code"] for f in detail["findings"]]
    assert code in codes
    # the same codes, lines and columns as the linter run locally on the same text
    local = lint_text(text, "request.yaml")
    assert detail["findings"] == [f.to_dict() for f in local.findings]
    after = httpx.get(admin_server.url + "/v1/rules", timeout=10)
    assert after.content == before.content and after.headers["etag"] == before.headers["etag"]
    assert versions(client) == listed


def test_an_example_page_the_server_lacks_is_a_warning_not_a_refusal(admin_server, client):
    # the publisher's own lint checked it; pages are not uploaded with the rules
    text = variant(61).replace(
        "    help: \"https://{host}/u/h#sessions\"\n  - id: keep-connected-apps",
        "    help: \"https://{host}/u/h#sessions\"\n"
        "    examples:\n      match: [zoho-2027/new-dialog.html]\n"
        "  - id: keep-connected-apps", 1)
    assert "zoho-2027" in text
    assert [f.code for f in lint_text(text, "request.yaml").errors] == ["E001"]
    resp = client.put("/v1/admin/rules", content=text.encode(),
                      headers={"Content-Type": "application/yaml"})
    assert resp.status_code == 201, resp.text
    warned = resp.json()["warnings"]
    missing = [w for w in warned if w["code"] == "E001"]
    assert [w["severity"] for w in missing] == ["warning"]
    assert "not on this server" in missing[0]["message"]
    served = httpx.get(admin_server.url + "/v1/rules", timeout=10)
    assert check_bundle(served, admin_server.public_key)["version"] == resp.json()["version"]


def test_publish_makes_a_new_active_version_and_identical_rules_make_no_duplicate(
    admin_server, client
):
    text = variant(1)
    resp = client.put("/v1/admin/rules", params={"note": "zoho renamed the box"},
                      content=text.encode(), headers={"Content-Type": "application/yaml"})
    assert resp.status_code == 201, resp.text
    created = resp.json()
    assert created["created"] is True and created["active"] is True
    assert created["note"] == "zoho renamed the box"
    payload = check_bundle(httpx.get(admin_server.url + "/v1/rules", timeout=10),
                           admin_server.public_key)
    assert payload["version"] == created["version"]
    assert payload["rules"][0]["title"].endswith("(variant 1)")
    count = len(versions(client))

    again = client.put("/v1/admin/rules", content=text.encode(),
                       headers={"Content-Type": "application/yaml"})
    assert again.status_code == 200
    assert again.json()["created"] is False
    assert again.json()["version"] == created["version"]
    assert again.json()["created_at"] == created["created_at"]
    assert len(versions(client)) == count


def test_publishing_the_active_version_again_changes_and_audits_nothing(admin_server, client):
    yaml_body = {"Content-Type": "application/yaml"}
    first = client.put("/v1/admin/rules", content=variant(71).encode(), headers=yaml_body)
    assert first.status_code == 201 and first.json()["changed"] is True
    audit = client.get("/v1/admin/audit").json()
    again = client.put("/v1/admin/rules", params={"note": "dropped"},
                       content=variant(71).encode(), headers=yaml_body)
    assert again.status_code == 200
    assert (again.json()["created"], again.json()["changed"]) == (False, False)
    assert client.get("/v1/admin/audit").json() == audit
    # stored but not active: activated again, and that is a change (audited with its note)
    assert client.put("/v1/admin/rules", content=variant(72).encode(),
                      headers=yaml_body).status_code == 201
    back = client.put("/v1/admin/rules", params={"note": "back to 71"},
                      content=variant(71).encode(), headers=yaml_body)
    assert (back.json()["created"], back.json()["changed"]) == (False, True)
    last = client.get("/v1/admin/audit").json()[-1]
    assert (last["action"], last["version"], last["note"]) == (
        "activate", first.json()["version"], "back to 71")


def test_a_client_that_disconnects_mid_upload_makes_one_log_line_not_a_traceback(
    admin_server,
):
    before = admin_server.log()
    host, port = "127.0.0.1", int(admin_server.url.rsplit(":", 1)[1])
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(
            b"PUT /v1/admin/rules HTTP/1.1\r\nHost: t\r\n"
            + f"Authorization: Bearer {admin_server.admin_token}\r\n".encode()
            + b"Content-Type: application/yaml\r\nContent-Length: 5000\r\n\r\nrules:\n"
        )
    wait_until(lambda: "disconnected" in admin_server.log()[len(before):], 10,
               "the disconnect in the server log")
    new = admin_server.log()[len(before):]
    # after 7 bytes, or 0 when the server saw the disconnect before the first chunk
    assert re.search(r"WARNING pwguard\.api: PUT /v1/admin/rules from 127\.0\.0\.1: the client "
                     r"disconnected after \d+ bytes of its body; nothing changed\n", new), new
    assert "Traceback" not in new and "Exception in ASGI application" not in new


def test_note_and_actor_can_come_from_headers(admin_server, client):
    resp = client.put("/v1/admin/rules", content=variant(9).encode(),
                      headers={"X-Pwguard-Note": "ticket 42", "X-Pwguard-Actor": "alice"})
    assert resp.status_code == 201
    assert resp.json()["note"] == "ticket 42"
    assert resp.json()["actor"] == "alice@127.0.0.1"
    listed = {v["version"]: v for v in versions(client)}
    assert listed[resp.json()["version"]]["note"] == "ticket 42"


def test_nul_characters_in_note_and_actor_are_dropped_not_stored(admin_server, client):
    # PostgreSQL text cannot hold NUL: storing it answered 500 there
    resp = client.put("/v1/admin/rules", content=variant(10).encode(),
                      params={"note": "ticket\x0042", "actor": "bo\x00b"})
    assert resp.status_code == 201, resp.text
    assert (resp.json()["note"], resp.json()["actor"]) == ("ticket42", "bob@127.0.0.1")
    version = resp.json()["version"]
    assert client.put("/v1/admin/rules", content=variant(11).encode()).status_code == 201
    again = client.post(f"/v1/admin/versions/{version}/activate",
                        params={"note": "x\x00y", "actor": "\x00z"})
    assert again.status_code == 200
    entry = client.get("/v1/admin/audit").json()[-1]
    assert (entry["action"], entry["note"], entry["actor"]) == ("activate", "xy", "z@127.0.0.1")


@pytest.mark.parametrize("version", ["abc%00", "%E2%98%83", "a" * 65, "ABCDEF0123456789"])
def test_activating_a_malformed_version_id_gets_404_saying_what_ids_look_like(client, version):
    resp = client.post(f"/v1/admin/versions/{version}/activate")
    assert resp.status_code == 404
    assert resp.json()["detail"].endswith(": versions are 16 lowercase hex digits "
                                          "(GET /v1/admin/versions lists them)")


def test_utf8_note_and_actor_headers_are_stored_as_written(admin_server, client):
    resp = client.put("/v1/admin/rules", content=variant(12).encode(),
                      headers={"X-Pwguard-Note": "señal 42".encode(),
                               "X-Pwguard-Actor": "José".encode()})
    assert resp.status_code == 201
    assert (resp.json()["note"], resp.json()["actor"]) == ("señal 42", "José@127.0.0.1")


def test_json_body_is_accepted_and_hashes_like_the_same_rules_in_yaml(admin_server, client):
    text = variant(2)
    as_json = httpx.Response(200, json=yaml.safe_load(text)).content
    first = client.put("/v1/admin/rules", content=as_json,
                       headers={"Content-Type": "application/json"})
    assert first.status_code == 201, first.text
    second = client.put("/v1/admin/rules", content=text.encode(),
                        headers={"Content-Type": "application/yaml"})
    assert second.status_code == 200 and second.json()["version"] == first.json()["version"]
    sniffed = client.put("/v1/admin/rules", content=as_json,
                         headers={"Content-Type": "application/octet-stream"})
    assert sniffed.status_code == 200 and sniffed.json()["version"] == first.json()["version"]


def test_rollback_activates_an_earlier_version_and_unknown_versions_get_404(
    admin_server, client
):
    old = client.put("/v1/admin/rules", content=variant(3).encode()).json()["version"]
    new = client.put("/v1/admin/rules", content=variant(4).encode()).json()["version"]
    served = httpx.get(admin_server.url + "/v1/rules", timeout=10)
    assert served.headers["etag"] == etag_for(new, admin_server.public_key)

    resp = client.post(f"/v1/admin/versions/{old}/activate", params={"note": "rollback"})
    assert resp.status_code == 200
    assert resp.json()["version"] == old and resp.json()["active"] is True
    rules = httpx.get(admin_server.url + "/v1/rules", timeout=10)
    assert check_bundle(rules, admin_server.public_key)["version"] == old
    stale = {"If-None-Match": etag_for(new, admin_server.public_key)}
    assert httpx.get(admin_server.url + "/v1/rules", headers=stale,
                     timeout=10).status_code == 200
    listed = versions(client)
    assert [v["version"] for v in listed if v["active"]] == [old]
    assert {new, old} <= {str(v["version"]) for v in listed}
    assert all({"version", "created_at", "note", "active"} <= set(v) for v in listed)

    missing = client.post("/v1/admin/versions/ffffffffffffffff/activate")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "no version 'ffffffffffffffff'"}
    served = httpx.get(admin_server.url + "/v1/rules", timeout=10)
    assert served.headers["etag"] == etag_for(old, admin_server.public_key)


def test_every_change_writes_an_audit_log_line(admin_server, client):
    version = client.put("/v1/admin/rules", params={"note": "audit me"},
                         content=variant(5).encode()).json()["version"]
    client.post(f"/v1/admin/versions/{version}/activate")  # already active: no change, no line
    log = admin_server.log()
    assert re.search(rf"audit action=publish version={version} previous=\w+ "
                     r"actor='admin@127\.0\.0\.1' note='audit me'", log)
    assert log.count(f"action=activate version={version}") == 0
    entries = client.get("/v1/admin/audit").json()
    mine = [e for e in entries if e["version"] == version]
    assert [(e["action"], e["actor"], e["note"]) for e in mine] == [
        ("publish", "admin@127.0.0.1", "audit me")]
    assert entries[0]["action"] == "publish" and entries[0]["actor"] == "pwguard serve"


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_bodies_over_the_size_limit_get_413_and_change_nothing(admin_server, client, chunked):
    before = httpx.get(admin_server.url + "/v1/rules", timeout=10).content
    big = (variant(6) + "#" * (MAX_BODY + 1) + "\n").encode()

    def stream() -> Iterator[bytes]:
        for i in range(0, len(big), 1000):
            yield big[i:i + 1000]

    resp = client.put("/v1/admin/rules", content=stream() if chunked else big,
                      headers={"Content-Type": "application/yaml"})
    assert resp.status_code == 413
    assert resp.json() == {"detail": f"body larger than {MAX_BODY} bytes (the server's "
                           "PWGUARD_MAX_BODY_BYTES); nothing changed"}
    assert httpx.get(admin_server.url + "/v1/rules", timeout=10).content == before


def test_publish_over_the_size_limit_names_the_setting_to_raise(
    admin_server, tmp_path, monkeypatch, capsys
):
    from pwguard.api import publish

    (tmp_path / "r.yaml").write_text(variant(73) + "#" * (MAX_BODY + 1) + "\n")
    monkeypatch.setenv("PWGUARD_ADMIN_TOKEN", admin_server.admin_token)
    assert publish.main([str(tmp_path), "--server", admin_server.url]) == 2
    err = capsys.readouterr().err
    assert err.endswith(
        f"answered 413: body larger than {MAX_BODY} bytes (the server's PWGUARD_MAX_BODY_BYTES); "
        f"nothing changed; the rules ({(tmp_path / 'r.yaml').stat().st_size} bytes) are over the "
        "server's PWGUARD_MAX_BODY_BYTES: raise it on the server\n"), err


@pytest.mark.parametrize(("body", "said"), [
    (b"rules:\n  - id: caf\xe9\n",  # (Latin-1, as an old editor saves it)
     "line 2, column 12: not valid UTF-8 (byte 0xe9); save the file as UTF-8"),
    ("rules: []\n".encode("utf-16"),  # (Windows PowerShell's Out-File, Notepad's "Unicode")
     "line 1, column 1: UTF-16 text (byte order mark); save the file as UTF-8"),
])
def test_body_that_is_not_utf8_gets_415_saying_where_and_what_it_is(client, body, said):
    resp = client.put("/v1/admin/rules", content=body)
    assert resp.status_code == 415
    assert resp.json() == {"detail": f"body must be UTF-8 YAML or JSON: {said}"}


def test_a_utf8_byte_order_mark_is_not_part_of_the_rules(admin_server, client):
    text = variant(91).encode()
    with_mark = client.put("/v1/admin/rules", content=b"\xef\xbb\xbf" + text)  # (Notepad's UTF-8)
    assert with_mark.status_code == 201, with_mark.text
    without = client.put("/v1/admin/rules", content=text)
    assert without.status_code == 200 and without.json()["version"] == with_mark.json()["version"]


@pytest.mark.parametrize(
    ("method", "path"),
    [("PUT", "/v1/admin/rules/"), ("POST", "/v1/admin/versions/{version}/activate/"),
     ("GET", "/v1/admin/versions/"), ("GET", "/v1/rules/"), ("GET", "/healthz/")],
)
def test_a_path_with_a_trailing_slash_gets_404_naming_the_path_without_it(
    client, method, path
):
    # it got a bodiless 307 to http://<the Host the proxy sent>/...: behind a TLS proxy a
    # downgrade to a plain-http address, and `curl -X PUT ... /v1/admin/rules/` printed
    # nothing and exited 0, as if the rules were published (nothing changed)
    before = versions(client)
    path = path.format(version=before[-1]["version"])
    resp = client.request(method, path, content=variant(62).encode() if method == "PUT" else None)
    assert resp.status_code == 404
    assert resp.json() == {"detail": f"no such path {path}: did you mean {path.rstrip('/')} "
                           "(without the trailing slash)?"}
    assert versions(client) == before


def test_an_unknown_path_still_gets_fastapis_404(client):
    for path in ("/nothing", "/nothing/", "/v1/admin/nothing/"):
        resp = client.get(path)
        assert (resp.status_code, resp.json()) == (404, {"detail": "Not Found"})


def test_a_form_upload_gets_415_saying_to_send_the_file_itself(client):
    # `curl -F file=@rules.yaml` was linted as YAML: "F004 YAML syntax error: mapping values
    # are not allowed here" at line 2 of the form's boundary lines
    before = versions(client)
    resp = client.put("/v1/admin/rules", files={"file": ("rules.yaml", GOOD_TEXT.encode())})
    assert resp.status_code == 415
    assert resp.json() == {"detail": (
        "body is a multipart form upload (curl -F): send the rules file itself as the body, "
        "e.g. curl -X PUT --data-binary @rules.yaml -H 'Content-Type: application/yaml' "
        "(or use `pwguard publish`); nothing changed")}
    assert versions(client) == before


def test_rules_whose_line_breaks_curl_d_removed_are_refused_saying_so(client):
    # `curl -d @rules.yaml` drops every line break (and sends a form's content type): a file
    # opening with a comment became one comment, refused as "got empty", with no word of why
    before = versions(client)
    flat = ("# the rules\n" + GOOD_TEXT).replace("\r", "").replace("\n", "")
    resp = client.put("/v1/admin/rules", content=flat.encode(),
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert resp.status_code == 422
    assert resp.json()["detail"]["message"] == (
        "rules rejected by the linter (1 error(s)); nothing changed; the body came as a form "
        "(application/x-www-form-urlencoded) without a line break: `curl -d` removes them, "
        "send the file with `curl --data-binary @FILE`")
    assert versions(client) == before


def test_one_line_json_with_lint_errors_sent_as_a_form_is_not_blamed_on_curl_d(client):
    # `curl -d '{"rules": ...}'`: one line of JSON is the JSON as written, line breaks or not
    resp = client.put("/v1/admin/rules", content=b'{"rules": [{"id": "x"}]}',
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert resp.status_code == 422
    assert "curl -d" not in resp.json()["detail"]["message"], resp.json()


def test_rules_sent_with_curl_data_binary_and_its_form_content_type_are_published(client):
    # `curl --data-binary @rules.yaml` keeps the lines but says x-www-form-urlencoded too
    resp = client.put("/v1/admin/rules", content=variant(61).encode(),
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert resp.status_code in (200, 201), resp.text


@pytest.mark.parametrize(
    ("params", "headers", "expected"),
    [({"note": "n" * 731}, {},
      "query parameter note: at most 500 characters (got 731); shorten it"),
     ({"note": "é" * 501}, {},
      "query parameter note: at most 500 characters (got 501); shorten it"),
     ({"actor": "a" * 101}, {},
      "query parameter actor: at most 100 characters (got 101); shorten it"),
     ({"note": "n" * 600, "actor": "a" * 150}, {},
      "query parameter note: at most 500 characters (got 600); shorten it; "
      "query parameter actor: at most 100 characters (got 150); shorten it"),
     ({}, {"X-Pwguard-Note": ("ñ" * 501).encode()},
      "header X-Pwguard-Note: at most 500 characters (got 501); shorten it"),
     ({}, {"X-Pwguard-Actor": "a" * 101},
      "header X-Pwguard-Actor: at most 100 characters (got 101); shorten it")],
    ids=["note", "note-utf8", "actor", "both", "note-header", "actor-header"],
)
@pytest.mark.parametrize("call", ["publish", "rollback"])
def test_a_note_or_actor_over_its_limit_gets_422_naming_it_and_the_fix_and_changes_nothing(
    admin_server, client, params, headers, expected, call
):
    older = client.put("/v1/admin/rules", content=variant(41).encode()).json()["version"]
    assert client.put("/v1/admin/rules", content=variant(42).encode()).status_code in (200, 201)
    before, listed = httpx.get(admin_server.url + "/v1/rules", timeout=10), versions(client)
    audit = client.get("/v1/admin/audit").json()
    if call == "publish":
        resp = client.put("/v1/admin/rules", params=params, headers=headers,
                          content=variant(43).encode())
    else:
        resp = client.post(f"/v1/admin/versions/{older}/activate", params=params,
                           headers=headers)
    assert resp.status_code == 422, resp.text
    # the shape of lint refusals: a message naming the place and the fix, no findings
    assert resp.json() == {"detail": {"message": f"{expected} (nothing changed)",
                                      "findings": []}}
    after = httpx.get(admin_server.url + "/v1/rules", timeout=10)
    assert after.content == before.content and after.headers["etag"] == before.headers["etag"]
    assert versions(client) == listed
    assert client.get("/v1/admin/audit").json() == audit
    assert "Traceback" not in admin_server.log()


def test_an_over_long_note_without_the_token_still_gets_401(admin_server):
    resp = httpx.put(admin_server.url + "/v1/admin/rules", params={"note": "n" * 731},
                     content=variant(43).encode(), timeout=10)
    assert resp.status_code == 401


def test_a_rollback_takes_its_note_from_the_header_as_a_publish_does(admin_server, client):
    older = client.put("/v1/admin/rules", content=variant(44).encode()).json()["version"]
    assert client.put("/v1/admin/rules", content=variant(45).encode()).status_code == 201
    resp = client.post(f"/v1/admin/versions/{older}/activate",
                       headers={"X-Pwguard-Note": "señal 43".encode()})
    assert resp.status_code == 200, resp.text
    entry = client.get("/v1/admin/audit").json()[-1]
    assert (entry["action"], entry["version"], entry["note"]) == ("activate", older, "señal 43")

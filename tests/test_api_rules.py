"""GET /v1/rules, /healthz, /metrics and /docs over real HTTP against a real `pwguard serve`."""

from __future__ import annotations

import json

import httpx
import pytest

from pwguard.api.signing import verify_bundle
from pwguard.lint import lint_paths
from pwguard.rules.bundle import payload_bytes, version_of
from tests.serve import RunningServer, server_fixture, start_server, wait_until
from tests.server_cases import GOOD_DIR, check_bundle, etag_for

api_server = server_fixture("module", rules_dir=GOOD_DIR)

# What a 304 may carry besides Date and Server: cache validators and CORS, nothing about a body.
NOT_MODIFIED_HEADERS = {
    "etag", "cache-control", "access-control-allow-origin", "access-control-expose-headers",
}


@pytest.fixture(scope="module")
def version() -> str:
    result = lint_paths([GOOD_DIR])
    assert result.ruleset is not None and not result.errors
    return version_of(result.ruleset)


def get(server: RunningServer, path: str, **headers: str) -> httpx.Response:
    return httpx.get(server.url + path, headers=headers, timeout=10)


def test_rules_serve_the_signed_payload_of_the_rules_folder(api_server, version):
    resp = get(api_server, "/v1/rules")
    payload = check_bundle(resp, api_server.public_key)
    assert payload["version"] == version
    ruleset = lint_paths([GOOD_DIR]).ruleset
    assert ruleset is not None
    assert payload == verify_bundle(resp.content, api_server.public_key)
    # the signed string is exactly the payload bytes of docs/internals.md
    assert json.loads(resp.content)["payload"].encode() == payload_bytes(ruleset)


def test_rules_headers_make_caches_revalidate_and_allow_any_origin(api_server, version):
    resp = get(api_server, "/v1/rules", Origin="https://accounts.zoho.eu")
    assert resp.headers["etag"] == etag_for(version, api_server.public_key)
    assert resp.headers["content-type"] == "application/json"
    assert resp.headers["cache-control"] == "no-cache"
    assert resp.headers["access-control-allow-origin"] == "*"
    assert "etag" in resp.headers["access-control-expose-headers"].lower()
    assert "access-control-allow-credentials" not in resp.headers


def opaque_tag(server: RunningServer, version: str) -> str:
    """The served ETag of `version` without its quotes."""
    return etag_for(version, server.public_key).strip('"')


@pytest.mark.parametrize(
    "if_none_match",
    ['"{v}"', 'W/"{v}"', '"0000000000000000", "{v}"', 'W/"x",W/"{v}" ,"y"', "*"],
    ids=["strong", "weak", "list", "weak-list-no-spaces", "star"],
)
def test_if_none_match_with_the_active_version_answers_304_with_only_cache_headers(
    api_server, version, if_none_match
):
    tag = if_none_match.format(v=opaque_tag(api_server, version))
    resp = get(api_server, "/v1/rules", **{"If-None-Match": tag})
    assert resp.status_code == 304
    assert resp.content == b""
    assert set(resp.headers) - {"date", "server"} == NOT_MODIFIED_HEADERS
    assert resp.headers["etag"] == etag_for(version, api_server.public_key)
    assert resp.headers["cache-control"] == "no-cache"


@pytest.mark.parametrize(
    "if_none_match",
    ['"0000000000000000"', 'W/"0000000000000000"', '"{v}x"', "{v}", '""', ""],
    ids=["other", "other-weak", "longer", "unquoted", "empty-tag", "empty-header"],
)
def test_if_none_match_with_another_tag_answers_200_with_the_bundle(
    api_server, version, if_none_match
):
    tag = if_none_match.format(v=opaque_tag(api_server, version))
    resp = get(api_server, "/v1/rules", **{"If-None-Match": tag})
    check_bundle(resp, api_server.public_key)


def test_head_gives_the_headers_of_get_without_a_body(api_server):
    full = get(api_server, "/v1/rules")
    head = httpx.head(api_server.url + "/v1/rules", timeout=10)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["etag"] == full.headers["etag"]
    assert int(head.headers["content-length"]) == len(full.content)


def test_cors_preflight_allows_if_none_match_from_any_origin(api_server):
    resp = httpx.options(
        api_server.url + "/v1/rules",
        headers={"Origin": "chrome-extension://abc", "Access-Control-Request-Method": "GET",
                 "Access-Control-Request-Headers": "if-none-match"},
        timeout=10,
    )
    assert resp.status_code == 204
    assert resp.headers["access-control-allow-origin"] == "*"
    assert "if-none-match" in resp.headers["access-control-allow-headers"].lower()
    assert "GET" in resp.headers["access-control-allow-methods"]


def test_healthz_reports_the_database_and_the_active_version(api_server, version):
    resp = get(api_server, "/healthz")
    assert resp.status_code == 200
    body = resp.json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["active_version"] == version


@pytest.mark.parametrize("path", ["/healthz", "/metrics"])
def test_head_of_healthz_and_metrics_answers_as_get_does_without_a_body(api_server, path):
    # `curl -I .../healthz` and HAProxy's `option httpchk HEAD /healthz` got 405: a load
    # balancer checking with HEAD took a healthy server out of service
    full = get(api_server, path)
    head = httpx.head(api_server.url + path, timeout=10)
    assert (head.status_code, head.content) == (full.status_code, b"")
    assert head.headers["content-type"] == full.headers["content-type"]


def test_metrics_count_requests_by_route_and_status_and_the_304_share(api_server, version):
    before = get(api_server, "/metrics").text
    get(api_server, "/v1/rules")
    etag = etag_for(version, api_server.public_key)
    get(api_server, "/v1/rules", **{"If-None-Match": etag})
    get(api_server, "/v1/rules", **{"If-None-Match": etag})
    get(api_server, "/no/such/page")
    text = get(api_server, "/metrics").text
    assert get(api_server, "/metrics").headers["content-type"].startswith("text/plain")

    def value(metrics: str, name: str) -> float:
        for line in metrics.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[-1])
        return 0.0

    ok = 'pwguard_http_requests_total{route="/v1/rules",method="GET",status="200"}'
    nm = 'pwguard_http_requests_total{route="/v1/rules",method="GET",status="304"}'
    assert value(text, ok) - value(before, ok) == 1
    assert value(text, nm) - value(before, nm) == 2
    assert value(text, "pwguard_rules_not_modified_total") == value(text, nm)
    share = value(text, "pwguard_rules_not_modified_ratio")
    assert share == pytest.approx(value(text, nm) / value(text, "pwguard_rules_requests_total"),
                                  abs=1e-5)
    assert f'pwguard_active_version_info{{version="{version}"}} 1' in text
    assert 'route="(unmatched)",method="GET",status="404"' in text


def test_openapi_documents_every_endpoint_with_examples(api_server):
    spec = get(api_server, "/openapi.json").json()
    paths = spec["paths"]
    for path in ("/v1/rules", "/healthz", "/metrics", "/v1/admin/rules", "/v1/admin/versions",
                 "/v1/admin/versions/{version}/activate"):
        assert path in paths, path
    body = paths["/v1/admin/rules"]["put"]["requestBody"]["content"]
    assert "rules:" in body["application/yaml"]["example"]
    assert "example" in paths["/v1/rules"]["get"]["responses"]["200"]["content"]["application/json"]
    docs = get(api_server, "/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_when_the_database_disappears_the_last_bundle_is_still_served_and_healthz_says_so(
    tmp_path,
):
    with start_server(tmp_path, rules_dir=GOOD_DIR) as srv:
        before = get(srv, "/v1/rules")
        version = check_bundle(before, srv.public_key)["version"]
        for db in tmp_path.glob("pwguard.db*"):
            db.unlink()
        answers: list[httpx.Response] = []

        def noticed() -> bool:  # the cache re-checks the database once a second
            answers.append(get(srv, "/v1/rules"))
            return "database unavailable (" in srv.log()

        wait_until(noticed, 15, "the server to notice the database is gone")
        answers.append(get(srv, "/v1/rules"))
        assert {(a.status_code, a.content) for a in answers} == {(200, before.content)}
        assert get(srv, "/v1/rules", **{"If-None-Match": before.headers["etag"]}) \
            .status_code == 304
        health = get(srv, "/healthz")
        assert health.status_code == 503
        body = health.json()
        assert body["status"] == "error" and body["database"].startswith("unreachable: ")
        assert (body["active_version"], body["serving"]) == (None, version)
        # an admin call on the lost database: 503 naming it, not a 500
        resp = httpx.get(srv.url + "/v1/admin/versions", headers=srv.admin_headers, timeout=10)
        assert resp.status_code == 503
        assert resp.json() == {"detail": "database unavailable; nothing changed (see /healthz)"}
        log = srv.log()
        assert log.count("database unavailable (") == 2  # once for the cache, once for the call
        assert "Traceback" not in log

"""The browser test rig itself: the HTTPS mock, its certificate, and the Browser API."""

from __future__ import annotations

import http.client
import json
import socket
import ssl

import pytest

from pwguard.rules import sites
from tests.browsers import Browser
from tests.certs import san_hostnames
from tests.zoho_mock import (
    ALL_HOSTS,
    CLOSESESSION_API,
    UNRELATED_HOST,
    ZOHO_HOSTS,
    ZohoMock,
    client_context,
)

STEP2 = "/u/h?step=2#security/security_pwd"


def _https(zoho: ZohoMock, host: str, method: str, path: str, body: bytes | None = None,
           headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPSConnection("127.0.0.1", zoho.port, timeout=10,
                                       context=client_context(zoho.cert))
    # Connect to 127.0.0.1 but verify the certificate for `host`, as a browser would.
    conn.sock = client_context(zoho.cert).wrap_socket(
        socket.create_connection(("127.0.0.1", zoho.port), timeout=10), server_hostname=host)
    try:
        conn.request(method, path, body=body, headers={"Host": f"{host}:{zoho.port}",
                                                       **(headers or {})})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_mock_hosts_are_the_hosts_the_extension_protects() -> None:
    assert [f"https://{host}/*" for host in ZOHO_HOSTS] == list(sites.ZOHO_HOSTS)
    assert UNRELATED_HOST in ALL_HOSTS and UNRELATED_HOST not in ZOHO_HOSTS


def test_certificate_covers_every_host(zoho: ZohoMock) -> None:
    assert sorted(san_hostnames(zoho.cert.cert)) == sorted(ALL_HOSTS)
    for host in ZOHO_HOSTS:
        status, page = _https(zoho, host, "GET", "/u/h")
        assert status == 200, host
        assert b'id="ter_apiToken"' in page, host


def test_certificate_is_refused_for_a_host_it_does_not_name(zoho: ZohoMock) -> None:
    with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
        _https(zoho, "accounts.zoho.example", "GET", "/u/h")


def test_mock_records_method_path_headers_and_json(zoho: ZohoMock) -> None:
    body = {"closesession": {"rmwebses": True, "rmapitok": False}}
    status, answer = _https(zoho, "accounts.zoho.in", "PUT", "/accounts" + CLOSESESSION_API,
                            json.dumps(body).encode(),
                            {"Content-Type": "application/json", "X-ZCSRF-TOKEN": "t1"})
    assert status == 200 and json.loads(answer)["code"] == "SUCCESS"
    rec = zoho.wait_for(lambda r: r.path.endswith(CLOSESESSION_API), timeout=5)
    assert (rec.method, rec.host, rec.json) == ("PUT", "accounts.zoho.in", body)
    assert rec.headers["x-zcsrf-token"] == "t1"
    assert zoho.api_requests() == [rec]
    zoho.clear()
    assert zoho.requests == []
    with pytest.raises(TimeoutError, match="no a closesession"):
        zoho.wait_for(lambda r: r.path.endswith(CLOSESESSION_API), timeout=0.2,
                      what="a closesession")


@pytest.mark.parametrize(("path", "marks"), [
    ("/u/h?lang=es&step=2&rows=web,api&oneauth=0",
     ['lang="es"', 'data-zoho-step="2"', 'id="ter_apiToken"']),
    ("/u/h?ui=legacy&lang=es", ['id="signoutfrommobile"']),
    ("/password?lang=fr", ['id="terminate_session_form"', 'id="ter_mob"']),
    ("/signin?lang=de", ['id="termin_mob"', 'name="signoutfromapiToken"']),
])
def test_mock_routes_render_the_page_variants(zoho: ZohoMock, path: str,
                                              marks: list[str]) -> None:
    status, page = _https(zoho, "accounts.zoho.jp", "GET", path)
    assert status == 200, page[:300]
    for mark in marks:
        assert mark in page.decode(), mark


@pytest.mark.parametrize(("query", "named"), [
    ("?colour=red", "colour"), ("?step=3", "step=3"), ("?rows=web,sms", "sms"),
    ("?lang=xx", "xx"), ("?ui=v1", "ui=v1")])
def test_mock_answers_an_unknown_variant_with_400_naming_it(
        zoho: ZohoMock, query: str, named: str) -> None:
    status, answer = _https(zoho, "accounts.zoho.eu", "GET", "/u/h" + query)
    assert status == 400
    assert named in answer.decode()


def test_every_data_centre_host_serves_the_dialog_in_the_browser(
        browser: Browser, zoho: ZohoMock) -> None:
    for host in ZOHO_HOSTS:
        browser.open(zoho.url(host, "/u/h?lang=es#security/security_pwd"))
        seen = browser.wait("""const box = document.getElementById("ter_apiToken");
            return box && document.documentElement.dataset.zohoStep
              && [location.hostname, document.documentElement.lang,
                  getComputedStyle(document.getElementById("popup_password_change")).display];""")
        assert seen == [host, "es", "block"], host
    got = {(r.host, r.path, r.query.get("lang", [""])[0]) for r in zoho.requests
           if r.method == "GET" and r.path == "/u/h"}
    assert got == {(h, "/u/h", "es") for h in ZOHO_HOSTS}


def test_page_script_requests_reach_the_mock_from_the_browser(
        browser: Browser, zoho: ZohoMock) -> None:
    browser.open(zoho.url("accounts.zoho.com", STEP2))
    browser.wait('return document.documentElement.dataset.zohoStep === "2"')
    # The page's own script does the ticking and submitting: this test is about the mock
    # receiving what the page sends (trusted input is tested below and in the e2e tests).
    browser.js("""document.getElementById("ter_all").checked = true;
        document.getElementById("pass_esc_devices").requestSubmit();""")
    rec = zoho.wait_for(lambda r: r.path.endswith(CLOSESESSION_API), what="closesession PUT")
    assert rec.host == "accounts.zoho.com"
    assert rec.json == {"closesession": {"rmwebses": True, "rmappses": False,
                                         "inconeauth": False, "rmapitok": False}}
    assert rec.headers["x-zcsrf-token"].startswith("iamcsrcoo=")
    assert browser.wait('return document.documentElement.dataset.zohoStep === "sent"')


def test_js_runs_in_the_main_world_and_awaits_promises(browser: Browser, zoho: ZohoMock
                                                       ) -> None:
    browser.open(zoho.url(UNRELATED_HOST, "/"))
    browser.js("window.pageGlobal = {n: arguments[0]};", 41)
    assert browser.js("return window.pageGlobal.n + 1") == 42
    assert browser.js("return new Promise(r => setTimeout(() => r([arguments[0]]), 30))",
                      "late") == ["late"]
    with pytest.raises(TimeoutError, match="never-true"):
        browser.wait("return false && 'never-true'", timeout=0.5)


def test_click_and_press_are_trusted_user_input(browser: Browser, zoho: ZohoMock) -> None:
    browser.open(zoho.url(UNRELATED_HOST, "/"))
    browser.js("""window.trusted = [];
        const box = document.getElementById("ter_apiToken");
        box.style.opacity = "0";  // like Zoho's real input over a styled span
        box.addEventListener("click", e => window.trusted.push(e.isTrusted));""")
    browser.click("#ter_apiToken")
    assert browser.js('return document.getElementById("ter_apiToken").checked') is True
    browser.press("Space")  # the click focused the box; Space unticks it again
    assert browser.wait("""return window.trusted.length === 2 && window.trusted;""") == [True,
                                                                                        True]
    assert browser.js('return document.getElementById("ter_apiToken").checked') is False

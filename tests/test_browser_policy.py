"""Enterprise policy (managed storage) in a real Firefox, and white-label hosts.

A separate Firefox instance with its own profile reads an enterprise policy file
(``FirefoxBrowser(policies=...)``, see ``tests/browsers.py: _policy_setup``) that sets the
extension's ``serverUrl``, ``publicKey`` and ``pollMinutes`` through ``3rdparty.Extensions``,
exactly as an administrator's ``distribution/policies.json`` would. The options page must show
those values disabled ("set by your administrator") and the extension must sync from that
server, a real `pwguard serve` whose rules add a marker rule; a person can't override them.

White-label hosts: the same instance runs with optional permissions granted without a prompt
(``extensions.webextOptionalPermissionPrompts=false``, as an administrator's click would be
answered); the policy server's rules name ``portal.example.org``, where the mock serves Zoho's
dialog under ``/accounts/p/<portal>/u/h``. Until the host is allowed on the options page
nothing runs there; once it is, the dangerous boxes are blocked.

Chromium reads policies only from /etc/chromium/policies/managed/ (machine-wide), which a test
must not write; its managed-storage path is the same code (background.js: managedSettings) as
Firefox's, which this file exercises. Chromium always asks the person before granting an
optional host permission, so the white-label grant is tested in Firefox only.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browsers import REPO, Browser, FirefoxBrowser
from tests.dom import CONTROL, STEP2, assert_blocked
from tests.serve import server_fixture
from tests.zoho_mock import ALL_HOSTS, ZOHO_HOSTS, ZohoMock, free_port

MESSAGES_EN = json.loads((REPO / "extension" / "_locales" / "en" / "messages.json").read_text())
POLL_MINUTES = 2

rules_server = server_fixture("module")

MARKER_PAGE = "/u/policy-marker"
MARKER_HTML = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Zoho Accounts</title></head><body>
<input type="checkbox" id="pwguard-policy-marker" name="marker">
<label for="pwguard-policy-marker">Policy marker box</label></body></html>"""
MARKER_YAML = """
  - id: test-policy-marker
    title: Test marker box that only the policy server's rules block
    why: Shows that the rules in force came from the server the policy names.
    action: block
    sites:
""" + "".join(f"      - https://{h}/*\n" for h in ZOHO_HOSTS) + """    controls:
      - selector: "#pwguard-policy-marker"
    message:
      en: The policy marker box is blocked by the policy server's rules.
      es: La casilla de prueba está bloqueada por las reglas del servidor de la directiva.
    help: https://{host}/u/h#sessions
  - id: test-portal-boxes
    title: Dangerous boxes on a white-label Zoho Accounts portal
    why: The portal serves Zoho's own dialog, so the same boxes sign out apps and tokens.
    action: block
    sites:
      - https://portal.example.org/*
    controls:
      - selector: "#ter_mob"
      - selector: "#ter_apiToken"
    message:
      en: The portal's sessions and tokens boxes are blocked by your organisation.
      es: Su organización bloquea las casillas de sesiones y tokens del portal.
    help: https://{host}/accounts/p/acme/u/h#sessions
"""
PORTAL = "portal.example.org"
PORTAL_PATH = "/accounts/p/acme/u/h"


@pytest.fixture(scope="module")
def policy_server(rules_server: Any) -> Any:
    """The real server with the default rules plus the marker rule; ``.version`` is set."""
    ruleset = (REPO / "rules" / "zoho.yaml").read_text("utf-8").rstrip("\n") + "\n" + MARKER_YAML
    answer = httpx.put(f"{rules_server.url}/v1/admin/rules", content=ruleset.encode(),
                       headers={**rules_server.admin_headers,
                                "Content-Type": "application/yaml"}, timeout=30)
    assert answer.status_code == 201, answer.text
    rules_server.version = answer.json()["version"]
    return rules_server


@pytest.fixture(scope="module")
def policy_firefox(policy_server: Any, extension_dir: Path,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[FirefoxBrowser]:
    """A Firefox of its own whose enterprise policy configures the extension."""
    settings = {"serverUrl": policy_server.url, "publicKey": policy_server.public_key,
                "pollMinutes": POLL_MINUTES}
    engine = FirefoxBrowser(
        extension_dir, tmp_path_factory.mktemp("firefox-policy"), (*ALL_HOSTS, PORTAL),
        prefs={"extensions.webextOptionalPermissionPrompts": False},
        policies={"3rdparty": {"Extensions": {"pwguard@pwguard.dev": settings}}})
    try:
        yield engine
    finally:
        engine.close()


@pytest.fixture
def managed(policy_firefox: FirefoxBrowser, zoho: ZohoMock) -> FirefoxBrowser:
    policy_firefox.reset()
    return policy_firefox


def status_when(browser: Browser, condition: Callable[[dict[str, Any]], bool],
                timeout: float = 30) -> dict[str, Any]:
    """The options page's data-status once ``condition`` holds: the page shows the status as
    of its load, so it is loaded again (each load is the poll interval) until then."""
    deadline = time.monotonic() + timeout
    while True:
        browser.open_options()
        status: dict[str, Any] = json.loads(
            browser.js("return document.documentElement.dataset.status"))
        if condition(status):
            return status
        if time.monotonic() > deadline:
            raise TimeoutError(f"{browser.name}: status still {status} after {timeout}s")


FIELDS = """return ["serverUrl", "publicKey", "pollMinutes"].map(id => {
  const note = document.querySelector(`.managed[data-for="${id}"]`);
  const input = document.getElementById(id);
  return {value: input.value, disabled: input.disabled,
          note: note.hidden ? null : note.textContent.trim(),
          noteShown: note.getClientRects().length > 0};
});"""


def test_policy_values_are_shown_disabled_as_set_by_the_administrator(
        managed: FirefoxBrowser, policy_server: Any) -> None:
    managed.open_options()
    fields = managed.js(FIELDS)
    note = MESSAGES_EN["managedNote"]["message"]
    assert [f["value"] for f in fields[:2]] == [policy_server.url, policy_server.public_key]
    assert float(fields[2]["value"]) == POLL_MINUTES
    assert all(f["disabled"] and f["note"] == note and f["noteShown"] for f in fields), fields


def test_the_extension_syncs_from_the_server_the_policy_names(
        managed: FirefoxBrowser, policy_server: Any, zoho: ZohoMock) -> None:
    status = status_when(managed, lambda s: s["source"] == "server")
    assert (status["version"], status["from"], status["lastError"]) == (
        policy_server.version, policy_server.url, None), status
    zoho.add_page(MARKER_PAGE, MARKER_HTML)
    managed.open(zoho.url("accounts.zoho.eu", MARKER_PAGE))
    assert_blocked(managed, "#pwguard-policy-marker")
    managed.open(zoho.url("accounts.zoho.com", STEP2))
    assert_blocked(managed, "#ter_mob")
    assert_blocked(managed, "#ter_apiToken")


def test_a_person_cannot_override_the_policy(
        managed: FirefoxBrowser, policy_server: Any, zoho: ZohoMock) -> None:
    closed = f"http://127.0.0.1:{free_port()}/"
    managed.open_options()
    # past the disabled fields: the message the options page would send, with other values
    answer = managed.js("""return browser.runtime.sendMessage({type: "pwguard/save-settings",
        settings: {serverUrl: arguments[0], publicKey: "", pollMinutes: 5}});""", closed)
    assert answer.get("saveErrors") in (None, []), answer
    assert (answer["serverUrl"], answer["publicKey"], answer["pollMinutes"]) == (
        policy_server.url, policy_server.public_key, POLL_MINUTES), answer
    assert sorted(answer["managed"]) == ["pollMinutes", "publicKey", "serverUrl"]
    status = status_when(managed, lambda s: s["source"] == "server")
    assert (status["from"], status["version"], status["lastError"]) == (
        policy_server.url, policy_server.version, None), status
    # and the policy server's rules are still the ones in force on the page
    zoho.add_page(MARKER_PAGE, MARKER_HTML)
    managed.open(zoho.url("accounts.zoho.jp", MARKER_PAGE))
    assert_blocked(managed, "#pwguard-policy-marker")


def test_a_white_label_host_allowed_on_the_options_page_gets_its_boxes_blocked(
        managed: FirefoxBrowser, zoho: ZohoMock) -> None:
    from tools.zoho_pages import change_password_page

    zoho.add_page(PORTAL_PATH, change_password_page("en", step=2, live=True))
    portal = f"https://{PORTAL}:{zoho.port}{PORTAL_PATH}#security/security_pwd"
    status_when(managed, lambda s: s["source"] == "server")  # the rules name the portal
    # not allowed yet: nothing of the extension runs there
    managed.open(portal)
    managed.wait('return document.documentElement.dataset.zohoStep === "2"')
    assert managed.js(CONTROL, "#ter_mob") == {"checked": False, "disabled": False, "mark": None}

    managed.open_options()
    managed.type_into("#grantHost", PORTAL)
    managed.click("#grantHostButton")
    result = managed.wait("""const r = document.getElementById("grantHostResult");
        return r.dataset.state && r.dataset.state !== "pending"
          && {state: r.dataset.state, text: r.textContent};""")
    pattern = f"https://{PORTAL}/*"
    assert result == {"state": "granted", "text": f"Allowed on {pattern}"}, result
    assert managed.js("""return [...document.querySelectorAll("#grantedHosts li")]
        .map(li => li.textContent);""") == [pattern]

    managed.open(portal)
    assert_blocked(managed, "#ter_mob")
    assert_blocked(managed, "#ter_apiToken")
    assert managed.js(CONTROL, "#ter_all") == {"checked": False, "disabled": False, "mark": None}


def test_the_host_field_refuses_what_is_not_an_https_host(managed: FirefoxBrowser) -> None:
    managed.open_options()
    invalid = MESSAGES_EN["grantHostInvalid"]["message"]
    for text in ("", "http://portal.example.org/", "https://portal.example.org:8443/"):
        managed.type_into("#grantHost", text)
        managed.js('delete document.getElementById("grantHostResult").dataset.state;')
        managed.click("#grantHostButton")
        assert managed.wait("""const r = document.getElementById("grantHostResult");
            return r.dataset.state && {state: r.dataset.state, text: r.textContent};""") == {
            "state": "invalid", "text": invalid}, text

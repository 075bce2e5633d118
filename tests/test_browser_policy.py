"""Enterprise policy (managed storage) and white-label hosts, in a real Chromium and Firefox.

Each engine runs an instance of its own (this module's ``browser``, which overrides conftest's,
is module-scoped and parametrized chromium/firefox) whose enterprise policy sets the
extension's ``serverUrl``, ``publicKey`` and ``pollMinutes``, exactly as an administrator's
would, for that instance only (``tests/browsers.py``):

- Firefox reads a test ``policies.json`` (``3rdparty.Extensions``) through
  ``browser.policies.alternatePath`` (``_policy_setup``).
- Chromium reads policies only from /etc/chromium/policies/managed/*.json, machine-wide. It is
  started through ``tests/chromium-policy-wrapper``, which binds a copy of /etc/chromium holding
  the test's policy file (``3rdparty.extensions.<id>``) over /etc/chromium in a private mount
  namespace: the machine's /etc is never written. That takes root (or CAP_SYS_ADMIN), as the
  tests and CI have; without it the Chromium tests fail, naming what is missing.

The options page must show those values disabled ("set by your administrator") and the
extension must sync from that server, a real `pwguard serve` whose rules add a marker rule; a
person can't override them.

White-label hosts: the policy server's rules name ``portal.example.org``, where the mock serves
Zoho's dialog under ``/accounts/p/<portal>/u/h``. Until the host is allowed nothing of the
extension runs there; once it is allowed on the options page ("Allow on host", the
extension's own ``permissions.request``), the dangerous boxes are blocked. The browser's grant
behind that request, without a person to click its prompt:

- Firefox runs with ``extensions.webextOptionalPermissionPrompts=false``, so the request is
  granted without a prompt, as an administrator's click would answer it.
- Chromium always prompts for a new optional host permission (no switch, policy or CDP
  method answers or skips that prompt; headless, it stays open and the request never settles),
  except for hosts already granted by the user (permissions_api.cc: runtime-granted
  permissions are not prompted for). So the test first grants the host from chrome://extensions,
  with that page's own ``chrome.developerPrivate.addHostPermission`` (``ChromiumBrowser.
  allow_on_extensions_page``); that alone activates nothing (the extension still lacks the
  permission and nothing runs on the portal), and the options page's request is then granted
  without a prompt. Sites "always allowed to use extensions" (chrome://extensions/
  sitePermissions) do not count: the request still prompts.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browsers import (
    ALARMS,
    REPO,
    Browser,
    ChromiumBrowser,
    FirefoxBrowser,
    chromium_extension_id,
    read_manifest,
)
from tests.dom import CONTROL, STEP2, assert_blocked
from tests.serve import default_rules_plus, server_fixture
from tests.zoho_mock import ALL_HOSTS, ZOHO_HOSTS, ZohoMock, free_port

MESSAGES_EN = json.loads((REPO / "extension" / "_locales" / "en" / "messages.json").read_text())
POLL_MINUTES = 2

rules_server = server_fixture("module")

MARKER_PAGE = "/u/policy-marker"
MARKER_HTML = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Zoho Accounts</title></head><body>
<input type="checkbox" id="pwguard-policy-marker" name="marker">
<label for="pwguard-policy-marker">Policy marker box</label>
<div id="terminate_api_tok" class="checkbox_div"><input class="checkbox_check" id="ter_apiToken"
  type="checkbox" name="clear_apiToken"><label class="session_label" for="ter_apiToken">
  Revoke connected app's access to your account.</label></div>
</body></html>"""
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
"""


def portal_rule(rule_id: str, title: str, site: str, *selectors: str) -> str:
    """A rule (YAML, as an item of the `rules:` list) that blocks `selectors` on the pages of
    a white-label portal's `site`."""
    controls = "".join(f'      - selector: "{selector}"\n' for selector in selectors)
    return f"""  - id: {rule_id}
    title: {title}
    why: The portal serves Zoho's own dialog, so the same boxes sign out apps and tokens.
    action: block
    sites:
      - {site}
    controls:
{controls}    message:
      en: The portal's dangerous boxes are blocked by your organisation.
      es: Su organización bloquea las casillas peligrosas del portal.
    help: https://{{host}}/accounts/p/acme/u/h#sessions
"""


MARKER_YAML += portal_rule(
    "test-portal-boxes", "Dangerous boxes on a white-label Zoho Accounts portal",
    "https://portal.example.org/accounts/*", "#ter_mob", "#ter_apiToken")
MARKER_YAML += portal_rule(
    "test-portals-wildcard", "Dangerous boxes on every portal of a reseller's domain",
    "https://*.portals.example.net/accounts/*", "#ter_mob")
LATE_YAML = portal_rule(
    "test-late-portal", "Dangerous boxes on a portal the rules name after it was allowed",
    "https://late.example.org/accounts/*", "#ter_mob")
LATE_PORTAL = "late.example.org"  # allowed first, named by the rules later
PORTAL = "portal.example.org"
PORTAL_PATH = "/accounts/p/acme/u/h"
WILD_PORTAL = "acme.portals.example.net"  # taken in by a rule's site "https://*.portals..."


@pytest.fixture(scope="module")
def policy_server(rules_server: Any) -> Any:
    """The real server with the default rules plus the marker rule; ``.version`` is set."""
    answer = rules_server.publish(default_rules_plus(MARKER_YAML))
    assert answer.status_code == 201, answer.text
    rules_server.version = answer.json()["version"]
    return rules_server


def launch(engine: str, extension_dir: Path, workdir: Path, settings: dict[str, Any],
           hosts: tuple[str, ...] = ALL_HOSTS) -> Browser:
    """An instance of ``engine`` of its own whose enterprise policy sets ``settings``."""
    if engine == "chromium":
        extension_id = chromium_extension_id(read_manifest(extension_dir))
        if extension_id is None:
            raise ValueError(f"{extension_dir}/manifest.json has no key: a Chromium policy must "
                             "name the extension's id, which the key fixes")
        return ChromiumBrowser(extension_dir, workdir, hosts,
                               policies={"3rdparty": {"extensions": {extension_id: settings}}})
    return FirefoxBrowser(
        extension_dir, workdir, hosts,
        prefs={"extensions.webextOptionalPermissionPrompts": False},
        policies={"3rdparty": {"Extensions": {"pwguard@pwguard.dev": settings}}})


@contextlib.contextmanager
def launched(engine: str, extension_dir: Path, workdir: Path,
             settings: dict[str, Any]) -> Iterator[Browser]:
    """``launch`` for one test: the instance is closed afterwards."""
    instance = launch(engine, extension_dir, workdir, settings)
    try:
        yield instance
    finally:
        instance.close()


@pytest.fixture(scope="module", params=["chromium", "firefox"])
def browser(request: pytest.FixtureRequest, policy_server: Any, extension_dir: Path,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """Each engine in turn, an instance of its own whose enterprise policy configures the
    extension (not the session's shared browsers); one engine's tests run, then the other's."""
    settings = {"serverUrl": policy_server.url, "publicKey": policy_server.public_key,
                "pollMinutes": POLL_MINUTES}
    workdir = tmp_path_factory.mktemp(f"{request.param}-policy")
    engine = launch(request.param, extension_dir, workdir, settings,
                    (*ALL_HOSTS, PORTAL, WILD_PORTAL, LATE_PORTAL))
    try:
        yield engine
    finally:
        engine.close()


@pytest.fixture
def managed(browser: Browser, zoho: ZohoMock) -> Browser:
    """The policy-configured ``browser`` on a fresh tab."""
    browser.reset()
    return browser


def status_when(browser: Browser, condition: Callable[[dict[str, Any]], bool],
                timeout: float = 30) -> dict[str, Any]:
    """The options page's data-status once ``condition`` holds: the page draws the status
    again whenever the background stores one, so this waits for each change of it."""
    deadline = time.monotonic() + timeout
    browser.open_options()
    shown = browser.js("return document.documentElement.dataset.status")
    while not condition(status := json.loads(shown)):
        try:
            shown = browser.wait("""const shown = document.documentElement.dataset.status;
                return shown !== arguments[0] && shown;""", shown,
                                 timeout=max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            raise TimeoutError(f"{browser.name}: status still {status} after {timeout}s") from None
    return status


def save_past_the_fields(browser: Browser, server_url: str, public_key: str) -> dict[str, Any]:
    """Send the message the options page's Save would send, with values its disabled fields
    would not let a person type; the background's answer (the status after its sync)."""
    browser.open_options()
    answer: dict[str, Any] = browser.js("""const ext = globalThis.browser ?? globalThis.chrome;
        return ext.runtime.sendMessage({type: "pwguard/save-settings", settings: arguments[0]});
        """, {"serverUrl": server_url, "publicKey": public_key, "pollMinutes": 5})
    return answer


FIELDS = """return ["serverUrl", "publicKey", "pollMinutes"].map(id => {
  const note = document.querySelector(`.managed[data-for="${id}"]`);
  const input = document.getElementById(id);
  return {value: input.value, disabled: input.disabled,
          note: note.hidden ? null : note.textContent.trim(),
          noteShown: note.getClientRects().length > 0};
});"""


def test_policy_values_are_shown_disabled_as_set_by_the_administrator(
        managed: Browser, policy_server: Any) -> None:
    managed.open_options()
    fields = managed.js(FIELDS)
    note = MESSAGES_EN["managedNote"]["message"]
    assert [f["value"] for f in fields[:2]] == [policy_server.url, policy_server.public_key]
    assert float(fields[2]["value"]) == POLL_MINUTES
    assert all(f["disabled"] and f["note"] == note and f["noteShown"] for f in fields), fields


def test_the_extension_syncs_from_the_server_the_policy_names(
        managed: Browser, policy_server: Any, zoho: ZohoMock) -> None:
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
        managed: Browser, policy_server: Any, zoho: ZohoMock) -> None:
    closed = f"http://127.0.0.1:{free_port()}/"
    answer = save_past_the_fields(managed, closed, "")
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


def test_the_policy_poll_interval_is_how_often_the_extension_syncs(
        managed: Browser, policy_server: Any) -> None:
    """The policy's pollMinutes is the period of the alarm that syncs, not only the number the
    options page shows (the status's pollMinutes is read apart from the alarm); a save of the
    person's own interval leaves it so."""
    status_when(managed, lambda s: s["source"] == "server")
    managed.open_options()
    assert managed.wait(ALARMS) == [["pwguard-sync", POLL_MINUTES]]
    answer = save_past_the_fields(managed, policy_server.url, policy_server.public_key)
    assert answer["pollMinutes"] == POLL_MINUTES, answer  # (the person asked for 5)
    managed.open_options()
    assert managed.wait(ALARMS) == [["pwguard-sync", POLL_MINUTES]]


def test_a_policy_server_url_left_empty_pins_the_bundled_rules(
        browser: Browser, extension_dir: Path, tmp_path: Path, policy_server: Any,
        zoho: ZohoMock) -> None:
    """serverUrl "" means "the bundled rules only" (managed_schema.json): the field is the
    administrator's like any other, and a server the person names is not used."""
    zoho.add_page(MARKER_PAGE, MARKER_HTML)
    with launched(browser.name, extension_dir, tmp_path, {"serverUrl": ""}) as pinned:
        pinned.open_options()
        assert pinned.js(FIELDS)[0] == {"value": "", "disabled": True, "noteShown": True,
                                        "note": MESSAGES_EN["managedNote"]["message"]}
        answer = save_past_the_fields(pinned, policy_server.url, policy_server.public_key)
        # (the key goes with the server: pinned too, as "")
        assert (answer["serverUrl"], answer["publicKey"], answer["source"],
                sorted(answer["managed"])) == (
            "", "", "bundled", ["publicKey", "serverUrl"]), answer
        pinned.open(zoho.url("accounts.zoho.eu", MARKER_PAGE))
        # the bundled rules judge this page (a box of theirs on it is blocked), and the marker
        # box, which only the named server's rules block, is left as the page made it
        assert_blocked(pinned, "#ter_apiToken")
        assert pinned.js(CONTROL, "#pwguard-policy-marker") == {
            "checked": False, "disabled": False, "mark": None}
        pinned.open(zoho.url("accounts.zoho.eu", STEP2))
        assert_blocked(pinned, "#ter_mob")


def test_wrong_policy_values_are_told_naming_the_policy_key_and_the_fix(
        browser: Browser, extension_dir: Path, tmp_path: Path, policy_server: Any) -> None:
    """Nothing checks a policy's values but the extension: a garbled key must not read as a
    bad signature from the server, nor a poll interval out of range be changed unsaid, nor
    an address with a password (which browsers refuse to fetch) put the password on show."""
    wrong = {"serverUrl": policy_server.url.replace("http://", "http://rules:S3cretPassw0rd@"),
             "publicKey": "this is not a key!", "pollMinutes": 0.01}
    with launched(browser.name, extension_dir, tmp_path, wrong) as instance:
        status = status_when(instance, lambda s: bool(s["lastError"]))
        error = status["lastError"]
        assert status["source"] == "bundled", status
        assert 'policy "serverUrl"' in error and "S3cretPassw0rd" not in error, error
        assert 'policy "publicKey"' in error and "`pwguard keygen`" in error, error
        assert 'policy "pollMinutes"' in error and "0.5 to 1440" in error, error
        assert "signature" not in error, error


def test_policy_text_is_read_without_the_spaces_around_it(
        browser: Browser, extension_dir: Path, tmp_path: Path, policy_server: Any) -> None:
    """A policy file's stray space or newline around a value (the options page trims what a
    person types) must not end up in the address fetched nor read as a bad key."""
    spaced = {"serverUrl": f" {policy_server.url} ", "publicKey": f"\n{policy_server.public_key} ",
              "pollMinutes": POLL_MINUTES}
    with launched(browser.name, extension_dir, tmp_path, spaced) as instance:
        status = status_when(instance, lambda s: s["source"] == "server" or bool(s["lastError"]))
        assert (status["source"], status["from"], status["version"], status["lastError"]) == (
            "server", policy_server.url, policy_server.version, None), status


def test_a_policy_server_url_that_names_the_rules_address_is_told_and_used(
        browser: Browser, extension_dir: Path, tmp_path: Path, policy_server: Any) -> None:
    """A policy whose serverUrl is the rules' own address (<server>/v1/rules) is told, naming
    the policy key and the address to give, and the rules are fetched from <server>/v1/rules,
    not <server>/v1/rules/v1/rules (as a policy's "?" part is left out and told)."""
    base = policy_server.url.rstrip("/")
    settings = {"serverUrl": f"{base}/v1/rules", "publicKey": policy_server.public_key,
                "pollMinutes": POLL_MINUTES}
    with launched(browser.name, extension_dir, tmp_path, settings) as instance:
        status = status_when(instance, lambda s: s["source"] == "server" or bool(s["lastError"]))
        assert (status["source"], status["version"]) == ("server", policy_server.version), status
        assert status["lastError"] == (
            'Enterprise policy "serverUrl" (ask your administrator): leave "/v1/rules" out of '
            f"the address, give {base}/ (the extension fetches the rules from {base}/v1/rules)"
        ), status


def test_a_policy_that_sets_the_server_or_the_key_alone_sets_both(
        browser: Browser, extension_dir: Path, tmp_path: Path, policy_server: Any) -> None:
    """The server and its key go together: with the policy's server and no key, the person
    must not supply a key (nor with the policy's key, a server), and the error names the
    policy's missing key, not a bad signature. A poll interval that is no number at all (a
    browser that checks types drops it) is the default, not the shortest interval; an
    address with a "?" part is told, as it is not fetched with it. (Firefox passes a policy
    value of the wrong type on; Chromium drops it, and the harness refuses such a policy.)"""
    half: dict[str, Any] = {"serverUrl": f"{policy_server.url}?token=1"}
    firefox = browser.name == "firefox"
    if firefox:  # (Chromium drops a value of the wrong type: the test's harness says so)
        half["pollMinutes"] = ""
    with launched(browser.name, extension_dir, tmp_path, half) as instance:
        status = status_when(instance, lambda s: bool(s["lastError"]))
        error = status["lastError"]
        assert status["source"] == "bundled", status
        assert 'policy "publicKey" (ask your administrator): empty or missing' in error, error
        assert 'policy "serverUrl" (ask your administrator): leave the "?" or "#" part out' in (
            error), error
        assert f"{policy_server.url.rstrip('/')}/v1/rules," in error, error
        assert "signature" not in error, error
        assert ('policy "pollMinutes"' in error) is firefox, error
        answer = save_past_the_fields(instance, policy_server.url, policy_server.public_key)
        assert (answer["publicKey"], answer["source"], answer["pollMinutes"]) == (
            "", "bundled", 5), answer
        assert sorted(answer["managed"]) == (
            ["pollMinutes"] if firefox else []) + ["publicKey", "serverUrl"], answer
        instance.open_options()
        assert [f["disabled"] for f in instance.js(FIELDS)[:2]] == [True, True]


def test_a_policy_the_browser_fails_to_read_stays_in_force(
        extension_dir: Path, tmp_path: Path, policy_server: Any) -> None:
    """A browser whose policy service fails (simulated: storage.managed.get rejects in the
    extension's service worker) has not lost the policy: the last one read stays in force,
    locked, and the options page says why, rather than the person's own server standing in for
    the administrator's. (Firefox's rejection when no policy names the extension at all is
    "no policy": test_browser_sync.py checks that the extension knows its words.)"""
    settings = {"serverUrl": policy_server.url, "publicKey": policy_server.public_key,
                "pollMinutes": POLL_MINUTES}
    with launched("chromium", extension_dir, tmp_path, settings) as instance:
        assert isinstance(instance, ChromiumBrowser)
        status_when(instance, lambda s: s["source"] == "server")
        instance.background_js("""chrome.storage.managed.get = () =>
            Promise.reject(new Error("simulated: the policy service failed"));""")
        closed = f"http://127.0.0.1:{free_port()}/"
        answer = save_past_the_fields(instance, closed, "")
        assert (answer["serverUrl"], answer["publicKey"], answer["pollMinutes"]) == (
            policy_server.url, policy_server.public_key, POLL_MINUTES), answer
        assert sorted(answer["managed"]) == ["pollMinutes", "publicKey", "serverUrl"], answer
        assert (answer["source"], answer["from"], answer["version"]) == (
            "server", policy_server.url, policy_server.version), answer
        assert answer["lastError"].startswith(
            "Enterprise policy: could not be read (simulated: the policy service failed); the "
            "last policy read is in force"), answer


def grant_from_options_page(browser: Browser, host: str) -> dict[str, str]:
    """``host`` typed into the options page's "Allow on host" and Allow pressed: the result
    shown ({state, text}) once the grant is answered."""
    browser.open_options()
    browser.type_into("#grantHost", host)
    browser.click("#grantHostButton")
    result: dict[str, str] = browser.wait("""const r = document.getElementById("grantHostResult");
        return r.dataset.state && r.dataset.state !== "pending"
          && {state: r.dataset.state, text: r.textContent};""")
    return result


def test_a_white_label_host_allowed_on_the_options_page_gets_its_boxes_blocked(
        managed: Browser, zoho: ZohoMock) -> None:
    from tools.zoho_pages import change_password_page

    zoho.add_page(PORTAL_PATH, change_password_page("en", step=2, live=True))
    portal = f"https://{PORTAL}:{zoho.port}{PORTAL_PATH}#security/security_pwd"
    status_when(managed, lambda s: s["source"] == "server")  # the rules name the portal
    # not allowed yet: nothing of the extension runs there
    managed.open(portal)
    managed.wait('return document.documentElement.dataset.zohoStep === "2"')
    assert managed.js(CONTROL, "#ter_mob") == {"checked": False, "disabled": False, "mark": None}

    pattern = f"https://{PORTAL}/*"
    if isinstance(managed, ChromiumBrowser):
        # the person's grant on chrome://extensions, which Chromium's prompt would have asked
        # for (see the module's docstring); it does not give the extension the host yet
        managed.allow_on_extensions_page(pattern)
        managed.open_options()
        assert managed.js("""return chrome.permissions.contains(
            {origins: [arguments[0]]});""", pattern) is False
        managed.open(portal)
        managed.wait('return document.documentElement.dataset.zohoStep === "2"')
        assert managed.js(CONTROL, "#ter_mob") == {
            "checked": False, "disabled": False, "mark": None}

    # allowed from the options page in another tab, while the portal's page stays open
    managed.js("window.openedBefore = true;")
    with managed.in_new_tab():
        result = grant_from_options_page(managed, PORTAL)
        assert result == {"state": "granted", "text": f"Allowed on {pattern}"}, result
        assert managed.js("""return [...document.querySelectorAll("#grantedHosts li")]
            .map(li => li.textContent);""") == [pattern]
    # the open page is protected at once, not at its next load
    assert_blocked(managed, "#ter_mob")
    assert managed.js("return window.openedBefore === true")

    managed.open(portal)
    assert_blocked(managed, "#ter_mob")
    assert_blocked(managed, "#ter_apiToken")
    assert managed.js(CONTROL, "#ter_all") == {"checked": False, "disabled": False, "mark": None}

    # a host the rules in force do not name: allowed, and told that pwguard does nothing there
    unnamed = "https://unnamed.example.org/*"
    if isinstance(managed, ChromiumBrowser):
        managed.allow_on_extensions_page(unnamed)
    result = grant_from_options_page(managed, "unnamed.example.org")
    assert result == {"state": "granted-unused", "text": MESSAGES_EN["grantHostNoRule"][
        "message"].replace("$PATTERN$", unnamed)}, result


def test_a_host_allowed_on_the_options_page_that_a_rule_names_by_a_wildcard_is_protected(
        managed: Browser, zoho: ZohoMock) -> None:
    """A rule's site with a wildcard host ("https://*.portals.example.net/accounts/*") takes in
    each host of that domain the administrator allows on the options page."""
    from tools.zoho_pages import change_password_page

    zoho.add_page(PORTAL_PATH, change_password_page("en", step=2, live=True))
    status_when(managed, lambda s: s["source"] == "server")
    pattern = f"https://{WILD_PORTAL}/*"
    if isinstance(managed, ChromiumBrowser):
        managed.allow_on_extensions_page(pattern)  # (see the white-label test above)
    result = grant_from_options_page(managed, WILD_PORTAL)
    assert result == {"state": "granted", "text": f"Allowed on {pattern}"}, result
    managed.open(f"https://{WILD_PORTAL}:{zoho.port}{PORTAL_PATH}#security/security_pwd")
    assert_blocked(managed, "#ter_mob")
    assert managed.js(CONTROL, "#ter_apiToken") == {
        "checked": False, "disabled": False, "mark": None}  # (the rule names #ter_mob only)


def test_an_open_page_on_an_allowed_host_is_protected_once_new_rules_name_it(
        managed: Browser, zoho: ZohoMock, policy_server: Any) -> None:
    """An administrator allows the host first, then publishes the rule naming it: a page on
    that host open all along gets the content scripts at the sync, not at its next load."""
    from tools.zoho_pages import change_password_page

    zoho.add_page(PORTAL_PATH, change_password_page("en", step=2, live=True))
    status_when(managed, lambda s: s["version"] == policy_server.version)
    pattern = f"https://{LATE_PORTAL}/*"
    if isinstance(managed, ChromiumBrowser):
        managed.allow_on_extensions_page(pattern)  # (see the white-label test above)
    assert grant_from_options_page(managed, LATE_PORTAL)["state"] == "granted-unused"
    managed.open(f"https://{LATE_PORTAL}:{zoho.port}{PORTAL_PATH}#security/security_pwd")
    managed.wait('return document.documentElement.dataset.zohoStep === "2"')
    assert managed.js(CONTROL, "#ter_mob") == {"checked": False, "disabled": False, "mark": None}
    managed.js("window.openedBefore = true;")
    answer = policy_server.publish(default_rules_plus(MARKER_YAML + LATE_YAML))
    try:
        assert answer.status_code in (200, 201), answer.text  # (201: new; 200: the other
        # engine's run published it first)
        with managed.in_new_tab():
            assert managed.sync_now()["version"] == answer.json()["version"]
        assert_blocked(managed, "#ter_mob")
        assert managed.js("return window.openedBefore === true")
    finally:  # the rules the other tests expect (the same text: the same version again)
        again = policy_server.publish(default_rules_plus(MARKER_YAML))
        assert again.json()["version"] == policy_server.version, again.text
        with managed.in_new_tab():
            managed.sync_now()


def test_the_host_field_refuses_what_is_not_an_https_host(managed: Browser) -> None:
    managed.open_options()
    invalid = MESSAGES_EN["grantHostInvalid"]["message"]
    for text in ("", "http://portal.example.org/", "https://portal.example.org:8443/", "*",
                 "*.com"):
        managed.type_into("#grantHost", text)
        managed.js('delete document.getElementById("grantHostResult").dataset.state;')
        managed.click("#grantHostButton")
        assert managed.wait("""const r = document.getElementById("grantHostResult");
            return r.dataset.state && {state: r.dataset.state, text: r.textContent};""") == {
            "state": "invalid", "text": invalid}, text


def change_chromium_policy(instance: ChromiumBrowser, settings: dict[str, Any]) -> None:
    """Rewrite the running Chromium's policy for the extension to ``settings`` (as an
    administrator's change reaches a running browser) and have it read at once (chrome://policy's
    "Reload policies", in another tab); returns once the extension's storage.managed holds it."""
    path = Path(instance._policy_etc) / "policies" / "managed" / "pwguard-test.json"
    path.write_text(json.dumps({"3rdparty": {"extensions": {instance.extension_id: settings}}}),
                    "utf-8")
    with instance.in_new_tab():
        instance.open("chrome://policy")
        instance.js("chrome.send('reloadPolicies');")
        instance.open_options()
        instance.wait("""const want = arguments[0];
            const canon = o => JSON.stringify(Object.keys(o).sort().map(k => [k, o[k]]));
            return chrome.storage.managed.get().then(got => canon(got) === canon(want));""",
                      settings, timeout=30)


def test_a_policy_lifted_while_the_options_page_is_open_leaves_the_persons_own_settings_shown(
        extension_dir: Path, tmp_path: Path, policy_server: Any) -> None:
    """An administrator takes the server and key out of the policy while the browser runs
    (Chromium applies a policy change at once; Firefox reads policies.json at its start only):
    the options page open meanwhile must show the settings now in force, the person's own (here
    none), not leave the administrator's server and key in fields the person may now edit and
    save as their own."""
    settings = {"serverUrl": policy_server.url, "publicKey": policy_server.public_key,
                "pollMinutes": POLL_MINUTES}
    with launched("chromium", extension_dir, tmp_path, settings) as instance:
        assert isinstance(instance, ChromiumBrowser)
        status_when(instance, lambda s: s["source"] == "server")
        instance.open_options()
        instance.js("window.openedBefore = true;")
        change_chromium_policy(instance, {"pollMinutes": POLL_MINUTES})
        # the page open all along draws the change: the fields the policy let go are enabled
        instance.wait("""return document.documentElement.dataset.status.includes('"bundled"')
            && !document.getElementById("serverUrl").disabled
            && !document.getElementById("publicKey").disabled;""")
        assert instance.js("return window.openedBefore === true")
        fields = instance.js(FIELDS)
        assert [(f["value"], f["disabled"], f["noteShown"]) for f in fields[:2]] == [
            ("", False, False), ("", False, False)], fields
        assert (float(fields[2]["value"]), fields[2]["disabled"]) == (POLL_MINUTES, True), fields

"""Protection never lapses (DESIGN.md, "The WebExtension"), in the real browsers.

A person saves the settings on the options page and opens Zoho right away, before the
extension has finished saving and syncing; the page must block the dangerous boxes every
time, whatever the background is doing at that moment. The settings alternate between a real
`pwguard serve` (whose rules add a marker rule, so the state in storage really changes) and
no server (the bundled rules), so each save rewrites the rules in force while the page loads.

The same holds in the moments when storage holds no rules at all (after install, before the
background's first write): the test empties storage through an extension page, the Zoho page
still blocks (content.js asks the background, which answers with the bundled rules), and the
next sync stores the rules again. In Chromium the same page loads with the service worker
stopped.

The options page's status follows the settings: once the server URL is cleared it shows the
bundled rules with no error left over from the server, and it names where the rules came from.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browsers import REPO, Browser, ChromiumBrowser
from tests.dom import BLOCKED, CONTROL, STEP2, assert_blocked
from tests.serve import default_rules_plus, server_fixture
from tests.zoho_mock import ZohoMock, free_port

ROUNDS = 6  # per browser: three saves that turn the server on, three that turn it off

rules_server = server_fixture("module")
MESSAGES_EN = json.loads((REPO / "extension" / "_locales" / "en" / "messages.json").read_text())
FROM_BUNDLED = MESSAGES_EN["statusFromBundled"]["message"]

MARKER_YAML = """
  - id: test-robustness-marker
    title: Test marker box that only the server's rules block
    why: Makes the rules in storage change with every save of the settings.
    action: block
    sites:
      - https://accounts.zoho.eu/*
    controls:
      - selector: "#pwguard-robustness-marker"
    message:
      en: The robustness marker box is blocked by the server's rules.
      es: La casilla de prueba está bloqueada por las reglas del servidor.
    help: https://{host}/u/h#sessions
"""

# read from an extension page (the options page): the state the background stored
STORED_STATE = """const ext = globalThis.browser ?? globalThis.chrome;
return ext.storage.local.get("state").then(items => items.state
  ? {source: items.state.source, version: items.state.version,
     rules: items.state.payload.rules.length}
  : null);"""
REMOVE_STATE = """const ext = globalThis.browser ?? globalThis.chrome;
return ext.storage.local.remove("state").then(() => true);"""


@pytest.fixture(scope="module")
def marker_server(rules_server: Any) -> Any:
    """The real server with the default rules plus a marker rule."""
    answer = rules_server.publish(default_rules_plus(MARKER_YAML))
    assert answer.status_code == 201, answer.text
    return rules_server


@pytest.fixture
def restored(browser: Browser) -> Iterator[Browser]:
    """``browser``; afterwards no server is configured and storage holds the bundled rules."""
    yield browser
    browser.configure()
    assert browser.extension_status()["source"] == "bundled"
    browser.open_options()
    assert browser.js(STORED_STATE)["source"] == "bundled"


def assert_protected(browser: Browser) -> None:
    assert_blocked(browser, "#ter_mob")
    assert_blocked(browser, "#ter_apiToken")
    assert browser.js(CONTROL, "#ter_all") == {"checked": False, "disabled": False,
                                               "mark": None}


def test_a_page_opened_right_after_saving_the_settings_is_always_protected(
        restored: Browser, zoho: ZohoMock, marker_server: Any) -> None:
    browser = restored
    page = zoho.url("accounts.zoho.eu", STEP2)
    for round_ in range(ROUNDS):
        on = round_ % 2 == 0
        browser.save_settings(server_url=marker_server.url if on else "",
                              public_key=marker_server.public_key if on else "",
                              poll_minutes=1440)
        browser.open(page)  # at once: the save and its sync may still be running
        try:
            assert_protected(browser)
        except (AssertionError, TimeoutError) as exc:
            raise AssertionError(f"{browser.name}: round {round_} (server "
                                 f"{'on' if on else 'off'}): {exc}") from exc
    # the last save (server off) did finish, and its rules are the bundled ones
    browser.open_options()
    browser.wait("""return document.documentElement.dataset.ready === "true"
        && JSON.parse(document.documentElement.dataset.status).source === "bundled";""")


def test_the_server_rules_saved_in_a_hurry_do_reach_the_page(
        restored: Browser, zoho: ZohoMock, marker_server: Any) -> None:
    """The control for the test above: its saves really change the rules in force."""
    browser = restored
    zoho.add_page("/u/robustness-marker", """<!doctype html><html lang="en"><head>
        <meta charset="utf-8"><title>Zoho Accounts</title></head><body>
        <input type="checkbox" id="pwguard-robustness-marker">
        <label for="pwguard-robustness-marker">Marker</label></body></html>""")
    browser.save_settings(server_url=marker_server.url, public_key=marker_server.public_key,
                          poll_minutes=1440)
    browser.open(zoho.url("accounts.zoho.eu", "/u/robustness-marker"))
    # no reload: the open page follows the rules as the sync stores them
    browser.wait(BLOCKED, "#pwguard-robustness-marker", timeout=20)


def test_a_page_is_protected_while_storage_holds_no_rules(
        restored: Browser, zoho: ZohoMock) -> None:
    browser = restored
    browser.open_options()
    assert browser.js(STORED_STATE)["rules"] > 0
    assert browser.js(REMOVE_STATE) is True
    assert browser.js(STORED_STATE) is None  # the moments before the background's first write
    browser.open(zoho.url("accounts.zoho.com", STEP2))
    assert_protected(browser)
    # the next sync stores the rules again
    assert browser.sync_now()["source"] == "bundled"
    assert browser.js(STORED_STATE)["source"] == "bundled"


def test_chromium_protects_a_page_while_the_service_worker_is_stopped(
        chromium: Browser, zoho: ZohoMock) -> None:
    """Static content scripts and stored rules need no running background: the page is
    protected and the worker is still stopped afterwards (nothing had to wake it)."""
    assert isinstance(chromium, ChromiumBrowser)
    page = zoho.url("accounts.zoho.in", STEP2)
    for _ in range(2):
        chromium.open_options()  # wakes the worker
        assert chromium.stop_service_workers() >= 1
        chromium.open(page)
        assert_protected(chromium)
        assert chromium.running_service_workers() == 0


def test_the_status_follows_the_settings_and_names_where_the_rules_came_from(
        restored: Browser, marker_server: Any) -> None:
    browser = restored
    closed = f"http://127.0.0.1:{free_port()}/"  # nothing listens there
    key = marker_server.public_key

    def status() -> tuple[str, str, str, bool]:
        s = browser.extension_status()
        return s["source"], s["from"], s["lastError"], bool(s["lastSync"])

    browser.configure(server_url=closed, public_key=key, poll_minutes=1440)
    source, origin, error, synced = status()
    assert (source, origin, synced) == ("bundled", FROM_BUNDLED, False) and error
    browser.configure()  # the server URL cleared: nothing of that server is left
    assert status() == ("bundled", FROM_BUNDLED, "", False)

    browser.configure(server_url=marker_server.url, public_key=key, poll_minutes=1440)
    assert status() == ("server", marker_server.url, "", True)
    # another server that fails: the rules in force, and where they came from, stay
    browser.configure(server_url=closed, public_key=key, poll_minutes=1440)
    source, origin, error, synced = status()
    assert (source, origin, synced) == ("server", marker_server.url, True)
    assert closed.rstrip("/") in error, error
    browser.configure()
    assert status() == ("bundled", FROM_BUNDLED, "", False)

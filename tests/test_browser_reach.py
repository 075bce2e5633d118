"""A Zoho host a person withholds from pwguard (Chrome's site access "On click", Firefox's
permissions in about:addons) is one where nothing of pwguard runs. The toolbar icon then says
"!" and names the hosts in its title, the options page lists them with a button that asks for
them back, and once they are given back the Zoho pages already open are protected without a
reload.

How each browser withholds and gives back, as a person would:
- Chromium: chrome://extensions' own calls (``chrome.developerPrivate``), site access "On
  click", then "On all sites" (Chromium's prompt for the options page's request cannot be
  answered headless: see tests/test_browser_policy.py).
- Firefox: ``permissions.remove`` of one host, what about:addons' toggle does, then the options
  page's button, whose request is granted without a prompt
  (``extensions.webextOptionalPermissionPrompts`` off, as the administrator's click would).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browsers import Browser, ChromiumBrowser, FirefoxBrowser
from tests.dom import CONTROL, STEP2, assert_blocked
from tests.zoho_mock import ALL_HOSTS, ZohoMock

FREE = {"checked": False, "disabled": False, "mark": None}
HOST = "accounts.zoho.eu"
ORIGIN = f"https://{HOST}/*"
MESSAGES_EN = json.loads(
    (Path(__file__).resolve().parents[1] / "extension/_locales/en/messages.json").read_text())
NAME = MESSAGES_EN["extName"]["message"]


@pytest.fixture(params=["chromium", "firefox"])
def browser(request: pytest.FixtureRequest, extension_dir: Path,
            tmp_path: Path) -> Iterator[Browser]:
    """An instance of its own: what is withheld here must not leak into other tests."""
    engine: Browser
    if request.param == "chromium":
        engine = ChromiumBrowser(extension_dir, tmp_path, ALL_HOSTS)
    else:
        engine = FirefoxBrowser(extension_dir, tmp_path, ALL_HOSTS,
                                prefs={"extensions.webextOptionalPermissionPrompts": False})
    try:
        yield engine
    finally:
        engine.close()


def site_access(browser: ChromiumBrowser, access: str) -> None:
    """chrome://extensions' "Site access" choice for pwguard: ON_CLICK, ON_ALL_SITES."""
    with browser.in_new_tab():
        browser.open(f"chrome://extensions/?id={browser.extension_id}")
        error = browser.js("""return chrome.developerPrivate.updateExtensionConfiguration(
            {extensionId: arguments[0], hostAccess: arguments[1]})
            .then(() => null, e => String(e && e.message || e));""",
                           browser.extension_id, access)
        assert error is None, error


def reach(browser: Browser, badge: str) -> dict[str, Any]:
    """What the options page (open in this tab) shows of the hosts out of reach, once drawn,
    and the toolbar icon's badge and title, once the background has set the badge to ``badge``
    (it does so on the same permission events as the page, each on its own)."""
    browser.wait('return document.documentElement.dataset.ready === "true"')
    with contextlib.suppress(TimeoutError):  # (the comparison after shows what it is instead)
        browser.wait("return chrome.action.getBadgeText({}).then(t => t === arguments[0]);",
                     badge)
    shown: dict[str, Any] = browser.js("""return Promise.all([chrome.action.getBadgeText({}),
            chrome.action.getTitle({})]).then(([badge, title]) => ({
        shown: !document.getElementById("reach").hidden,
        hosts: [...document.querySelectorAll("#unreachableHosts li")].map(li => li.textContent),
        status: JSON.parse(document.documentElement.dataset.status).unreachable,
        badge, title}));""")
    return shown


def test_a_withheld_zoho_host_is_told_and_protected_once_given_back(
        browser: Browser, zoho: ZohoMock) -> None:
    browser.open_options()
    assert reach(browser, "") == {"shown": False, "hosts": [], "status": [], "badge": "",
                                  "title": NAME}
    # (not allowed in private windows unless a person or a policy allows it)
    assert browser.js("""const dd = document.getElementById("status-privateWindows");
        return [dd.dataset.value, dd.textContent];""") == [
        "false", MESSAGES_EN["privateNotAllowed"]["message"]]

    if isinstance(browser, ChromiumBrowser):
        site_access(browser, "ON_CLICK")  # every host withheld
        withheld = [h.removeprefix("https://").removesuffix("/*")
                    for h in browser.manifest["host_permissions"]]
    else:
        browser.js("return browser.permissions.remove({origins: [arguments[0]]});", ORIGIN)
        withheld = [HOST]

    # the page on the withheld host: nothing of pwguard runs there
    browser.open(zoho.url(HOST, STEP2))
    assert browser.js(CONTROL, "#ter_mob") == FREE
    browser.js("window.openedBefore = true;")

    with browser.in_new_tab():
        browser.open_options()
        shown = browser.wait("""const hosts = [...document.querySelectorAll(
                "#unreachableHosts li")].map(li => li.textContent);
            return !document.getElementById("reach").hidden && hosts.length && hosts;""")
        assert shown == withheld
        state = reach(browser, "!")
        assert state["status"] == [f"https://{h}/*" for h in withheld]
        assert state["badge"] == "!"
        assert state["title"] == MESSAGES_EN["badgeUnreachable"]["message"].replace(
            "$HOSTS$", ", ".join(withheld))
        assert browser.js('return document.getElementById("reach").getAttribute("role")') == "alert"

        if isinstance(browser, ChromiumBrowser):
            site_access(browser, "ON_ALL_SITES")  # from a third tab: this page redraws itself
        else:
            browser.click("#allowZoho")
        browser.wait('return document.getElementById("reach").hidden')
        assert reach(browser, "") == {"shown": False, "hosts": [], "status": [], "badge": "",
                                      "title": NAME}

    # the page that was open all along is protected now, not at its next load
    assert_blocked(browser, "#ter_mob")
    assert_blocked(browser, "#ter_apiToken")
    assert browser.js("return window.openedBefore === true")

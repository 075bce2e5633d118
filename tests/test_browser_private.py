"""Private windows (Firefox) and Incognito windows (Chromium): the extension protects there only
when it is allowed there, and the way README's "Private windows" tells an administrator to
allow it is what makes the difference.

Each engine runs two instances of its own (module-scoped): ``browser``, where the extension is
allowed in private windows, and ``unallowed``, the same without that one setting. Both open the
mocked change-password dialog (step 2) in a private window. Allowed: the dangerous boxes are
blocked and the banner shown (DESIGN.md's DOM contract). Not allowed: nothing of the extension
runs there: the MAIN-world guard's marker (``window.__pwguardMainInstalled``, defined at
document_start) is absent once the page has loaded, no box is touched, no banner; and the same
page in a normal window of that instance is protected, so the extension itself works there.

Firefox: the enterprise policy ``ExtensionSettings`` {"pwguard@pwguard.dev":
{"private_browsing": true}} (an alternate policies.json, ``tests/browsers._policy_setup``). It
applies to the temporarily installed add-on of the tests as to an installed one: firefox-esr
153's Extension.sys.mjs (``_setupStartupPermissions``) grants or revokes the hidden permission
``internal:privateBrowsingAllowed`` from ``Services.policies.getExtensionSettings(id)
.private_browsing`` at every startup of any extension that is not built in, hidden or
``"incognito": "not_allowed"``, temporary or not. A temporary install by itself does not grant
it (Marionette's Addon:Install grants it only when asked with ``allowPrivateBrowsing``, which
marionette_driver never sends). The control instance's policy names the extension too, with
``installation_mode: "allowed"`` (the default) and no ``private_browsing``, so that the key is
the only difference. ``private_browsing: true`` also locks the "Run in Private Windows" choice
in about:addons (XPIDatabase.sys.mjs: no PERM_CAN_CHANGE_PRIVATEBROWSING_ACCESS then).

Chromium: no policy lets an extension run in Incognito (ExtensionSettings has no such field);
a person turns on "Allow in Incognito" at chrome://extensions, which the test does with that
page's own ``chrome.developerPrivate.updateExtensionConfiguration({incognitoAccess: true})``
(``ChromiumBrowser.allow_in_incognito``). The Incognito window is opened by
``chrome.windows.create({incognito: true})`` and driven over CDP
(``ChromiumBrowser.private_window``): Playwright cannot open one, and a Playwright/CDP browser
context (``browser.new_context()``) is not Incognito: Chromium runs no extension there even
when it is allowed in Incognito (seen with Chromium 156), so it could not show the difference.
The administrator's two policies are checked last: ``IncognitoModeAvailability`` = 1 (Chromium
opens no Incognito window at all) and ``MandatoryExtensionsForIncognitoNavigation`` naming the
extension (Incognito loads no page until the person allows the extension there), which
Chromium 156 on Linux honours.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browsers import (
    Browser,
    ChromiumBrowser,
    FirefoxBrowser,
    chromium_extension_id,
    read_manifest,
)
from tests.dom import BANNERS, CONTROL, STEP2, assert_blocked, banner_text, rule_for, squash
from tests.zoho_mock import ALL_HOSTS, ZohoMock

MESSAGES_EN = json.loads(
    (Path(__file__).resolve().parents[1] / "extension/_locales/en/messages.json").read_text())
GECKO_ID = "pwguard@pwguard.dev"
ALLOWED = {"ExtensionSettings": {GECKO_ID: {"private_browsing": True}}}
NOT_ALLOWED = {"ExtensionSettings": {GECKO_ID: {"installation_mode": "allowed"}}}

STEP2_SHOWN = 'return document.documentElement.dataset.zohoStep === "2"'
SHOWN = "return [location.href, document.title]"
GUARD_MARK = "return window.__pwguardMainInstalled === true"
UNTOUCHED = {"checked": False, "disabled": False, "mark": None}


@contextlib.contextmanager
def launched(engine: str, extension_dir: Path, workdir: Path, *, allowed: bool
             ) -> Iterator[Browser]:
    """An instance of ``engine`` of its own, the extension allowed in private windows or not
    (see the module's docstring for how); closed afterwards."""
    instance: Browser
    if engine == "firefox":
        instance = FirefoxBrowser(extension_dir, workdir, ALL_HOSTS,
                                  policies=ALLOWED if allowed else NOT_ALLOWED)
    else:
        instance = ChromiumBrowser(extension_dir, workdir, ALL_HOSTS)
    try:
        if allowed and isinstance(instance, ChromiumBrowser):
            instance.allow_in_incognito()
        yield instance
    finally:
        instance.close()


@pytest.fixture(scope="module", params=["chromium", "firefox"])
def browser(request: pytest.FixtureRequest, extension_dir: Path,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """Each engine in turn, an instance of its own where the extension is allowed in private
    windows (not conftest's shared browsers)."""
    with launched(request.param, extension_dir,
                  tmp_path_factory.mktemp(f"{request.param}-private"), allowed=True) as instance:
        yield instance


@pytest.fixture(scope="module")
def unallowed(browser: Browser, extension_dir: Path,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """The same engine as ``browser``, without the setting that allows private windows."""
    with launched(browser.name, extension_dir,
                  tmp_path_factory.mktemp(f"{browser.name}-unallowed"), allowed=False) as instance:
        yield instance


def allowed_in_private(browser: Browser) -> bool:
    """What the extension itself says (extension.isAllowedIncognitoAccess()), which its
    options page shows under "Private windows"."""
    browser.open(browser.options_url)
    browser.wait('return document.documentElement.dataset.ready === "true"')
    allowed: bool = browser.js("""const ext = globalThis.browser ?? globalThis.chrome;
        return ext.extension.isAllowedIncognitoAccess();""")
    shown = browser.js("""const dd = document.getElementById("status-privateWindows");
        return [dd.dataset.value, dd.textContent];""")
    key = "privateAllowed" if allowed else "privateNotAllowed"
    assert shown == [str(allowed).lower(), MESSAGES_EN[key]["message"]], shown
    return allowed


def test_a_private_window_is_protected_where_the_extension_is_allowed(
        browser: Browser, zoho: ZohoMock) -> None:
    browser.reset()
    assert allowed_in_private(browser) is True
    rule = rule_for("#ter_mob")
    url = zoho.url("accounts.zoho.eu", STEP2)
    with browser.private_window(url) as tab:
        assert tab.js(SHOWN)[0] == url, tab.js(SHOWN)
        tab.wait(STEP2_SHOWN)
        assert_blocked(tab, "#ter_mob")
        assert_blocked(tab, "#ter_apiToken")
        assert tab.js(CONTROL, "#ter_all") == UNTOUCHED
        assert squash(rule["message"]["en"]) in banner_text(tab)
        assert len(tab.js(BANNERS)) == 1
        assert tab.js(GUARD_MARK) is True


def test_a_private_window_is_not_protected_where_the_extension_is_not_allowed(
        unallowed: Browser, zoho: ZohoMock) -> None:
    unallowed.reset()
    assert allowed_in_private(unallowed) is False
    url = zoho.url("accounts.zoho.eu", STEP2)
    unallowed.open(url)  # a normal window of the same instance is protected
    assert_blocked(unallowed, "#ter_mob")
    with unallowed.private_window(url) as tab:
        assert tab.js(SHOWN)[0] == url, tab.js(SHOWN)
        tab.wait(STEP2_SHOWN)  # (after the load event: document_start scripts ran by then)
        assert tab.js(GUARD_MARK) is False
        assert tab.js(CONTROL, "#ter_mob") == UNTOUCHED
        assert tab.js(CONTROL, "#ter_apiToken") == UNTOUCHED
        assert tab.js(BANNERS) == []


@pytest.mark.browser
def test_chromium_with_incognito_disabled_by_policy_opens_no_incognito_window(
        tmp_path: Path, extension_dir: Path) -> None:
    """README's other way for Chrome: ``IncognitoModeAvailability`` = 1. The window the
    Incognito test opens (``chrome.windows.create({incognito: true})``) is refused."""
    chromium = ChromiumBrowser(extension_dir, tmp_path, ALL_HOSTS,
                               policies={"IncognitoModeAvailability": 1})
    try:
        chromium.allow_in_incognito()  # even for an extension allowed there
        chromium.open(chromium.options_url)
        answer: Any = chromium.js("""return chrome.windows.create({incognito: true})
            .then(w => "opened " + (w && w.incognito), e => "refused: " + e.message);""")
        assert answer.startswith("refused: ") and "ncognito" in answer, answer
    finally:
        chromium.close()


@pytest.mark.browser
def test_chromium_with_the_extension_mandatory_for_incognito_loads_nothing_until_it_is_allowed(
        tmp_path: Path, extension_dir: Path, zoho: ZohoMock) -> None:
    """README's way to hold each person to the toggle: ``MandatoryExtensionsForIncognitoNavigation``
    naming the extension. Until the person allows it in Incognito, Chromium loads no page
    there (its own error page instead; the request never leaves the browser); once allowed,
    the page loads and is protected. (Two instances: allowing it after a refused navigation
    left the extension's reload unfinished in this headless Chromium, seen twice.)"""
    policy = {"MandatoryExtensionsForIncognitoNavigation": [
        chromium_extension_id(read_manifest(extension_dir))]}
    url = zoho.url("accounts.zoho.eu", STEP2)
    for allowed in (False, True):
        workdir = tmp_path / ("allowed" if allowed else "not-allowed")
        workdir.mkdir()
        chromium = ChromiumBrowser(extension_dir, workdir, ALL_HOSTS, policies=policy)
        try:
            if allowed:
                chromium.allow_in_incognito()
            zoho.clear()
            with chromium.private_window(url) as tab:
                href, title = tab.js(SHOWN)
                if not allowed:
                    assert href.startswith("chrome-error://"), (href, title)
                    assert [r.path for r in zoho.requests if r.path == "/u/h"] == [], title
                    continue
                assert href == url, (href, title)
                assert_blocked(tab, "#ter_mob")
                assert tab.js(GUARD_MARK) is True
        finally:
            chromium.close()

"""A Zoho page already open when the extension is installed (a policy's force-install arrives
in the middle of a working day) is protected from the install on, without a reload: Chromium
runs a manifest's content scripts only in pages loaded after the install, so the background
puts them into such tabs itself (Firefox does it on its own); the isolated world and the
MAIN-world request guard alike.

Chromium: a browser started without the extension, which is then installed over CDP
(Extensions.loadUnpacked). Firefox: the session-like instance's add-on removed, the page
opened, the add-on installed again.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browsers import Browser, ChromiumBrowser, FirefoxBrowser
from tests.dom import CONTROL, STEP2, assert_blocked
from tests.zoho_mock import ALL_HOSTS, CLOSESESSION_API, ZohoMock

FREE = {"checked": False, "disabled": False, "mark": None}


@pytest.fixture(params=["chromium", "firefox"])
def browser(request: pytest.FixtureRequest, extension_dir: Path,
            tmp_path: Path) -> Iterator[Browser]:
    """An instance of its own whose extension is not installed yet (Firefox: removed)."""
    engine: Browser
    if request.param == "chromium":
        engine = ChromiumBrowser(extension_dir, tmp_path, ALL_HOSTS, installed=False)
    else:
        engine = FirefoxBrowser(extension_dir, tmp_path, ALL_HOSTS)
    try:
        if isinstance(engine, FirefoxBrowser):
            engine.uninstall_extension()
        yield engine
    finally:
        engine.close()


def test_a_zoho_page_open_at_install_is_protected_without_a_reload(
        browser: Browser, zoho: ZohoMock) -> None:
    browser.open(zoho.url("accounts.zoho.eu", STEP2))
    assert browser.js(CONTROL, "#ter_mob") == FREE  # (nothing of the extension there yet)
    browser.js("window.openedBefore = true;")
    browser.install_extension()
    assert_blocked(browser, "#ter_mob")
    assert_blocked(browser, "#ter_apiToken")
    assert browser.js("return window.openedBefore === true")  # the same page, not reloaded
    assert browser.wait("""const b = document.querySelectorAll('[data-pwguard="banner"]');
        return b.length === 1 && b[0].getAttribute("role");""") == "alert"
    # the MAIN world's request guard is in place too
    outcome = browser.js("""return fetch(arguments[0], {method: "PUT",
            body: JSON.stringify({closesession: {rmapitok: true}})})
        .then(() => "sent", e => e.message);""", CLOSESESSION_API)
    assert outcome.startswith("pwguard refused"), outcome
    assert zoho.api_requests() == []

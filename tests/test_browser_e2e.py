"""The thin end-to-end path (issue 2): bundled rules, no server, the real extension in each
browser against the mocked Zoho dialog, checked against DESIGN.md's DOM contract."""

from __future__ import annotations

from urllib.parse import urlsplit

from tests.browsers import Browser
from tests.dom import (
    CONTROL,
    STEP2,
    assert_blocked,
    banner_text,
    banners,
    rule_for,
    same_place,
    squash,
)
from tests.zoho_mock import PASSWORD_API, UNRELATED_HOST, ZOHO_HOSTS, ZohoMock


def test_bundled_rule_blocks_the_dangerous_boxes_once_step_two_appears(
        bundled: Browser, zoho: ZohoMock) -> None:
    browser = bundled
    browser.open(zoho.url("accounts.zoho.eu", "/u/h#security/security_pwd"))
    browser.wait('return document.documentElement.dataset.zohoStep === "1"')
    browser.js("""for (const id of ["currentPass", "newPassword", "cpwd"])
        document.getElementById(id).value =
            id === "currentPass" ? "old-Secret-1" : "new-Secret-2";""")
    browser.click("#change_password_call")
    browser.wait('return document.documentElement.dataset.zohoStep === "2"')
    assert [r.json for r in zoho.api_requests(PASSWORD_API)] == [
        {"password": {"currentpwd": "old-Secret-1", "newpwd": "new-Secret-2"}}]
    assert_blocked(browser, "#ter_apiToken")
    assert_blocked(browser, "#ter_mob")
    # the harmless web-sessions box is left alone
    assert browser.js(CONTROL, "#ter_all") == {"checked": False, "disabled": False, "mark": None}


def test_one_banner_with_role_alert_and_the_help_link_of_each_data_centre(
        bundled: Browser, zoho: ZohoMock) -> None:
    browser = bundled
    rule = rule_for("#ter_apiToken")
    for host in ZOHO_HOSTS:
        browser.open(zoho.url(host, STEP2))
        assert_blocked(browser, "#ter_apiToken")
        banner_text(browser)
        shown = banners(browser)
        assert len(shown) == 1, (host, shown)
        banner = shown[0]
        assert banner["role"] == "alert"
        assert squash(rule["message"]["en"]) in banner["text"], host
        expected = rule["help"].replace("{host}", host)
        assert urlsplit(expected).hostname == host and "{host}" in rule["help"]
        assert any(same_place(href, expected) for href in banner["links"]), (host, banner)
        assert browser.js(CONTROL, "#ter_all")["mark"] is None


def test_banner_speaks_the_page_language(bundled: Browser, zoho: ZohoMock) -> None:
    browser = bundled
    rule = rule_for("#ter_apiToken")
    assert "es" in rule["message"], "the rule has no Spanish message to show"
    browser.open(zoho.url("accounts.zoho.com", "/u/h?lang=es&step=2#security/security_pwd"))
    assert browser.js("return document.documentElement.lang") == "es"
    assert_blocked(browser, "#ter_apiToken")
    text = banner_text(browser)
    assert squash(rule["message"]["es"]) in text
    assert squash(rule["message"]["en"]) not in text


def test_a_trusted_click_cannot_tick_the_blocked_box(bundled: Browser, zoho: ZohoMock) -> None:
    browser = bundled
    browser.open(zoho.url("accounts.zoho.in", STEP2))
    assert_blocked(browser, "#ter_apiToken")
    for target in ("#ter_apiToken", "label[for=ter_apiToken]",
                   "#terminate_api_tok span.checkbox"):
        browser.click(target)
        assert browser.js(CONTROL, "#ter_apiToken") == {
            "checked": False, "disabled": True, "mark": "blocked"}, target


def test_the_harmless_box_stays_usable(bundled: Browser, zoho: ZohoMock) -> None:
    browser = bundled
    browser.open(zoho.url("accounts.zoho.eu", STEP2))
    assert_blocked(browser, "#ter_apiToken")
    banner_text(browser)
    # A person ticks "Terminate all the browsers sessions" with the mouse, banner or not.
    browser.click("#ter_all")
    assert browser.js(CONTROL, "#ter_all") == {"checked": True, "disabled": False, "mark": None}


def test_nothing_is_injected_on_a_site_no_rule_names(bundled: Browser, zoho: ZohoMock) -> None:
    browser = bundled
    # First prove the extension is alive in this browser ...
    browser.open(zoho.url("accounts.zoho.eu", STEP2))
    assert_blocked(browser, "#ter_apiToken")
    # ... then visit a site with the very same boxes that no rule names.
    browser.open(zoho.url(UNRELATED_HOST, "/"))
    browser.click("#ter_apiToken")  # a round trip through the page's event loop, too
    seen = browser.js("""const native = f => /\\{\\s*\\[native code\\]\\s*\\}/.test(
            Function.prototype.toString.call(f));
        const box = document.getElementById("ter_apiToken");
        return {marked: document.querySelectorAll("[data-pwguard]").length,
                alerts: document.querySelectorAll("[role=alert]").length,
                checked: box.checked, disabled: box.disabled,
                fetch: native(window.fetch), xhr: native(window.XMLHttpRequest),
                open: native(XMLHttpRequest.prototype.open),
                send: native(XMLHttpRequest.prototype.send)};""")
    assert seen == {"marked": 0, "alerts": 0, "checked": True, "disabled": False,
                    "fetch": True, "xhr": True, "open": True, "send": True}

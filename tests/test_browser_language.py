"""The banner's language when the page gives none, or one the rule has no message in: the
browser's (DESIGN.md: "text in the page's language (`<html lang>`) when the rule has it, else
the browser's, else English"). Each engine runs an instance of its own (this module's
``browser``, which overrides conftest's) whose language is Spanish, set as a person sets it in
the browser's settings: Chromium's --accept-lang, Firefox's intl.accept_languages. The
session browsers speak en-US, where test_browser_dom.py checks the English end of the chain.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from pwguard.api.signing import public_key_b64
from tests.browsers import (
    REPO,
    Browser,
    ChromiumBrowser,
    FirefoxBrowser,
    chromium_extension_id,
    read_manifest,
)
from tests.test_browser_dom import MOBILE, page, row, rule, serve, squash, wait_banner
from tests.zoho_mock import ALL_HOSTS, ZohoMock, free_port

BROWSER_LANGUAGE = "es-ES"


@pytest.fixture(scope="module", params=["chromium", "firefox"])
def browser(request: pytest.FixtureRequest, extension_dir: Path,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """A browser with the extension whose language is Spanish (es-ES, then es)."""
    workdir = tmp_path_factory.mktemp(f"{request.param}-es")
    engine: Browser
    if request.param == "chromium":
        engine = ChromiumBrowser(extension_dir, workdir, ALL_HOSTS,
                                 args=[f"--accept-lang={BROWSER_LANGUAGE},es"])
    else:
        engine = FirefoxBrowser(extension_dir, workdir, ALL_HOSTS,
                                prefs={"intl.accept_languages": f"{BROWSER_LANGUAGE}, es"})
    try:
        yield engine
    finally:
        engine.close()


@pytest.mark.parametrize(("page_lang", "expected"), [
    (None, "es"),   # no <html lang>: the browser's language, region dropped
    ("", "es"),     # an empty one is none
    ("ru", "es"),   # the rule has no Russian message: the browser's
    ("de", "de"),   # the page's language wins when the rule has it
])
def test_the_banner_speaks_the_browser_language_when_the_page_gives_none_the_rule_has(
        browser: Browser, zoho: ZohoMock, page_lang: str | None, expected: str) -> None:
    browser.reset()
    mobile = rule("zoho-mobile-app-sessions-box")
    assert {"es", "de"} <= mobile["message"].keys() and "ru" not in mobile["message"]
    html = page(row("ter_mob", "clear_mobile", MOBILE), lang=page_lang or "")
    if page_lang is None:
        html = html.replace(' lang=""', "")
    url = serve(zoho, f"/u/browser-lang-{page_lang}", html)
    browser.open(url)
    # the language setting took, in the page (the content script reads the same navigator)
    assert browser.js("return navigator.language") == BROWSER_LANGUAGE
    banner = wait_banner(browser)
    assert banner["lang"] == expected and banner["role"] == "alert"
    assert squash(mobile["message"][expected]) in banner["text"]
    assert squash(mobile["message"]["en"]) not in banner["text"]


def test_the_options_page_speaks_the_browser_interface_language(
        extension_dir: Path, tmp_path: Path, rules_server: Any) -> None:
    """The options page (also the toolbar popup) in the language of the browser's interface:
    every text it labels, the Source and Private windows values and its <html lang>. Chromium
    only, with --lang=es: an extension's pages follow the interface's language, not the pages'
    (accept-languages), and the Firefox ESR installed here has an English interface only
    (Spanish would take a language pack)."""
    es = json.loads((REPO / "extension" / "_locales" / "es" / "messages.json").read_text("utf-8"))
    instance = ChromiumBrowser(extension_dir, tmp_path, ALL_HOSTS, args=["--lang=es"])
    try:
        assert instance.extension_status()["source"] == "bundled"
        shown = instance.js("""const text = id => document.getElementById(id).textContent;
            return {lang: document.documentElement.lang, source: text("status-source"),
                    from: text("status-from"), lastSync: text("status-lastSync"),
                    inPrivate: text("status-privateWindows"),
                    labelled: [...document.querySelectorAll("[data-i18n]")]
                      .map(n => [n.dataset.i18n, n.textContent])};""")
        assert (shown["lang"], shown["source"], shown["from"], shown["lastSync"],
                shown["inPrivate"]) == (
            "es", es["sourceBundled"]["message"], es["statusFromBundled"]["message"],
            es["never"]["message"], es["privateNotAllowed"]["message"]), shown
        assert shown["labelled"], shown
        wrong = [(key, text) for key, text in shown["labelled"] if text != es[key]["message"]]
        assert not wrong, wrong
        # the last sync's time is written the Spanish way (28/11/2026, 1:50:00), not the way
        # of the page's JavaScript default locale, en-US in this headless Chromium
        instance.configure(server_url=rules_server.url, public_key=rules_server.public_key)
        synced = instance.extension_status()["lastSync"]
        dates = instance.js("""const iso = arguments[0];
            return {shown: document.getElementById("status-lastSync").textContent,
                    es: new Date(iso).toLocaleString("es"),
                    us: new Date(iso).toLocaleString("en-US")};""", synced)
        assert dates["shown"] == dates["es"] != dates["us"], dates
        # a setting refused is named by its label as the page shows it
        with pytest.raises(ValueError) as refused:
            instance.configure(server_url=rules_server.url, public_key="not-a-key")
        said = filled(es["settingKeyNotBase64"],
                      [f'"{es["publicKeyLabel"]["message"]}"', '"not-a-key"'])
        assert repr([said]) in str(refused.value), refused.value
    finally:
        instance.close()


def filled(entry: dict[str, Any], subs: list[str]) -> str:
    """The message of the _locales entry ``entry`` with its placeholders filled by ``subs``."""
    names = {name.lower(): int(p["content"][1:]) for name, p in
             entry.get("placeholders", {}).items()}
    return re.sub(r"\$(\w+)\$", lambda m: subs[names[m[1].lower()] - 1], entry["message"])


# read from an extension page: the last error as the background stored it
STORED_ERROR = """return chrome.storage.local.get("state").then(({state}) =>
  ({en: state.lastError, said: state.lastErrorSaid}));"""


def test_the_options_page_tells_a_failed_sync_in_the_browser_interface_language(
        extension_dir: Path, tmp_path: Path, rules_server: Any) -> None:
    """"Last error" on the Spanish options page says what went wrong in Spanish, as its labels
    do: a server that cannot be reached, rules no configured key verifies. Storage keeps the
    English text as well (for the logs, and older versions). Chromium only, as above."""
    es = json.loads((REPO / "extension" / "_locales" / "es" / "messages.json").read_text("utf-8"))
    instance = ChromiumBrowser(extension_dir, tmp_path, ALL_HOSTS, args=["--lang=es"])
    closed = f"http://127.0.0.1:{free_port()}/"  # nothing listens there
    other_key = public_key_b64(Ed25519PrivateKey.generate())
    faults = [  # the server URL, the key, the sentence's key in _locales, its English text
        (closed, rules_server.public_key, "syncUnreachable", f"could not reach {closed}v1/rules"),
        (rules_server.url, other_key, "syncBadSignature", "bad signature: the rules")]
    try:
        for server_url, key, said, english in faults:
            instance.configure(server_url=server_url, public_key=key, poll_minutes=1440)
            shown = instance.extension_status()["lastError"]
            assert shown.startswith(es[said]["message"].split("$")[0]), shown
            stored = instance.js(STORED_ERROR)
            assert stored["en"].startswith(english), stored
            assert [x["key"] for x in stored["said"]] == [said], stored
            assert shown == filled(es[said], stored["said"][0]["subs"]), (shown, stored)
    finally:
        instance.close()


def locale(language: str) -> dict[str, Any]:
    """The extension's messages in ``language`` (_locales/<language>/messages.json)."""
    path = REPO / "extension" / "_locales" / language / "messages.json"
    return json.loads(path.read_text("utf-8"))  # type: ignore[no-any-return]


# read from the options page: the Save errors shown, and data-status's (their English text)
SAVE_ERRORS = """return {
  shown: [...document.getElementById("saveErrors").children].map(li => li.textContent),
  status: JSON.parse(document.documentElement.dataset.status).saveErrors};"""


def test_the_options_page_tells_the_settings_it_refuses_in_the_browser_interface_language(
        extension_dir: Path, tmp_path: Path) -> None:
    """Save on the Spanish options page refuses a server URL that is the rules' own address
    and a key that is no key in Spanish, naming each field by its Spanish label, as it shows
    it; the page's data-status keeps their English text, word for word. Chromium only, as
    above."""
    es, en = locale("es"), locale("en")
    instance = ChromiumBrowser(extension_dir, tmp_path, ALL_HOSTS, args=["--lang=es"])
    base = "https://rules.example.com/pwguard/"
    subs = [  # the sentence's key in _locales, its substitutions after the field's label
        ("settingServerUrlRulesPath", "serverUrlLabel", [base, f"{base}v1/rules"]),
        ("settingKeysNotBase64", "publicKeyLabel", ['"not-a-key", "neither-is-t…"'])]
    try:
        # two keys that are no keys (quoted as far as 12 characters)
        with pytest.raises(ValueError):
            instance.configure(server_url=f"{base}v1/rules",
                               public_key="not-a-key neither-is-this", poll_minutes=1440)
        errors = instance.js(SAVE_ERRORS)
        assert errors["shown"] == [filled(es[key], [f'"{es[label]["message"]}"', *rest])
                                   for key, label, rest in subs], errors
        assert errors["status"] == [filled(en[key], [f'"{en[label]["message"]}"', *rest])
                                    for key, label, rest in subs], errors
        assert errors["status"][0] == (  # (word for word as before)
            f'"Rules server URL": leave "/v1/rules" out of the address, give {base} (the '
            f"extension fetches the rules from {base}v1/rules)"), errors
        assert instance.extension_status()["source"] == "bundled"
    finally:
        instance.close()


def test_the_options_page_tells_a_wrong_policy_in_the_browser_interface_language(
        extension_dir: Path, tmp_path: Path) -> None:
    """An enterprise policy that sets a server with a "?" part and no key: "Last error" on
    the Spanish options page names the policy's keys and says what is wrong in Spanish,
    ahead of the sync's own fault (no key); storage keeps the English text as well. Chromium
    only, as above (its policy: see test_browser_policy.py)."""
    es = locale("es")
    server_url = "https://rules.example.com/?token=1"
    extension_id = chromium_extension_id(read_manifest(extension_dir))
    assert extension_id is not None
    instance = ChromiumBrowser(extension_dir, tmp_path, ALL_HOSTS, args=["--lang=es"],
                               policies={"3rdparty": {"extensions": {extension_id: {
                                   "serverUrl": server_url}}}})
    try:
        instance.open_options()
        shown = instance.wait("""const text = document.getElementById("status-lastError")
            .textContent; return text.includes(arguments[0]) && text;""",
                              es["syncNoKey"]["message"], timeout=30)
        name = {key: filled(es["policyName"], [key]) for key in ("serverUrl", "publicKey")}
        assert shown == "; ".join([
            filled(es["policyNoKey"], [name["publicKey"]]),
            filled(es["settingServerUrlQuery"], [name["serverUrl"], "https://rules.example.com/v1/rules"]),
            es["syncNoKey"]["message"]]), shown
        stored = instance.js(STORED_ERROR)
        assert [x["key"] for x in stored["said"]] == [
            "policyNoKey", "settingServerUrlQuery", "syncNoKey"], stored
        assert stored["en"].startswith(
            'Enterprise policy "publicKey" (ask your administrator): empty or missing while the '
            'policy sets "serverUrl", so no rules from that server can be trusted; '), stored
    finally:
        instance.close()

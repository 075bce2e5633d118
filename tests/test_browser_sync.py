"""Central sync in the real browsers: signed bundles, the fault matrix, ETag/304, and a rule
published on a running `pwguard serve` reaching an open page after one poll.

The bundles come from ``pwguard.api.signing.sign_bundle`` and are served by a small
controllable HTTP server on 127.0.0.1 (CORS ``*`` like the real server). The "good" bundle
is the default rules plus one marker rule that only it has (it blocks
``#pwguard-sync-marker``), so "the last good rules are still in force" is visible on a page:
the marker box stays blocked after each faulty sync.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from pwguard.api.signing import public_key_b64, sign_bundle
from tests.browsers import ALARMS, REPO, STATUS_IDS, Browser, ChromiumBrowser, FirefoxBrowser
from tests.dom import BLOCKED, CONTROL, assert_blocked
from tests.serve import default_rules_plus
from tests.zoho_mock import ZOHO_HOSTS, ZohoMock, free_port

MARKER_PAGE = "/u/sync-marker"
MARKER_HTML = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Zoho Accounts</title></head><body>
<div id="terminate_marker"><input type="checkbox" id="pwguard-sync-marker" name="marker">
  <label for="pwguard-sync-marker">Sync marker box</label></div>
<div id="terminate_api_tok" class="checkbox_div"><input class="checkbox_check" id="ter_apiToken"
  type="checkbox" name="clear_apiToken"><label class="session_label" for="ter_apiToken">
  Revoke connected app's access to your account.</label></div>
</body></html>"""

MARKER_RULE: dict[str, Any] = {
    "id": "test-sync-marker",
    "title": "Test marker box that only the server's bundle blocks",
    "why": "Shows which rules are in force: the bundled rules leave this box alone.",
    "action": "block",
    "sites": [f"https://{h}/*" for h in ZOHO_HOSTS],
    "controls": [{"selector": "#pwguard-sync-marker"}],
    "request": None,
    "message": {"en": "The sync marker box is blocked by the server's rules.",
                "es": "La casilla de prueba está bloqueada por las reglas del servidor."},
    "help": "https://{host}/u/h#sessions",
}
MARKER_YAML = """
  - id: test-sync-marker
    title: Test marker box published to a running server
    why: Shows that a rule published on the server reaches an open browser after one poll.
    action: block
    sites:
      - https://accounts.zoho.eu/*
      - https://accounts.zoho.com/*
    controls:
      - selector: "#pwguard-sync-marker"
    message:
      en: The sync marker box is blocked by a rule published during the test.
      es: La casilla de prueba está bloqueada por una regla publicada durante la prueba.
    help: https://{host}/u/h#sessions
"""


def canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def make_payload(rules: list[dict[str, Any]]) -> bytes:
    """Payload bytes per docs/internals.md: version = 16 hex of SHA-256 of the rules' JSON."""
    version = hashlib.sha256(canonical(rules)).hexdigest()[:16]
    return canonical({"format": 1, "version": version, "rules": rules})


def bundled_payload() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((REPO / "extension" / "rules.bundled.json").read_text())
    return data


@dataclass
class Bundles:
    key: Ed25519PrivateKey
    public_key: str
    good: bytes  # the signed bundle: default rules + the marker rule
    good_version: str
    bad_signature: bytes  # a payload with no blocking rules under the good bundle's signature
    unknown_key: bytes  # well-formed, but signed by a key the extension was not given
    invalid_rules: bytes  # correctly signed, but the rules fail validation
    # correctly signed, the good bundle's version, but without the marker rule (a publisher
    # whose versions are not content hashes, naming two different rule sets alike)
    same_version_without_marker: bytes


def make_bundles() -> Bundles:
    key = Ed25519PrivateKey.generate()
    rules = [*bundled_payload()["rules"], MARKER_RULE]
    good_payload = make_payload(rules)
    good = sign_bundle(good_payload, key)
    # An attacker's payload that drops every rule, under the good bundle's signature.
    forged = json.loads(good)
    forged["payload"] = make_payload([MARKER_RULE | {"action": "warn"}]).decode()
    broken_rules = [MARKER_RULE | {"action": "explode", "message": {}}]
    return Bundles(key=key, public_key=public_key_b64(key), good=good,
                   good_version=json.loads(good_payload)["version"],
                   bad_signature=canonical(forged),
                   # without the marker rule, so that accepting it would show on the page
                   unknown_key=sign_bundle(make_payload(bundled_payload()["rules"]),
                                           Ed25519PrivateKey.generate()),
                   invalid_rules=sign_bundle(make_payload(broken_rules), key),
                   same_version_without_marker=sign_bundle(canonical({
                       "format": 1, "version": json.loads(good_payload)["version"],
                       "rules": bundled_payload()["rules"]}), key))


# ------------------------------------------------------------------------- the fault server
@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    status: int


@dataclass
class FaultServer:
    """An HTTP server on 127.0.0.1 whose answer to GET /v1/rules the test chooses."""

    bundles: Bundles
    mode: str = "good"
    prefix: str = "/"  # a fresh one per test, so no browser cache entry crosses tests
    seen: list[Seen] = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)
    release: threading.Event = field(default_factory=threading.Event)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.prefix}"

    def rules_requests(self) -> list[Seen]:
        with self.cond:
            return [s for s in self.seen if s.path == f"{self.prefix}v1/rules"]

    def answer(self) -> tuple[int, dict[str, str], bytes]:
        b = self.bundles
        json_type = {"Content-Type": "application/json"}
        if self.mode == "good":
            return 200, {**json_type, "ETag": f'"{b.good_version}"'}, b.good
        if self.mode == "500":
            return 500, {"Content-Type": "text/plain"}, b"internal server error"
        if self.mode == "html":
            return 200, {"Content-Type": "text/html; charset=utf-8"}, (
                b"<!doctype html><html><head><title>Sign in</title></head>"
                b"<body><form action=/login><input name=user></form></body></html>")
        if self.mode == "truncated":
            return 200, json_type, b.good[: len(b.good) // 2]
        if self.mode == "bad-signature":
            return 200, json_type, b.bad_signature
        if self.mode == "unknown-key":
            return 200, json_type, b.unknown_key
        if self.mode == "invalid-rules":
            return 200, json_type, b.invalid_rules
        if self.mode == "same-version-without-marker":
            return 200, {**json_type, "ETag": '"without-marker"'}, b.same_version_without_marker
        if self.mode == "oversized":
            # Valid JSON the whole way, so only its size is wrong: 2 MiB of padding.
            padding = b" " * (2 * 1024 * 1024)
            return 200, json_type, b.good[:-1] + padding + b.good[-1:]
        raise ValueError(f"fault server: unknown mode {self.mode!r}")


class _FaultHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _FaultHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_OPTIONS(self) -> None:  # a CORS preflight, should the extension ever send one
        self._record(204)
        self.send_response(204)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Methods", "GET")
        self.send_header("Access-Control-Allow-Headers", "*")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        fault = self.server.fault
        if self.path.startswith(f"{fault.prefix}login?"):
            self._record(200)
            body = b"<!doctype html><title>Sign in</title><form method=post><input name=user>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if self.path != f"{fault.prefix}v1/rules":
            self._record(404)
            self._send(404, {"Content-Type": "text/plain"}, b"not found")
            return
        if fault.mode == "sign-in-redirect":
            # a sign-in proxy in front of the server: the request, which carries no cookie,
            # goes to its login page; neither answer has CORS headers (it serves browsers)
            self._record(302)
            self.send_response(302)
            self.send_header("Location", f"{fault.prefix}login?next=/v1/rules")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if fault.mode == "slow":
            # Hold the connection, answering nothing, until the test ends.
            self._record(0)
            fault.release.wait(timeout=120)
            return
        if fault.mode == "oversized-stream":
            # No Content-Length: the size shows only while reading (2 MiB, then close).
            self._record(200)
            self.send_response(200)
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("Content-Type", "application/json")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            try:
                self.wfile.write(b'{"format":"pwguard-bundle/1","payload":"')
                for _ in range(32):
                    self.wfile.write(b"x" * 65536)
            except OSError:
                pass  # the extension hung up once over its limit: that is the point
            return
        status, headers, body = fault.answer()
        etag = headers.get("ETag")
        if etag and etag in (self.headers.get("If-None-Match") or ""):
            status, body = 304, b""
        self._record(status)
        self._send(status, headers, body)

    def _record(self, status: int) -> None:
        fault = self.server.fault
        with fault.cond:
            fault.seen.append(Seen(self.command, self.path,
                                   {k.lower(): v for k, v in self.headers.items()}, status))
            fault.cond.notify_all()

    def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Cache-Control", "no-cache")
        for k, v in headers.items():
            self.send_header(k, v)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if status != 304:
            with contextlib.suppress(OSError):  # e.g. the extension aborting a large answer
                self.wfile.write(body)


class _FaultHTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    fault: FaultServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # aborted reads are part of the faults


@pytest.fixture(scope="module")
def bundles() -> Bundles:
    return make_bundles()


@pytest.fixture(scope="module")
def fault_server(bundles: Bundles) -> Iterator[FaultServer]:
    fault = FaultServer(bundles)
    httpd = _FaultHTTPServer(("127.0.0.1", 0), _FaultHandler)
    httpd.fault = fault
    fault.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1},
                              daemon=True)
    thread.start()
    try:
        yield fault
    finally:
        fault.release.set()
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def fault(fault_server: FaultServer, request: pytest.FixtureRequest) -> Iterator[FaultServer]:
    fault_server.mode = "good"
    fault_server.prefix = f"/{hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:12]}/"
    fault_server.release.clear()
    with fault_server.cond:
        fault_server.seen.clear()
    yield fault_server
    fault_server.release.set()  # let a held "slow" answer go


@pytest.fixture
def synced(browser: Browser, zoho: ZohoMock) -> Iterator[Browser]:
    """``browser`` for a sync test; afterwards the server is unset (bundled rules again)."""
    zoho.add_page(MARKER_PAGE, MARKER_HTML)
    yield browser
    browser.configure()
    assert browser.extension_status()["source"] == "bundled"


def marker_url(zoho: ZohoMock, host: str = "accounts.zoho.eu") -> str:
    return zoho.url(host, MARKER_PAGE)


def assert_server_rules_in_force(browser: Browser, zoho: ZohoMock) -> None:
    """The marker rule (only in the server's bundle) and a default rule both block."""
    browser.open(marker_url(zoho))
    assert_blocked(browser, "#pwguard-sync-marker")
    assert_blocked(browser, "#ter_apiToken")


def disable_and_enable(browser: Browser) -> None:
    """Turn the extension off and on again, as a person can in the browser's add-ons page."""
    if isinstance(browser, FirefoxBrowser):
        browser.open("about:blank")  # the options page goes away with the add-on
        with browser.m.using_context("chrome"):
            error = browser.m.execute_async_script("""const [id, done] = arguments;
                const {AddonManager} = ChromeUtils.importESModule(
                    "resource://gre/modules/AddonManager.sys.mjs");
                AddonManager.getAddonByID(id)
                  .then(async a => { await a.disable(); await a.enable(); done(null); })
                  .catch(e => done(String(e)));""", script_args=[browser.gecko_id])
    else:
        assert isinstance(browser, ChromiumBrowser)
        browser.open(f"chrome://extensions/?id={browser.extension_id}")
        error = browser.js("""const id = arguments[0];
            return chrome.management.setEnabled(id, false)
              .then(() => chrome.management.setEnabled(id, true))
              .then(() => null, e => String(e));""", browser.extension_id)
    assert error is None, error


def configure_fault(browser: Browser, fault: FaultServer, mode: str) -> dict[str, str]:
    """The browser set to the fault server answering `mode` with the good version's bundle,
    synced to it; its status."""
    fault.mode = mode
    # A long poll interval: in these tests only "sync now" and saving trigger a sync.
    browser.configure(server_url=fault.url, public_key=fault.bundles.public_key,
                      poll_minutes=1440)
    status = browser.extension_status()
    assert (status["source"], status["version"], status["lastError"]) == (
        "server", fault.bundles.good_version, ""), status
    return status


# read from an extension page: the last error's English text, as the background stored it
STORED_ERROR = """const ext = globalThis.browser ?? globalThis.chrome;
return ext.storage.local.get("state").then(({state}) => state.lastError);"""


def assert_shown_word_for_word(browser: Browser, status: dict[str, str]) -> None:
    """The English options page open in ``browser`` shows the last error as the background
    stored it, word for word: _locales/en says each of its sentences as background.js does."""
    assert status["lastError"] == browser.js(STORED_ERROR), status


def start_good(browser: Browser, fault: FaultServer, zoho: ZohoMock) -> dict[str, str]:
    status = configure_fault(browser, fault, "good")
    assert status["lastSync"]
    assert_server_rules_in_force(browser, zoho)
    return status


def test_bundled_rules_leave_the_marker_alone(bundled: Browser, zoho: ZohoMock) -> None:
    """The control for the tests below: without the server's rules the marker is free."""
    zoho.add_page(MARKER_PAGE, MARKER_HTML)
    bundled.open(marker_url(zoho))
    assert_blocked(bundled, "#ter_apiToken")
    assert bundled.js(CONTROL, "#pwguard-sync-marker") == {
        "checked": False, "disabled": False, "mark": None}


def test_a_signed_bundle_from_the_server_takes_effect(
        synced: Browser, fault: FaultServer, zoho: ZohoMock) -> None:
    start_good(synced, fault, zoho)
    assert [s.status for s in fault.rules_requests()] == [200]


FAULTS = {
    # mode: a word the error shown to the person should contain (case-insensitive)
    "unreachable": "",
    "500": "500",
    "html": "",
    "truncated": "",
    "bad-signature": "signature",
    "unknown-key": "signature",
    "invalid-rules": "",
    "oversized": "",
    "oversized-stream": "",
    # reached, but the answer may not be read: redirected to a sign-in page (without CORS)
    "sign-in-redirect": "Access-Control-Allow-Origin",
}


@pytest.mark.parametrize("mode", list(FAULTS))
def test_a_faulty_sync_keeps_the_last_good_rules(
        synced: Browser, fault: FaultServer, zoho: ZohoMock, mode: str) -> None:
    browser = synced
    good = start_good(browser, fault, zoho)
    if mode == "unreachable":
        closed = f"http://127.0.0.1:{free_port()}/"  # nothing listens there
        browser.configure(server_url=closed, public_key=fault.bundles.public_key,
                          poll_minutes=1440)
        status = browser.extension_status()
    else:
        fault.mode = mode
        status = browser.sync_now()
        assert fault.rules_requests()[-1].path == f"{fault.prefix}v1/rules"
    assert status["lastError"], f"{mode}: no error shown: {status}"
    assert FAULTS[mode].lower() in status["lastError"].lower(), status
    assert_shown_word_for_word(browser, status)
    assert (status["source"], status["version"], status["lastSync"]) == (
        "server", good["version"], good["lastSync"]), f"{mode}: {status}"
    assert_server_rules_in_force(browser, zoho)


@pytest.mark.timeout(90)
def test_a_very_slow_server_times_out_and_keeps_the_last_good_rules(
        synced: Browser, fault: FaultServer, zoho: ZohoMock) -> None:
    """The server accepts the connection and never answers: the extension's own fetch
    timeout (10 s in background.js) must end the sync; the rules stay."""
    browser = synced
    good = start_good(browser, fault, zoho)
    fault.mode = "slow"
    status = browser.sync_now(timeout=45)
    assert status["lastError"], status
    assert_shown_word_for_word(browser, status)
    assert (status["source"], status["version"]) == ("server", good["version"])
    assert_server_rules_in_force(browser, zoho)


def press_sync_now(browser: Browser) -> None:
    """Press "sync now" on the options page open in ``browser``, its status blanked first
    (so that the status drawn after the sync shows, even the same one); returns at once."""
    browser.js("""for (const id of arguments[0]) document.getElementById(id).textContent = "";""",
               list(STATUS_IDS.values()))
    browser.click("#syncNow")


def test_sync_now_answers_although_chromium_stops_the_service_worker(
        chromium: Browser, fault: FaultServer, zoho: ZohoMock) -> None:
    """Chromium stops an extension's service worker when it sees fit (idle, short of memory,
    for an update): before "sync now" is pressed, or while its sync waits on the server, and
    the page's message then gets Chrome's own words for an answer ("... the message channel
    closed before a response was received"). The page shows the outcome of a sync instead,
    never those words."""
    assert isinstance(chromium, ChromiumBrowser)
    zoho.add_page(MARKER_PAGE, MARKER_HTML)
    try:
        good = start_good(chromium, fault, zoho)
        # stopped before the press
        chromium.open_options()
        assert chromium.stop_service_workers() >= 1
        before = len(fault.rules_requests())
        press_sync_now(chromium)
        status = chromium.extension_status()
        assert (status["version"], status["lastError"]) == (good["version"], ""), status
        assert status["lastSync"] > good["lastSync"] and len(fault.rules_requests()) > before
        # stopped while the sync waits on the server (which answers the next request)
        fault.mode = "slow"
        chromium.open_options()
        before = len(fault.rules_requests())
        press_sync_now(chromium)
        with fault.cond:
            assert fault.cond.wait_for(lambda: len(fault.rules_requests()) > before, timeout=15)
        fault.mode = "good"
        assert chromium.stop_service_workers() >= 1
        again = chromium.extension_status()
        assert (again["version"], again["lastError"]) == (good["version"], ""), again
        assert again["lastSync"] > status["lastSync"], again
    finally:
        chromium.configure()


def test_if_none_match_is_sent_and_304_keeps_the_rules(
        synced: Browser, fault: FaultServer, zoho: ZohoMock) -> None:
    browser = synced
    good = start_good(browser, fault, zoho)
    status = browser.sync_now()
    first, again = fault.rules_requests()[0], fault.rules_requests()[-1]
    assert first.status == 200
    assert again.headers.get("if-none-match") == f'"{fault.bundles.good_version}"', again
    assert again.status == 304
    assert (status["source"], status["version"], status["lastError"]) == (
        "server", good["version"], "")
    assert_server_rules_in_force(browser, zoho)


def test_new_rules_under_the_version_in_force_reach_an_open_page(
        synced: Browser, fault: FaultServer, zoho: ZohoMock) -> None:
    """A signed bundle whose rules differ from those in force under the same version (a
    publisher whose versions are names, not content hashes) is stored, and must reach the
    pages open meanwhile too, not only those loaded after."""
    configure_fault(synced, fault, "same-version-without-marker")
    synced.open(marker_url(zoho))
    assert_blocked(synced, "#ter_apiToken")
    assert synced.js(CONTROL, "#pwguard-sync-marker")["mark"] is None
    synced.js("window.openedBefore = true;")
    fault.mode = "good"
    with synced.in_new_tab():
        status = synced.sync_now()
        assert (status["version"], status["lastError"]) == (fault.bundles.good_version, ""), status
        assert fault.rules_requests()[-1].status == 200
    assert_blocked(synced, "#pwguard-sync-marker")
    assert synced.js("return window.openedBefore === true")


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_a_rule_published_on_pwguard_serve_reaches_an_open_page_after_one_poll(
        synced: Browser, zoho: ZohoMock, rules_server: Any) -> None:
    browser = synced
    srv = rules_server
    browser.configure(server_url=srv.url, public_key=srv.public_key, poll_minutes=0.5)
    before = browser.extension_status()
    assert (before["source"], before["lastError"]) == ("server", ""), before
    # The page is open before the rule exists: the marker is free, a default rule blocks.
    browser.open(marker_url(zoho))
    assert_blocked(browser, "#ter_apiToken")
    assert browser.js(CONTROL, "#pwguard-sync-marker")["mark"] is None

    answer = srv.publish(default_rules_plus(MARKER_YAML))
    assert answer.status_code == 201, answer.text
    published = answer.json()["version"]
    assert published != before["version"]

    # One poll (every 30 s) later the open page blocks the new rule's box, no reload.
    browser.wait(BLOCKED, "#pwguard-sync-marker", timeout=75)
    assert browser.js("return location.pathname") == MARKER_PAGE
    assert browser.extension_status()["version"] == published


def test_the_periodic_sync_survives_disabling_and_enabling_the_extension(
        synced: Browser, fault: FaultServer, zoho: ZohoMock) -> None:
    """Firefox forgets the alarms of an add-on that is disabled, and enabling it again fires
    neither runtime.onStartup nor onInstalled: the background's start itself must see to it."""
    start_good(synced, fault, zoho)
    synced.open_options()
    assert synced.js(ALARMS) == [["pwguard-sync", 1440]]
    before = len(fault.rules_requests())
    disable_and_enable(synced)
    synced.open_options()
    assert synced.wait(ALARMS) == [["pwguard-sync", 1440]]
    if isinstance(synced, FirefoxBrowser):
        # the alarm had to be made again: the syncs missed while the add-on was off are made
        # up for at once (settings or a policy may have changed meanwhile), not a day later
        with fault.cond:
            assert fault.cond.wait_for(lambda: len(fault.rules_requests()) > before, timeout=30), (
                "no sync after the add-on was enabled again")


def test_a_server_url_with_a_password_is_refused_and_the_password_never_shown(
        synced: Browser, fault: FaultServer) -> None:
    """Both browsers' fetch refuse an address with a user name and password in it (and their
    error quotes it whole): the options page refuses it, and no error shown or stored has it."""
    url = fault.url.replace("http://", "http://rules:S3cretPassw0rd@")
    with pytest.raises(ValueError, match="leave the user name and password out"):
        synced.configure(server_url=url, public_key=fault.bundles.public_key, poll_minutes=1440)
    assert fault.rules_requests() == []
    synced.open_options()
    shown = synced.js("""const ext = globalThis.browser ?? globalThis.chrome;
        return ext.storage.local.get("state").then(({state}) =>
          [state.lastError, document.getElementById("status-lastError").textContent]);""")
    assert "S3cretPassw0rd" not in str(shown), shown


def test_a_server_url_that_names_the_rules_address_is_refused_with_the_fix(
        synced: Browser, fault: FaultServer) -> None:
    """The address of the rules themselves (<server>/v1/rules, as curl fetches them) typed as
    the server URL would be fetched as <server>/v1/rules/v1/rules, a 404 in "Last error" after
    the save: the options page refuses it, naming the field and the address to give."""
    with pytest.raises(ValueError, match=re.escape(
            f'"Rules server URL": leave "/v1/rules" out of the address, give {fault.url}')):
        synced.configure(server_url=f"{fault.url}v1/rules", public_key=fault.bundles.public_key,
                         poll_minutes=1440)
    assert fault.rules_requests() == []
    assert synced.extension_status()["source"] == "bundled"


KEY_FIELD = '"Rules public key (base64; one per line)"'  # its label on the options page


def test_a_public_key_given_as_pem_is_refused_with_the_form_to_give(
        synced: Browser, fault: FaultServer) -> None:
    """A public key pasted as PEM (what `openssl pkey -pubout` writes from a key the server
    also reads), or as the base64 of that DER text without its armour, is refused naming the
    field and the very text to give, not as seven fragments none of which is a key; a private
    key pasted there is refused without a word of it."""
    from cryptography.hazmat.primitives import serialization

    public = fault.bundles.key.public_key()
    pem = public.public_bytes(serialization.Encoding.PEM,
                              serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    der = "".join(pem.splitlines()[1:-1])
    fix = (f"{KEY_FIELD}: give the key as `pwguard keygen` prints it, the base64 of its 32 "
           f"bytes alone: {fault.bundles.public_key}")
    for text in (pem, der):
        with pytest.raises(ValueError) as refused:
            synced.configure(server_url=fault.url, public_key=text, poll_minutes=1440)
        assert f"['{fix}']" in str(refused.value), refused.value
    private = fault.bundles.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()
    with pytest.raises(ValueError) as refused:
        synced.configure(server_url=fault.url, public_key=private, poll_minutes=1440)
    assert f"{KEY_FIELD}: that is a private key" in str(refused.value), refused.value
    secret = "".join(private.splitlines()[1:-1])
    assert secret[16:] not in str(refused.value) and secret[:12] not in str(refused.value)
    assert fault.rules_requests() == []


def test_a_server_url_typed_without_its_scheme_is_refused_with_the_address_to_give(
        bundled: Browser) -> None:
    """The server URL field is an address field: the browser keeps the form from being sent
    with a host name alone, and its own "Please enter a URL." says neither what is wrong nor
    what to give; the field says it instead, with the address to give when the text makes
    one. Nothing is saved meanwhile."""
    before = bundled.extension_status()
    cases = {
        "rules.example.com": "Give the full address, starting with https://: "
                             "https://rules.example.com",
        "rules.example.com/pwguard/": "Give the full address, starting with https://: "
                                      "https://rules.example.com/pwguard/",
        "not an address": "Give the full address, starting with https://, such as "
                          "https://rules.example.com/",
    }
    for typed, said in cases.items():
        bundled.open_options()
        bundled.type_into("#serverUrl", typed)
        bundled.click("#save")
        shown = bundled.wait("""const field = document.getElementById("serverUrl");
            return document.documentElement.dataset.ready === "true" && !field.validity.valid
              && {message: field.validationMessage, value: field.value};""")
        assert shown == {"message": said, "value": typed}, typed
    # a full address is taken again as soon as it is typed
    bundled.type_into("#serverUrl", "https://rules.example.com/")
    assert bundled.js('return document.getElementById("serverUrl").validity.valid') is True
    assert bundled.extension_status() == before


def test_the_options_page_shows_every_sync_as_it_happens(
        synced: Browser, fault: FaultServer, zoho: ZohoMock) -> None:
    """A sync the open page did not ask for (the alarm's, a policy change's) is shown at once,
    and so is the time of each attempt, even one that fails the same way as the one before."""
    start_good(synced, fault, zoho)
    synced.open_options()
    fault.mode = "500"
    shown = """const error = document.getElementById("status-lastError").textContent;
        const attempt = document.getElementById("status-lastAttempt");
        return error.includes("500") && attempt.dataset.value !== arguments[0]
          && attempt.textContent && attempt.dataset.value;"""
    # from the page, as another page or the alarm would: no button of its own is pressed
    ask_for_a_sync = """const ext = globalThis.browser ?? globalThis.chrome;
        return ext.runtime.sendMessage({type: "pwguard/sync-now"}).then(() => true);"""
    assert synced.js(ask_for_a_sync)
    first = synced.wait(shown, "")
    assert synced.js(ask_for_a_sync)
    synced.wait(shown, first)


def test_rules_no_configured_key_verifies_any_more_give_way_to_the_bundled_rules(
        synced: Browser, fault: FaultServer, zoho: ZohoMock) -> None:
    """A key rotation after a leak, while the server fails (or is kept from answering): rules
    that only the key taken out of the settings verifies must not stay in force; the bundled
    rules, which still protect, do, and the error says why. Rules a remaining key verifies
    stay (as when the server's URL changes to one that fails)."""
    start_good(synced, fault, zoho)
    fault.mode = "500"
    new_key = public_key_b64(Ed25519PrivateKey.generate())
    synced.configure(server_url=fault.url, public_key=f"{new_key} {fault.bundles.public_key}",
                     poll_minutes=1440)
    assert synced.extension_status()["source"] == "server"
    synced.configure(server_url=fault.url, public_key=new_key, poll_minutes=1440)
    status = synced.extension_status()
    assert status["source"] == "bundled", status
    assert "HTTP 500" in status["lastError"], status
    assert "not signed by a configured public key any more" in status["lastError"], status
    assert_shown_word_for_word(synced, status)
    synced.open(marker_url(zoho))
    assert_blocked(synced, "#ter_apiToken")
    assert synced.js(CONTROL, "#pwguard-sync-marker")["mark"] is None


def test_a_sync_whose_outcome_cannot_be_stored_says_so(
        synced: Browser, fault: FaultServer, zoho: ZohoMock) -> None:
    """A failed write of the rules' state (storage full) is the sync's error like any other:
    the status says so, rather than showing the last stored outcome as if nothing had
    happened. Chromium only: its storage.local has a quota a test can fill (Firefox's has
    none)."""
    if not isinstance(synced, ChromiumBrowser):
        pytest.skip("Firefox's storage.local has no quota to fill")
    start_good(synced, fault, zoho)
    synced.open_options()
    # the stored state out (the background answers with the bundled rules meanwhile) and the
    # rest of the quota filled, so the sync's state no longer fits
    filled = synced.js("""const local = chrome.storage.local;
        return local.remove("state").then(() => local.getBytesInUse(null)).then(used =>
          local.set({junk: "x".repeat(local.QUOTA_BYTES - used - 64)}))
          .then(() => local.getBytesInUse(null)).then(used => local.QUOTA_BYTES - used);""")
    assert 0 <= filled < 1024, filled
    try:
        answer = synced.js("""return chrome.runtime.sendMessage({type: "pwguard/sync-now"})
            .then(() => chrome.runtime.sendMessage({type: "pwguard/get-status"}));""")
        assert "outcome was not stored" in (answer["lastError"] or ""), answer
    finally:
        synced.js('return chrome.storage.local.remove("junk").then(() => true);')


def test_save_and_sync_now_leave_the_keyboard_focus_on_the_button(bundled: Browser) -> None:
    """The page disables its buttons while the background works, which takes the focus off
    the one pressed (to the body): a keyboard user gets it back there, not at the page's top."""
    bundled.open_options()
    for button in ("syncNow", "save"):
        bundled.js("""const b = document.getElementById(arguments[0]); b.focus(); b.click();""",
                   button)
        focused = bundled.wait("""return document.documentElement.dataset.ready === "true"
            && "#" + (document.activeElement ? document.activeElement.id : "");""")
        assert focused == f"#{button}", (button, focused)


def test_the_extension_knows_how_the_browser_says_there_is_no_policy(bundled: Browser) -> None:
    """With no policy at all, Chromium's storage.managed gives {} and Firefox's rejects, with
    words background.js takes for "no policy" (any other failure keeps the last policy read
    in force: test_browser_policy.py); this holds those words to the browser's."""
    known = re.search(r'const NO_POLICY = "([^"]*)";',
                      (REPO / "extension" / "background.js").read_text("utf-8"))
    assert known, "background.js has no NO_POLICY"
    bundled.open_options()
    answer = bundled.js("""const ext = globalThis.browser ?? globalThis.chrome;
        return ext.storage.managed.get().then(items => ({items}),
                                              e => ({error: String(e && e.message || e)}));""")
    assert answer == ({"error": known[1]} if bundled.name == "firefox" else {"items": {}}), answer

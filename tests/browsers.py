"""Real browsers with the pwguard extension loaded, behind one small API.

``ChromiumBrowser`` drives /usr/bin/chromium through Playwright (persistent context,
unpacked extension via ``--load-extension``); ``FirefoxBrowser`` drives firefox-esr
through Marionette (extension installed as a temporary add-on). Both take ``policies=``:
enterprise policies for that one instance (Firefox: an alternate policies.json; Chromium:
its /etc/chromium seen through a private mount namespace). Both map every mocked
Zoho hostname to 127.0.0.1, accept the mock's self-signed certificate, and expose:

    open(url)                      load url in the test tab (a real load, even when only
                                   the fragment differs) and wait for the load event
    js(body, *args)                run a function body in the page's MAIN world
    wait(body, *args, timeout=10)  poll a function body until truthy, return its value
    private_window(url)            with-block on url in a new private/Incognito window
    click(selector)                trusted mouse click at the element's centre
    press(key)                     trusted key press on the focused element
    configure(...), sync_now(), extension_status()   through the options page

so that one test body runs in both engines. ``js`` bodies see the page's own globals
(``window.fetch`` is whatever the page or the extension's MAIN-world script made it) and
may return a Promise, which is awaited. Results must be JSON-able.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

REPO = Path(__file__).resolve().parent.parent
EXTENSION_DIR = REPO / "extension"
CHROMIUM_BIN = os.environ.get("PWGUARD_CHROMIUM", "/usr/bin/chromium")
FIREFOX_BIN = os.environ.get("PWGUARD_FIREFOX", "firefox-esr")
CHROMIUM_POLICY_WRAPPER = REPO / "tests" / "chromium-policy-wrapper"
CHROMIUM_ETC = Path("/etc/chromium")  # Debian's chromium: policies/managed/*.json in here

T = TypeVar("T")

# read from an extension page: the extension's alarms as [name, period], null when it has none
ALARMS = """const ext = globalThis.browser ?? globalThis.chrome;
return ext.alarms.getAll().then(a => a.length ? a.map(x => [x.name, x.periodInMinutes]) : null);"""


STATUS_IDS = {"version": "status-version", "source": "status-source", "from": "status-from",
              "lastSync": "status-lastSync", "lastError": "status-lastError"}


class JSError(RuntimeError):
    """A ``js()`` body threw in the page."""


class ClickIntercepted(RuntimeError):
    """The element to click is covered by another one (an overlay, a banner ...)."""


# Scroll the element into view and say where its centre is and whether a click there would
# reach it: the element itself, something inside it, one of its labels, or something in its
# own parent (Zoho's invisible input lies over its styled span, and either may be "clicked").
_LOCATE_FOR_CLICK = """
const el = document.querySelector(arguments[0]);
if (!el) return null;
el.scrollIntoView({block: "center", inline: "center"});
const r = el.getBoundingClientRect();
const x = r.left + r.width / 2, y = r.top + r.height / 2;
const hit = document.elementFromPoint(x, y);
const reaches = !hit || hit === el || el.contains(hit)
  || [...(el.labels || [])].some(label => label === hit || label.contains(hit))
  || (el.parentElement && el.parentElement !== document.body && el.parentElement.contains(hit));
const describe = n => n.tagName.toLowerCase() + (n.id ? "#" + n.id : "")
  + [...n.attributes].filter(a => a.name.startsWith("data-") || a.name === "class")
      .map(a => `[${a.name}="${a.value}"]`).join("");
return {x, y, w: r.width, h: r.height, covered_by: reaches ? null : describe(hit)};
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def read_manifest(ext_dir: Path) -> dict[str, Any]:
    path = ext_dir / "manifest.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no manifest.json; the browser tests load the "
                                "extension unpacked from this folder")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def options_path(manifest: dict[str, Any]) -> str:
    page = (manifest.get("options_ui") or {}).get("page") or manifest.get("options_page")
    if not page:
        raise ValueError("extension/manifest.json has no options_ui.page: the browser tests "
                         "configure the extension through its options page")
    return str(page).lstrip("/")


class Browser:
    """Shared behaviour; subclasses provide the engine-specific primitives."""

    name: str = ""
    options_url: str = ""

    # engine primitives -------------------------------------------------------------------
    def open(self, url: str) -> None:
        raise NotImplementedError

    def js(self, body: str, *args: Any) -> Any:
        raise NotImplementedError

    def _mouse_click(self, x: float, y: float) -> None:
        raise NotImplementedError

    def press(self, key: str) -> None:
        raise NotImplementedError

    def _type_into(self, selector: str, text: str) -> None:
        raise NotImplementedError

    def reset(self) -> None:
        """Give the next test a fresh tab on about:blank."""
        raise NotImplementedError

    def install_extension(self) -> None:
        """Install the extension into the running browser (see the engines' own)."""
        raise NotImplementedError

    @contextlib.contextmanager
    def in_new_tab(self) -> Iterator[None]:
        """Work in a new tab for the ``with`` block, then close it and go on in the tab
        before, which stays open meanwhile (not reloaded)."""
        raise NotImplementedError
        yield

    @contextlib.contextmanager
    def private_window(self, url: str) -> Iterator[Browser]:
        """Open ``url`` in a new private window (Firefox) or Incognito window (Chromium), wait
        for its load event, and yield a Browser for that tab (at least ``js`` and ``wait``,
        so the tests.dom helpers work on it); the window is closed afterwards."""
        raise NotImplementedError
        yield self

    def close(self) -> None:
        raise NotImplementedError

    # shared on top of them -------------------------------------------------------------------
    def wait(self, body: str, *args: Any, timeout: float = 10) -> Any:
        """Evaluate ``body`` until it returns something truthy; TimeoutError names the body."""
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while True:
            try:
                # One in-page poll per round trip: the page answers after up to 250 ms of
                # its own polling, so this loop never sleeps in Python.
                value = self.js(_POLL_IN_PAGE.replace("/*BODY*/", body), list(args),
                                max(0.0, min(0.25, deadline - time.monotonic())) * 1000)
                if value is not None and value.get("ok"):
                    return value["value"]
                if value is not None and value.get("error"):
                    last_error = JSError(value["error"])
                else:
                    last_error = None
            except JSError as exc:  # e.g. a navigation destroyed the context mid-poll
                last_error = exc
            if time.monotonic() >= deadline:
                why = f" (last error: {last_error})" if last_error else ""
                raise TimeoutError(f"{self.name}: condition not met within {timeout}s: "
                                   f"{body.strip()!r}{why}")

    def click(self, selector: str) -> None:
        """Trusted mouse click at the centre of the first element matching ``selector``."""
        rect = self.js(_LOCATE_FOR_CLICK, selector)
        if rect is None:
            raise LookupError(f"{self.name}: click: no element matches {selector!r} on "
                              f"{self.js('return location.href')}")
        if rect["w"] == 0 and rect["h"] == 0:
            raise LookupError(f"{self.name}: click: {selector!r} has no box (display:none?)")
        if rect["covered_by"]:
            # A click there would land on something else: a test asserting "the box stayed
            # unticked" would pass for the wrong reason.
            raise ClickIntercepted(f"{self.name}: click: the centre of {selector!r} is covered "
                                   f"by {rect['covered_by']}")
        self._mouse_click(rect["x"], rect["y"])

    def _wait_options_ready(self, timeout: float) -> None:
        self.wait('return document.documentElement.dataset.ready === "true"', timeout=timeout)

    def type_into(self, selector: str, text: str) -> None:
        """Replace the value of the field ``selector`` by typing ``text``, as a person would."""
        self._type_into(selector, text)

    def open_options(self) -> None:
        """Load the options page and wait until it shows the status."""
        self.open(self.options_url)
        self._wait_options_ready(timeout=15)

    def save_settings(self, *, server_url: str = "", public_key: str = "",
                      poll_minutes: float = 5) -> None:
        """Type the settings into the options page and press Save; returns at once, while
        the extension may still be saving and syncing (``configure`` waits)."""
        self.open_options()
        self._type_into("#serverUrl", server_url)
        self._type_into("#publicKey", public_key)
        self._type_into("#pollMinutes", f"{poll_minutes:g}")
        self.click("#save")

    def configure(self, *, server_url: str = "", public_key: str = "",
                  poll_minutes: float = 5, timeout: float = 30) -> None:
        """Type the settings into the options page and save them, as a user would.

        Saving makes the extension sync at once; this returns when the page is idle again
        and a fresh options page shows the saved values. ValueError carries the page's
        own complaints when it refuses the settings.
        """
        poll = f"{poll_minutes:g}"
        self.save_settings(server_url=server_url, public_key=public_key,
                           poll_minutes=poll_minutes)
        self._wait_options_ready(timeout)
        problems = self.js("""const ul = document.getElementById("saveErrors");
            return ul ? [...ul.children].map(li => li.textContent) : [];""")
        if problems:
            raise ValueError(f"{self.name}: the options page refused the settings: {problems}")
        self.open_options()
        shown = self.js("""return ["#serverUrl", "#publicKey", "#pollMinutes"]
            .map(s => document.querySelector(s).value);""")
        if shown[0] != server_url or shown[1].split() != public_key.split() or (
                float(shown[2] or "nan") != float(poll)):
            raise AssertionError(f"{self.name}: options page did not keep the settings "
                                 f"{[server_url, public_key, poll]}; it shows {shown}")

    def extension_status(self) -> dict[str, str]:
        """The status on the options page: version, source, from, lastSync, lastError.

        Texts as shown, except lastSync: the ISO instant behind the localized text
        ("" when never synced).
        """
        if not self.js("return location.href").startswith(self.options_url):
            self.open_options()
        self._wait_options_ready(timeout=30)
        return self._read_status()

    def _read_status(self) -> dict[str, str]:
        values = self.js("""return arguments[0].map(id => {
            const el = document.getElementById(id);
            if (!el) return null;
            const raw = ["status-lastSync", "status-source"].includes(id);
            return raw && el.dataset.value !== undefined ? el.dataset.value
              : el.textContent.trim(); });""", list(STATUS_IDS.values()))
        missing = [i for i, v in zip(STATUS_IDS.values(), values, strict=True) if v is None]
        if missing:
            raise LookupError(f"{self.name}: options page lacks #{', #'.join(missing)}")
        return dict(zip(STATUS_IDS.keys(), values, strict=True))

    def sync_now(self, timeout: float = 30) -> dict[str, str]:
        """Press "sync now" and return the status once the page has re-rendered it."""
        self.open_options()
        # Blank the status so that the re-render after the sync is visible, even one that
        # repeats the same error text.
        self.js("""for (const id of arguments[0]) {
            const el = document.getElementById(id); if (el) el.textContent = ""; }""",
                list(STATUS_IDS.values()))
        self.click("#syncNow")
        self.wait("""return document.documentElement.dataset.ready === "true"
            && document.getElementById("status-version").textContent.trim();""",
                  timeout=timeout)
        return self._read_status()


# Runs in the page: poll the function body (pasted in, so no eval under the page's CSP) with
# its args until truthy or the budget (ms) is spent; a returned Promise is awaited.
_POLL_IN_PAGE = """
const [args, budget] = arguments;
const fn = function () {
/*BODY*/
};
const end = Date.now() + budget;
return new Promise(resolve => {
  const round = async () => {
    let value;
    try { value = await fn.apply(null, args); }
    catch (e) { resolve({ok: false, error: String(e && e.stack || e)}); return; }
    if (value) { resolve({ok: true, value: value}); return; }
    if (Date.now() >= end) { resolve({ok: false}); return; }
    setTimeout(round, 20);
  };
  round();
});
"""


# ----------------------------------------------------------------------------------- chromium
def chromium_args(ext_dir: Path | None, hosts: Iterable[str]) -> list[str]:
    """Chromium's command line: ``hosts`` resolved to this machine, the unpacked extension
    ``ext_dir`` loaded (None: no extension), nothing else talking to the network."""
    rules = ", ".join(f"MAP {h} 127.0.0.1" for h in hosts) + ", EXCLUDE localhost"
    args = [
        # Chrome 137+ ignores --load-extension unless this feature is off.
        "--disable-features=DisableLoadExtensionCommandLineSwitch",
        "--no-sandbox",
        f"--host-resolver-rules={rules}",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        "--disable-gpu",
        "--disable-dev-shm-usage",
    ]
    if ext_dir is not None:
        args += [f"--disable-extensions-except={ext_dir}", f"--load-extension={ext_dir}"]
    return args


def chromium_extension_id(manifest: dict[str, Any]) -> str | None:
    """The id Chromium gives an unpacked extension whose manifest has a ``key``: the first
    128 bits of the SHA-256 of the key, hex digits 0-f written as a-p (None without a key)."""
    key = manifest.get("key")
    if not key:
        return None
    digest = hashlib.sha256(base64.b64decode(str(key))).hexdigest()[:32]
    return "".join(chr(ord("a") + int(c, 16)) for c in digest)


def _chromium_policy_setup(workdir: Path, policies: Mapping[str, Any]) -> dict[str, str]:
    """The environment under which ``tests/chromium-policy-wrapper`` starts a Chromium that
    reads ``policies`` (the content of one policies/managed/*.json) and no other policy.

    Chromium on Linux reads policies only from /etc/chromium/policies/managed/, machine-wide,
    which a test must not write. The wrapper enters a private mount namespace and binds a copy
    of /etc/chromium (here: ``workdir/chromium-etc``, with the test's policy file instead of
    the machine's policies) over /etc/chromium for that Chromium alone. That takes root (or
    CAP_SYS_ADMIN), as the tests have; a dry run with ``cat`` for Chromium proves it works
    before Chromium starts, and RuntimeError names what is missing when it does not.
    """
    if not CHROMIUM_ETC.is_dir():
        raise RuntimeError(f"chromium: policies= needs {CHROMIUM_ETC} (Debian's chromium package "
                           f"ships it) to bind the test's policies over; it does not exist")
    etc = workdir / "chromium-etc"
    shutil.rmtree(etc, ignore_errors=True)
    shutil.copytree(CHROMIUM_ETC, etc, symlinks=True)
    shutil.rmtree(etc / "policies", ignore_errors=True)  # the machine's own, if any
    managed = etc / "policies" / "managed"
    managed.mkdir(parents=True)
    (managed / "pwguard-test.json").write_text(json.dumps(dict(policies), indent=2), "utf-8")
    env = {"PWGUARD_POLICY_CHROMIUM": CHROMIUM_BIN, "PWGUARD_POLICY_ETC": str(etc)}
    seen = CHROMIUM_ETC / "policies" / "managed" / "pwguard-test.json"
    try:
        probe = subprocess.run([str(CHROMIUM_POLICY_WRAPPER), str(seen)],
                               env={**os.environ, **env, "PWGUARD_POLICY_CHROMIUM": "cat"},
                               capture_output=True, text=True, timeout=30, check=False)
        answer, why = probe.stdout, probe.stderr.strip() or f"exit status {probe.returncode}"
    except OSError as exc:
        answer, why = "", str(exc)
    try:
        shown = json.loads(answer) if answer else None
    except ValueError:
        shown = None
    if shown != dict(policies):
        raise RuntimeError(
            f"chromium: {CHROMIUM_POLICY_WRAPPER} could not show Chromium the test's policies at "
            f"{seen} ({why}). It needs unshare(1) and mount(8) and the right to use them "
            "(root or CAP_SYS_ADMIN, as in CI): run the tests as root, or drop policies=")
    return env


class ChromiumBrowser(Browser):
    """Chromium via Playwright's sync API, driven from one dedicated thread.

    The sync API keeps an asyncio loop running in the thread that started it, and refuses a
    second start there; on its own thread this session-long browser leaves the test thread
    free for any other Playwright use (e.g. a plain page in another test module).
    """

    name = "chromium"

    def __init__(self, ext_dir: Path, workdir: Path, hosts: list[str] | tuple[str, ...], *,
                 policies: Mapping[str, Any] | None = None, args: Iterable[str] = (),
                 installed: bool = True) -> None:
        """``args``: more command-line switches (e.g. ``--accept-lang=es-ES``).
        ``installed`` False: the extension is installed only by ``install_extension``, into
        the running browser, as a policy's force-install or a person's install from the store
        would be (not by --load-extension at the start).
        ``policies``: enterprise policies for this instance only, as the content of a
        ``/etc/chromium/policies/managed/*.json`` file, e.g. ``{"3rdparty": {"extensions":
        {id: {...}}}}`` for the extension's managed storage (``chromium_extension_id`` gives
        the id); see ``_chromium_policy_setup``. When they configure this extension, the
        start waits until its ``storage.managed`` holds them, else RuntimeError."""
        self.ext_dir = ext_dir
        self.manifest = read_manifest(ext_dir)
        self._extra_args = list(args)
        self._installed = installed
        env = None if policies is None else _chromium_policy_setup(workdir, policies)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chromium")
        try:
            self._run(self._start, workdir, hosts, env)
        except BaseException:
            self._pool.shutdown(wait=False)
            raise
        if policies is not None:
            try:
                self._check_policies(policies)
            except BaseException:
                self.close()
                raise

    def _check_policies(self, policies: Mapping[str, Any], timeout: float = 15) -> None:
        expected_id = chromium_extension_id(self.manifest)
        if expected_id is not None and expected_id != self.extension_id:
            raise RuntimeError(f"chromium: the extension got the id {self.extension_id}, not "
                               f"{expected_id} as its manifest key says")
        mine = ((policies.get("3rdparty") or {}).get("extensions") or {}).get(self.extension_id)
        if mine is None:
            return
        self.open(self.options_url)
        try:
            self.wait("""const want = arguments[0];
                const canon = o => JSON.stringify(Object.keys(o).sort().map(k => [k, o[k]]));
                return chrome.storage.managed.get().then(got => canon(got) === canon(want));
                """, dict(mine), timeout=timeout)
        except TimeoutError:
            got = self.js("return chrome.storage.managed.get()")
            raise RuntimeError(
                f"chromium: the test policy is not active: storage.managed of {self.extension_id} "
                f"holds {got}, not {dict(mine)} (policy file under "
                f"{self._policy_etc}/policies/managed; does {CHROMIUM_BIN} read "
                f"{CHROMIUM_ETC}/policies, and does managed_schema.json allow these keys?)"
            ) from None
        self.open("about:blank")

    def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return self._pool.submit(fn, *args).result()

    def _start(self, workdir: Path, hosts: list[str] | tuple[str, ...],
               policy_env: dict[str, str] | None) -> None:
        from playwright.sync_api import sync_playwright

        args = chromium_args(self.ext_dir if self._installed else None, hosts) + self._extra_args
        self._policy_etc = (policy_env or {}).get("PWGUARD_POLICY_ETC", "")
        launch: dict[str, Any] = {"executable_path": CHROMIUM_BIN}
        if not self._installed:  # (CDP's Extensions.loadUnpacked, over Playwright's pipe)
            args.append("--enable-unsafe-extension-debugging")
            launch["ignore_default_args"] = ["--disable-extensions"]
        if policy_env is not None:
            launch = {"executable_path": str(CHROMIUM_POLICY_WRAPPER),
                      "env": {**os.environ, **policy_env}}
        self._pw = sync_playwright().start()
        try:
            self._ctx = self._pw.chromium.launch_persistent_context(
                str(workdir / "chromium-profile"), headless=True, ignore_https_errors=True,
                args=args, timeout=60_000, **launch)
            if self._installed:
                workers = [w for w in self._ctx.service_workers
                           if w.url.startswith("chrome-extension://")]
                worker = workers[0] if workers else self._ctx.wait_for_event(
                    "serviceworker", timeout=30_000)
                self._set_extension_id(worker.url.split("/")[2])
            self.page = self._ctx.pages[0] if self._ctx.pages else self._ctx.new_page()
        except BaseException:
            self._pw.stop()
            raise

    @contextlib.contextmanager
    def in_new_tab(self) -> Iterator[None]:
        first = self.page
        self.page = self._run(self._ctx.new_page)
        try:
            yield
        finally:
            second, self.page = self.page, first
            self._run(second.close)
            self._run(first.bring_to_front)

    def _set_extension_id(self, extension_id: str) -> None:
        self.extension_id = extension_id
        self.options_url = f"chrome-extension://{extension_id}/{options_path(self.manifest)}"

    def install_extension(self) -> None:
        """Install the extension into this running browser (made with ``installed=False``)."""
        def install() -> str:
            cdp = self._ctx.browser.new_browser_cdp_session()
            try:
                return str(cdp.send("Extensions.loadUnpacked", {"path": str(self.ext_dir)})["id"])
            finally:
                cdp.detach()
        self._set_extension_id(self._run(install))

    def open(self, url: str) -> None:
        def go() -> None:
            if "#" in url and "#" in self.page.url:
                self.page.goto("about:blank")  # else a same-path URL only changes the hash
            self.page.goto(url, wait_until="load", timeout=30_000)
        self._run(go)

    def js(self, body: str, *args: Any) -> Any:
        from playwright.sync_api import Error as PlaywrightError

        try:
            # The body is pasted into a function literal: no eval under the page's CSP.
            script = "(__pwgArgs) => (function () {\n" + body + "\n}).apply(null, __pwgArgs)"
            return self._run(self.page.evaluate, script, list(args))
        except PlaywrightError as exc:
            raise JSError(f"chromium: {exc.message}") from None

    def _mouse_click(self, x: float, y: float) -> None:
        self._run(self.page.mouse.click, x, y)

    def press(self, key: str) -> None:
        self._run(self.page.keyboard.press, key)

    def _type_into(self, selector: str, text: str) -> None:
        self._run(lambda: self.page.fill(selector, text, timeout=10_000))

    def allow_on_extensions_page(self, pattern: str) -> None:
        """Grant the extension ``pattern`` from chrome://extensions: that page's own call for a
        person's site grant (``chrome.developerPrivate.addHostPermission``, behind its "Site
        access" add-a-site dialog; for pwguard the page shows only toggles for the manifest's
        hosts, so the call is made directly). Chromium records the host as granted by the
        user; it becomes active when the extension asks for it (permissions.request), which
        Chromium then answers without a prompt."""
        self.open(f"chrome://extensions/?id={self.extension_id}")
        error = self.js("""return chrome.developerPrivate.addHostPermission(arguments[0],
            arguments[1]).then(() => null, e => String(e && e.message || e));""",
                        self.extension_id, pattern)
        if error:
            raise RuntimeError(f"chromium: chrome://extensions refused to allow "
                               f"{self.extension_id} on {pattern}: {error}")

    def allow_in_incognito(self, timeout: float = 30) -> None:
        """Turn on "Allow in Incognito" for the extension on chrome://extensions, as a person
        would (that page's own ``chrome.developerPrivate.updateExtensionConfiguration`` behind
        the toggle). Chromium unloads and reloads the extension for it (about 3 s; its pages
        are refused meanwhile): this waits on that page for the reload, then checks that the
        extension says it is allowed (isAllowedIncognitoAccess)."""
        self.open(f"chrome://extensions/?id={self.extension_id}")
        offered = self.js("""return chrome.developerPrivate.getExtensionInfo(arguments[0])
            .then(info => info.incognitoAccess.isEnabled);""", self.extension_id)
        if offered is not True:
            raise RuntimeError(f"chromium: chrome://extensions offers no \"Allow in Incognito\" "
                               f"for {self.extension_id} (manifest \"incognito\": "
                               "\"not_allowed\"?)")
        error = self.js("""const id = arguments[0];
            window.pwgLoaded = false;
            chrome.developerPrivate.onItemStateChanged.addListener(e => {
              if (e.item_id === id && e.event_type === "LOADED") window.pwgLoaded = true; });
            return chrome.developerPrivate.updateExtensionConfiguration(
                {extensionId: id, incognitoAccess: true})
              .then(() => null, e => String(e && e.message || e));""", self.extension_id)
        if error:
            raise RuntimeError(f"chromium: chrome://extensions refused to allow "
                               f"{self.extension_id} in Incognito: {error}")
        self.wait("return window.pwgLoaded", timeout=timeout)
        self.open(self.options_url)
        if self.js("return chrome.extension.isAllowedIncognitoAccess()") is not True:
            raise RuntimeError(f"chromium: {self.extension_id} reloaded, but does not say it is "
                               "allowed in Incognito")

    @contextlib.contextmanager
    def private_window(self, url: str) -> Iterator[Browser]:
        """An Incognito window on ``url``, opened by ``chrome.windows.create({incognito:
        true})`` from the extension's options page: no Playwright or CDP command opens one (a
        CDP/Playwright browser context is an off-the-record profile of another kind, in which
        Chromium runs no extension whatever its Incognito setting). An extension not allowed in
        Incognito gets the window opened all the same, but no answer about it. Playwright never
        reports that window's tab (its browser context is not one Playwright made), so the
        yielded Browser drives it over the browser's CDP session (``_CdpTab``). It is yielded
        once the tab has loaded ``url`` or the error page Chromium shows in its place."""
        def session() -> Any:
            browser = self._ctx.browser
            assert browser is not None  # (a persistent context has its browser in Chromium)
            cdp = browser.new_browser_cdp_session()
            # Playwright accepts the mock's certificate in the tabs it tracks only: for this
            # one, the browser-wide switch (without it, the tab sometimes shows "Privacy error")
            cdp.send("Security.setIgnoreCertificateErrors", {"ignore": True})
            return cdp

        cdp = self._run(session)
        try:
            self.open(self.options_url)
            incognito = self.js("""return chrome.windows.create({incognito: true,
                url: arguments[0]}).then(w => w ? w.incognito : null);""", url)
            if incognito is False:
                raise RuntimeError("chromium: windows.create({incognito: true}) opened a window "
                                   "that is not Incognito")
        except BaseException:
            self._run(cdp.detach)
            raise

        def find(timeout: float = 30) -> str:
            deadline = time.monotonic() + timeout
            try:
                while True:  # each round trip is the poll interval
                    targets = cdp.send("Target.getTargets")["targetInfos"]
                    regular = {t["browserContextId"] for t in targets
                               if t["url"].startswith(self.options_url)}
                    mine = [t["targetId"] for t in targets if t["type"] == "page"
                            and t["url"] == url and t["browserContextId"] not in regular]
                    if mine:
                        return str(mine[0])
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"chromium: no Incognito tab on {url} within "
                                           f"{timeout}s of windows.create")
            except BaseException:
                cdp.detach()
                raise

        tab = _CdpTab(self._run, cdp, self._run(find))
        try:
            # loaded: the page, or an error page in its place (a refused certificate, a policy)
            tab.wait("""return location.href !== "about:blank"
                && document.readyState === "complete";""", timeout=30)
            yield tab
        finally:
            tab.close()

    def background_js(self, body: str) -> Any:
        """Run the function body ``body`` in the extension's service worker (woken first by the
        options page's status request), e.g. to make an API fail as a browser in trouble
        would. What it changes lasts until Chromium stops the worker."""
        def evaluate() -> Any:
            prefix = f"chrome-extension://{self.extension_id}/"
            workers = [w for w in self._ctx.service_workers if w.url.startswith(prefix)]
            if not workers:
                raise RuntimeError("chromium: the extension's service worker does not run")
            return workers[0].evaluate("() => {\n" + body + "\n}")
        self.extension_status()  # (wakes the worker)
        return self._run(evaluate)

    def _extension_workers(self, cdp: Any) -> list[dict[str, Any]]:
        prefix = f"chrome-extension://{self.extension_id}/"
        return [t for t in cdp.send("Target.getTargets")["targetInfos"]
                if t["type"] == "service_worker" and t["url"].startswith(prefix)]

    def running_service_workers(self) -> int:
        """How many service workers of the extension run right now."""
        def count() -> int:
            cdp = self._ctx.new_cdp_session(self.page)
            try:
                return len(self._extension_workers(cdp))
            finally:
                cdp.detach()
        return self._run(count)

    def stop_service_workers(self, timeout: float = 10) -> int:
        """Stop the extension's service worker, as Chromium stops an idle one, and wait
        until it is gone, or said stopped (a page's message may wake it again at once); returns
        how many extension workers were running."""
        prefix = f"chrome-extension://{self.extension_id}/"

        def stop() -> int:
            cdp = self._ctx.new_cdp_session(self.page)
            stopped: list[dict[str, Any]] = []
            cdp.on("ServiceWorker.workerVersionUpdated", lambda event: stopped.extend(
                v for v in event["versions"]
                if v["scriptURL"].startswith(prefix) and v["runningStatus"] == "stopped"))
            try:
                running = len(self._extension_workers(cdp))
                cdp.send("ServiceWorker.enable")
                cdp.send("ServiceWorker.stopAllWorkers")
                deadline = time.monotonic() + timeout
                # (each round trip is the poll interval, and delivers the events)
                while not stopped and self._extension_workers(cdp):
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"chromium: the service worker still runs after "
                                           f"{timeout}s")
                cdp.send("ServiceWorker.disable")
                return running
            finally:
                cdp.detach()
        return self._run(stop)

    def reset(self) -> None:
        def fresh_tab() -> None:
            fresh = self._ctx.new_page()
            for page in self._ctx.pages:
                if page is not fresh:
                    page.close()
            self.page = fresh
        self._run(fresh_tab)

    def close(self) -> None:
        def stop() -> None:
            try:
                self._ctx.close()
            finally:
                self._pw.stop()
        try:
            self._run(stop)
        finally:
            self._pool.shutdown(wait=True)


class _CdpTab(Browser):
    """A Chromium tab that Playwright does not track (an Incognito window's), driven through
    the browser's CDP session: attached with ``flatten: false``, its commands go in
    ``Target.sendMessageToTarget`` and its answers come back as events, which Playwright's
    sync API delivers during any later round trip. Only ``js`` (hence ``wait`` and the
    tests.dom helpers) and ``close``."""

    name = "chromium"

    def __init__(self, run: Callable[..., Any], cdp: Any, target_id: str,
                 timeout: float = 30) -> None:
        self._run, self._cdp, self.target_id, self._timeout = run, cdp, target_id, timeout
        self._replies: dict[int, dict[str, Any]] = {}
        self._sent = 0
        self._session: str | None = None

        def on_message(event: dict[str, Any]) -> None:
            if event.get("sessionId") == self._session:
                message = json.loads(event["message"])
                if "id" in message:
                    self._replies[message["id"]] = message

        def attach() -> str:
            cdp.on("Target.receivedMessageFromTarget", on_message)
            return str(cdp.send("Target.attachToTarget",
                                {"targetId": target_id, "flatten": False})["sessionId"])
        self._session = run(attach)

    def _call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        def call() -> dict[str, Any]:
            self._sent += 1
            ident = self._sent
            self._cdp.send("Target.sendMessageToTarget", {"sessionId": self._session,
                           "message": json.dumps({"id": ident, "method": method,
                                                  "params": params})})
            deadline = time.monotonic() + self._timeout
            while ident not in self._replies:  # each round trip delivers pending events
                if time.monotonic() > deadline:
                    raise TimeoutError(f"chromium: no answer to {method} from the tab "
                                       f"{self.target_id} within {self._timeout}s")
                self._cdp.send("Browser.getVersion")
            return self._replies.pop(ident)
        reply: dict[str, Any] = self._run(call)
        return reply

    def js(self, body: str, *args: Any) -> Any:
        expression = ("(function () {\n" + body + "\n}).apply(null, "
                      + json.dumps(list(args)) + ")")
        reply = self._call("Runtime.evaluate", {"expression": expression,
                                                "awaitPromise": True, "returnByValue": True})
        if "error" in reply:
            raise JSError(f"chromium: {reply['error'].get('message')}")
        result = reply["result"]
        details = result.get("exceptionDetails")
        if details:
            raise JSError("chromium: " + str((details.get("exception") or {}).get(
                "description") or details.get("text")))
        return result["result"].get("value")

    def close(self) -> None:
        def close() -> None:
            try:
                self._cdp.send("Target.closeTarget", {"targetId": self.target_id})
            finally:
                self._cdp.detach()
        self._run(close)


# ------------------------------------------------------------------------------------ firefox
_KEYS = {"Space": "\ue00d", "Enter": "\ue007", "Tab": "\ue004", "Escape": "\ue00c",
         "Backspace": "\ue003", "ArrowDown": "\ue015", "ArrowUp": "\ue013"}

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: get SIGKILL when the test process dies, however it dies."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _policy_setup(workdir: Path, policies: Mapping[str, Any]
                  ) -> tuple[dict[str, Any], dict[str, str]]:
    """Prefs and environment that make one Firefox instance read ``policies`` from
    ``workdir/policies.json`` instead of the machine-wide ``distribution/policies.json``.

    Firefox reads ``browser.policies.alternatePath`` only when ``Cu.isInAutomation`` (release
    and ESR builds; Nightly always): that takes the "turn off all security" test pref, which
    Firefox honours only with MOZ_DISABLE_NONLOCAL_CONNECTIONS=1 in its environment (it
    then refuses connections to anything but loopback: every test server is on 127.0.0.1).
    Checked with firefox-esr 153: the alternate path alone is ignored.
    """
    path = workdir / "policies.json"
    path.write_text(json.dumps({"policies": dict(policies)}, indent=2), encoding="utf-8")
    prefs = {"browser.policies.alternatePath": str(path),
             "security.turn_off_all_security_so_that_viruses_can_take_over_this_computer": True}
    return prefs, {"MOZ_DISABLE_NONLOCAL_CONNECTIONS": "1"}


class FirefoxBrowser(Browser):
    name = "firefox"

    def __init__(self, ext_dir: Path | None, workdir: Path, hosts: list[str] | tuple[str, ...],
                 *, prefs: Mapping[str, Any] | None = None,
                 env: Mapping[str, str] | None = None,
                 policies: Mapping[str, Any] | None = None) -> None:
        """``prefs`` are added to (or override) the test profile's user.js and ``env`` to the
        browser's environment. ``policies``: enterprise policies (the ``"policies"`` object of
        a policies.json) for this instance only, e.g. ``{"3rdparty": {"Extensions": {id:
        {...}}}}`` for the extension's managed storage; see ``_policy_setup``. ``ext_dir``
        None: a plain Firefox, no extension installed (no options page)."""
        with warnings.catch_warnings():
            # mozinfo (via mozrunner) calls distro.linux_distribution(), deprecated upstream.
            warnings.simplefilter("ignore", DeprecationWarning)
            from marionette_driver.addons import Addons
            from marionette_driver.marionette import Marionette

        self.ext_dir = ext_dir
        self.manifest = read_manifest(ext_dir) if ext_dir is not None else {}
        gecko_id = ((self.manifest.get("browser_specific_settings") or {}).get("gecko")
                    or {}).get("id")
        if ext_dir is not None and not gecko_id:
            raise ValueError("extension/manifest.json lacks browser_specific_settings.gecko.id")
        self.gecko_id = str(gecko_id or "")
        self.uuid = str(uuid.uuid4())
        self.profile = workdir / "firefox-profile"
        shutil.rmtree(self.profile, ignore_errors=True)
        self.profile.mkdir(parents=True)
        self.port = _free_port()
        if policies is not None:
            policy_prefs, policy_env = _policy_setup(workdir, policies)
            prefs = {**policy_prefs, **(prefs or {})}
            env = {**policy_env, **(env or {})}
        user_prefs: dict[str, Any] = {
            "marionette.port": self.port,
            "network.dns.localDomains": ",".join(hosts),
            "network.trr.mode": 5,
            "network.proxy.type": 0,
            "network.dns.disableIPv6": True,
            "dom.security.https_first": False,
            "browser.shell.checkDefaultBrowser": False,
            "browser.startup.homepage_override.mstone": "ignore",
            "browser.startup.page": 0,
            "browser.aboutwelcome.enabled": False,
            "browser.tabs.warnOnClose": False,
            "browser.safebrowsing.malware.enabled": False,
            "browser.safebrowsing.phishing.enabled": False,
            "browser.safebrowsing.downloads.enabled": False,
            "datareporting.policy.dataSubmissionEnabled": False,
            "datareporting.healthreport.uploadEnabled": False,
            "toolkit.telemetry.enabled": False,
            "app.update.enabled": False,
            "app.update.auto": False,
            "app.normandy.enabled": False,
            "extensions.update.enabled": False,
            "extensions.getAddons.cache.enabled": False,
            "extensions.autoDisableScopes": 0,
            "extensions.enabledScopes": 5,
            "extensions.originControls.grantByDefault": True,
            "extensions.webextensions.uuids": json.dumps(
                {self.gecko_id: self.uuid} if self.gecko_id else {}),
            "xpinstall.signatures.required": False,
            "network.captive-portal-service.enabled": False,
            "network.connectivity-service.enabled": False,
            "services.settings.server": "",
            "security.OCSP.enabled": 0,
            "remote.prefs.recommended": True,
            **(prefs or {}),
        }
        (self.profile / "user.js").write_text(
            "".join(f"user_pref({json.dumps(k)}, {json.dumps(v)});\n"
                    for k, v in user_prefs.items()))
        log = open(workdir / "firefox.log", "wb")  # noqa: SIM115 - kept for the process' life
        env = dict(os.environ, MOZ_HEADLESS="1", MOZ_CRASHREPORTER_DISABLE="1", **(env or {}))
        self.proc = subprocess.Popen(
            [FIREFOX_BIN, "--headless", "--marionette", "--remote-allow-system-access",
             "-profile", str(self.profile), "-no-remote"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
            start_new_session=True, preexec_fn=_die_with_parent)
        log.close()
        self.log_path = workdir / "firefox.log"
        try:
            self._wait_for_marionette(timeout=60)
            self.m = Marionette(host="127.0.0.1", port=self.port, startup_timeout=60)
            self.m.start_session({"acceptInsecureCerts": True})
            self.m.timeout.page_load = 30
            self.m.timeout.script = 30
            if ext_dir is not None:
                self.addon_id = Addons(self.m).install(str(ext_dir), temp=True)
                self.options_url = (f"moz-extension://{self.uuid}/"
                                    f"{options_path(self.manifest)}")
            self.tab = self.m.current_window_handle
            if policies is not None:
                self._check_policies(policies)
        except BaseException:
            self._kill()
            raise

    @contextlib.contextmanager
    def in_new_tab(self) -> Iterator[None]:
        first = self.m.current_window_handle
        before = set(self.m.window_handles)
        self.m.open(type="tab", focus=True)
        self.m.switch_to_window(next(h for h in self.m.window_handles if h not in before))
        try:
            yield
        finally:
            self.m.close()
            self.m.switch_to_window(first)

    @contextlib.contextmanager
    def private_window(self, url: str) -> Iterator[Browser]:
        """A private window (Marionette's new-window command with ``private``), checked to be
        one in the chrome context, on ``url``; this browser works in it for the block."""
        first = self.m.current_window_handle
        handle = self.m.open(type="window", focus=True, private=True)["handle"]
        self.m.switch_to_window(handle)
        try:
            with self.m.using_context("chrome"):
                private = self.m.execute_script(
                    "return PrivateBrowsingUtils.isWindowPrivate(window);")
            if private is not True:
                raise RuntimeError("firefox: the window Marionette opened is not private")
            self.open(url)
            yield self
        finally:
            self.m.close()
            self.m.switch_to_window(first)

    def uninstall_extension(self) -> None:
        """Remove the extension, as a person or a policy change would."""
        from marionette_driver.addons import Addons
        Addons(self.m).uninstall(self.addon_id)

    def install_extension(self) -> None:
        """Install the extension again (after ``uninstall_extension``) into this running
        browser."""
        from marionette_driver.addons import Addons
        assert self.ext_dir is not None
        self.addon_id = Addons(self.m).install(str(self.ext_dir), temp=True)

    def _check_policies(self, policies: Mapping[str, Any]) -> None:
        """RuntimeError unless the policy engine is active and holds what ``policies`` says
        about this extension: its 3rdparty.Extensions entry and its ExtensionSettings entry,
        for each of them that ``policies`` has."""
        wants = {"3rdparty.Extensions": self.gecko_id in (
                     (policies.get("3rdparty") or {}).get("Extensions") or {}),
                 "ExtensionSettings": self.gecko_id in (policies.get("ExtensionSettings") or {})}
        with self.m.using_context("chrome"):
            status, third_party, settings = self.m.execute_script(
                "return [Services.policies.status === Services.policies.ACTIVE,"
                " Services.policies.getExtensionPolicy(arguments[0]),"
                " Services.policies.getExtensionSettings(arguments[0])];",
                script_args=[self.gecko_id])
        seen = {"3rdparty.Extensions": third_party is not None,
                "ExtensionSettings": settings is not None}
        missing = [name for name, wanted in wants.items() if wanted and not seen[name]]
        if not status or missing:
            raise RuntimeError(
                f"firefox: the enterprise policies in {self.profile.parent / 'policies.json'} "
                "are not active (policy engine status inactive, or no "
                f"{' / '.join(missing) or 'policy'} entry for {self.gecko_id}); this build may "
                "not honour browser.policies.alternatePath")

    def _wait_for_marionette(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                pass
            try:  # waits for the process to exit, at most 0.1 s: a bounded poll interval
                code = self.proc.wait(timeout=0.1)
            except subprocess.TimeoutExpired:
                code = None
            if code is not None:
                raise RuntimeError(f"firefox exited with {code} before Marionette listened; "
                                   f"see {self.log_path}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"firefox: Marionette did not listen on {self.port} within "
                                   f"{timeout}s; see {self.log_path}")

    def open(self, url: str) -> None:
        if "#" in url and "#" in self.m.get_url():
            # Marionette treats a URL with a fragment and the same path as a same-document
            # navigation even across hosts, and returns before the new page loads.
            self.m.navigate("about:blank")
        self.m.navigate(url)

    def js(self, body: str, *args: Any) -> Any:
        from marionette_driver import errors

        try:
            # sandbox=None: no Xray wrappers, the script sees the page's own globals.
            return self.m.execute_script(body, script_args=list(args), sandbox=None,
                                         new_sandbox=True)
        except errors.MarionetteException as exc:
            raise JSError(f"firefox: {exc}") from None

    def _mouse_click(self, x: float, y: float) -> None:
        seq = self.m.actions.sequence("pointer", "mouse", {"pointerType": "mouse"})
        seq.pointer_move(int(x), int(y), origin="viewport").pointer_down().pointer_up()
        seq.perform()
        self.m.actions.release()

    def press(self, key: str) -> None:
        value = _KEYS.get(key, key)
        if len(value) != 1:
            raise ValueError(f"firefox: press: unknown key {key!r}; use one of {sorted(_KEYS)} "
                             "or a single character")
        self.m.actions.sequence("key", "keyboard").key_down(value).key_up(value).perform()
        self.m.actions.release()

    def _type_into(self, selector: str, text: str) -> None:
        from marionette_driver.by import By

        el = self.m.find_element(By.CSS_SELECTOR, selector)
        el.clear()
        if text:
            el.send_keys(text)

    def reset(self) -> None:
        for handle in self.m.window_handles:
            if handle != self.tab:
                self.m.switch_to_window(handle)
                self.m.close()
        self.m.switch_to_window(self.tab)
        self.m.navigate("about:blank")

    def _kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)

    def close(self) -> None:
        try:
            with contextlib.suppress(Exception):
                self.m.delete_session()
        finally:
            self._kill()

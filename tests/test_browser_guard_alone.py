"""guard-main.js when the content script never answers it (a fault injected by loading a copy
of the extension whose manifest lacks the isolated-world content script; every file as
shipped): a request that could be guarded is held until the rules come, and when they never
come (HOLD_MS) a write request whose JSON body has any `true` is refused, in both browsers.
Nothing the page sends in that state reaches "Zoho" with a `true` field; the rest goes through.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browsers import Browser, ChromiumBrowser, FirefoxBrowser
from tests.dom import SENDERS
from tests.zoho_mock import ALL_HOSTS, CLOSESESSION_API, ZohoMock

PLAIN = "/u/plain-account-page-guard-alone"
PLAIN_HTML = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Zoho Accounts</title></head><body><p>Account home</p></body></html>"""

# each request at once, then every outcome: fetch and async XHR (held while the rules are
# pending), a synchronous XHR (decided at once: it cannot be held), a GET
SEND_ALL = SENDERS + """
const [url, dangerous, harmless] = arguments;
const syncXhr = (body) => {
  const x = new XMLHttpRequest();
  x.open("PUT", url, false);
  x.setRequestHeader("Content-Type", "application/json");
  try { x.send(JSON.stringify(body)); } catch (e) { return "threw " + e.name; }
  return "sent " + x.status;
};
const sync = syncXhr(dangerous);
const form = fetch(url, {method: "PUT", body: new URLSearchParams({rmapitok: "true"})})
  .then(r => "resolved " + r.status, e => "rejected " + e.message);
return Promise.all([put(url, JSON.stringify(dangerous)), xhr(url, JSON.stringify(dangerous)),
                    put(url, JSON.stringify(harmless)),
                    fetch(location.href).then(r => "resolved " + r.status), form])
  .then(([fetchDangerous, xhrDangerous, fetchHarmless, get, formDangerous]) =>
        ({sync, fetchDangerous, xhrDangerous, fetchHarmless, get, formDangerous}));"""


def without_content_script(src: Path, dest: Path) -> Path:
    """A copy of the extension whose manifest keeps only the MAIN-world content script."""
    shutil.copytree(src, dest)
    manifest = json.loads((dest / "manifest.json").read_text("utf-8"))
    manifest["content_scripts"] = [
        c for c in manifest["content_scripts"] if c.get("world") == "MAIN"]
    assert [c["js"] for c in manifest["content_scripts"]] == [["guard-main.js"]], manifest
    (dest / "manifest.json").write_text(json.dumps(manifest, indent=2), "utf-8")
    return dest


@pytest.fixture(scope="module", params=["chromium", "firefox"])
def guard_alone(request: pytest.FixtureRequest, extension_dir: Path,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    workdir = tmp_path_factory.mktemp(f"{request.param}-guard-alone")
    ext = without_content_script(extension_dir, workdir / "extension")
    kind = ChromiumBrowser if request.param == "chromium" else FirefoxBrowser
    engine: Browser = kind(ext, workdir / "profile", ALL_HOSTS)
    try:
        yield engine
    finally:
        engine.close()


def closesession(**true_fields: bool) -> dict[str, Any]:
    fields = {"rmwebses": False, "rmappses": False, "inconeauth": False, "rmapitok": False}
    fields.update(true_fields)
    return {"closesession": fields}


def test_without_the_content_script_writes_with_a_true_field_are_refused(
        guard_alone: Browser, zoho: ZohoMock) -> None:
    zoho.add_page(PLAIN, PLAIN_HTML)
    guard_alone.open(zoho.url("accounts.zoho.eu", PLAIN))
    # in fail-closed mode any `true` counts, even the harmless rmwebses
    dangerous = closesession(rmwebses=True)
    harmless = closesession()
    outcome = guard_alone.js(SEND_ALL, CLOSESESSION_API, dangerous, harmless)
    assert outcome["fetchDangerous"].startswith("rejected pwguard refused PUT"), outcome
    assert outcome["xhrDangerous"] == "error", outcome
    assert outcome["formDangerous"].startswith("rejected pwguard refused PUT"), outcome
    assert not outcome["sync"].startswith("sent 200"), outcome
    assert outcome["fetchHarmless"] == "resolved 200", outcome
    assert outcome["get"] == "resolved 200", outcome
    zoho.wait_for(lambda r: r.json == harmless, what="the closesession without a true field")
    assert [r.json for r in zoho.api_requests(CLOSESESSION_API)
            if r.method == "PUT"] == [harmless]

"""The extension's files, checked without a browser: manifest and permissions, locales,
managed-storage schema, message ids, `web-ext lint`, and the freshness of the bundled rules."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from pwguard.api import keys
from pwguard.rules import bundle, sites

REPO = Path(__file__).resolve().parent.parent
EXT = REPO / "extension"
WEB_EXT = REPO / "node_modules" / ".bin" / "web-ext"

# Every `web-ext lint` warning or notice we accept, and why. Anything else fails the test.
LINT_ALLOWED = {
    "BACKGROUND_SERVICE_WORKER_IGNORED": (
        "One manifest serves both browsers: Chrome runs background.service_worker, Firefox "
        "ignores it and runs background.scripts (messages.js, engine.js, background.js)."
    ),
}
OPTIONS_IDS = ["serverUrl", "publicKey", "pollMinutes", "save", "syncNow", "status-version",
               "status-source", "status-lastSync", "status-lastError"]
# every way a script turns text into markup: innerHTML and outerHTML set (`=` or `+=`, by
# name or by a quoted key), the HTML-parsing calls, eval and its relatives
UNSAFE_DOM = re.compile(r"\.(innerHTML|outerHTML)\s*\+?=(?!=)|"
                        r"\[\s*['\"`](innerHTML|outerHTML)['\"`]|"
                        r"insertAdjacentHTML|document\.write|"
                        r"\.(setHTMLUnsafe|setHTML|createContextualFragment|parseFromString)\(|"
                        r"\beval\(|new Function\(|setTimeout\(\s*['\"`]")


def manifest() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXT / "manifest.json").read_text(encoding="utf-8"))
    return data


def extension_id(public_key_b64: str) -> str:
    """Chrome's id for an extension with this manifest `key`: sha256 of the DER key, first
    32 hex digits written with the letters a-p."""
    digest = hashlib.sha256(base64.b64decode(public_key_b64)).hexdigest()[:32]
    return "".join(chr(ord("a") + int(c, 16)) for c in digest)


def js_files() -> list[Path]:
    return sorted(EXT.glob("*.js"))


def test_manifest_is_mv3_for_both_browsers() -> None:
    m = manifest()
    assert m["manifest_version"] == 3
    bg = m["background"]
    assert bg["service_worker"] == "background.js"
    assert bg["scripts"][-1] == "background.js"
    # the service worker loads the same helpers Firefox lists before it
    imported = re.search(r"importScripts\(([^)]*)\)", (EXT / "background.js").read_text())
    assert imported, "background.js must importScripts its helpers in Chrome's service worker"
    assert re.findall(r'"([^"]+)"', imported.group(1)) == bg["scripts"][:-1]
    gecko = m["browser_specific_settings"]["gecko"]
    assert re.fullmatch(r"[a-z0-9-]+@[a-z0-9.-]+", gecko["id"])
    # Ed25519 in WebCrypto (Firefox 129), MAIN-world content scripts (128),
    # data_collection_permissions (140, an ESR)
    assert float(gecko["strict_min_version"]) >= 140
    # Ed25519 in WebCrypto shipped in Chrome 137
    assert int(m["minimum_chrome_version"]) >= 137


def test_permissions_are_minimal() -> None:
    m = manifest()
    assert sorted(m["permissions"]) == ["alarms", "scripting", "storage"]
    assert m["host_permissions"] == list(sites.ZOHO_HOSTS)
    assert m["optional_host_permissions"] == list(sites.OPTIONAL_HOSTS)
    # the linter's view of the manifest (rule sites must lie inside these) is the same
    assert sites.manifest_host_permissions() == (list(sites.ZOHO_HOSTS), list(sites.OPTIONAL_HOSTS))
    assert "web_accessible_resources" not in m, "nothing of the extension is exposed to pages"


def test_content_scripts_cover_exactly_the_zoho_hosts_from_document_start() -> None:
    m = manifest()
    scripts = m["content_scripts"]
    assert [s.get("world", "ISOLATED") for s in scripts] == ["MAIN", "ISOLATED"]
    for entry in scripts:
        assert entry["matches"] == m["host_permissions"]
        assert entry["run_at"] == "document_start"
        assert entry["all_frames"] is True
    assert scripts[0]["js"] == ["guard-main.js"]
    assert scripts[1]["js"][-1] == "content.js"
    background = (EXT / "background.js").read_text()
    # the dynamically registered copy for admin-granted hosts (and what goes into pages open
    # at install) runs the very same files: the background reads them from the manifest
    assert "getManifest().content_scripts" in background
    assert not any(json.dumps(entry["js"]).replace(" ", "") in background.replace(" ", "")
                   for entry in scripts), "background.js spells a content script list again"


def test_every_referenced_file_exists() -> None:
    m = manifest()
    referenced = [*m["icons"].values(), *m["action"]["default_icon"].values(),
                  m["background"]["service_worker"], *m["background"]["scripts"],
                  m["options_ui"]["page"], m["action"]["default_popup"],
                  m["storage"]["managed_schema"], "rules.bundled.json"]
    for entry in m["content_scripts"]:
        referenced += entry["js"]
    html = (EXT / "options.html").read_text()
    referenced += re.findall(r'(?:src|href)="([^"]+)"', html)
    missing = [f for f in referenced if not (EXT / f).is_file()]
    assert not missing, f"manifest.json / options.html reference missing files: {missing}"
    for size, path in m["icons"].items():
        data = (EXT / path).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert int.from_bytes(data[16:20], "big") == int(size), f"{path} is not {size}px wide"


def test_manifest_key_gives_the_documented_chrome_extension_id() -> None:
    key = manifest()["key"]
    der = base64.b64decode(key, validate=True)
    assert der[:2] == b"\x30\x82", "manifest key must be a DER SubjectPublicKeyInfo"
    ext_id = extension_id(key)
    readme = (EXT / "README.md").read_text(encoding="utf-8")
    assert ext_id in readme, f"extension/README.md must document the Chrome id {ext_id}"
    assert "3rdparty" in readme and "extensions" in readme
    # and `pwguard keygen` prints policy files for both browsers' ids
    assert ext_id == keys.CHROME_EXTENSION_ID
    assert manifest()["browser_specific_settings"]["gecko"]["id"] == keys.FIREFOX_EXTENSION_ID


def test_locales_cover_every_message_with_descriptions() -> None:
    m = manifest()
    en = json.loads((EXT / "_locales" / "en" / "messages.json").read_text(encoding="utf-8"))
    es = json.loads((EXT / "_locales" / "es" / "messages.json").read_text(encoding="utf-8"))
    assert m["default_locale"] == "en"
    assert set(en) == set(es), f"es lacks {set(en) - set(es)} / has extra {set(es) - set(en)}"
    for locale in (en, es):
        for key, entry in locale.items():
            assert entry["message"].strip() and entry["description"].strip(), key
    used = set(re.findall(r"__MSG_(\w+)__", json.dumps(m)))
    used |= set(re.findall(r'data-i18n="(\w+)"', (EXT / "options.html").read_text()))
    used |= set(re.findall(r'\bt\("(\w+)"', (EXT / "options.js").read_text()))
    # the background's sentences (said(), a setting's problem(): syncX, settingX, policyX) and
    # the labels in them
    background = (EXT / "background.js").read_text()
    used |= set(re.findall(r'"((?:sync|setting|policy)[A-Z]\w*)"', background))
    used |= set(re.findall(r'\b(?:label|localised)\("(\w+)"', background))
    assert used, "the manifest and options page must use the locales"
    assert used <= set(en), f"messages used but not in _locales/en: {used - set(en)}"


def test_options_page_has_the_ids_the_browser_rig_uses() -> None:
    html = (EXT / "options.html").read_text()
    ids = re.findall(r'id="([^"]+)"', html)
    missing = [i for i in OPTIONS_IDS if i not in ids]
    assert not missing, f"options.html lacks #{', #'.join(missing)}"
    assert 'dataset.ready = "true"' in (EXT / "options.js").read_text()


def test_managed_schema_matches_the_settings() -> None:
    schema = json.loads((EXT / "managed_schema.json").read_text(encoding="utf-8"))
    assert schema["type"] == "object"
    props = schema["properties"]
    assert {k: v["type"] for k, v in props.items()} == {
        "serverUrl": "string", "publicKey": "string", "pollMinutes": "number"}
    # Chrome refuses to load an extension whose policy schema puts minimum/maximum on a
    # non-integer ("Only integers can have minimum and maximum"): background.js clamps.
    assert not {"minimum", "maximum"} & set(props["pollMinutes"])
    background = (EXT / "background.js").read_text()
    assert "MIN_POLL = 0.5" in background and "MAX_POLL = 1440" in background
    for key in props:
        assert f"{key}:" in background, f"background.js DEFAULTS lacks {key}"


def test_message_ids_are_constants_defined_once() -> None:
    defined = set(re.findall(r"^\s+([A-Z_]+): \"", (EXT / "messages.js").read_text(), re.M))
    assert {"GET_STATUS", "SAVE_SETTINGS", "SYNC_NOW", "GET_RULES"} <= defined
    for path in js_files():
        used = set(re.findall(r"\bM\.([A-Z_]+)\b", path.read_text()))
        assert used <= defined, f"{path.name} uses undefined message ids {used - defined}"
        if path.name not in ("messages.js",):
            assert not re.search(r'"pwguard/[a-z-]+"', path.read_text()), (
                f"{path.name}: write message ids as constants from messages.js")
    router = (EXT / "background.js").read_text()
    assert "unknown message" in router and "throw new Error" in router


def test_extension_code_never_builds_html_from_text() -> None:
    for path in [*js_files(), EXT / "options.html"]:
        hits = [m.group(0) for m in UNSAFE_DOM.finditer(path.read_text())]
        assert not hits, f"{path.name}: {hits}: set text with textContent"


def test_the_linter_refuses_the_bundles_the_extension_refuses() -> None:
    # background.js refuses a rules answer over MAX_BODY_BYTES; lint's F009 refuses rules whose
    # signed bundle is over bundle.MAX_SIGNED_BYTES: the two must be one limit
    m = re.search(r"const MAX_BODY_BYTES = (\d+) \* (\d+);",
                  (EXT / "background.js").read_text(encoding="utf-8"))
    assert m is not None
    assert int(m.group(1)) * int(m.group(2)) == bundle.MAX_SIGNED_BYTES


def test_bundled_rules_are_fresh() -> None:
    out = EXT / "rules.bundled.json"
    code = bundle.main(["--rules", str(REPO / "rules"), "--out", str(out), "--check"])
    assert code == 0, "extension/rules.bundled.json is stale: run `make bundle`"
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["format"] == 1 and data["rules"]


@pytest.fixture(scope="module")
def lint_report() -> dict[str, Any]:
    if not WEB_EXT.exists():
        pytest.fail(f"{WEB_EXT} is missing: run `make node`")
    proc = subprocess.run([str(WEB_EXT), "lint", "--source-dir", str(EXT), "--output", "json"],
                          capture_output=True, text=True, timeout=120, check=False)
    start = proc.stdout.find("{")
    assert start >= 0, f"web-ext lint printed no JSON: {proc.stdout[:500]} {proc.stderr[:500]}"
    report: dict[str, Any] = json.loads(proc.stdout[start:])
    return report


def test_web_ext_lint_has_no_errors(lint_report: dict[str, Any]) -> None:
    errors = [(e["code"], e.get("file"), e["message"]) for e in lint_report["errors"]]
    assert not errors, errors


def test_web_ext_lint_warnings_are_all_explained(lint_report: dict[str, Any]) -> None:
    unexplained = [(w["code"], w.get("file"), w["message"])
                   for w in lint_report["warnings"] + lint_report["notices"]
                   if w["code"] not in LINT_ALLOWED]
    assert not unexplained, f"explain these in LINT_ALLOWED or fix them: {unexplained}"
    seen = {w["code"] for w in lint_report["warnings"] + lint_report["notices"]}
    stale = set(LINT_ALLOWED) - seen
    assert not stale, f"LINT_ALLOWED explains warnings that no longer occur: {stale}"


def test_dist_builds_both_store_packages_without_the_key(tmp_path: Path) -> None:
    from tools import dist

    assert dist.main(["--out", str(tmp_path)]) == 0
    version = manifest()["version"]
    chrome = tmp_path / f"pwguard-chrome-{version}.zip"
    firefox = tmp_path / f"pwguard-firefox-{version}.zip"
    assert (tmp_path / f"pwguard-firefox-{version}.xpi").read_bytes() == firefox.read_bytes()
    expected = {p.relative_to(EXT).as_posix() for p in EXT.rglob("*")
                if p.is_file() and p.name != "README.md"}
    for package in (chrome, firefox):
        with zipfile.ZipFile(package) as zf:
            names = {n for n in zf.namelist() if not n.endswith("/")}
            assert names == expected, package.name
            packed = json.loads(zf.read("manifest.json"))
        assert "key" not in packed, f"{package.name}: the Chrome Web Store refuses a manifest key"
        assert packed == {k: v for k, v in manifest().items() if k != "key"}
    # reproducible: a second build gives the same Chrome zip
    again = tmp_path / "again"
    assert dist.main(["--out", str(again)]) == 0
    assert (again / chrome.name).read_bytes() == chrome.read_bytes()


def test_every_script_parses_and_the_engine_mirrors_the_python_api() -> None:
    for path in js_files():
        proc = subprocess.run(["node", "--check", str(path)], capture_output=True, text=True,
                              timeout=60, check=False)
        assert proc.returncode == 0, f"{path.name}: {proc.stderr}"
    # engine.js attaches the same public names as pwguard.rules.engine (docs/internals.md)
    proc = subprocess.run(
        ["node", "-e", f"require({json.dumps(str(EXT / 'engine.js'))});"
         "console.log(JSON.stringify(Object.keys(globalThis.pwguardEngine)))"],
        capture_output=True, text=True, timeout=60, check=True)
    names = set(json.loads(proc.stdout))
    assert {"CHECKBOX_SELECTOR", "fold", "label_text", "control_matches", "verdicts",
            "parse_pattern", "url_matches"} <= names
    from pwguard.rules import engine

    for name in ("CHECKBOX_SELECTOR", "fold", "label_text", "control_matches", "verdicts"):
        assert hasattr(engine, name), f"pwguard.rules.engine lost {name}; keep the twins in step"

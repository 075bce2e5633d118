"""The JavaScript engine (extension/engine.js, run in a real Chromium page) and the Python
engine (pwguard.rules.engine) give the same verdict on every fixture page, control by control.

Two rulesets: the shipped one (rules/) and a stress ruleset built from every wording in
labels.tsv (label phrases in every language, selectors of every portable kind, a warn rule
competing with block rules), so that agreement is tested beyond what rules/ happens to use.
fold() and match patterns are compared on their own as well.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pwguard.rules import engine as py_engine
from pwguard.rules import sites as py_sites
from pwguard.rules.bundle import payload
from pwguard.rules.loader import load_paths
from pwguard.rules.model import Control, RequestGuard, Rule, RuleSet

REPO = Path(__file__).resolve().parent.parent
ENGINE_JS = REPO / "extension" / "engine.js"
FIXTURES = REPO / "rules" / "fixtures"
LABELS_TSV = REPO / "tools" / "zoho" / "labels.tsv"
CHROMIUM = "/usr/bin/chromium"
FIELDS = ("index", "tag", "id", "name", "label", "rule_id", "action")

FIXTURE_PAGES = sorted(p.relative_to(FIXTURES).as_posix() for p in FIXTURES.rglob("*.html"))
ZOHO_SITES = list(py_sites.ZOHO_HOSTS)


def _labels(key_prefix: str) -> list[str]:
    with LABELS_TSV.open(encoding="utf-8", newline="") as fh:
        rows = csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        return sorted({r["value"] for r in rows if r["key"].startswith(key_prefix)})


def stress_ruleset() -> RuleSet:
    def rule(rule_id: str, action: str, controls: list[Control]) -> Rule:
        return Rule(id=rule_id, title=rule_id, why="conformance", action=action,  # type: ignore[arg-type]
                    sites=ZOHO_SITES, controls=controls,
                    request=RequestGuard(method="PUT", path="*/closesession", json_true=["x"]),
                    message={"en": rule_id}, help="https://{host}/u/h#sessions")

    return RuleSet(rules=[
        # warn first: a later block rule covering the same control must win
        rule("web-warn", "warn", [Control(label=_labels("IAM.RESET.PASSWORD.SIGNOUT.WEB"))]),
        rule("mobile-label", "block",
             [Control(label=_labels("IAM.RESET.PASSWORD.SIGNOUT.MOBILE"))]),
        rule("api-label", "block", [Control(label=_labels("IAM.RESET.PASSWORD.DELETE.APITOKENS"))]),
        rule("selectors", "block", [
            Control(selector="div.checkbox_div > input.checkbox_check[name^=clear_api]"),
            Control(selector="#terminate_mob_apps input:not([name=clear_web])"),
            Control(selector="form input[type=CHECKBOX][name$=mobile]"),
            Control(selector="[id*=oneauth i]"),
            Control(selector="label ~ input, span + input[name~=x]"),
            Control(selector="[role=switch], [role=checkbox][aria-checked]"),
        ]),
        rule("desc-warn", "warn", [Control(label=[
            *_labels("IAM.RESET.PASSWORD.BROWSER.MOBILE.SESSION.DESC"),
            *_labels("IAM.PASSWORD.TERMINATE.INCLUDE.ONEAUTH"), "’quoted’", "  ", "ß",
        ])]),
    ])


class EnginePage:
    """A plain Chromium page (no extension) with engine.js loaded."""

    def __init__(self) -> None:
        from playwright.sync_api import sync_playwright

        self.pw = sync_playwright().start()
        try:
            self.browser = self.pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                   args=["--no-sandbox"])
            self.page = self.browser.new_page()
        except BaseException:
            self.pw.stop()
            raise

    def verdicts(self, html: str, payloads: list[dict[str, Any]],
                 urls: list[str | None]) -> list[list[dict[str, Any]]]:
        """Verdicts of `html` for each (payload, url) pair, the page loaded once."""
        self.page.set_content(html, wait_until="domcontentloaded")
        self.page.add_script_tag(path=str(ENGINE_JS))
        result: list[list[dict[str, Any]]] = self.page.evaluate(
            """([payloads, urls]) => payloads.flatMap(p => urls.map(
                u => pwguardEngine.verdicts(document, p, u)))""", [payloads, urls])
        return result

    def call(self, expression: str, arg: Any) -> Any:
        if not self.page.evaluate("() => Boolean(globalThis.pwguardEngine)"):
            self.page.add_script_tag(path=str(ENGINE_JS))
        return self.page.evaluate(expression, arg)

    def close(self) -> None:
        try:
            self.browser.close()
        finally:
            self.pw.stop()


@pytest.fixture(scope="module")
def engine_page() -> Iterator[EnginePage]:
    page = EnginePage()
    try:
        yield page
    finally:
        page.close()


@pytest.fixture(scope="module")
def rulesets() -> list[RuleSet]:
    loaded = load_paths([REPO / "rules"])
    assert loaded.ruleset is not None, f"rules/ does not load: {loaded.findings}"
    return [loaded.ruleset, stress_ruleset()]


URLS: list[str | None] = [None, "https://accounts.zoho.eu/u/h", "https://www.example.org/u/h"]


def test_there_are_fixture_pages() -> None:
    assert len(FIXTURE_PAGES) > 50, f"only {len(FIXTURE_PAGES)} fixture pages under {FIXTURES}"


@pytest.mark.parametrize("fixture", FIXTURE_PAGES)
def test_js_and_python_engines_agree(fixture: str, engine_page: EnginePage,
                                     rulesets: list[RuleSet]) -> None:
    html = (FIXTURES / fixture).read_text(encoding="utf-8")
    js_all = engine_page.verdicts(html, [payload(rs) for rs in rulesets], URLS)
    pairs = [(rs, url) for rs in rulesets for url in URLS]
    for (rs, url), js in zip(pairs, js_all, strict=True):
        py = [v.to_dict() for v in py_engine.verdicts(html, rs, url=url)]
        where = f"{fixture} (rules {rs.rules[0].id}..., url {url})"
        assert len(js) == len(py), f"{where}: JS sees {len(js)} controls, Python {len(py)}"
        for j, p in zip(js, py, strict=True):
            diff = {f: (j[f], p[f]) for f in FIELDS if j[f] != p[f]}
            assert not diff, f"{where}: control {p['index']} ({p['id'] or p['name']}): " + \
                ", ".join(f"{f}: JS {a!r} vs Python {b!r}" for f, (a, b) in diff.items())


# Selectors whose matching depends on how attribute values are compared: the browser's
# own matching is the reference (Python compared ASCII case-insensitively only `type`,
# lowercased beyond ASCII, split classes on every Unicode space and accepted the `s` flag);
# and selectors outside the portable subset, which never match (step 7).
SELECTOR_EDGE_PAGE = (
    '<!DOCTYPE html><html><body><input type="checkbox" id="c1" class="k\u00a0m" lang="EN">'
    '<input type="checkbox" id="c2" class="k\u2003m n\x0bo" dir="RTL" title="\u00c9T\u00c9">'
    '<input type="checkbox" id="c3" lang="\u212a" class="p\tq" checked="Checked"></body></html>'
)
SELECTOR_EDGES = [
    ".k", ".m", ".n", ".p", ".q", "[class~=k]", '[class~="k\u00a0m"]', "[lang=en]",
    "[dir=rtl]", "[lang|=en]", "[checked=checked]", '[title="\u00e9t\u00e9" i]',
    '[title="\u00c9T\u00c9" i]', "[title=\u00e9t\u00e9]", "[lang=k i]", "[lang=k]",
    "[type=checkbox s]", "[type=CHECKBOX]",
    # outside the portable subset: never match (engine.js left them to the browser, which
    # matched them; Python stripped a no-break space as if it were CSS white space)
    ":root input", "input:first-child", ":is(input)", "input:not(:not(#c1))", "[\nlang]",
    "\u00a0input", "input\u3000", "#c2:NOT(.k)",
]


def test_edge_selectors_match_the_same_controls_in_both_engines(engine_page: EnginePage) -> None:
    rulesets = [
        RuleSet(rules=[Rule(id="r", title="r", why="r", sites=ZOHO_SITES, message={"en": "r"},
                            help="https://{host}/h", controls=[Control(selector=sel)])])
        for sel in SELECTOR_EDGES
    ]
    js_all = engine_page.verdicts(SELECTOR_EDGE_PAGE, [payload(rs) for rs in rulesets], [None])
    diff = []
    for sel, rs, js in zip(SELECTOR_EDGES, rulesets, js_all, strict=True):
        py = [v.to_dict() for v in py_engine.verdicts(SELECTOR_EDGE_PAGE, rs)]
        js_ids, py_ids = ([v["id"] for v in vs if v["rule_id"]] for vs in (js, py))
        if js_ids != py_ids:
            diff.append(f"{sel}: JS matches {js_ids}, Python {py_ids}")
    assert not diff, "\n".join(diff)
    assert any(v["rule_id"] for js in js_all for v in js)


def test_the_stress_ruleset_exercises_every_outcome(engine_page: EnginePage) -> None:
    """Guard against a comparison that passes because nothing ever matches."""
    rs = stress_ruleset()
    seen: set[tuple[str | None, str | None]] = set()
    for fixture in FIXTURE_PAGES:
        html = (FIXTURES / fixture).read_text(encoding="utf-8")
        seen |= {(v.rule_id, v.action) for v in py_engine.verdicts(html, rs)}
    assert {("mobile-label", "block"), ("api-label", "block"), ("web-warn", "warn"),
            ("selectors", "block"), ("desc-warn", "warn"), (None, None)} <= seen


def test_fold_agrees_on_every_labels_tsv_text(engine_page: EnginePage) -> None:
    texts = [
        *_labels(""),
        "Straße ẞ", "ΌΣΟΣ ςσ", "“curly” ‘quotes’ „low‟ ′ ″", "a\u00a0\u2003b\u3000\ufeffc\u200bd",
        "ﬁ ﬀ ① Ⅻ ｆｕｌｌ", "e\u0301 (combining) \u0903 (spacing mark)", "İstanbul ı", "",
        "ǅ Ǆ ǆ", "\t\n lead and trail \r\n",
    ]
    js = engine_page.call("(texts) => texts.map(t => pwguardEngine.fold(t))", texts)
    mismatches = [(t, a, py_engine.fold(t)) for t, a in zip(texts, js, strict=True)
                  if a != py_engine.fold(t)]
    assert not mismatches, f"fold differs (text, JS, Python): {mismatches[:5]}"


PATTERN_CASES = [
    ("https://accounts.zoho.eu/*", "https://accounts.zoho.eu/u/h#security/security_pwd"),
    ("https://accounts.zoho.eu/*", "https://accounts.zoho.eu:8443/u/h"),
    ("https://accounts.zoho.eu/*", "http://accounts.zoho.eu/u/h"),
    ("https://accounts.zoho.eu/*", "https://accounts.zoho.eu./u/h"),
    ("https://accounts.zoho.eu/*", "https://ACCOUNTS.zoho.eu/"),
    ("https://accounts.zoho.eu/*", "https://evil.example/accounts.zoho.eu/"),
    ("*://*.zoho.com/*", "https://accounts.zoho.com/x"),
    ("*://*.zoho.com/*", "https://zoho.com/x"),
    ("*://*.zoho.com/*", "https://notzoho.com/x"),
    ("*://*.zoho.com/*", "wss://accounts.zoho.com/x"),
    ("https://*/accounts/p/*", "https://portal.example.com/accounts/p/123/u/h"),
    ("https://*/accounts/p/*", "https://portal.example.com/other"),
    ("https://x.example/u/*?a=1", "https://x.example/u/h?a=1"),
    ("https://x.example/u/h", "https://x.example/u/h?a=1"),
    ("<all_urls>", "file:///tmp/x.html"),
    ("<all_urls>", "https://a.b/"),
    ("file:///tmp/*", "file:///tmp/x.html"),
    ("https://x.example:*/*", "https://x.example:1/"),
    ("https://X.example/*", "https://x.example/"),
    ("https://x.example", "https://x.example/"),
    ("ftp://x.example/*", "https://x.example/"),
    ("https://user@x.example/*", "https://x.example/"),
    ("https://*.x.example/*", "https://a.b.x.example/"),
]


def test_match_patterns_agree(engine_page: EnginePage) -> None:
    js = engine_page.call("(cases) => cases.map(([p, u]) => pwguardEngine.url_matches(p, u))",
                          PATTERN_CASES)
    expected = [py_sites.url_matches(p, u) for p, u in PATTERN_CASES]
    diff = [(c, a, b) for c, a, b in zip(PATTERN_CASES, js, expected, strict=True) if a != b]
    assert not diff, f"url_matches differs ((pattern, url), JS, Python): {diff}"
    assert any(expected) and not all(expected)


def test_invalid_patterns_are_refused_by_both(engine_page: EnginePage) -> None:
    patterns = ["https://x.example", "https://X.example/*", "gopher://x/*", "https://a b/*",
                "https://user@x.example/*", "https://x.example:port/*", "<all_urls>",
                "https://*.x.example/*", "*://*/*"]
    js = engine_page.call("""(ps) => ps.map(p => {
        try { pwguardEngine.parse_pattern(p); return true; } catch (e) { return false; } })""",
                          patterns)
    py = []
    for p in patterns:
        try:
            py_sites.parse_pattern(p)
            py.append(True)
        except py_sites.PatternError:
            py.append(False)
    assert js == py, json.dumps(list(zip(patterns, js, py, strict=True)))

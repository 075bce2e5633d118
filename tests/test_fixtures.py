"""The Zoho mock pages (tools/zoho_pages.py) and the generated fixtures (rules/fixtures/).

Pages must be faithful to tools/zoho/PAGE.md, carry every language and wording of
labels.tsv, and the committed fixture files must be what the generator writes.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup, Tag
from rules.fixtures import generate
from tools import zoho_pages as zp

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "rules" / "fixtures"
DANGEROUS_ROWS = {  # row div -> (input id, name, label key) on the change-password dialog
    "terminate_mob_apps": ("ter_mob", "clear_mobile", zp.MOBILE),
    "terminate_api_tok": ("ter_apiToken", "clear_apiToken", zp.API),
}
ALL_ROWS = {"terminate_web_sess": ("ter_all", "clear_web", zp.WEB), **DANGEROUS_ROWS}


def tsv_rows() -> list[dict[str, str]]:
    with zp.LABELS_TSV.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def parse(text: str) -> Tag:
    """The page's <html> element."""
    html = BeautifulSoup(text, "lxml").html
    assert html is not None
    return html


def one(doc: Tag, css: str) -> Tag:
    found = doc.select(css)
    assert len(found) == 1, f"expected exactly one {css!r}, found {len(found)}"
    return found[0]


def text_of(el: Tag) -> str:
    return " ".join(el.get_text().split())


def collapse(text: str) -> str:
    return " ".join(text.split())


def fixture_pages() -> list[Path]:
    return sorted(FIXTURES.rglob("*.html"))


# ------------------------------------------------------------------ freshness


def test_committed_fixtures_are_what_the_generator_writes() -> None:
    result = subprocess.run(
        [sys.executable, str(FIXTURES / "generate.py"), "--check"],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )
    assert result.returncode == 0, result.stderr


def test_check_reports_stale_missing_and_extra_pages(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "fixtures"
    shutil.copytree(FIXTURES, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "legacy" / "en.html").write_text("<p>edited by hand</p>", encoding="utf-8")
    (copy / "reset-password" / "es.html").unlink()
    (copy / "harmless" / "extra.html").write_text("<p>x</p>", encoding="utf-8")
    monkeypatch.setattr(generate, "FIXTURES", copy)
    lines: list[str] = []
    assert generate.check(lines.append) == 1
    assert any(line.startswith("rules/fixtures/legacy/en.html: stale") for line in lines)
    assert "rules/fixtures/reset-password/es.html: missing" in lines
    assert any(line.startswith("rules/fixtures/harmless/extra.html: not written") for line in lines)
    assert lines[-1].startswith("3 fixture file(s) out of date")
    assert generate.write() == 0
    assert generate.check(lines.append) == 0
    assert not (copy / "harmless" / "extra.html").exists()


def test_fixtures_stay_small() -> None:
    total = sum(p.stat().st_size for p in FIXTURES.rglob("*") if p.is_file())
    assert total < 3_000_000, f"rules/fixtures holds {total} bytes"


# ------------------------------------------------------------------ coverage of labels.tsv


def test_every_language_of_labels_tsv_has_pages_of_every_variant() -> None:
    names = {p.relative_to(FIXTURES).as_posix() for p in fixture_pages()}
    assert len(zp.LANGS) == len({r["lang"] for r in tsv_rows()}) == 48
    for lang in zp.LANGS:
        for folder in ("reset-password", "expired-password"):
            assert f"{folder}/{lang}.html" in names
        for snap in zp.snapshots_of(lang):
            if snap == "legacy":
                assert f"legacy/{lang}.html" in names
            else:
                assert f"change-password/{lang}.{snap}.html" in names


def test_every_label_row_of_labels_tsv_is_on_some_fixture_page() -> None:
    texts: set[str] = set()
    for page in fixture_pages():
        doc = parse(page.read_text(encoding="utf-8"))
        texts.update(text_of(el) for el in doc.find_all(True))
    missing = [
        (r["snapshot"], r["lang"], r["key"]) for r in tsv_rows()
        if r["key"] in (*zp.DANGEROUS_KEYS, zp.WEB, zp.HEAD, zp.CONTINUE, zp.ONEAUTH,
                        zp.MOBILE_DESC, zp.API_DESC)
        and collapse(r["value"]) not in texts
    ]
    assert not missing


def test_spanish_has_three_wordings_of_the_mobile_box_in_the_fixtures() -> None:
    wordings = {
        one(parse(p.read_text(encoding="utf-8")),
            "#ter_mob + .checkbox + label .checkbox_label, #signoutfrommobile ~ label"
            ).get_text()
        for p in [*FIXTURES.glob("change-password/es.*.html"), FIXTURES / "legacy/es.html"]
    }
    assert len(wordings) == 3, wordings


def test_html_lang_is_a_bcp47_tag_of_the_page_language() -> None:
    assert zp.html_lang("pt_BR") == "pt-BR" and zp.html_lang("zh_TW") == "zh-TW"
    assert zp.html_lang("iw") == "he" and zp.html_lang("in") == "id"
    assert zp.html_lang("br") == "pt-BR" and zp.html_lang("es") == "es"
    for lang in zp.LANGS:
        doc = parse((FIXTURES / f"expired-password/{lang}.html").read_text(encoding="utf-8"))
        assert doc.get("lang") == zp.html_lang(lang)
        assert re.fullmatch(r"[a-z]{2,3}(-[A-Z]{2})?", doc.get("lang"))
    assert parse(zp.expired_password_page("ar")).get("dir") == "rtl"


def test_labels_fall_back_to_english_of_the_same_snapshot() -> None:
    assert zp.labels("ja", "v2early")[zp.API] == "Terminate all API tokens."
    assert zp.labels("es", "2025")[zp.MOBILE_DESC] == zp.labels("en", "2025")[zp.MOBILE_DESC]
    assert zp.labels("es", "legacy")[zp.COMBINED].startswith("Termine las sesiones de apps")
    assert zp.labels("br")[zp.MOBILE] == zp.labels("br", "v2early")[zp.MOBILE]
    # a line the snapshot's UI did not have is not borrowed from a newer one
    assert not {zp.MOBILE_DESC, zp.API_DESC, zp.ONEAUTH} & set(zp.labels("es", "v2early"))


@pytest.mark.parametrize(("call", "fragment"), [
    (lambda: zp.labels("xx"), "unknown Zoho language 'xx'"),
    (lambda: zp.change_password_page("en", snapshot="legacy"), "use one of 2025, 2024, v2early"),
    (lambda: zp.change_password_page("as", snapshot="2025"), "it has 'as' in: 2024"),
    (lambda: zp.legacy_combined_page("as"), "it is in 2024"),
    (lambda: zp.change_password_page(rows=("web", "sms")), "rows are chosen from"),
    (lambda: zp.change_password_page(step=3), "step must be 1 or 2"),
])
def test_bad_arguments_get_a_clear_error(call: Callable[[], object], fragment: str) -> None:
    with pytest.raises(ValueError, match=re.escape(fragment)):
        call()


# ------------------------------------------------------------------ PAGE.md itself

PAGE_MD = zp.LABELS_TSV.parent / "PAGE.md"


def page_md_section(title: str) -> str:
    text = PAGE_MD.read_text(encoding="utf-8")
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return text[start:end if end >= 0 else None]


def test_the_mock_answers_on_every_data_centre_host_page_md_names() -> None:
    """zp.HOSTS is what the mock serves, and what the rules' sites and the manifest are
    checked against (test_ruleset, test_extension_static): it must be PAGE.md's list."""
    named = re.findall(r"\baccounts\.zoho[a-z]*(?:\.[a-z]+)+", page_md_section("Hosts"))
    assert len(named) == len(set(named)) == 9
    assert sorted(zp.HOSTS) == sorted(named)


def test_the_rows_of_page_md_are_the_rows_of_the_mock_dialog() -> None:
    table = re.findall(r"^\| `#(\w+)` \| `#(\w+)` \| `(\w+)` \|", page_md_section(
        "Change-password dialog"), re.M)
    assert table == [(row, box, name) for row, (box, name, _) in ALL_ROWS.items()]
    doc = parse(zp.change_password_page(live=False, step=2))
    for row, box, name in table:
        one(doc, f"div#{row} input.checkbox_check#{box}[type=checkbox][name={name}]")


# ------------------------------------------------------------------ faithful markup


def assert_styled_row(doc: Any, input_id: str, name: str, text: str) -> None:
    box = one(doc, f"#{input_id}")
    assert box.get("type") == "checkbox" and box.get("name") == name
    assert "checkbox_check" in box.get("class", [])
    styled = box.find_next_sibling()
    assert styled is not None and styled.name == "span" and styled.get("class") == ["checkbox"]
    one(styled, "span.checkbox_tick")
    label = one(doc, f"label[for={input_id}]")
    assert "session_label" in label.get("class", [])
    assert text_of(one(label, "span.checkbox_label")) == collapse(text)


def test_the_real_checkbox_is_invisible_over_a_styled_box() -> None:
    css = one(parse(zp.change_password_page(live=False)), "style").get_text()
    rule = re.search(r"\.checkbox_check\{([^}]*)\}", css)
    assert rule, "no .checkbox_check rule in the page style"
    assert "opacity:0" in rule.group(1) and "position:absolute" in rule.group(1)


@pytest.mark.parametrize("page", sorted(FIXTURES.glob("change-password/*.html")),
                         ids=lambda p: p.name)
def test_change_password_step2_is_faithful(page: Path) -> None:
    lang, snap, _ = page.name.split(".")
    lab = zp.labels(lang, snap)
    doc = parse(page.read_text(encoding="utf-8"))
    assert doc.get("lang") == zp.html_lang(lang)
    popup = one(doc, "div#popup_password_change.popup")
    assert text_of(one(popup, ".popuphead_text")) == lab[zp.HEAD]
    assert one(doc, "form#passform").get("style") == "display:none"
    form = one(doc, "form#pass_esc_devices")
    assert form.get("style") is None
    for row_id, (input_id, name, key) in ALL_ROWS.items():
        row = one(form, f"div#{row_id}")
        assert row.get("style") is None
        assert_styled_row(row, input_id, name, lab[key])
    if zp.MOBILE_DESC in lab:
        assert text_of(one(doc, "label[for=ter_mob] span.session_terminate_desc")) \
            == collapse(lab[zp.MOBILE_DESC])
    if zp.ONEAUTH in lab:
        toggle = one(doc, "#terminate_mob_apps .oneAuthLable")
        assert one(toggle, "input#include_oneauth").get("type") == "checkbox"
        assert text_of(toggle) == collapse(lab[zp.ONEAUTH])
    else:
        assert not doc.select(".oneAuthLable, #include_oneauth")
    assert text_of(one(form, "button.primary_btn_check")) == collapse(lab[zp.CONTINUE])
    assert not doc.select("script")


ZOHO_TEXTS = ".popuphead_text, .checkbox_label, .session_terminate_desc, .oneauth_text, " \
    "#pass_esc_devices button.primary_btn_check"


@pytest.mark.parametrize("page", sorted(FIXTURES.glob("change-password/*.*.html")),
                         ids=lambda p: p.name)
def test_a_snapshot_page_shows_only_the_lines_of_that_snapshot(page: Path) -> None:
    """Zoho's strings on a page of snapshot S are S's, in the page's language or S's English:
    never a line of a newer UI (v2early has no row descriptions and no OneAuth toggle), which
    would also let a rule's English phrase for that newer line match the box in any language."""
    lang, snap, _ = page.name.split(".")
    full = zp.SNAPSHOTS[snap]
    own = {collapse(r["value"]) for r in tsv_rows()
           if r["snapshot"] == full and r["lang"] in (lang, "en")}
    texts = [text_of(el) for el in parse(page.read_text(encoding="utf-8")).select(ZOHO_TEXTS)]
    assert len(texts) >= 5  # title, three rows, Continue
    assert [t for t in texts if t not in own] == []


def test_rows_the_server_does_not_allow_are_display_none() -> None:
    doc = parse((FIXTURES / "change-password/hidden-rows/en.html").read_text(encoding="utf-8"))
    assert one(doc, "#terminate_api_tok").get("style") == "display:none"
    assert one(doc, ".oneAuthLable").get("style") == "display:none"
    assert one(doc, "#terminate_mob_apps").get("style") is None
    assert one(doc, "#terminate_web_sess").get("style") is None


def test_step1_page_shows_passform_and_hides_step2() -> None:
    doc = parse((FIXTURES / "change-password/step1/en.html").read_text(encoding="utf-8"))
    assert one(doc, "form#passform").get("style") is None
    for css in ("input#currentPass", "input#newPassword", "input#cpwd",
                "button#change_password_call"):
        one(doc, css)
    assert one(doc, "form#pass_esc_devices").get("style") == "display:none"


def test_reset_page_uses_the_same_ids_in_terminate_session_form() -> None:
    for lang in ("en", "es", "ja"):
        doc = parse((FIXTURES / f"reset-password/{lang}.html").read_text(encoding="utf-8"))
        form = one(doc, "form#terminate_session_form")
        for row_id, (input_id, name, key) in ALL_ROWS.items():
            assert_styled_row(one(form, f"#{row_id}"), input_id, name, zp.labels(lang)[key])


def test_expired_password_page_has_termin_boxes() -> None:
    doc = parse((FIXTURES / "expired-password/de.html").read_text(encoding="utf-8"))
    lab = zp.labels("de")
    assert_styled_row(doc, "termin_web", "signoutfromweb", lab[zp.WEB])
    assert_styled_row(doc, "termin_mob", "signoutfrommobile", lab[zp.MOBILE])
    assert_styled_row(doc, "termin_api", "signoutfromapiToken", lab[zp.API])


def test_legacy_page_has_the_combined_box_beside_the_web_box() -> None:
    doc = parse((FIXTURES / "legacy/es.html").read_text(encoding="utf-8"))
    lab = zp.labels("es", "legacy")
    assert_styled_row(doc, "signoutfromweb", "signoutfromweb", lab[zp.WEB])
    assert_styled_row(doc, "signoutfrommobile", "signoutfrommobile", lab[zp.COMBINED])
    assert len(doc.select("input[type=checkbox]")) == 2


def test_web_sessions_only_pages_hold_only_the_web_box() -> None:
    pages = sorted(FIXTURES.glob("harmless/web-sessions-only/*.html"))
    assert len(pages) > 100
    for page in pages:
        boxes = parse(page.read_text(encoding="utf-8")).select("input[type=checkbox]")
        assert [b.get("name") for b in boxes] in (["clear_web"], ["signoutfromweb"]), page


# ------------------------------------------------------------------ live pages in Chromium

CHROMIUM = Path("/usr/bin/chromium")


class PlainChromium:
    """Chromium without the extension, on its own thread (the rig's browsers own the main
    thread's Playwright); Zoho's server is mocked by request interception."""

    def __init__(self) -> None:
        self.pool = ThreadPoolExecutor(max_workers=1)
        self.requests: list[dict[str, Any]] = []
        self.pool.submit(self._start).result(timeout=60)

    def _start(self) -> None:
        from playwright.sync_api import sync_playwright

        self.pw = sync_playwright().start()
        self.browser = self.pw.chromium.launch(executable_path=str(CHROMIUM),
                                               args=["--no-sandbox"])
        self.page = self.browser.new_page()
        self.page.set_default_timeout(10_000)

    def run(self, fn: Callable[[Any], Any]) -> Any:
        return self.pool.submit(fn, self.page).result(timeout=60)

    def serve(self, html: str) -> None:
        def install(page: Any) -> None:
            def handle(route: Any, request: Any) -> None:
                if "/webclient/" in request.url:
                    self.requests.append({
                        "method": request.method, "url": request.url,
                        "csrf": request.headers.get("x-zcsrf-token"),
                        "json": json.loads(request.post_data or "null"),
                    })
                    route.fulfill(status=200, content_type="application/json", body="{}")
                else:
                    route.fulfill(status=200, content_type="text/html; charset=utf-8", body=html)

            page.unroute("**/*")
            page.route("**/*", handle)

        self.requests.clear()
        self.run(install)

    def close(self) -> None:
        def stop(_: Any) -> None:
            self.browser.close()
            self.pw.stop()

        self.run(stop)
        self.pool.shutdown()


@pytest.fixture(scope="module")
def plain_chromium() -> Iterator[PlainChromium]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browsers`")
    browser = PlainChromium()
    try:
        yield browser
    finally:
        browser.close()


def wait_step(page: Any, step: str) -> None:
    page.wait_for_function(f"document.documentElement.dataset.zohoStep === {step!r}")


@pytest.mark.browser
def test_live_dialog_changes_password_then_sends_visible_boxes(
        plain_chromium: PlainChromium) -> None:
    plain_chromium.serve(zp.change_password_page("es", rows=("web", "mobile")))

    def scenario(page: Any) -> dict[str, Any]:
        page.goto("https://accounts.zoho.eu/u/h#security/security_pwd")
        assert page.is_visible("#popup_password_change")
        page.fill("#currentPass", "old")
        page.fill("#newPassword", "new")
        page.fill("#cpwd", "new")
        page.click("#change_password_call")
        wait_step(page, "2")
        shown = {"passform": page.is_visible("#passform"),
                 "head": page.text_content(".popuphead_text"),
                 "api_row": page.is_visible("#terminate_api_tok")}
        box = page.locator("#ter_mob").bounding_box()
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        shown["mob_after_click"] = page.is_checked("#ter_mob")
        page.click("label[for=include_oneauth]")
        # a page script ticks the hidden API box: only visible rows count
        page.evaluate("document.querySelector('#ter_apiToken').checked = true")
        page.click("#pass_esc_devices button.primary_btn_check")
        wait_step(page, "sent")
        return shown

    shown = plain_chromium.run(scenario)
    assert shown == {"passform": False, "head": "Finalizar sesiones", "api_row": False,
                     "mob_after_click": True}
    password, close = plain_chromium.requests
    assert (password["method"], password["url"]) == (
        "PUT", "https://accounts.zoho.eu/webclient/v1/account/self/user/self/password")
    assert close["method"] == "PUT" and close["url"].endswith("/self/closesession")
    assert close["csrf"] == "iamcsrcoo=mock-csrf-token"
    assert close["json"] == {"closesession": {"rmwebses": False, "rmappses": True,
                                              "inconeauth": True, "rmapitok": False}}


@pytest.mark.browser
def test_rendered_box_is_an_invisible_input_over_the_styled_box(
        plain_chromium: PlainChromium) -> None:
    plain_chromium.serve(zp.change_password_page("en", step=2, rows=("web", "mobile")))

    def scenario(page: Any) -> dict[str, Any]:
        page.goto("https://accounts.zoho.com/u/h#security/security_pwd")
        return dict(page.evaluate("""() => {
            const box = document.querySelector('#ter_mob');
            const style = getComputedStyle(box);
            const a = box.getBoundingClientRect();
            const b = box.nextElementSibling.getBoundingClientRect();
            const overlap = a.left < b.right && b.left < a.right &&
                            a.top < b.bottom && b.top < a.bottom;
            const hit = document.elementFromPoint((b.left + b.right) / 2, (b.top + b.bottom) / 2);
            const api = document.querySelector('#terminate_api_tok');
            return {opacity: style.opacity, position: style.position, overlap,
                    hit: hit && hit.id, apiHidden: api.getClientRects().length === 0,
                    styledVisible: getComputedStyle(box.nextElementSibling).opacity};
        }"""))

    assert plain_chromium.run(scenario) == {
        "opacity": "0", "position": "absolute", "overlap": True, "hit": "ter_mob",
        "apiHidden": True, "styledVisible": "1"}


@pytest.mark.browser
def test_live_step2_unticks_boxes_and_uses_the_portal_prefix(
        plain_chromium: PlainChromium) -> None:
    html = zp.change_password_page("en").replace(
        "<body>", '<body><script>document.addEventListener("DOMContentLoaded", () => '
        'document.querySelectorAll(".checkbox_check").forEach(b => b.checked = true));'
        "</script>")
    plain_chromium.serve(html)

    def scenario(page: Any) -> list[bool]:
        page.goto("https://example.com/accounts/p/12345/u/h#security/security_pwd")
        page.click("#change_password_call")
        wait_step(page, "2")
        return [bool(b) for b in page.eval_on_selector_all(
            ".checkbox_check", "els => els.map(e => e.checked)")]

    assert plain_chromium.run(scenario) == [False, False, False]
    assert plain_chromium.requests[0]["url"] == (
        "https://example.com/accounts/p/12345/webclient/v1/account/self/user/self/password")


@pytest.mark.browser
@pytest.mark.parametrize(("render", "tick", "body"), [
    (lambda: zp.reset_password_page("fr"), "label[for=ter_apiToken]",
     {"rmwebses": False, "rmappses": False, "inconeauth": False, "rmapitok": True}),
    (lambda: zp.expired_password_page("de"), "label[for=termin_mob]",
     {"rmwebses": False, "rmappses": True, "inconeauth": False, "rmapitok": False}),
    (lambda: zp.legacy_combined_page("en"), "label[for=signoutfrommobile]",
     {"rmwebses": False, "removedevicesessions": True}),
], ids=["reset", "expired", "legacy"])
def test_live_pages_send_closesession(plain_chromium: PlainChromium, render: Callable[[], str],
                                      tick: str, body: dict[str, bool]) -> None:
    plain_chromium.serve(render())

    def scenario(page: Any) -> None:
        page.goto("https://accounts.zoho.com/password")
        page.click(tick)
        page.click("button.primary_btn_check")
        wait_step(page, "sent")

    plain_chromium.run(scenario)
    assert [r["json"] for r in plain_chromium.requests] == [{"closesession": body}]

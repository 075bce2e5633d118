"""DOM behaviour of the real extension in Chromium and Firefox on mocked Zoho pages (DESIGN.md,
"DOM contract"): every page kind, rows that appear late or are shown later, pre-ticked boxes,
page scripts that re-tick or re-enable, keyboard on role=checkbox widgets, open shadow roots,
frames, the guard at submit time, warn rules, the banner's language and its text-only content.

The thin end-to-end path (trusted clicks on the box, its label and styled span; one banner per
data centre; nothing injected on an unrelated site) lives in test_browser_e2e.py, the request
guard in test_browser_request_guard.py, sync and faults in the rig's sync tests.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browsers import Browser
from tests.zoho_mock import CLOSESESSION_API, ZohoMock

REPO = Path(__file__).resolve().parent.parent
BUNDLED = json.loads((REPO / "extension" / "rules.bundled.json").read_text("utf-8"))
STEP2 = "/u/h?step=2#security/security_pwd"

MOBILE = "Terminate all the desktop and mobile app sessions."
WEB = "Terminate all the browsers sessions."
API = "Revoke connected app's access to your account."

STATE = """const root = arguments[1] ? document.querySelector(arguments[1]).contentDocument
                                  : document;
const el = root.querySelector(arguments[0]);
return el && {checked: el.checked, disabled: el.disabled, mark: el.getAttribute("data-pwguard")};"""
BLOCKED_STATE = {"checked": False, "disabled": True, "mark": "blocked"}
IS_BLOCKED = """const root = arguments[1] ? document.querySelector(arguments[1]).contentDocument
                                  : document;
const el = root && root.querySelector(arguments[0]);
return el && el.getAttribute("data-pwguard") === "blocked" && el.disabled && !el.checked;"""
BANNERS = """return [...document.querySelectorAll('[data-pwguard="banner"]')].map(b => ({
  role: b.getAttribute("role"), lang: b.getAttribute("lang"),
  text: (b.shadowRoot || b).textContent.replace(/\\s+/g, " ").trim(),
  links: [...(b.shadowRoot || b).querySelectorAll("a[href]")].map(a => a.href)}));"""


def rule(rule_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(r for r in BUNDLED["rules"] if r["id"] == rule_id)
    return found


def squash(text: str) -> str:
    return " ".join(text.split())


def row(input_id: str, name: str, text: str, *, checked: bool = False) -> str:
    """A Zoho-style row: invisible input over a styled span, label[for]."""
    tick = " checked" if checked else ""
    return f"""<div class="checkbox_div" id="row_{input_id}">
  <input class="checkbox_check" id="{input_id}" type="checkbox" name="{name}"{tick}
         style="opacity:0;position:absolute">
  <span class="checkbox"><span class="checkbox_tick"></span></span>
  <label class="session_label" for="{input_id}"><span class="checkbox_label">{text}</span></label>
</div>"""


def page(body: str, *, lang: str = "en", head: str = "") -> str:
    return (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">{head}'
            f"<title>Zoho Accounts</title></head><body>{body}</body></html>")


def banners(browser: Browser) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = browser.js(BANNERS)
    return found


def wait_banner(browser: Browser) -> dict[str, Any]:
    found: list[dict[str, Any]] = browser.wait(
        f"const b = (() => {{ {BANNERS} }})(); return b.length && b[0].text && b;")
    assert len(found) == 1, found
    return found[0]


def serve(zoho: ZohoMock, path: str, html: str) -> str:
    zoho.add_page(path, html)
    return zoho.url("accounts.zoho.eu", path)


# ------------------------------------------------------------------------ every page kind
PAGE_KINDS = {
    "change-password step 2": (STEP2, ["#ter_mob", "#ter_apiToken"],
                               ["#ter_all", "#include_oneauth"]),
    "change-password step 1 (rows hidden)": ("/u/h#security/security_pwd",
                                             ["#ter_mob", "#ter_apiToken"], ["#ter_all"]),
    "password reset": ("/password", ["#ter_mob", "#ter_apiToken"], ["#ter_all"]),
    "expired password": ("/signin", ["#termin_mob", "#termin_api"], ["#termin_web"]),
    "legacy combined box": ("/u/h?ui=legacy&step=2#security/security_pwd",
                            ["#signoutfrommobile"], ["#signoutfromweb"]),
    "spanish, 2024 wording": ("/u/h?lang=es&snapshot=2024&step=2#security/security_pwd",
                              ["#ter_mob", "#ter_apiToken"], ["#ter_all"]),
}


@pytest.mark.parametrize("kind", PAGE_KINDS)
def test_every_page_kind_blocks_the_dangerous_boxes_and_leaves_the_rest(
        bundled: Browser, zoho: ZohoMock, kind: str) -> None:
    path, dangerous, harmless = PAGE_KINDS[kind]
    bundled.open(zoho.url("accounts.zoho.com", path))
    for sel in dangerous:
        bundled.wait(IS_BLOCKED, sel)
    for sel in harmless:
        assert bundled.js(STATE, sel) == {"checked": False, "disabled": False, "mark": None}, sel
    assert len(wait_banner(bundled)["text"]) > 20


# ------------------------------------------------------------------------- late controls
LATE_PAGE = page(f"""<div id="dialog"></div>
<script>
  // the page inserts the row later (as Zoho's step 2 does) and samples every frame
  window.sample = {{frames: 0, bad: 0, insertedAt: 0, blockedAt: 0}};
  const watch = new MutationObserver(() => {{
    const el = document.getElementById("ter_mob");
    if (el && !window.sample.blockedAt && el.getAttribute("data-pwguard") === "blocked")
      window.sample.blockedAt = performance.now();
  }});
  watch.observe(document, {{subtree: true, childList: true, attributes: true}});
  function frame() {{
    const el = document.getElementById("ter_mob");
    if (el) {{
      window.sample.frames += 1;
      if (el.checked || !el.disabled) window.sample.bad += 1;
    }}
    if (window.sample.frames < 20) requestAnimationFrame(frame);
  }}
  setTimeout(() => {{
    const holder = document.createElement("div");
    holder.innerHTML = {json.dumps(row("ter_mob", "clear_mobile", MOBILE, checked=True))};
    document.getElementById("dialog").append(holder);
    window.sample.insertedAt = performance.now();
    requestAnimationFrame(frame);
  }}, 300);
</script>""")


def test_a_row_inserted_later_is_blocked_before_it_is_ever_painted(
        bundled: Browser, zoho: ZohoMock) -> None:
    bundled.open(serve(zoho, "/u/late-row", LATE_PAGE))
    sample = bundled.wait("return window.sample.frames >= 20 && window.sample")
    assert sample["bad"] == 0, sample
    assert sample["blockedAt"] >= sample["insertedAt"] > 0
    assert bundled.js(STATE, "#ter_mob") == BLOCKED_STATE


def test_a_pre_ticked_box_is_unticked(bundled: Browser, zoho: ZohoMock) -> None:
    html = page(row("ter_all", "clear_web", WEB, checked=True)
                + row("ter_mob", "clear_mobile", MOBILE, checked=True))
    bundled.open(serve(zoho, "/u/preticked", html))
    bundled.wait(IS_BLOCKED, "#ter_mob")
    assert bundled.js(STATE, "#ter_all") == {"checked": True, "disabled": False, "mark": None}


def nested(html: str) -> str:
    """`html` three elements below <body>: a control's fallback label text (its nearest
    ancestor with text, at most three levels up) never reaches the text of the page's
    scripts."""
    return f'<div class="dialog"><div class="rows"><div class="group">{html}</div></div></div>'


def test_a_label_that_gets_its_text_later_is_matched(bundled: Browser, zoho: ZohoMock) -> None:
    # the page renders rows first and fills in translated strings afterwards
    html = page(nested(row("box1", "x", "")) + f"""<script>
        setTimeout(() => document.querySelector("label[for=box1] span").textContent =
                         {json.dumps(MOBILE)}, 200);</script>""")
    bundled.open(serve(zoho, "/u/late-text", html))
    bundled.wait(IS_BLOCKED, "#box1")


def test_a_blank_label_filled_in_place_is_matched_at_once(bundled: Browser, zoho: ZohoMock) -> None:
    # the string is written into the label's existing text node (what frameworks do), which
    # neither inserts nor removes anything
    html = page(nested(row("box2", "x", " ")) + f"""<script>
        setTimeout(() => document.querySelector("label[for=box2] span").firstChild.data =
                         {json.dumps(MOBILE)}, 200);</script>""")
    bundled.open(serve(zoho, "/u/late-text-in-place", html))
    bundled.wait(IS_BLOCKED, "#box2")


# a harmless box, visible and clickable as such
PLAIN_BOX = page("""<form id="f"><input type="checkbox" id="keep" name="keep">
<label for="keep">Keep me signed in</label></form>""")


@pytest.mark.parametrize("change", ["renamed", "relabelled in place", "made a checkbox"])
def test_a_box_a_page_script_turns_dangerous_later_is_blocked_before_a_person_can_tick_it(
        bundled: Browser, zoho: ZohoMock, change: str) -> None:
    # No insertion or removal follows the change, so nothing re-evaluates the box until a
    # person reaches for it: then the click is refused and the box blocked.
    html = PLAIN_BOX.replace('type="checkbox" id="keep"', 'type="text" id="keep"') \
        if change == "made a checkbox" else PLAIN_BOX
    bundled.open(serve(zoho, f"/u/turns-dangerous-{change.replace(' ', '-')}", html))
    bundled.wait('return document.getElementById("keep") !== null')
    if change == "made a checkbox":
        # (a text field until now: the label says what the box will do)
        bundled.js("""document.querySelector("label[for=keep]").firstChild.data = arguments[0];
            document.getElementById("keep").type = "checkbox";""", MOBILE)
    elif change == "renamed":
        bundled.js('document.getElementById("keep").id = "ter_mob";')
    else:
        bundled.js('document.querySelector("label[for=keep]").firstChild.data = arguments[0];',
                   MOBILE)
    selector = "#ter_mob" if change == "renamed" else "#keep"
    bundled.click(selector)
    bundled.wait(IS_BLOCKED, selector)
    assert bundled.js(STATE, selector) == BLOCKED_STATE


def test_a_box_made_a_text_field_and_a_dangerous_box_again_is_blocked_at_the_next_insertion(
        bundled: Browser, zoho: ZohoMock) -> None:
    html = page(row("ter_apiToken", "clear_apiToken", API) + PLAIN_BOX)
    bundled.open(serve(zoho, "/u/box-text-box", html))
    bundled.wait(IS_BLOCKED, "#ter_apiToken")  # the extension is at work, #keep known harmless
    # a text field for a while (an insertion follows: the extension sees it is no box now) ...
    bundled.js("""document.getElementById("keep").type = "text";
        document.body.append(document.createElement("p"));""")
    # ... then a box again, relabelled in place, and the page inserts something elsewhere
    bundled.js("""document.querySelector("label[for=keep]").firstChild.data = arguments[0];
        document.getElementById("keep").type = "checkbox";
        document.body.append(document.createElement("p"));""", MOBILE)
    bundled.wait(IS_BLOCKED, "#keep")


LABEL_SWAP = page(f"""<form id="f">
<div><input type="checkbox" id="a"><label id="la" for="a">{MOBILE}</label></div>
<div><input type="checkbox" id="b"><label id="lb" for="b">{WEB}</label></div></form>""")


def test_labels_pointed_at_other_boxes_move_the_block(bundled: Browser, zoho: ZohoMock) -> None:
    bundled.open(serve(zoho, "/u/label-swap", LABEL_SWAP))
    bundled.wait(IS_BLOCKED, "#a")
    bundled.js("""document.getElementById("la").htmlFor = "b";
        document.getElementById("lb").htmlFor = "a";""")  # nothing inserted or removed
    bundled.wait(IS_BLOCKED, "#b")
    bundled.wait('return !document.getElementById("a").disabled')
    bundled.click("#a")  # now "Terminate all the browsers sessions."
    assert bundled.js(STATE, "#a") == {"checked": True, "disabled": False, "mark": None}


def test_a_page_change_handler_that_removes_a_row_does_not_hide_the_next_box(
        bundled: Browser, zoho: ZohoMock) -> None:
    # unticking the first box fires `change`; the page's handler removes that row while the
    # inserted rows are still being judged: the second box must be judged all the same
    rows = (row("ter_mob", "clear_mobile", MOBILE, checked=True)
            + row("ter_apiToken", "clear_apiToken", API, checked=True) + row("ter_all", "x", WEB))
    html = page(f"""<div id="dialog"></div><script>
        document.addEventListener("change", e => {{
          if (e.target.id === "ter_mob") document.getElementById("row_ter_mob").remove();
        }});
        setTimeout(() => {{  // the rows inserted at once, inside one element
          const all = document.createElement("div");
          all.innerHTML = {json.dumps(rows)};
          document.getElementById("dialog").append(all);
        }}, 200);
        </script>""")
    bundled.open(serve(zoho, "/u/change-handler-removes", html))
    bundled.wait(IS_BLOCKED, "#ter_apiToken")


def test_declarative_shadow_roots_set_by_a_page_script_are_searched(
        bundled: Browser, zoho: ZohoMock) -> None:
    inner = ('<span><div id="host"><template shadowrootmode="open">'
             f'<input type="checkbox" id="dsd" aria-label="{MOBILE}" checked>'
             "</template></div></span>")
    html = page(row("ter_apiToken", "clear_apiToken", API) + '<div id="dialog"></div>')
    bundled.open(serve(zoho, "/u/declarative-shadow", html))
    bundled.wait(IS_BLOCKED, "#ter_apiToken")  # the extension is at work on this page
    bundled.js("document.getElementById('dialog').setHTMLUnsafe(arguments[0]);", inner)
    bundled.wait("""const el = document.getElementById("host").shadowRoot.getElementById("dsd");
        return el.disabled && !el.checked && el.dataset.pwguard === "blocked";""")


@pytest.mark.parametrize("mode", ["open", "closed"])
def test_declarative_shadow_roots_in_the_page_html_are_searched(
        bundled: Browser, zoho: ZohoMock, mode: str) -> None:
    """A shadow root the HTML parser attaches (<template shadowrootmode>) goes through no
    script, so guard-main.js never reports it: the content script looks for such roots itself
    (while the page is parsed, at activation, at DOMContentLoaded); a closed one through the
    extension API that reaches closed roots. The page reaches its root, open or closed,
    through the custom element's ElementInternals."""
    html = page(f'<x-dsd id="host"><template shadowrootmode="{mode}">'
                f'<input type="checkbox" id="dsd" aria-label="{MOBILE}" checked>'
                "</template></x-dsd><script>"
                'customElements.define("x-dsd", class extends HTMLElement {'
                " constructor() { super(); window.dsdRoot = this.attachInternals().shadowRoot; }"
                "});</script>")
    bundled.open(serve(zoho, f"/u/declarative-shadow-html-{mode}", html))
    bundled.wait("""const root = window.dsdRoot;
        const el = root && root.getElementById("dsd");
        return Boolean(el && el.disabled && !el.checked && el.dataset.pwguard === "blocked");""")
    assert bundled.js("return document.getElementById('host').shadowRoot === null") is (
        mode == "closed")  # (the root really is closed to page scripts)


# ------------------------------------------------------------------------ page scripts
def test_a_page_script_cannot_tick_or_re_enable_the_box(bundled: Browser, zoho: ZohoMock) -> None:
    bundled.open(zoho.url("accounts.zoho.eu", STEP2))
    bundled.wait(IS_BLOCKED, "#ter_mob")
    # property sets (what jQuery's .prop() does) are refused on the spot
    assert bundled.js("""const el = document.getElementById("ter_mob");
        el.checked = true; el.disabled = false;
        return [el.checked, el.disabled];""") == [False, True]
    # attribute changes are undone as soon as the page script yields
    bundled.js("""const el = document.getElementById("ter_mob");
        el.removeAttribute("disabled"); el.setAttribute("checked", "");""")
    bundled.wait(IS_BLOCKED, "#ter_mob")
    # removing our mark first does not help either
    bundled.js("""const el = document.getElementById("ter_mob");
        el.removeAttribute("data-pwguard"); el.checked = true; el.disabled = false;""")
    bundled.wait(IS_BLOCKED, "#ter_mob")
    # a role=checkbox widget's aria-checked is put back too
    assert bundled.js(STATE, "#ter_mob") == BLOCKED_STATE


def test_a_blocked_box_switched_to_another_type_and_back_is_blocked_again(
        bundled: Browser, zoho: ZohoMock) -> None:
    bundled.open(serve(zoho, "/u/type-flip", page(row("ter_mob", "clear_mobile", MOBILE))))
    bundled.wait(IS_BLOCKED, "#ter_mob")
    bundled.js('document.getElementById("ter_mob").type = "text";')  # no longer a box: released
    bundled.wait('return !document.getElementById("ter_mob").hasAttribute("data-pwguard");')
    bundled.js("""const el = document.getElementById("ter_mob");
        el.type = "checkbox"; el.checked = true;""")
    bundled.wait(IS_BLOCKED, "#ter_mob")


# the page copies a blocked row as a template (jQuery .clone()): the copy carries our
# disabled, aria-disabled and data-pwguard; it is made harmless before or after insertion
MAKE_HARMLESS = """function harmless(row) {
  const box = row.querySelector("input"), label = row.querySelector("label");
  box.id = box.name = label.htmlFor = "keep";
  label.textContent = "Keep me signed in on this browser";
}"""


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_harmless_box_cloned_from_a_blocked_row_is_usable(
        bundled: Browser, zoho: ZohoMock, when: str) -> None:
    bundled.open(zoho.url("accounts.zoho.eu", STEP2))
    bundled.wait(IS_BLOCKED, "#ter_mob")
    bundled.js(f"""const copy = document.querySelector("#terminate_mob_apps .checkbox_div")
            .cloneNode(true);
        copy.querySelector("input").id = "copy";
        {MAKE_HARMLESS}
        if (arguments[0] === "before") harmless(copy);
        document.getElementById("pass_esc_devices").prepend(copy);
        window.harmless = () => harmless(copy);""", when)
    if when == "after":
        bundled.wait(IS_BLOCKED, "#copy")  # still dangerous by its name and label
        bundled.js("window.harmless();")
    bundled.wait("""const el = document.getElementById("keep");
        return !el.disabled && !el.hasAttribute("aria-disabled")
            && !el.hasAttribute("data-pwguard");""")
    bundled.click("#keep")
    assert bundled.js(STATE, "#keep") == {"checked": True, "disabled": False, "mark": None}
    assert bundled.js(STATE, "#ter_mob") == BLOCKED_STATE


def test_continue_finds_a_box_a_page_script_made_a_checkbox_later(
        bundled: Browser, zoho: ZohoMock) -> None:
    # an element that becomes a checkbox by its type, ticked by the page: nothing inserted,
    # nothing clicked on it; the person's click on "Continue" finds it before the page reads it
    html = page(row("ter_mob", "clear_mobile", MOBILE).replace('type="checkbox"', 'type="hidden"')
                + row("ter_all", "x", WEB) + '<button id="go" type="button">Continue</button>')
    bundled.open(serve(zoho, "/u/made-a-checkbox-continue", html))
    bundled.wait('return document.getElementById("go") !== null')
    bundled.js("""const el = document.getElementById("ter_mob");
        el.type = "checkbox"; el.checked = true;""")
    bundled.click("#go")
    bundled.wait(IS_BLOCKED, "#ter_mob")


@pytest.mark.parametrize("how", ["requestSubmit", "continue-click"])
def test_the_box_is_unticked_at_submit_time_before_the_page_reads_it(
        bundled: Browser, zoho: ZohoMock, how: str) -> None:
    bundled.open(zoho.url("accounts.zoho.eu", STEP2))
    bundled.wait(IS_BLOCKED, "#ter_mob")
    bundled.click("#ter_all")  # the harmless choice, by a person
    # a page script ticks the box and submits in the same task, before any observer runs
    ticked = bundled.js("""const el = document.getElementById("ter_mob");
        el.removeAttribute("data-pwguard"); el.checked = true;
        const was = el.checked;
        const form = document.getElementById("pass_esc_devices");
        if (arguments[0] === "requestSubmit") form.requestSubmit();
        else form.querySelector("button.primary_btn_check").click();
        return was;""", how)
    assert ticked is True  # the tick really happened, so the guard had work to do
    rec = zoho.wait_for(lambda r: r.path.endswith(CLOSESESSION_API), what="closesession")
    assert rec.json == {"closesession": {"rmwebses": True, "rmappses": False,
                                         "inconeauth": False, "rmapitok": False}}
    assert bundled.js(STATE, "#ter_mob") == BLOCKED_STATE


# a page that replaces itself with document.open()/write()/close() (old ad and widget code
# still does): the new document, then a box made a checkbox there and a late shadow root
HIDDEN_MOBILE = row("ter_mob", "clear_mobile", MOBILE).replace('type="checkbox"', 'type="hidden"')
REWRITTEN = page(row("ter_apiToken", "clear_apiToken", API) + HIDDEN_MOBILE
                 + """<div id="host"></div><button id="go" type="button">Continue</button><script>
  document.getElementById("go").onclick = () => {
    window.read = document.getElementById("ter_mob").checked; };
</script>""")


def test_a_page_rewritten_by_document_open_is_still_guarded(
        bundled: Browser, zoho: ZohoMock) -> None:
    bundled.open(serve(zoho, "/u/rewrite", page(row("ter_all", "clear_web", WEB))))
    bundled.wait('return document.getElementById("ter_all") !== null')
    # (a first shadow root: the MAIN world's "the page uses shadow DOM" is said already)
    bundled.js("""document.createElement("div").attachShadow({mode: "open"});
        setTimeout(() => { document.open(); document.write(arguments[0]); document.close(); });""",
               REWRITTEN)
    bundled.wait(IS_BLOCKED, "#ter_apiToken")  # (our MutationObserver outlives document.open)
    # the listener for shadow roots attached later
    bundled.js("""const root = document.getElementById("host").attachShadow({mode: "open"});
        setTimeout(() => { root.innerHTML = arguments[0]; });""",
               row("m2", "clear_mobile", MOBILE, checked=True))
    bundled.wait("""const el = document.getElementById("host").shadowRoot.getElementById("m2");
        return el && el.dataset.pwguard === "blocked" && el.disabled && !el.checked;""")
    # the click listener that unticks before "Continue" reads the boxes
    bundled.js("""const el = document.getElementById("ter_mob");
        el.type = "checkbox"; el.checked = true;""")
    bundled.click("#go")
    assert bundled.wait("return 'read' in window && [window.read]") == [False]


CUSTOM_WIDGET = page(f"""
<div id="custom" role="checkbox" aria-checked="false" tabindex="0">{MOBILE}</div>
<script>
  // a design-system checkbox: the page toggles aria-checked itself
  const box = document.getElementById("custom");
  const toggle = () => box.setAttribute("aria-checked",
      box.getAttribute("aria-checked") === "true" ? "false" : "true");
  box.addEventListener("click", toggle);
  box.addEventListener("keydown", e => {{
    if (e.key === " ") {{ e.preventDefault(); toggle(); }}
  }});
</script>""")


def test_keyboard_and_clicks_cannot_tick_a_role_checkbox_widget(
        bundled: Browser, zoho: ZohoMock) -> None:
    bundled.open(serve(zoho, "/u/custom-widget", CUSTOM_WIDGET))
    bundled.wait('return document.getElementById("custom").dataset.pwguard === "blocked"')
    bundled.js('document.getElementById("custom").focus();')
    bundled.press("Space")
    bundled.click("#custom")
    bundled.js('document.getElementById("custom").setAttribute("aria-checked", "true");')
    bundled.wait('return document.getElementById("custom").ariaChecked === "false"')
    assert bundled.js("""const b = document.getElementById("custom");
        return [b.getAttribute("aria-disabled"), document.activeElement === b];""") == [
        "true", True]


LATE_WIDGETS = page(f"""<div id="slot"></div>
<script>
  // design-system widgets inserted later, deep in a subtree among other ARIA markup: only
  // role="checkbox" and role="switch" (compared exactly) are checkbox-like controls
  setTimeout(() => {{
    const wrap = document.createElement("section");
    wrap.innerHTML = `<div role="dialog"><div role="group">
      <div id="w_check" role="checkbox" aria-checked="true" tabindex="0">{MOBILE}</div>
      <button id="w_button" role="button">{MOBILE}</button>
      <div id="w_upper" role="Switch" aria-checked="true">{MOBILE}</div>
      <div><span id="w_switch" role="switch" aria-checked="true" tabindex="0">{API}</span></div>
    </div></div>`;
    document.getElementById("slot").append(wrap);
  }}, 50);
</script>""")


def test_role_checkbox_and_switch_widgets_inserted_late_are_blocked(
        bundled: Browser, zoho: ZohoMock) -> None:
    bundled.open(serve(zoho, "/u/late-widgets", LATE_WIDGETS))
    states = bundled.wait("""const ids = ["w_check", "w_switch", "w_button", "w_upper"];
        const els = ids.map(id => document.getElementById(id));
        if (!els[0] || els[0].dataset.pwguard !== "blocked"
            || els[1].dataset.pwguard !== "blocked") return null;
        return els.map(e => [e.getAttribute("data-pwguard"), e.getAttribute("aria-checked"),
                             e.getAttribute("aria-disabled")]);""")
    assert states == [["blocked", "false", "true"], ["blocked", "false", "true"],
                      [None, None, None], [None, "true", None]]


# ------------------------------------------------------------------- shadow roots, frames
def shadow_page(mode: str) -> str:
    """Dangerous rows inside shadow roots of `mode` attached three ways; the page keeps each
    root in window.roots (a closed root is reachable no other way)."""
    return page(f"""<div id="host-now"></div><x-late></x-late>
<script>
  const roots = window.roots = {{}};
  const attach = (el) => roots[el.id || el.localName] = el.attachShadow({{mode: "{mode}"}});
  // a shadow root attached to an element already in the page
  const now = attach(document.getElementById("host-now"));
  setTimeout(() => {{
    now.innerHTML = {json.dumps(row("ter_mob", "clear_mobile", MOBILE))};
  }}, 100);
  // a custom element upgraded later, whose constructor attaches the shadow root
  setTimeout(() => customElements.define("x-late", class extends HTMLElement {{
    constructor() {{
      super();
      attach(this).innerHTML = {json.dumps(row("ter_apiToken", "clear_apiToken", API))};
    }}
  }}), 300);
  // and one created detached, filled, then inserted
  setTimeout(() => {{
    const el = document.createElement("div");
    el.id = "host-detached";
    attach(el).innerHTML = {json.dumps(row("m2", "clear_mobile", MOBILE))};
    document.body.append(el);
  }}, 500);
</script>""")


@pytest.mark.parametrize("mode", ["open", "closed"])
def test_controls_inside_shadow_roots_are_blocked(
        bundled: Browser, zoho: ZohoMock, mode: str) -> None:
    bundled.open(serve(zoho, f"/u/shadow-{mode}", shadow_page(mode)))
    for host, sel in (("host-now", "#ter_mob"), ("x-late", "#ter_apiToken"),
                      ("host-detached", "#m2")):
        bundled.wait("""const root = window.roots && window.roots[arguments[0]];
            const el = root && root.querySelector(arguments[1]);
            return el && el.disabled && !el.checked && el.dataset.pwguard === "blocked";""",
                     host, sel)
    assert len(banners(bundled)) == 1


def test_controls_in_frames_are_blocked(bundled: Browser, zoho: ZohoMock) -> None:
    srcdoc = page(row("ter_mob", "clear_mobile", MOBILE)).replace('"', "&quot;")
    html = page(f"""<iframe id="same" src="/u/h?step=2#security/security_pwd"></iframe>
        <iframe id="srcdoc" srcdoc="{srcdoc}"></iframe>""")
    bundled.open(serve(zoho, "/u/frames", html))
    bundled.wait(IS_BLOCKED, "#ter_apiToken", "#same")
    bundled.wait(IS_BLOCKED, "#ter_mob", "#srcdoc")
    assert bundled.js(STATE, "#ter_all", "#same") == {
        "checked": False, "disabled": False, "mark": None}
    # the srcdoc frame's banner links the safe way on its page's data centre (its own host is
    # "", and "https:///u/h" would read as the host "u")
    links = bundled.wait("""const b = document.getElementById("srcdoc").contentDocument
            .querySelector('[data-pwguard="banner"]');
        return b && [...b.shadowRoot.querySelectorAll("a[href]")].map(a => a.href);""")
    host = bundled.js("return location.host")
    assert links and all(link.startswith(f"https://{host}/") for link in links), (links, host)


def test_a_row_moved_into_a_frame_leaves_each_document_its_own_banner(
        bundled: Browser, zoho: ZohoMock) -> None:
    bundled.open(zoho.url("accounts.zoho.eu", STEP2))
    wait_banner(bundled)
    bundled.js("""const f = document.createElement("iframe");
        f.id = "fr";
        document.body.append(f);
        f.contentDocument.body.append(document.getElementById("terminate_mob_apps"));""")
    bundled.wait(IS_BLOCKED, "#ter_mob", "#fr")  # judged by the frame's content script
    # the page keeps its banner (#ter_apiToken is still blocked there), the frame has its own
    bundled.wait("""const count = d => d.querySelectorAll('[data-pwguard="banner"]').length;
        const frame = document.getElementById("fr").contentDocument;
        return count(document) === 1 && count(frame) === 1;""")
    assert bundled.js(STATE, "#ter_apiToken") == BLOCKED_STATE


POPUP = page("""<button id="open" type="button">Open</button><script>
  // a blank popup the page fills in later with DOM calls (disowned first, if asked)
  document.getElementById("open").onclick = () => {
    const w = window.popup = window.open("", "pw", "width=400,height=300");
    if (document.title === "disowned") w.opener = null;
    setTimeout(() => { w.document.body.innerHTML = window.content; }, 500);
  };
</script>""")


def test_a_box_the_frame_blocked_and_the_page_takes_back_harmless_is_usable(
        bundled: Browser, zoho: ZohoMock) -> None:
    # the page's own content script saw the box harmless first; the frame's blocked it there
    html = page(f"""<div class="dialog"><div id="here">{row("b1", "x", "Remember me")}</div></div>
        <iframe id="fr" src="/u/empty-frame"></iframe>""")
    zoho.add_page("/u/empty-frame", page('<div id="there"></div>'))
    bundled.open(serve(zoho, "/u/frame-and-back", html))
    bundled.wait('return document.getElementById("fr").contentDocument.getElementById("there")')
    bundled.js("""const row = document.getElementById("row_b1");
        document.getElementById("b1").id = "ter_mob";  // dangerous by its id now
        document.getElementById("fr").contentDocument.getElementById("there").append(row);""")
    bundled.wait(IS_BLOCKED, "#ter_mob", "#fr")
    bundled.js("""const frame = document.getElementById("fr").contentDocument;
        frame.getElementById("ter_mob").id = "b1";  // harmless again, and back in the page
        document.getElementById("here").append(frame.getElementById("row_b1"));""")
    bundled.wait('return !document.getElementById("b1").hasAttribute("data-pwguard")')
    bundled.wait('return !document.getElementById("b1").disabled')
    assert bundled.js("""const b = document.getElementById("b1");
        return [b.disabled, b.getAttribute("aria-disabled"), b.getAttribute("data-pwguard")];""") \
        == [False, None, None]


@pytest.mark.parametrize("opener", ["kept", "disowned"])
def test_a_blank_popup_the_page_fills_in_is_protected(
        bundled: Browser, zoho: ZohoMock, opener: str) -> None:
    html = POPUP.replace("<title>Zoho Accounts</title>", f"<title>{opener}</title>")
    assert opener in html
    bundled.open(serve(zoho, f"/u/popup-{opener}", html))
    bundled.js("window.content = arguments[0];",
               row("ter_mob", "clear_mobile", MOBILE, checked=True))
    bundled.click("#open")
    try:
        bundled.wait("""const el = window.popup.document.getElementById("ter_mob");
            return el && el.dataset.pwguard === "blocked" && el.disabled && !el.checked;""")
    finally:
        bundled.js("if (window.popup) window.popup.close();")


def test_a_blob_frame_the_page_makes_is_protected(bundled: Browser, zoho: ZohoMock) -> None:
    # a blob: document has the origin of the page that made it, which can script it
    bundled.open(serve(zoho, "/u/blob-frame", page('<div id="x"></div>')))
    bundled.wait('return document.getElementById("x") !== null')
    bundled.js("""const f = document.createElement("iframe"); f.id = "late";
        f.src = URL.createObjectURL(new Blob([arguments[0]], {type: "text/html"}));
        document.body.append(f);""", page(row("ter_mob", "clear_mobile", MOBILE, checked=True)))
    bundled.wait(IS_BLOCKED, "#ter_mob", "#late")


# ------------------------------------------------------------------------------- banner
@pytest.mark.parametrize(("lang", "expected"), [
    ("es-MX", "es"),      # region dropped
    ("pt_BR", "pt-BR"),   # the exact tag when the rule has it, underscore or not
    ("de-AT", "de"),
    ("ru", "en"),         # the rule has no Russian: the browser's language (en-US here)
])
def test_the_banner_speaks_the_page_language(bundled: Browser, zoho: ZohoMock, lang: str,
                                             expected: str) -> None:
    api_rule = rule("zoho-connected-apps-box")
    assert expected in api_rule["message"]
    html = page(row("ter_apiToken", "clear_apiToken", "x"), lang=lang)
    bundled.open(serve(zoho, "/u/lang", html))
    banner = wait_banner(bundled)
    assert squash(api_rule["message"][expected]) in banner["text"]
    assert banner["lang"] == expected and banner["role"] == "alert"
    assert banner["links"] and all(link.startswith("https://accounts.zoho.eu")
                                   for link in banner["links"])


def test_the_banner_follows_a_language_the_page_sets_later(
        bundled: Browser, zoho: ZohoMock) -> None:
    html = page(row("ter_mob", "clear_mobile", MOBILE)).replace(' lang="en"', "")
    bundled.open(serve(zoho, "/u/lang-late", html))
    assert wait_banner(bundled)["lang"] == "en"
    bundled.js('document.documentElement.lang = "es";')  # once the app's strings have loaded
    banner = bundled.wait(f"""const b = (() => {{ {BANNERS} }})();
        return b.length === 1 && b[0].lang === "es" && b[0];""")
    assert squash(rule("zoho-mobile-app-sessions-box")["message"]["es"]) in banner["text"]


def test_one_banner_for_several_boxes_and_a_refused_request(
        bundled: Browser, zoho: ZohoMock) -> None:
    bundled.open(zoho.url("accounts.zoho.eu", STEP2))
    wait_banner(bundled)
    outcome = bundled.js("""return fetch(arguments[0], {method: "PUT",
            body: JSON.stringify({closesession: {rmapitok: true}})})
        .then(() => "sent", e => [e.name, e.message, e.constructor === window.TypeError]);""",
                         CLOSESESSION_API)
    assert outcome[0] == "TypeError" and outcome[1].startswith("pwguard refused"), outcome
    assert outcome[2] is True, "fetch must reject with the page's own TypeError"
    text = bundled.wait(f"""const b = (() => {{ {BANNERS} }})();
        return b.length === 1 && b[0].text.includes("PUT ") && b[0].text;""")
    assert CLOSESESSION_API in text
    assert len(banners(bundled)) == 1
    # the banner sits in the page's flow, so it covers nothing the person needs
    assert bundled.js("""const b = document.querySelector('[data-pwguard="banner"]');
        const r = b.getBoundingClientRect(), t = document.getElementById("ter_all")
            .parentElement.getBoundingClientRect();
        return r.bottom <= t.top || r.top >= t.bottom;""")
    # dismissible
    bundled.js("""document.querySelector('[data-pwguard="banner"]').shadowRoot
        .querySelector("button").click();""")
    bundled.wait("""const b = document.querySelector('[data-pwguard="banner"]');
        return b.getBoundingClientRect().height === 0;""")
    # the same request again, many times: the banner is back, the request listed once
    bundled.js("""for (let i = 0; i < 30; i++) fetch(arguments[0], {method: "PUT",
            body: JSON.stringify({closesession: {rmapitok: true}})}).catch(() => {});""",
               CLOSESESSION_API)
    again = bundled.wait("""const b = document.querySelector('[data-pwguard="banner"]');
        return b.getBoundingClientRect().height > 0 && b.shadowRoot.textContent;""")
    assert again.count(CLOSESESSION_API) == 1, again
    # eight different refused paths, one after the other: the banner keeps the five newest
    bundled.js("""return (async () => {
        for (let i = 0; i < 8; i++) await fetch("/p" + i + arguments[0], {method: "PUT",
            body: JSON.stringify({closesession: {rmapitok: true}})}).catch(() => {});
        })();""", CLOSESESSION_API)
    listed = bundled.wait("""const t = document.querySelector('[data-pwguard="banner"]')
            .shadowRoot.textContent;
        return t.includes("/p7/") && t;""")
    assert [f"/p{i}/" in listed for i in range(8)] == [False] * 3 + [True] * 5, listed


BANNER_TEXT_PAGE = page("""<div id="out"></div>
<script src="/u/banner.js"></script>
<script>
  const host = pwguardBanner.show(document, [{kind: "blocked", rule: {id: "r",
      message: {en: "<img src=x onerror=window.pwned=1><b>bold</b> & friends"},
      help: "javascript:alert(1)"}}]);
  window.result = {children: host.shadowRoot.querySelectorAll("img, b, a").length,
                   text: host.shadowRoot.textContent};
</script>""")


def test_banner_text_is_set_as_text_never_as_html(browser: Browser, zoho: ZohoMock) -> None:
    # banner.js loaded into a page of its own (no extension needed: the mock host of an
    # unrelated site) so the page can hand it hostile rule text directly
    zoho.add_page("/u/banner.js", (REPO / "extension" / "banner.js").read_text("utf-8"),
                  content_type="text/javascript")
    zoho.add_page("/u/banner-text", BANNER_TEXT_PAGE)
    browser.open(zoho.url("www.example.org", "/u/banner-text"))
    result = browser.wait("return window.result")
    assert result["children"] == 0  # no <img>, no <b>, and no javascript: link
    assert "<img src=x onerror=window.pwned=1><b>bold</b> & friends" in result["text"]
    assert browser.js("return window.pwned === undefined")


BANNER_LANG_PAGE = page("""<script src="/u/banner.js"></script>
<script>
  // each case: <html lang>, the rule's message languages -> what the banner speaks, its dir
  const speak = (lang, langs) => {
    document.documentElement.lang = lang;
    const message = Object.fromEntries(langs.map(l => [l, "text " + l]));
    const host = pwguardBanner.show(document, [{kind: "blocked", rule: {id: "r", message}}]);
    const box = host.shadowRoot.querySelector(".box");
    return [host.getAttribute("lang"), getComputedStyle(box).direction];
  };
  window.result = {
    arabicPageEnglishText: speak("ar", ["en"]),
    arabicText: speak("ar", ["en", "ar"]),
    hebrewAsIw: speak("he", ["en", "iw"]),
    traditional: speak("zh-Hant", ["en", "zh", "zh-TW"]),
    hongKong: speak("zh-HK", ["en", "zh", "zh-TW"]),
    traditionalWithoutIt: speak("zh-Hant", ["en", "zh"]),
    simplified: speak("zh-Hans-CN", ["en", "zh", "zh-TW"]),
    indonesian: speak("id", ["en", "in"]),
  };
  document.documentElement.dir = "rtl";
  window.result.rtlPageEnglishText = speak("ar", ["en"]);
  const button = document.querySelector('[data-pwguard="banner"]').shadowRoot
    .querySelector("button");
  button.focus();
  window.result.focusOutline = getComputedStyle(button).outlineStyle;
</script>""")


def test_the_banner_speaks_the_pages_language_by_any_of_its_tags_in_its_direction(
        browser: Browser, zoho: ZohoMock) -> None:
    """Zoho's labels name Traditional Chinese "zh-TW", Hebrew "iw" and Indonesian "in"; pages
    say "zh-Hant" or "zh-HK", "he", "id". The banner runs in the direction of the language it
    speaks, not the page's (English on an Arabic page runs left to right), and its close
    button shows the keyboard focus."""
    zoho.add_page("/u/banner.js", (REPO / "extension" / "banner.js").read_text("utf-8"),
                  content_type="text/javascript")
    zoho.add_page("/u/banner-lang", BANNER_LANG_PAGE)
    browser.open(zoho.url("www.example.org", "/u/banner-lang"))
    result = browser.wait("return window.result && window.result.focusOutline && window.result")
    assert result == {
        "arabicPageEnglishText": ["en", "ltr"], "arabicText": ["ar", "rtl"],
        "hebrewAsIw": ["iw", "rtl"], "traditional": ["zh-TW", "ltr"],
        "hongKong": ["zh-TW", "ltr"], "traditionalWithoutIt": ["zh", "ltr"],
        "simplified": ["zh", "ltr"],
        "indonesian": ["in", "ltr"], "rtlPageEnglishText": ["en", "ltr"],
        "focusOutline": "solid"}, result


HOSTILE_CSS = """<style>
  [data-pwguard="banner"], [role="alert"] { display: none !important;
    visibility: hidden !important; opacity: 0 !important; height: 0 !important;
    overflow: hidden !important; position: absolute !important; left: -9999px !important;
    transform: scale(0) !important; color: transparent !important; font-size: 0 !important; }
  * { color: transparent !important; font-size: 0 !important; line-height: 0 !important; }
</style>"""
SEEN = """const b = document.querySelector('[data-pwguard="banner"]');
const line = b && b.shadowRoot && b.shadowRoot.querySelector("a, div, p, span");
if (!line) return null;
const r = b.getBoundingClientRect(), s = getComputedStyle(b), t = getComputedStyle(line);
const hit = document.elementFromPoint((r.left + r.right) / 2, (r.top + r.bottom) / 2);
return {display: s.display, visibility: s.visibility, opacity: s.opacity,
        onScreen: r.left >= 0 && r.top >= 0 && r.width > 100 && r.height > 20,
        hitsItself: hit === b, fontPx: parseFloat(t.fontSize) >= 10,
        textColour: t.color !== "rgba(0, 0, 0, 0)" && t.color !== "transparent"};"""


def test_the_page_css_can_neither_hide_nor_restyle_the_banner(
        bundled: Browser, zoho: ZohoMock) -> None:
    html = page(row("ter_mob", "clear_mobile", MOBILE), head=HOSTILE_CSS)
    bundled.open(serve(zoho, "/u/hostile-css", html))
    bundled.wait(IS_BLOCKED, "#ter_mob")
    assert bundled.wait(f"const b = (() => {{ {BANNERS} }})(); return b.length === 1;")
    assert bundled.wait(SEEN) == {
        "display": "block", "visibility": "visible", "opacity": "1", "onScreen": True,
        "hitsItself": True, "fontPx": True, "textColour": True}


def test_a_dialog_re_rendered_from_its_own_markup_keeps_one_banner(
        bundled: Browser, zoho: ZohoMock) -> None:
    bundled.open(zoho.url("accounts.zoho.eu", STEP2))
    wait_banner(bundled)
    # $(".popup_content").html($(".popup_content").html()): the markup copies the banner's
    # host too, an empty role=alert element without its shadow root
    bundled.js('const c = document.querySelector(".popup_content"); c.innerHTML = c.innerHTML;')
    bundled.wait(f"""const b = (() => {{ {BANNERS} }})();
        return b.length === 1 && b[0].text.length > 20;""")
    bundled.wait(IS_BLOCKED, "#ter_mob")


def test_a_dialog_re_rendered_and_closed_in_one_go_leaves_no_banner(
        bundled: Browser, zoho: ZohoMock) -> None:
    box = row("ter_mob", "clear_mobile", MOBILE)
    html = page(f'<div id="dialog"><form id="f">{box}</form></div>')
    bundled.open(serve(zoho, "/u/re-rendered-and-closed", html))
    wait_banner(bundled)
    # the markup re-rendered (an empty copy of the banner's host with it), then the form
    # taken out in the same task: nothing is blocked any more, so no banner, copy included
    bundled.js("""const d = document.getElementById("dialog"); d.innerHTML = d.innerHTML;
        d.querySelector("form").remove();""")
    bundled.wait('return !document.querySelector("[data-pwguard]")')
    assert banners(bundled) == []


def test_a_row_copied_into_a_shadow_root_with_the_banner_leaves_one_banner(
        bundled: Browser, zoho: ZohoMock) -> None:
    # the box sits in a label, so the banner goes before the label, inside the row
    html = page(nested(f"""<div id="r1"><label><input type="checkbox" id="ter_mob"
        name="clear_mobile"> {MOBILE}</label></div><div id="host"></div>"""))
    bundled.open(serve(zoho, "/u/row-copied-into-shadow", html))
    wait_banner(bundled)
    bundled.js('document.getElementById("host").attachShadow({mode: "open"});')
    # the row's markup, banner host included, copied into the open shadow root
    bundled.js("""document.getElementById("host").shadowRoot.innerHTML =
        document.getElementById("r1").outerHTML;""")
    bundled.wait("""const root = document.getElementById("host").shadowRoot;
        const copy = root.querySelector("input");
        const marked = [...document.querySelectorAll('[data-pwguard="banner"]'),
                        ...root.querySelectorAll('[data-pwguard="banner"]')];
        return copy.dataset.pwguard === "blocked" && marked.length === 1
            && marked[0].getRootNode() === document;""")


# the box inside a label that holds no form: the banner goes before the label, not inside it
# (where a click on its "x" or its link would be a click on the label, that is on the box)
NESTED_LABEL = page(f"""<div class="group"><label class="switch">
  <span class="wrap"><input type="checkbox" id="ter_mob" name="clear_mobile"></span>
  <span class="text">{MOBILE}</span></label></div>""")


def test_a_person_can_dismiss_the_banner_of_a_box_inside_a_label(
        bundled: Browser, zoho: ZohoMock) -> None:
    bundled.open(serve(zoho, "/u/nested-label", NESTED_LABEL))
    bundled.wait(IS_BLOCKED, "#ter_mob")
    wait_banner(bundled)
    xy = bundled.js("""const b = document.querySelector('[data-pwguard="banner"]');
        const r = b.shadowRoot.querySelector("button").getBoundingClientRect();
        return b.closest("label") === null && [r.x + r.width / 2, r.y + r.height / 2];""")
    assert xy, "the banner is inside the label"
    bundled._mouse_click(*xy)  # a person's click on the banner's "x"
    bundled.wait("""return document.querySelector('[data-pwguard="banner"]')
        .getBoundingClientRect().height === 0;""")
    assert bundled.js(STATE, "#ter_mob") == BLOCKED_STATE


def test_a_keyboard_user_who_dismisses_the_banner_goes_on_after_it(
        bundled: Browser, zoho: ZohoMock) -> None:
    """The close button, pressed with the keyboard, hides itself: the focus goes on to the
    first element after the banner that takes it, not back to the top of the page."""
    bundled.open(zoho.url("accounts.zoho.eu", STEP2))
    wait_banner(bundled)
    bundled.js("""document.querySelector('[data-pwguard="banner"]').shadowRoot
        .querySelector("button").focus();""")
    bundled.press("Enter")
    focused = bundled.wait("""const b = document.querySelector('[data-pwguard="banner"]');
        const a = document.activeElement;
        return b.getBoundingClientRect().height === 0 && a !== b && {
          tag: a.localName, id: a.id, disabled: Boolean(a.disabled),
          after: Boolean(b.compareDocumentPosition(a) & Node.DOCUMENT_POSITION_FOLLOWING)};""")
    assert focused["tag"] != "body" and focused["after"] and not focused["disabled"], focused


def test_a_mouse_click_that_dismisses_the_banner_leaves_the_focus_alone(
        bundled: Browser, zoho: ZohoMock) -> None:
    """Clicked with the mouse (or a finger), the close button takes the focus too (Chromium,
    Firefox on Linux and Windows, Android): the focus must not then jump into the form's first
    field, which puts a caret there (and on a phone opens the on-screen keyboard) that the
    person never asked for."""
    bundled.open(zoho.url("accounts.zoho.eu", STEP2))
    wait_banner(bundled)
    at = bundled.js("""const b = document.querySelector('[data-pwguard="banner"]');
        const r = b.shadowRoot.querySelector("button").getBoundingClientRect();
        return {x: r.left + r.width / 2, y: r.top + r.height / 2};""")
    bundled._mouse_click(at["x"], at["y"])
    bundled.wait("""return document.querySelector('[data-pwguard="banner"]')
        .getBoundingClientRect().height === 0;""")
    # where the browser leaves it (the body; Firefox keeps the banner's host a moment), not
    # in the form
    focused = bundled.js("""const a = document.activeElement;
        return a === document.body || a.getAttribute("data-pwguard") === "banner"
          || a.localName + (a.id ? "#" + a.id : "");""")
    assert focused is True, focused


# the page's MutationObserver (there before the form) answers every change of the page: it
# keeps its own notice right before the form, or it takes out anything foreign (the banner);
# each answer counted in window.moves, at most 500 (without that cap a fight hangs the tab)
FIGHTING_PAGE = page("""<script>
  window.moves = 0;
  const notice = document.createElement("div");
  notice.textContent = "Note";
  const answers = {
    "keeps its notice before the form": () => {
      const f = document.getElementById("f");
      return f && f.previousElementSibling !== notice && f.before(notice) === undefined;
    },
    "removes the banner": () => {
      const b = document.querySelector('[data-pwguard="banner"]');
      return b && b.remove() === undefined;
    },
  };
  new MutationObserver(() => {
    if (window.moves < 500 && answers[document.title]()) window.moves += 1;
  }).observe(document.body, {childList: true, subtree: true});
</script>""" + '<form id="f">' + row("ter_mob", "clear_mobile", MOBILE) + "</form>")


@pytest.mark.parametrize("answer", ["keeps its notice before the form", "removes the banner"])
def test_a_page_that_answers_the_banner_with_its_own_changes_is_not_fought_forever(
        bundled: Browser, zoho: ZohoMock, answer: str) -> None:
    html = FIGHTING_PAGE.replace("<title>Zoho Accounts</title>", f"<title>{answer}</title>")
    bundled.open(serve(zoho, f"/u/fight-{answer.replace(' ', '-')}", html))
    bundled.wait(IS_BLOCKED, "#ter_mob")
    bundled.wait("return window.moves > 0")  # the banner came, the page answered
    moves = bundled.wait("return new Promise(r => requestAnimationFrame(() => r([window.moves])))")
    assert moves[0] <= 20, moves  # 500 when each answer is answered again
    assert bundled.js(STATE, "#ter_mob") == BLOCKED_STATE


# a page that renders its dialog from markup 15 times as it loads, one every 30 ms, then
# rests: more moves of the banner than the rate limit allows in a second
RERENDERED = page(f"""<div id="dialog"></div><script>
  const html = {json.dumps('<form id="f">' + row("ter_mob", "clear_mobile", MOBILE) + "</form>")};
  window.renders = 0;
  function render() {{
    document.getElementById("dialog").innerHTML = html;
    window.renders += 1;
    if (window.renders < 15) setTimeout(render, 30);
  }}
  setTimeout(render, 200);
</script>""")


def test_a_dialog_rendered_many_times_as_the_page_loads_ends_with_its_banner(
        bundled: Browser, zoho: ZohoMock) -> None:
    bundled.open(serve(zoho, "/u/rendered-many-times", RERENDERED))
    bundled.wait("return window.renders === 15")
    bundled.wait(IS_BLOCKED, "#ter_mob")
    assert wait_banner(bundled)["text"]  # (a move the rate limit refused is made later)
    assert len(banners(bundled)) == 1


# ------------------------------------------------------------------------- warn rules
WARN_RULES = """rules:
  - id: test-mobile-warn
    title: Mobile sessions box, warn only
    why: An organisation that accepts the risk may only want a warning.
    action: warn
    sites: ["https://accounts.zoho.eu/*"]
    controls:
      - selector: "#ter_mob"
    message:
      en: "Careful, this signs out every Zoho app on every phone."
      es: "Cuidado, esto cierra la sesión de las apps de Zoho en todos los teléfonos."
    help: "https://{host}/u/h#sessions"
  - id: test-api-block
    title: Connected apps box
    why: Revokes every connected app.
    action: block
    sites: ["https://accounts.zoho.eu/*"]
    controls:
      - selector: "#ter_apiToken"
    message:
      en: "Blocked by the test rule."
      es: "Bloqueado por la regla de prueba."
    help: "https://{host}/u/h#sessions"
"""


@contextlib.contextmanager
def synced_to(browser: Browser, rules_server: Any, ruleset: str) -> Iterator[Browser]:
    """The browser synced to a real server publishing `ruleset`; back to the bundled rules
    afterwards."""
    res = rules_server.publish(ruleset)
    assert res.status_code < 300, res.text
    try:
        browser.configure(server_url=rules_server.url, public_key=rules_server.public_key)
        status = browser.sync_now()
        assert status["source"] == "server" and not status["lastError"], status
        yield browser
    finally:
        browser.configure()
        assert browser.extension_status()["source"] == "bundled"


@pytest.fixture
def warn_rules(browser: Browser, rules_server: Any) -> Iterator[Browser]:
    """The browser synced to rules that include a warn rule."""
    with synced_to(browser, rules_server, WARN_RULES) as synced:
        yield synced


def test_a_warn_rule_marks_the_box_and_shows_the_banner_only(
        warn_rules: Browser, zoho: ZohoMock) -> None:
    browser = warn_rules
    browser.open(zoho.url("accounts.zoho.eu", STEP2))
    browser.wait(IS_BLOCKED, "#ter_apiToken")
    browser.wait('return document.getElementById("ter_mob").dataset.pwguard === "warned"')
    assert browser.js(STATE, "#ter_all") == {"checked": False, "disabled": False, "mark": None}
    banner = wait_banner(browser)
    assert "Careful, this signs out every Zoho app on every phone." in banner["text"]
    assert "Blocked by the test rule." in banner["text"]
    browser.click("#ter_mob")  # a warned box stays usable
    assert browser.js(STATE, "#ter_mob") == {"checked": True, "disabled": False, "mark": "warned"}
    # ... and the same site on another data centre is named by no rule: nothing happens
    browser.open(zoho.url("accounts.zoho.com", STEP2))
    browser.click("#ter_apiToken")
    assert browser.js(STATE, "#ter_apiToken") == {"checked": True, "disabled": False, "mark": None}
    assert banners(browser) == []


# a rule an administrator scoped to the account pages (/u/...) of one data centre
PATH_RULES = """rules:
  - id: test-path-block
    title: Mobile sessions box, on the account pages only
    why: An administrator scoped the rule to the account pages.
    action: block
    sites: ["https://accounts.zoho.eu/u/*"]
    controls:
      - selector: "#ter_mob"
    message:
      en: "Blocked by the path-scoped rule."
    help: "https://{host}/u/h#sessions"
"""


def test_a_single_page_app_moving_into_and_out_of_a_ruled_path_is_judged_by_each(
        browser: Browser, rules_server: Any, zoho: ZohoMock) -> None:
    with synced_to(browser, rules_server, PATH_RULES):
        browser.open(serve(zoho, "/signin-spa", page('<div id="app"></div>')))
        browser.wait('return document.getElementById("app") !== null')
        # the app moves to the account pages with pushState and renders the dialog there
        browser.js("""history.pushState({}, "", "/u/h#security/security_pwd");
            document.getElementById("app").innerHTML = arguments[0];""",
                   row("ter_mob", "clear_mobile", MOBILE, checked=True))
        browser.wait(IS_BLOCKED, "#ter_mob")
        # and back (popstate) to a page the rule does not name: the box is the page's again
        browser.js("history.back();")
        browser.wait("""return location.pathname === "/signin-spa"
            && !document.getElementById("ter_mob").disabled
            && !document.getElementById("ter_mob").hasAttribute("data-pwguard");""")

"""Faithful mock pages of Zoho Accounts, rendered from the strings of labels.tsv.

The markup follows ``tools/zoho/PAGE.md``: real ids, classes and names; the real
``input.checkbox_check`` is invisible (``opacity:0; position:absolute``) on top of
a styled ``span.checkbox > span.checkbox_tick``; every row has a
``label.session_label[for=...]``; rows the server does not allow are rendered
with ``display:none``. All texts come from ``tools/zoho/labels.tsv``.

``live=True`` pages carry a small page script (plain DOM, no external files) that
behaves like Zoho's jQuery code: the change-password dialog opens on the hash
``#security/security_pwd``, step 1 sends ``PUT .../self/password`` and then shows
step 2, and "Continue" sends ``PUT .../self/closesession`` with an
``X-ZCSRF-TOKEN`` header and the body ``{"closesession": {"rmwebses": ...,
"rmappses": ..., "inconeauth": ..., "rmapitok": ...}}`` (the legacy page sends
``removedevicesessions``). A box counts only if its row is visible and the box
``matches(":checked")``, which is what jQuery's ``is(":checked")`` does. The page
state is exposed as ``<html data-zoho-step="1|2|sent|error">`` for tests to wait on.
The real endpoints of the reset and expired-password pages are unknown; the mock
sends the same ``closesession`` request from them.

``live=False`` pages are static snapshots (no script), as an administrator would
save them: the change-password dialog open, on the requested step.

Languages are Zoho's codes (``pt_BR``, ``zh_TW``, ``iw``, ``in``, ``fl``, ``br``);
``<html lang>`` carries the BCP 47 tag a browser understands (see ``HTML_LANG``).
"""

from __future__ import annotations

import csv
import html
from collections.abc import Iterable
from functools import cache
from pathlib import Path

LABELS_TSV = Path(__file__).resolve().parent / "zoho" / "labels.tsv"

#: Data-centre hostnames of Zoho Accounts (PAGE.md).
HOSTS: list[str] = [
    "accounts.zoho.com",
    "accounts.zoho.eu",
    "accounts.zoho.in",
    "accounts.zoho.com.au",
    "accounts.zoho.jp",
    "accounts.zoho.com.cn",
    "accounts.zoho.sa",
    "accounts.zohocloud.ca",
    "accounts.zoho.uk",
]

#: Short snapshot names -> the snapshot column of labels.tsv.
SNAPSHOTS: dict[str, str] = {
    "2025": "current_2025_therpraveenkumar/assessment_zoho",
    "2024": "current_2024_ksha-dev/CSKBankingApplication",
    "v2early": "v2early_Ash515/Lender",
    "legacy": "legacy_Ash515/Lender_MessageResources",
}
#: Snapshots of the current three-box UI, newest first (the default is the newest
#: one that has the language).
CURRENT_SNAPSHOTS: list[str] = ["2025", "2024", "v2early"]

# Label keys.
HEAD = "IAM.PASSWORD.QUITSESSIONS.HEAD"
WEB = "IAM.RESET.PASSWORD.SIGNOUT.WEB"
MOBILE = "IAM.RESET.PASSWORD.SIGNOUT.MOBILE.SESSION"
API = "IAM.RESET.PASSWORD.DELETE.APITOKENS"
COMBINED = "IAM.RESET.PASSWORD.SIGNOUT.MOBILE"
MOBILE_DESC = "IAM.RESET.PASSWORD.BROWSER.MOBILE.SESSION.DESC"
API_DESC = "IAM.RESET.PASSWORD.REVOKE.CONNECTED.APPS.DESC"
ONEAUTH = "IAM.PASSWORD.TERMINATE.INCLUDE.ONEAUTH"
CONTINUE = "IAM.CONTINUE"
#: Keys of the dangerous boxes (the ones the rules must block).
DANGEROUS_KEYS: tuple[str, ...] = (MOBILE, API, COMBINED)

ROWS = ("web", "mobile", "api")

#: Zoho language code -> BCP 47 tag for ``<html lang>`` where they differ. Zoho's
#: resource bundles use Java's old codes (iw, in) and its own (fl, br = the old
#: Brazilian Portuguese bundle); a page emits the tag browsers understand.
HTML_LANG: dict[str, str] = {
    "pt_BR": "pt-BR",
    "br": "pt-BR",
    "zh_TW": "zh-TW",
    "iw": "he",
    "in": "id",
    "fl": "fil",
}
RTL_LANGS = frozenset({"ar", "iw", "ur", "ks"})


@cache
def _table() -> dict[tuple[str, str], dict[str, str]]:
    """(snapshot short name, lang) -> {key: text}, from labels.tsv."""
    short = {full: name for name, full in SNAPSHOTS.items()}
    table: dict[tuple[str, str], dict[str, str]] = {}
    with LABELS_TSV.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            snap = short.get(row["snapshot"])
            if snap is None:
                raise ValueError(
                    f"{LABELS_TSV}: unknown snapshot {row['snapshot']!r}; "
                    "add it to SNAPSHOTS in tools/zoho_pages.py"
                )
            table.setdefault((snap, row["lang"]), {})[row["key"]] = row["value"].strip()
    return table


def _langs() -> list[str]:
    return sorted({lang for _, lang in _table()})


#: Every language of labels.tsv (Zoho codes).
LANGS: list[str] = _langs()
#: Languages of the old combined-box UI.
LEGACY_LANGS: list[str] = sorted(lang for snap, lang in _table() if snap == "legacy")


def snapshots_of(lang: str) -> list[str]:
    """Short names of the snapshots that have ``lang``, newest first (legacy last)."""
    return [s for s in SNAPSHOTS if (s, lang) in _table()]


def html_lang(lang: str) -> str:
    """The BCP 47 tag a Zoho page in ``lang`` puts in ``<html lang>``."""
    return HTML_LANG.get(lang, lang)


def _resolve(lang: str, snapshot: str | None, allowed: Iterable[str]) -> str:
    allowed = list(allowed)
    if lang not in LANGS:
        raise ValueError(
            f"unknown Zoho language {lang!r}; use one of {', '.join(LANGS)} "
            f"(codes from {LABELS_TSV.name})"
        )
    if snapshot is None:
        for snap in allowed:
            if (snap, lang) in _table():
                return snap
        raise ValueError(
            f"language {lang!r} is in no snapshot of this page ({', '.join(allowed)}); "
            f"it is in {', '.join(snapshots_of(lang))}"
        )
    snap = {full: short for short, full in SNAPSHOTS.items()}.get(snapshot, snapshot)
    if snap not in allowed:
        raise ValueError(
            f"snapshot {snapshot!r} does not fit this page; use one of {', '.join(allowed)}"
        )
    if (snap, lang) not in _table():
        raise ValueError(
            f"snapshot {snap!r} has no {lang!r} labels; it has {lang!r} in: "
            f"{', '.join(snapshots_of(lang)) or 'none'}"
        )
    return snap


def labels(lang: str, snapshot: str | None = None) -> dict[str, str]:
    """Key -> text for ``lang`` in ``snapshot`` (short or full name; default: the
    newest current-UI snapshot having the language). A key missing in that
    language falls back to the snapshot's English, like Zoho's resource bundles; a
    key that no language of the snapshot has is absent: that UI did not have the
    line (v2early has no row descriptions and no "Include OneAuth" toggle)."""
    snap = _resolve(lang, snapshot, SNAPSHOTS)
    table = _table()
    out: dict[str, str] = {}
    keys = {k for (s, _), texts in table.items() if s == snap for k in texts}
    for key in sorted(keys):
        text = table[(snap, lang)].get(key)
        if text is None:
            text = table.get((snap, "en"), {}).get(key)
        if text is not None:
            out[key] = text
    return out


# --------------------------------------------------------------------------- markup

_CSS = """\
body{font:14px/1.4 Arial,sans-serif;margin:0;color:#000}
#zcontent{padding:20px}
.popup{position:fixed;top:60px;left:50%;width:520px;margin-left:-260px;background:#fff;
box-shadow:0 2px 12px rgba(0,0,0,.3);border-radius:4px;z-index:10}
.popup_header{padding:20px 30px 0}.popuphead_text{font-size:20px;font-weight:600}
.popup_content{padding:20px 30px 30px}
.field{margin-bottom:14px}.field input{display:block;width:100%;height:32px}
.checkbox_div{position:relative;padding-left:26px;margin-bottom:16px}
.checkbox_check{opacity:0;position:absolute;left:0;top:2px;width:16px;height:16px;margin:0;
z-index:1;cursor:pointer}
.checkbox{position:absolute;left:0;top:2px;width:14px;height:14px;border:1px solid #999;
border-radius:2px;background:#fff}
.checkbox_tick{display:none;width:4px;height:8px;margin:1px 4px;border:solid #fff;
border-width:0 2px 2px 0;transform:rotate(45deg)}
.checkbox_check:checked+.checkbox{background:#0091ff;border-color:#0091ff}
.checkbox_check:checked+.checkbox .checkbox_tick{display:block}
.checkbox_check:disabled+.checkbox{opacity:.4}
.session_label{display:block;cursor:pointer}.checkbox_label{display:block}
.session_terminate_desc{display:block;color:#666;font-size:12px}
.oneAuthLable{display:block;margin:-6px 0 16px 26px;cursor:pointer}
.primary_btn_check{background:#0091ff;color:#fff;border:0;border-radius:2px;padding:9px 24px}
.err_text{color:#e00}
"""

_SCRIPT = r"""
(function () {
  "use strict";
  var root = document.documentElement;
  var page = root.getAttribute("data-zoho-page");
  var m = location.pathname.match(/^(\/accounts\/p\/[^\/]+)/);
  var prefix = m ? m[1] : "";
  var api = prefix + "/webclient/v1/account/self/user/self/";
  function $(sel) { return document.querySelector(sel); }
  // jQuery's is(":visible") and is(":checked").
  function visible(el) {
    return !!el && !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
  }
  function checked(sel) { var el = $(sel); return !!el && el.matches(":checked"); }
  function box(rowSel, inputSel) { return visible($(rowSel)) && checked(inputSel); }
  function csrf() {
    var c = document.cookie.match(/(?:^|;\s*)iamcsr=([^;]*)/);
    return "iamcsrcoo=" + (c ? c[1] : "mock-csrf-token");
  }
  function state(s) { root.setAttribute("data-zoho-step", s); }
  function error(text) {
    var el = $(".err_text");
    if (el) { el.textContent = text; }
    state("error");
  }
  function send(path, body, done) {
    var xhr = new XMLHttpRequest();
    xhr.open("PUT", api + path);
    xhr.setRequestHeader("Content-Type", "application/json;charset=UTF-8");
    xhr.setRequestHeader("X-ZCSRF-TOKEN", csrf());
    xhr.onload = function () {
      if (xhr.status >= 200 && xhr.status < 300) { done(); }
      else { error("Request failed (" + xhr.status + ")"); }
    };
    xhr.onerror = function () { error("Request could not be sent"); };
    xhr.send(JSON.stringify(body));
  }
  function showStep2() {
    $("#passform").style.display = "none";
    $("#pass_esc_devices").style.display = "";
    $(".popuphead_text").textContent = root.getAttribute("data-head");
    var boxes = document.querySelectorAll(".checkbox_check");
    for (var i = 0; i < boxes.length; i++) { boxes[i].checked = false; }
    state("2");
  }
  function openDialog() {
    if (page === "change-password" && location.hash === "#security/security_pwd") {
      $("#popup_password_change").style.display = "";
    }
  }
  function closeSessions(event) {
    event.preventDefault();
    var body;
    if (page === "legacy") {
      body = {closesession: {
        rmwebses: box("#terminate_web_sess", "#signoutfromweb"),
        removedevicesessions: box("#terminate_mob_apps", "#signoutfrommobile")}};
    } else if (page === "expired-password") {
      body = {closesession: {
        rmwebses: box("#terminate_web_sess", "#termin_web"),
        rmappses: box("#terminate_mob_apps", "#termin_mob"),
        inconeauth: false,
        rmapitok: box("#terminate_api_tok", "#termin_api")}};
    } else {
      body = {closesession: {
        rmwebses: box("#terminate_web_sess", "#ter_all"),
        rmappses: box("#terminate_mob_apps", "#ter_mob"),
        inconeauth: visible($(".oneAuthLable")) && checked("#include_oneauth"),
        rmapitok: box("#terminate_api_tok", "#ter_apiToken")}};
    }
    send("closesession", body, function () { state("sent"); });
  }
  var passform = $("#passform");
  if (passform) {
    passform.addEventListener("submit", function (event) {
      event.preventDefault();
      send("password", {password: {currentpwd: $("#currentPass").value,
                                   newpwd: $("#newPassword").value}}, showStep2);
    });
  }
  var sessions = $(".terminate_sessions_form");
  if (sessions) { sessions.addEventListener("submit", closeSessions); }
  var opener = $("#change_password_link");
  if (opener) {
    opener.addEventListener("click", function () { location.hash = "#security/security_pwd"; });
  }
  window.addEventListener("hashchange", openDialog);
  openDialog();
  if (!root.hasAttribute("data-zoho-step")) { state("1"); }
})();
"""


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _document(lang: str, page: str, title: str, body: str, *, live: bool,
              attrs: dict[str, str] | None = None) -> str:
    extra = "".join(f' {k}="{_e(v)}"' for k, v in (attrs or {}).items())
    direction = ' dir="rtl"' if lang in RTL_LANGS else ""
    script = f"<script>{_SCRIPT}</script>\n" if live else ""
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{_e(html_lang(lang))}"{direction} data-zoho-page="{page}"{extra}>\n'
        '<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>\n{_CSS}</style>\n</head>\n"
        f"<body>\n{body}{script}</body>\n</html>\n"
    )


def _hidden(shown: bool) -> str:
    return "" if shown else ' style="display:none"'


def _row(div_id: str, input_id: str, name: str, text: str, desc: str | None, *,
         shown: bool, after: str = "") -> str:
    desc_html = (
        f'\n      <span class="session_terminate_desc">{_e(desc)}</span>' if desc else ""
    )
    return (
        f'  <div id="{div_id}" class="terminate_row"{_hidden(shown)}>\n'
        '   <div class="checkbox_div">\n'
        f'    <input class="checkbox_check" id="{input_id}" type="checkbox" name="{name}">\n'
        '    <span class="checkbox"><span class="checkbox_tick"></span></span>\n'
        f'    <label class="session_label" for="{input_id}">\n'
        f'      <span class="checkbox_label">{_e(text)}</span>{desc_html}\n'
        "    </label>\n"
        "   </div>\n"
        f"{after}"
        "  </div>\n"
    )


def _oneauth(text: str, shown: bool) -> str:
    return (
        f'   <label class="oneAuthLable" for="include_oneauth"{_hidden(shown)}>\n'
        '    <input type="checkbox" id="include_oneauth" name="include_oneauth">\n'
        f'    <span class="oneauth_text">{_e(text)}</span>\n'
        "   </label>\n"
    )


def _check_rows(rows: Iterable[str]) -> frozenset[str]:
    rows = tuple(rows)
    unknown = [r for r in rows if r not in ROWS]
    if unknown:
        raise ValueError(f"unknown rows {unknown!r}; rows are chosen from {ROWS!r}")
    return frozenset(rows)


def _session_rows(lab: dict[str, str], rows: frozenset[str], oneauth: bool,
                  *, omit_hidden: bool = False) -> str:
    def want(row: str) -> bool:
        return row in rows or not omit_hidden

    out = ""
    if want("web"):
        out += _row("terminate_web_sess", "ter_all", "clear_web", lab[WEB], None,
                    shown="web" in rows)
    if want("mobile"):
        out += _row("terminate_mob_apps", "ter_mob", "clear_mobile", lab[MOBILE],
                    lab.get(MOBILE_DESC), shown="mobile" in rows,
                    after=_oneauth(lab[ONEAUTH], oneauth) if ONEAUTH in lab else "")
    if want("api"):
        out += _row("terminate_api_tok", "ter_apiToken", "clear_apiToken", lab[API],
                    lab.get(API_DESC), shown="api" in rows)
    return out


def _continue(lab: dict[str, str]) -> str:
    return (
        '  <div class="err_text" role="alert"></div>\n'
        f'  <button type="submit" class="primary_btn_check">{_e(lab[CONTINUE])}</button>\n'
    )


def _home_shell(inner: str) -> str:
    return (
        '<div id="zcontent">\n'
        ' <div class="menu"><a href="#profile">Profile</a> <a href="#security">Security</a>'
        ' <a href="#sessions">Sessions</a></div>\n'
        ' <div id="security_pwd_box"><button type="button" id="change_password_link">'
        "Change Password</button></div>\n"
        "</div>\n"
        f"{inner}"
    )


def change_password_page(lang: str = "en", *, snapshot: str | None = None, step: int = 1,
                         rows: Iterable[str] = ROWS, oneauth: bool = True,
                         live: bool = True, omit_hidden: bool = False) -> str:
    """The account home page with the change-password dialog (``/u/h#security/security_pwd``).

    ``step=2`` renders step 2 (``form#pass_esc_devices``) already shown. ``rows``
    are the rows the server allows; the others are ``display:none`` (or left out
    with ``omit_hidden=True``, for pages that must hold no dangerous box at all).
    ``live=False``: a static snapshot without script, the dialog open.
    """
    if step not in (1, 2):
        raise ValueError(f"step must be 1 or 2, not {step!r}")
    snap = _resolve(lang, snapshot, CURRENT_SNAPSHOTS)
    lab = labels(lang, snap)
    shown = _check_rows(rows)
    open_now = not live or step == 2
    body = _home_shell(
        f'<div id="popup_password_change" class="popup"{_hidden(open_now)}>\n'
        ' <div class="popup_header">\n'
        f'  <div class="popuphead_text">{_e(lab[HEAD] if step == 2 else "Change password")}'
        "</div>\n"
        " </div>\n"
        ' <div class="popup_content">\n'
        f' <form id="passform" name="passform" method="post"{_hidden(step == 1)}>\n'
        '  <div class="field"><label for="currentPass">Current password</label>'
        '<input type="password" id="currentPass" name="currentPass"'
        ' autocomplete="current-password">'
        "</div>\n"
        '  <div class="field"><label for="newPassword">New password</label>'
        '<input type="password" id="newPassword" name="newPassword" autocomplete="new-password">'
        "</div>\n"
        '  <div class="field"><label for="cpwd">Confirm new password</label>'
        '<input type="password" id="cpwd" name="cpwd" autocomplete="new-password"></div>\n'
        '  <div class="err_text" role="alert"></div>\n'
        '  <button type="submit" id="change_password_call" class="primary_btn_check">'
        "Change Password</button>\n"
        " </form>\n"
        ' <form id="pass_esc_devices" name="pass_esc_devices" class="terminate_sessions_form"'
        f' method="post"{_hidden(step == 2)}>\n'
        f"{_session_rows(lab, shown, oneauth and 'mobile' in shown, omit_hidden=omit_hidden)}"
        f"{_continue(lab)}"
        " </form>\n"
        " </div>\n"
        "</div>\n"
    )
    attrs = {"data-head": lab[HEAD], "data-zoho-snapshot": snap}
    if live:
        attrs["data-zoho-step"] = str(step)
    return _document(lang, "change-password", "Zoho Accounts", body, live=live, attrs=attrs)


def reset_password_page(lang: str = "en", *, snapshot: str | None = None,
                        rows: Iterable[str] = ROWS, live: bool = True) -> str:
    """The password-reset page ``/password`` after the new password is set:
    ``form#terminate_session_form`` with the same ids as step 2."""
    snap = _resolve(lang, snapshot, CURRENT_SNAPSHOTS)
    lab = labels(lang, snap)
    shown = _check_rows(rows)
    body = (
        '<div id="zcontent" class="reset_password_container">\n'
        f' <div class="popuphead_text">{_e(lab[HEAD])}</div>\n'
        ' <form id="terminate_session_form" name="terminate_session_form"'
        ' class="terminate_sessions_form" method="post">\n'
        f"{_session_rows(lab, shown, 'mobile' in shown)}"
        f"{_continue(lab)}"
        " </form>\n"
        "</div>\n"
    )
    attrs = {"data-head": lab[HEAD], "data-zoho-snapshot": snap}
    if live:
        attrs["data-zoho-step"] = "2"
    return _document(lang, "reset-password", "Zoho Accounts", body, live=live, attrs=attrs)


def _plain_row(div_id: str, input_id: str, name: str, text: str) -> str:
    return (
        f'  <div id="{div_id}" class="checkbox_div">\n'
        f'   <input class="checkbox_check" id="{input_id}" type="checkbox" name="{name}">\n'
        '   <span class="checkbox"><span class="checkbox_tick"></span></span>\n'
        f'   <label class="session_label" for="{input_id}">'
        f'<span class="checkbox_label">{_e(text)}</span></label>\n'
        "  </div>\n"
    )


def expired_password_page(lang: str = "en", *, snapshot: str | None = None,
                          live: bool = True) -> str:
    """Sign-in with an expired password (``/signin``): new-password fields and the
    boxes ``#termin_web``, ``#termin_mob[name=signoutfrommobile]``,
    ``#termin_api[name=signoutfromapiToken]``."""
    snap = _resolve(lang, snapshot, CURRENT_SNAPSHOTS)
    lab = labels(lang, snap)
    body = (
        '<div id="zcontent" class="signin_container">\n'
        ' <form id="password_expiry_form" name="password_expiry_form"'
        ' class="terminate_sessions_form" method="post">\n'
        '  <div class="field"><label for="new_password">New password</label>'
        '<input type="password" id="new_password" name="newpassword" autocomplete="new-password">'
        "</div>\n"
        '  <div class="field"><label for="confirm_password">Confirm password</label>'
        '<input type="password" id="confirm_password" name="cpassword"'
        ' autocomplete="new-password"></div>\n'
        f' <div class="popuphead_text">{_e(lab[HEAD])}</div>\n'
        + _plain_row("terminate_web_sess", "termin_web", "signoutfromweb", lab[WEB])
        + _plain_row("terminate_mob_apps", "termin_mob", "signoutfrommobile", lab[MOBILE])
        + _plain_row("terminate_api_tok", "termin_api", "signoutfromapiToken", lab[API])
        + f"{_continue(lab)}"
        " </form>\n"
        "</div>\n"
    )
    attrs = {"data-zoho-snapshot": snap}
    if live:
        attrs["data-zoho-step"] = "2"
    return _document(lang, "expired-password", "Zoho Accounts", body, live=live, attrs=attrs)


def legacy_combined_page(lang: str = "en", *, snapshot: str | None = None,
                         live: bool = True, omit_combined: bool = False) -> str:
    """The old one-box UI: "Terminate all active web browser sessions" beside the
    combined "Terminate mobile app sessions ... remove active API 'authtokens'"
    box (``input#signoutfrommobile``, sent as ``removedevicesessions``)."""
    snap = _resolve(lang, snapshot, ["legacy"])
    lab = labels(lang, snap)
    rows = _plain_row("terminate_web_sess", "signoutfromweb", "signoutfromweb", lab[WEB])
    if not omit_combined:
        rows += _plain_row("terminate_mob_apps", "signoutfrommobile", "signoutfrommobile",
                           lab[COMBINED])
    body = (
        '<div id="zcontent" class="reset_password_container">\n'
        ' <form id="terminate_session_form" name="terminate_session_form"'
        ' class="terminate_sessions_form" method="post">\n'
        f"{rows}"
        f"{_continue(lab)}"
        " </form>\n"
        "</div>\n"
    )
    attrs = {"data-zoho-snapshot": snap}
    if live:
        attrs["data-zoho-step"] = "2"
    return _document(lang, "legacy", "Zoho Accounts", body, live=live, attrs=attrs)


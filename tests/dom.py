"""DOM-contract helpers shared by the browser tests (DESIGN.md, "DOM contract")."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from tests.browsers import REPO, Browser

STEP2 = "/u/h?step=2#security/security_pwd"

# The state of a control and of the page's banner(s), as the DOM contract describes them.
CONTROL = """const el = document.querySelector(arguments[0]);
return el && {checked: el.checked, disabled: el.disabled,
              mark: el.getAttribute("data-pwguard")};"""
BANNERS = """return [...document.querySelectorAll('[data-pwguard="banner"]')].map(b => {
  const root = b.shadowRoot || b;  // open shadow root, or the light DOM
  return {role: b.getAttribute("role"),
          text: root.textContent.replace(/\\s+/g, " ").trim(),
          links: [...root.querySelectorAll("a[href]")].map(a => a.href)};
});"""
BLOCKED = """const el = document.querySelector(arguments[0]);
return el && el.getAttribute("data-pwguard") === "blocked" && el.disabled && !el.checked;"""


def bundled_rules() -> list[dict[str, Any]]:
    payload = json.loads((REPO / "extension" / "rules.bundled.json").read_text("utf-8"))
    rules: list[dict[str, Any]] = payload["rules"]
    return rules


def rule_for(selector: str) -> dict[str, Any]:
    """The bundled rule that names ``selector`` among its controls."""
    for rule in bundled_rules():
        if any(c.get("selector") == selector for c in rule["controls"]):
            return rule
    raise LookupError(f"no bundled rule has the control selector {selector!r}")


def squash(text: str) -> str:
    return " ".join(text.split())


def same_place(href: str, expected: str) -> bool:
    """Equal URLs, ignoring a port (the mock's URLs carry one, the rule's help has none)."""
    a, b = urlsplit(href), urlsplit(expected)
    return (a.scheme, a.hostname, a.path, a.query, a.fragment) == (
        b.scheme, b.hostname, b.path, b.query, b.fragment)


def assert_blocked(browser: Browser, selector: str) -> None:
    """Wait until ``selector`` is blocked, then check every part of the contract."""
    browser.wait(BLOCKED, selector)
    assert browser.js(CONTROL, selector) == {"checked": False, "disabled": True,
                                              "mark": "blocked"}


def banners(browser: Browser) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = browser.js(BANNERS)
    return result


def banner_text(browser: Browser, timeout: float = 10) -> str:
    """The text of the page's first banner, waiting for one to appear."""
    text: str = browser.wait(f"const b = (() => {{ {BANNERS} }})(); return b.length && b[0].text;",
                             timeout=timeout)
    return text


# Page-script helpers for the request guard's tests: put(url, text) by fetch and xhr(url,
# text) by XMLHttpRequest, each a PUT with a JSON content type that resolves with its outcome
# ("resolved STATUS" or "rejected MESSAGE"; "load STATUS" or "error").
SENDERS = """const put = (url, b) => fetch(url, {method: "PUT", body: b,
    headers: {"Content-Type": "application/json"}})
  .then(r => "resolved " + r.status, e => "rejected " + e.message);
const xhr = (url, b) => new Promise(resolve => {
  const x = new XMLHttpRequest();
  x.open("PUT", url);
  x.setRequestHeader("Content-Type", "application/json");
  x.onload = () => resolve("load " + x.status);
  x.onerror = () => resolve("error");
  x.send(b);
});"""

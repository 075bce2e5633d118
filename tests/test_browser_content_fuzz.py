"""Differential fuzz of the content script's incremental behaviour, in Chromium and Firefox with
the real extension loaded, on a mocked Zoho host where the shipped rules apply.

From a seed, a page runs a sequence of DOM operations a real app might do (tests/content_fuzz.js:
Zoho's rows, "Remember me" boxes and role=checkbox/switch widgets inserted, removed, moved,
cloned, renamed, relabelled, wrapped in labels, ticked, re-enabled, re-rendered from their
markup, put in open shadow roots and in a same-origin frame), one op per task, several in one
task, or several in consecutive tasks. After each step every checkbox-like control of the page
(its frame and open shadow roots included) is compared with the verdict extension/engine.js,
loaded into the page's own world with the rules the extension enforces, computes from scratch
(DESIGN.md, DOM contract): blocked exactly when a block rule covers it (disabled, unticked,
data-pwguard="blocked"), warned exactly when only a warn rule does, untouched otherwise (the
page never disables a box itself), and one banner (role=alert) per document while that
document has a blocked or warned control, none otherwise. The comparison waits for a condition
(polled in the page, bounded), never a fixed time. First it allows the lag README.md accepts
(a box unmarked before the step that a page turned dangerous by attributes or in-place text
alone is judged at the next insertion or removal, and an element made checkbox-like by its
type or role when it is used); then, after an insertion and removal in each document, it allows
none but that last one. Left as is, and only counted: an empty copy of the banner's host (no
shadow root) that the page made by copying the markup of a row holding the banner while the
banner itself stayed put; copies are removed whenever the banner is placed or taken out.

The rules are the shipped ones (rules/zoho.yaml, as rules.bundled.json) plus one warn rule,
served by a real rules server. PWGUARD_FUZZ_SEED picks another seed; on a failure the seed,
the steps up to it (shrunk when possible) and the offending controls' markup and states are
printed.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browsers import Browser
from tests.serve import default_rules_plus
from tests.test_browser_dom import synced_to
from tests.zoho_mock import ZohoMock

REPO = Path(__file__).resolve().parent.parent
ENGINE_JS = (REPO / "extension" / "engine.js").read_text("utf-8")
DRIVER_JS = (Path(__file__).parent / "content_fuzz.js").read_text("utf-8")
BUNDLED = json.loads((REPO / "extension" / "rules.bundled.json").read_text("utf-8"))

WARN_RULE = """  - id: fuzz-sign-in-notice-warn
    title: New sign-in notices box, warn only
    why: A test rule that only warns.
    action: warn
    sites: ["https://accounts.zoho.eu/*"]
    controls:
      - selector: ".fz-warn"
      - label: ["notify me of new sign-ins"]
    message:
      en: "Careful with sign-in notices."
      es: "Cuidado con los avisos de inicio de sesión."
    help: "https://{host}/u/h#sessions"
"""

SEED = int(os.environ.get("PWGUARD_FUZZ_SEED", "20261127"))
PAGES = int(os.environ.get("PWGUARD_FUZZ_PAGES", "3"))  # page loads per browser
STEPS = int(os.environ.get("PWGUARD_FUZZ_STEPS", "100"))  # steps per page
BUDGET_MS = 1500  # how long a check may wait for the extension to settle
SHRINK_SECONDS = 60.0

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Zoho Accounts</title>
<script>window.__fzPayload = PAYLOAD;</script>
<script src="/fuzz/engine.js"></script><script src="/fuzz/driver.js"></script></head>
<body><div class="dialog"><div class="rows">
<div class="fzc" id="c0"><form class="fzc" id="f0"></form></div>
<div class="fzc" id="c1"></div>
<section class="fzc" id="c2"><div class="fzc" id="c3"></div></section>
</div></div>
<iframe id="fr" src="/fuzz/frame"></iframe></body></html>"""

FRAME = """<!doctype html><html lang="en"><head><meta charset="utf-8"></head>
<body><div class="dialog"><div class="rows"><div class="fzc" id="fc0"></div>
<div class="fzc" id="fc1"></div></div></div></body></html>"""


@pytest.fixture
def fuzz_rules(browser: Browser, rules_server: Any) -> Iterator[tuple[Browser, dict[str, Any]]]:
    """The browser synced to the shipped rules plus a warn rule; the payload it enforces."""
    with synced_to(browser, rules_server, default_rules_plus(WARN_RULE)) as synced:
        bundle = httpx.get(rules_server.url + "/v1/rules", timeout=10).json()
        payload: dict[str, Any] = json.loads(bundle["payload"])
        shipped = {r["id"]: r["controls"] for r in BUNDLED["rules"]}
        served = {r["id"]: r["controls"] for r in payload["rules"]}
        assert {k: served.get(k) for k in shipped} == shipped  # the shipped rules, unchanged
        yield synced, payload


def steps_for(seed: int, count: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [{"s": rng.randrange(2**31), "mode": rng.choice(["one", "one", "sync", "tasks"]),
             "n": rng.randint(2, 4), "budget": BUDGET_MS} for _ in range(count)]


def run(browser: Browser, url: str, steps: list[dict[str, Any]]
        ) -> tuple[list[str], dict[str, Any] | None, dict[str, int]]:
    """Load the page and run the steps; (what each did, the first failure or None, counts)."""
    browser.open(url)
    browser.wait("return window.fz && window.fz.ready()", timeout=15)
    done: list[str] = []
    for spec in steps:
        result = browser.js("return window.fz.step(arguments[0]);", spec)
        done.append(result["what"])
        if result["problems"]:
            return done, result, browser.js("return window.fz.seen;")
    return done, None, browser.js("return window.fz.seen;")


def shrink(browser: Browser, url: str, steps: list[dict[str, Any]]
           ) -> tuple[list[dict[str, Any]], list[str], dict[str, Any]]:
    """Drop steps one at a time while the run still fails (within SHRINK_SECONDS)."""
    done, failure, _ = run(browser, url, steps)
    assert failure is not None
    steps = steps[:len(done)]
    deadline = time.monotonic() + SHRINK_SECONDS
    i = len(steps) - 2
    while i >= 0 and time.monotonic() < deadline:
        trial = steps[:i] + steps[i + 1:]
        t_done, t_failure, _ = run(browser, url, trial)
        if t_failure is not None:
            steps, done, failure = trial[:len(t_done)], t_done, t_failure
            i = min(i, len(steps) - 1)
        i -= 1
    return steps, done, failure


def test_the_content_script_agrees_with_the_engine_after_every_dom_change(
        fuzz_rules: tuple[Browser, dict[str, Any]], zoho: ZohoMock) -> None:
    browser, payload = fuzz_rules
    zoho.add_page("/fuzz/engine.js", ENGINE_JS, "text/javascript; charset=utf-8")
    zoho.add_page("/fuzz/driver.js", DRIVER_JS, "text/javascript; charset=utf-8")
    zoho.add_page("/fuzz/frame", FRAME)
    zoho.add_page("/u/fuzz", PAGE.replace("PAYLOAD", json.dumps(payload).replace("<", "\\u003c")))
    url = zoho.url("accounts.zoho.eu", "/u/fuzz")
    totals = {"block": 0, "warn": 0, "none": 0, "copies": 0}
    for page_no in range(PAGES):
        seed = SEED + page_no
        steps = steps_for(seed, STEPS)
        done, failure, seen = run(browser, url, steps)
        for key in totals:
            totals[key] += seen[key]
        if failure is not None:
            small, small_done, small_failure = shrink(browser, url, steps)
            report = {
                "browser": browser.name, "seed": seed,
                "steps (shrunk)": [dict(spec, what=w) for spec, w in zip(small, small_done,
                                                                       strict=True)],
                "failure (shrunk)": small_failure,
                "steps (original, up to the failure)": done,
                "failure (original)": failure,
            }
            pytest.fail(f"content script and engine disagree (PWGUARD_FUZZ_SEED={seed}, "
                        f"page {page_no}):\n{json.dumps(report, indent=1, ensure_ascii=False)}",
                        pytrace=False)
    print(f"{browser.name}: {PAGES} pages x {STEPS} steps, controls checked: {totals}")
    # the fuzz saw every kind of control, after every step (each check counts each control)
    assert totals["block"] > 50 and totals["warn"] > 10 and totals["none"] > 50, totals

"""The default ruleset rules/zoho.yaml against the fixture pages and labels.tsv.

Every dangerous box of every fixture is blocked by the right rule, by its ids/names and
by its label alone; nothing harmless is ever matched; every dangerous wording of every
language in labels.tsv is covered by a phrase of the right rule and no phrase touches a
harmless sentence.
"""

from __future__ import annotations

import csv
import re
from functools import cache
from pathlib import Path

import pytest
from tools import zoho_pages as zp

from pwguard.lint import lint_paths
from pwguard.lint.cli import main as lint_main
from pwguard.lint.context import strip_comment
from pwguard.rules.engine import Page, fold, rule_covers, verdicts
from pwguard.rules.loader import load_paths
from pwguard.rules.model import Rule, RuleSet
from pwguard.rules.selectors import compile_selector
from pwguard.rules.sites import ZOHO_HOSTS

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "rules"
FIXTURES = RULES / "fixtures"

MOBILE_RULE = "zoho-mobile-app-sessions-box"
API_RULE = "zoho-connected-apps-box"
LEGACY_RULE = "zoho-legacy-combined-box"
RULE_OF_KEY = {zp.MOBILE: MOBILE_RULE, zp.API: API_RULE, zp.COMBINED: LEGACY_RULE}
#: Dangerous controls of the Zoho pages by id -> the rule that must block them.
RULE_OF_ID = {
    "ter_mob": MOBILE_RULE, "termin_mob": MOBILE_RULE,
    "ter_apiToken": API_RULE, "termin_api": API_RULE,
    "signoutfrommobile": LEGACY_RULE,
}
#: labels.tsv keys whose text sits inside a dangerous row's label (its description).
DESC_OF_RULE = {zp.MOBILE_DESC: MOBILE_RULE, zp.API_DESC: API_RULE}
CLOSESESSION = "*/webclient/v1/account/self/user/self/closesession"


@cache
def ruleset() -> RuleSet:
    result = load_paths([RULES])
    assert result.ruleset is not None, result.findings
    return result.ruleset


def rule(rule_id: str) -> Rule:
    return ruleset().by_id(rule_id)


def phrases(r: Rule) -> list[str]:
    return [p for c in r.controls if c.label for p in c.label]


def tsv_rows() -> list[dict[str, str]]:
    with zp.LABELS_TSV.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def fixture_pages() -> list[Path]:
    return sorted(FIXTURES.rglob("*.html"))


# ------------------------------------------------------------------ the linter


def test_pwguard_lint_rules_is_clean(capsys: pytest.CaptureFixture[str]) -> None:
    assert lint_main([str(RULES)]) == 0, capsys.readouterr().out
    result = lint_paths([RULES])
    assert not result.findings


# ------------------------------------------------------------------ shape


def test_the_three_rules_block_on_every_data_centre_host() -> None:
    hosts = [f"https://{h}/*" for h in zp.HOSTS]
    assert sorted(hosts) == sorted(ZOHO_HOSTS)
    assert [r.id for r in ruleset().rules] == [LEGACY_RULE, MOBILE_RULE, API_RULE]
    for r in ruleset().rules:
        assert r.action == "block"
        assert r.sites == hosts
        assert r.help == "https://{host}/u/h#sessions"
        assert {"en", "es"} <= r.message.keys()
        for lang, text in r.message.items():
            assert 20 < len(text) <= 250, (r.id, lang)
            assert "<" not in text and "Sessions" in rule(r.id).message["en"]


@pytest.mark.parametrize(("rule_id", "fields"), [
    (MOBILE_RULE, ["rmappses"]),
    (API_RULE, ["rmapitok"]),
    (LEGACY_RULE, ["removedevicesessions"]),
])
def test_request_guards_refuse_closesession_with_the_dangerous_field(rule_id: str,
                                                                     fields: list[str]) -> None:
    guard = rule(rule_id).request
    assert guard is not None
    assert (guard.method, guard.path, guard.json_true) == ("PUT", CLOSESESSION, fields)


@pytest.mark.parametrize("rule_id", [MOBILE_RULE, API_RULE, LEGACY_RULE])
def test_each_rule_matches_by_selectors_and_by_phrases(rule_id: str) -> None:
    controls = rule(rule_id).controls
    assert sum(c.selector is not None for c in controls) >= 1
    assert len(phrases(rule(rule_id))) >= 25


@pytest.mark.parametrize("rule_id", [MOBILE_RULE, API_RULE, LEGACY_RULE])
def test_examples_point_at_existing_fixture_pages(rule_id: str) -> None:
    examples = rule(rule_id).examples
    assert examples is not None and examples.match and examples.no_match
    for pattern in [*examples.match, *examples.no_match]:
        assert list(FIXTURES.glob(pattern)), pattern


# ------------------------------------------------------------------ labels.tsv


@pytest.mark.parametrize("key", list(RULE_OF_KEY))
def test_every_dangerous_wording_is_covered_by_a_phrase_of_the_right_rule(key: str) -> None:
    folded = [fold(p) for p in phrases(rule(RULE_OF_KEY[key]))]
    uncovered = [
        (row["snapshot"], row["lang"], row["value"]) for row in tsv_rows()
        if row["key"] == key and not any(p in fold(row["value"]) for p in folded)
    ]
    assert not uncovered


def test_no_phrase_matches_a_harmless_sentence_of_labels_tsv() -> None:
    harmless_keys = (zp.WEB, zp.ONEAUTH, zp.HEAD, zp.CONTINUE)
    hits = [
        (r.id, p, row["lang"], row["key"], row["value"])
        for row in tsv_rows() if row["key"] in harmless_keys
        for r in ruleset().rules for p in phrases(r) if fold(p) in fold(row["value"])
    ]
    assert not hits


def test_current_boxes_are_not_taken_for_each_other() -> None:
    """A phrase of the mobile rule never matches an API-box sentence and vice versa."""
    pairs = [(zp.MOBILE, API_RULE), (zp.API, MOBILE_RULE), (zp.MOBILE_DESC, API_RULE),
             (zp.API_DESC, MOBILE_RULE)]
    hits = [
        (rid, p, row["lang"], row["key"])
        for key, rid in pairs for row in tsv_rows() if row["key"] == key
        for p in phrases(rule(rid)) if fold(p) in fold(row["value"])
    ]
    assert not hits


def test_every_phrase_matches_some_wording_of_labels_tsv() -> None:
    texts = [fold(row["value"]) for row in tsv_rows()]
    dead = [(r.id, p) for r in ruleset().rules for p in phrases(r)
            if not any(fold(p) in t for t in texts)]
    assert not dead


# ------------------------------------------------------------------ fixture pages


def expected_rule(page: Path, control_id: str) -> str | None:
    if FIXTURES / "harmless" in page.parents:
        return None
    return RULE_OF_ID.get(control_id)


@pytest.mark.parametrize("folder", ["change-password", "reset-password", "expired-password",
                                    "legacy", "harmless"])
def test_every_control_of_every_fixture_gets_the_right_verdict(folder: str) -> None:
    wrong = []
    blocked = 0
    for page in sorted((FIXTURES / folder).rglob("*.html")):
        for v in verdicts(page.read_text(encoding="utf-8"), ruleset()):
            want = expected_rule(page, v.id)
            blocked += want is not None
            if v.rule_id != want or (want and v.action != "block"):
                wrong.append((page.relative_to(FIXTURES).as_posix(), v.id, v.rule_id, want))
    assert not wrong
    if folder != "harmless":
        assert blocked >= 25


def test_harmless_controls_of_zoho_pages_are_never_matched() -> None:
    lines = (FIXTURES / "harmless-controls.txt").read_text(encoding="utf-8").splitlines()
    selectors = [s for s in map(strip_comment, lines) if s]
    assert {"#ter_all", "#termin_web", "input[name=clear_web]", "#include_oneauth"} <= set(
        selectors)
    matchers = [compile_selector(s) for s in selectors]
    seen = 0
    for page_path in fixture_pages():
        page = Page(page_path.read_bytes())
        for el in page.controls:
            if any(m(el) for m in matchers):
                seen += 1
                folded = fold(page.label_text(el))
                assert not [r.id for r in ruleset().rules if rule_covers(el, r, folded)], (
                    page_path, el.get("id"))
    assert seen > 400


@pytest.mark.parametrize("host", zp.HOSTS)
@pytest.mark.parametrize(("path", "page"), [
    ("/u/h#security/security_pwd", "change-password/en.2025.html"),
    ("/password", "reset-password/ja.html"),
    ("/signin?servicename=AaaServer", "expired-password/es.html"),
    ("/accounts/p/10234/password", "legacy/de.html"),
])
def test_rules_apply_on_every_host_and_page(host: str, path: str, page: str) -> None:
    html = (FIXTURES / page).read_text(encoding="utf-8")
    blocked = [v.rule_id for v in verdicts(html, ruleset(), url=f"https://{host}{path}")
               if v.action == "block"]
    assert blocked == [v.rule_id for v in verdicts(html, ruleset()) if v.rule_id]
    assert len(blocked) in (1, 2)
    assert not [v for v in verdicts(html, ruleset(), url=f"https://evil-{host}.example{path}")
                if v.rule_id]


# ------------------------------------------------------------------ robustness

STRIP_IDS = re.compile(r'\s(id|name)="(ter_mob|ter_apiToken|termin_mob|termin_api|'
                       r'signoutfrommobile|clear_mobile|clear_apiToken|signoutfromapiToken)"')
STRIP_ROW_IDS = re.compile(r'\sid="terminate_(mob_apps|api_tok)"')


def renamed(html: str) -> str:
    """The page with the dangerous boxes' ids, names and row ids changed (label[for] kept
    pointing at the new ids)."""
    html = STRIP_IDS.sub(lambda m: f' {m.group(1)}="x_{m.group(2)}"', html)
    html = re.sub(r'for="(ter_mob|ter_apiToken|termin_mob|termin_api|signoutfrommobile)"',
                  r'for="x_\1"', html)
    return STRIP_ROW_IDS.sub(lambda m: f' id="row_{m.group(1)}"', html)


def reworded(html: str) -> str:
    """The page with every label text replaced by a neutral one."""
    return re.sub(r'(<span class="(checkbox_label|session_terminate_desc)">)[^<]*', r"\1Option",
                  html)


@pytest.mark.parametrize("folder", ["change-password", "reset-password", "expired-password",
                                    "legacy"])
def test_labels_alone_still_block_when_zoho_renames_the_ids(folder: str) -> None:
    for page in sorted((FIXTURES / folder).glob("*.html")):
        got = [v.rule_id for v in verdicts(renamed(page.read_text(encoding="utf-8")), ruleset())
               if v.id.startswith("x_")]
        want = [RULE_OF_ID[v_id] for v_id in re.findall(
            r'<input [^>]*id="x_([A-Za-z_]+)"', renamed(page.read_text(encoding="utf-8")))]
        assert got == want and want, page


@pytest.mark.parametrize("folder", ["change-password", "reset-password", "expired-password",
                                    "legacy"])
def test_ids_alone_still_block_when_zoho_rewords_the_labels(folder: str) -> None:
    for page in sorted((FIXTURES / folder).glob("*.html")):
        got = {v.id: v.rule_id for v in
               verdicts(reworded(page.read_text(encoding="utf-8")), ruleset()) if v.rule_id}
        assert got == {i: r for i, r in RULE_OF_ID.items()
                       if f'id="{i}"' in page.read_text(encoding="utf-8")}, page

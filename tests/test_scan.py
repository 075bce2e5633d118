"""pwguard scan: coverage report of saved pages; dangerous-looking uncovered controls fail it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pwguard.rules import vocab
from pwguard.scan import main

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "rules"
FIXTURES = sorted((RULES / "fixtures").rglob("*.html"))
DANGEROUS_PAGES = [p for p in FIXTURES if "harmless" not in p.relative_to(RULES / "fixtures").parts]
CLEAN = (ROOT / "tests" / "lint_cases" / "clean.yaml").read_text(encoding="utf-8")

REWORDED = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"></head><body>
<form id="pass_esc_devices">
 <div class="row"><input type="checkbox" id="ter_all" name="clear_web">
  <label for="ter_all">Terminate all the browsers sessions.</label></div>
 <div class="row"><input type="checkbox" id="opt_2" name="opt_two">
  <label for="opt_2">Also sign out of every Zoho app installed on your mobile devices</label></div>
 <div class="row"><input type="checkbox" id="opt_3" name="rm_apitoken_all">
  <label for="opt_3">Xyzzy plugh</label></div>
</form>
<label><input type="checkbox" name="remember"> Remember me</label>
</body></html>
"""


def scan_json(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict]:  # type: ignore[type-arg]
    code = main([*argv, "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


def test_every_dangerous_control_of_the_fixtures_is_covered(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert len(DANGEROUS_PAGES) > 50
    code, doc = scan_json([*map(str, FIXTURES), "--rules", str(RULES)], capsys)
    assert doc["findings"] == [] and code == 0
    covered = [c for c in doc["controls"] if c["rule_id"]]
    assert covered and all(c["action"] == "block" for c in covered)


def test_without_rules_the_same_controls_look_dangerous(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The detector is not vacuous: what the rules cover is what it flags when nothing does."""
    (tmp_path / "none.yaml").write_text(
        CLEAN.replace('"#ter_mob"', '"#never-there"').replace(
            "desktop and mobile app sessions", "never-there phrase"
        )
    )
    pages = list(map(str, DANGEROUS_PAGES))
    _, with_rules = scan_json([*pages, "--rules", str(RULES)], capsys)
    code, without = scan_json([*pages, "--rules", str(tmp_path)], capsys)
    assert code == 1
    covered = {
        (c["line"], c["id"], c["name"], c["label"]) for c in with_rules["controls"] if c["rule_id"]
    }
    flagged = {
        (c["line"], c["id"], c["name"], c["label"])
        for c in without["controls"]
        if c["status"] == "DANGEROUS"
    }
    assert covered == flagged


def test_renamed_and_reworded_box_is_reported_uncovered(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "redesign.html"
    page.write_text(REWORDED)
    code, doc = scan_json([str(page), "--rules", str(RULES)], capsys)
    assert code == 1
    status = {c["id"] or c["name"]: c["status"] for c in doc["controls"]}
    assert status == {"ter_all": "ok", "opt_2": "DANGEROUS", "opt_3": "DANGEROUS", "remember": "ok"}
    assert [(f["code"], f["line"]) for f in doc["findings"]] == [("P001", 5), ("P001", 7)]
    assert main([str(page), "--rules", str(RULES)]) == 1
    out = capsys.readouterr().out
    assert (
        f"{page}:5:1: P001 #opt_2" in out
        and "4 controls, 0 covered, 2 dangerous and uncovered" in out
    )


def test_dangerous_wording_is_named_by_the_language_with_most_of_its_words() -> None:
    # an English label was reported as "(de: api, apps, mobile)": German was the first
    # language with three of its words, though English has four
    from pwguard.scan import Vocabulary

    reasons = Vocabulary().label_reasons("sign out of all mobile apps and delete api authtokens")
    assert reasons == ("label has dangerous wording (en: api, apps, authtokens, mobile)",)


@pytest.mark.parametrize("fmt", ["sarif", "github"])
def test_scan_speaks_the_machine_formats_of_lint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    page = tmp_path / "redesign.html"
    page.write_text(REWORDED)
    assert main([str(page), "--rules", str(RULES), "--format", fmt]) == 1
    out = capsys.readouterr().out
    if fmt == "sarif":
        run = json.loads(out)["runs"][0]
        assert [r["id"] for r in run["tool"]["driver"]["rules"]] == ["P001"]
        found = [(r["ruleId"], r["level"], r["locations"][0]["physicalLocation"])
                 for r in run["results"]]
        assert [(code, level, loc["artifactLocation"]["uri"], loc["region"])
                for code, level, loc in found] == [
            ("P001", "error", str(page), {"startLine": 5, "startColumn": 1}),
            ("P001", "error", str(page), {"startLine": 7, "startColumn": 1}),
        ]
    else:
        lines = out.splitlines()
        assert [line.split("::")[1] for line in lines] == [
            f"error file={page},line=5,col=1,title=P001",
            f"error file={page},line=7,col=1,title=P001",
        ]
        assert lines[0].split("::", 2)[2].startswith("P001 #opt_2 ")


@pytest.mark.parametrize("label", [
    "Terminate all desktop and mobile application sessions.",
    "Terminate all the desktop and phone app sessions.",
    "Sign out of all Zoho apps on your phones and computers.",
])
def test_an_unknown_box_among_zohos_sign_out_choices_looks_dangerous_whatever_its_words(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], label: str
) -> None:
    # Zoho's own page, its mobile-sessions box renamed and reworded in words the vocabulary
    # does not count as dangerous: still flagged, being in the form of the sign-out choices
    page = (RULES / "fixtures" / "change-password" / "en.2025.html").read_text(encoding="utf-8")
    row_start = page.index('<div id="terminate_mob_apps"')
    row_end = page.index("</label>", row_start)
    row = page[row_start:row_end]
    new_row = (row.replace("terminate_mob_apps", "end_apps_row").replace("ter_mob", "end_apps")
               .replace("clear_mobile", "drop_apps"))
    new_row = re.sub(r'<span class="session_terminate_desc">.*?</span>', "", new_row).replace(
        "Terminate all the desktop and mobile app sessions.", label)
    (tmp_path / "redesign.html").write_text(page.replace(row, new_row), encoding="utf-8")
    code, doc = scan_json([str(tmp_path / "redesign.html"), "--rules", str(RULES)], capsys)
    box = next(c for c in doc["controls"] if c["id"] == "end_apps")
    assert box["label"] == label and box["status"] == "DANGEROUS" and code == 1, box
    assert box["reasons"] == ["one of Zoho's sign-out choices (inside #pass_esc_devices)"]
    assert [c["status"] for c in doc["controls"] if c["id"] == "ter_all"] == ["ok"]


def test_url_restricts_rules_to_their_sites(capsys: pytest.CaptureFixture[str]) -> None:
    page = str(next(p for p in DANGEROUS_PAGES if p.name.startswith("en.")))
    assert main([page, "--url", "https://accounts.zoho.eu/u/h"]) == 0
    capsys.readouterr()
    code, doc = scan_json([page, "--url", "https://example.com/", "--rules", str(RULES)], capsys)
    assert code == 1 and not any(c["rule_id"] for c in doc["controls"])


@pytest.mark.parametrize(
    "url",
    ["accounts.zoho.com/u/h", "", "http://accounts.zoho.com/u/h", "https:///u/h",
     "//accounts.zoho.com/u/h", "https://accounts.zoho.com:99999/", "https://accounts zoho.com/"],
)
def test_url_that_is_no_absolute_https_url_is_a_usage_error(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # it matched no rule's sites: every dangerous box of the page was reported uncovered
    page = str(next(p for p in DANGEROUS_PAGES if p.name.startswith("en.")))
    assert main([page, "--url", url]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.endswith(
        "error: --url must be an absolute https URL like https://accounts.zoho.com/... "
        f"(got {url!r})\n"
    )


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "missing.html")]) == 2
    assert main([]) == 2
    (tmp_path / "bad.yaml").write_text("rules: [1]\n")
    page = tmp_path / "p.html"
    page.write_text(REWORDED)
    assert main([str(page), "--rules", str(tmp_path / "bad.yaml")]) == 2
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize(
    ("page", "reason"),
    [
        ("/dev/zero", "is a character device, not a regular file; give a regular file"),
        ("fifo", "is a named pipe (FIFO), not a regular file; give a regular file"),
        ("big", "larger than 20971520 bytes"),
    ],
)
def test_page_that_is_no_regular_file_or_too_large_is_refused(
    page: str, reason: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # /dev/zero was read without a limit (2.8 GB of memory); a FIFO waited for a writer
    import os
    import threading

    if page == "fifo":
        page = str(tmp_path / "p.html")
        os.mkfifo(page)
    elif page == "big":  # sparse; its size is right but the cap must not trust it
        page = str(tmp_path / "p.html")
        with open(page, "wb") as f:
            f.truncate(20 * 1024 * 1024 + 1)
    codes: list[int] = []
    worker = threading.Thread(target=lambda: codes.append(main([page])), daemon=True)
    worker.start()
    worker.join(20)
    assert codes == [2]
    assert capsys.readouterr().err == f"pwguard scan: cannot read {page}: {reason}\n"


def test_page_read_stops_at_the_cap_whatever_its_size_says(tmp_path: Path) -> None:
    from pwguard.rules import files

    status = Path("/proc/self/status")  # a regular file whose size says 0
    assert status.stat().st_size == 0
    with pytest.raises(files.FileProblem) as info:
        files.read_limited(status, 10)
    assert info.value.too_large
    page = tmp_path / "p.html"
    page.write_bytes(b"x" * 11)
    with pytest.raises(files.FileProblem) as info:
        files.read_limited(page, 10)
    assert info.value.too_large
    assert files.read_limited(page, 11) == b"x" * 11


def test_page_name_that_is_not_utf8_is_shown_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import os

    page = tmp_path / os.fsdecode(b"p\xff.html")
    page.write_text(REWORDED)
    assert main([str(page), "--rules", str(RULES)]) == 1
    out = capsys.readouterr().out
    out.encode("utf-8")  # strict: no surrogate escapes left
    assert out.startswith(f"{tmp_path}/p\\xff.html:3: [ok] input #ter_all ")
    assert f"\n{tmp_path}/p\\xff.html:5:1: P001 #opt_2 " in out
    assert main([str(tmp_path / os.fsdecode(b"q\xff.html"))]) == 2
    assert capsys.readouterr().err == (
        f"pwguard scan: cannot read {tmp_path}/q\\xff.html: no such file or directory; "
        "check the path\n"
    )


def _pwguard(*args: str, stdout: object) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # as users run it
    exe = Path(sys.executable).with_name("pwguard")
    return subprocess.Popen(
        [str(exe), *args], env=env, stdout=stdout, stderr=subprocess.PIPE  # type: ignore[arg-type]
    )


def test_reader_that_stops_reading_ends_the_scan_quietly() -> None:
    # `pwguard scan ... | head -1` died with a BrokenPipeError traceback
    with _pwguard("scan", *map(str, FIXTURES), stdout=subprocess.PIPE) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.readline()  # the output (about 200 KB) is far over a pipe's buffer
        proc.stdout.close()
        assert (proc.wait(60), proc.stderr.read()) == (2, b"")


def test_output_that_cannot_be_written_is_said_and_exits_2() -> None:
    # `pwguard scan ... >/dev/full` died with an OSError (ENOSPC) traceback
    with open("/dev/full", "wb") as full, _pwguard("scan", str(FIXTURES[0]), stdout=full) as proc:
        assert proc.stderr is not None
        err = proc.stderr.read().decode()
        assert (proc.wait(60), err) == (
            2, "pwguard scan: cannot write the output: No space left on device\n"
        )


def test_binary_page_does_not_crash(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = tmp_path / "p.html"
    page.write_bytes(bytes(range(256)) * 4)
    assert main([str(page), "--rules", str(RULES)]) == 0


def test_vocabulary_is_fresh() -> None:
    fresh = vocab.dumps(vocab.build(ROOT / "tools" / "zoho" / "labels.tsv"))
    stale = "server/pwguard/rules/danger_vocab.py is stale: python -m pwguard.rules.vocab --write"
    assert vocab.DATA.read_text(encoding="utf-8") == fresh, stale


@pytest.mark.parametrize("url", [None, "https://example.com/"])  # all rules, none
def test_memos_kept_from_page_to_page_change_nothing(url: str | None) -> None:
    """scan_page remembers label texts (and selector candidates, danger wording) for one
    run: scanning every fixture with the memos filled by an earlier scan, or emptied before
    each page, gives the same report; clear_memo empties them."""
    from pwguard.lint import lint_paths
    from pwguard.rules.engine import Page, applicable_rules, compiled_rules
    from pwguard.scan import Vocabulary, scan_page

    ruleset = lint_paths([RULES]).ruleset
    assert ruleset is not None
    rules, words = compiled_rules(applicable_rules(ruleset, url)), Vocabulary()
    pages = [(p, p.read_bytes()) for p in FIXTURES]

    def report(fresh_each_page: bool) -> list[dict]:  # type: ignore[type-arg]
        out = []
        for path, data in pages:
            if fresh_each_page:
                rules.clear_memo()
                words.clear_memo()
            out += [c.to_dict() for c in scan_page(path, Page(data), rules, words)]
        return out

    fresh = report(True)
    report(False)  # fills the memos
    assert rules.labels and rules.plans and words.by_label
    assert report(False) == fresh
    if url is None:
        assert sum(1 for c in fresh if c["rule_id"]) > 300
    else:
        assert sum(1 for c in fresh if c["reasons"]) > 300
    rules.clear_memo()
    words.clear_memo()
    assert not rules.labels and not rules.plans and not words.by_label


def _folded_texts() -> list[str]:
    """Folded label-like texts: every text of labels.tsv, pieces of them, and joins of two."""
    from pwguard.rules.engine import fold

    rows = (ROOT / "tools" / "zoho" / "labels.tsv").read_text(encoding="utf-8").splitlines()
    texts = sorted({fold(cell) for row in rows[1:] for cell in row.split("\t")[1:]} - {""})
    pieces = [t[i : i + n] for t in texts for i, n in ((0, 12), (5, 30))]
    joins = [a + " " + b for a, b in zip(texts, reversed(texts), strict=True)]
    return texts + pieces + joins


def test_vocabulary_automaton_finds_what_the_longest_first_regex_finds() -> None:
    """Zoho's wording (the dangerous label found, or a harmless one) read from one automaton
    pass is what a plain alternation of the dangerous labels, longest first, then one of the
    harmless labels, finds (leftmost, then longest)."""
    import re

    from pwguard.scan import Vocabulary

    words = Vocabulary()
    data = vocab.load()

    def alternation(texts: list[str]) -> re.Pattern[str]:
        return re.compile("|".join(map(re.escape, sorted(texts, key=len, reverse=True))))

    dangerous = alternation(data["dangerous_labels"])
    harmless = alternation(data["harmless_labels"])
    seen = {"dangerous": 0, "harmless": 0}
    for folded in _folded_texts():
        reasons = words.label_reasons(folded)
        if hit := dangerous.search(folded):
            seen["dangerous"] += 1
            assert reasons == (f"label contains Zoho's wording {hit.group(0)[:50]!r}",), folded
        elif harmless.search(folded):
            seen["harmless"] += 1
            assert reasons is None, folded
        else:
            assert reasons is not None and not any("Zoho's wording" in r for r in reasons)
    assert seen["dangerous"] > 100 and seen["harmless"] > 50


def test_phrase_automaton_gives_the_rules_of_every_phrase_found() -> None:
    """CompiledRules.phrase_bits (one automaton pass) sets exactly the bits of the rules one
    of whose folded phrases is a substring of the label."""
    from pwguard.lint import lint_paths
    from pwguard.rules.engine import compiled_rules, folded_phrases

    ruleset = lint_paths([RULES]).ruleset
    assert ruleset is not None
    rules = compiled_rules(ruleset.rules)
    phrases = [
        [p for c in r.controls for p in folded_phrases(c.label or [])] for r in ruleset.rules
    ]
    hits = 0
    for folded in _folded_texts():
        plain = sum(1 << i for i, ps in enumerate(phrases) if any(p in folded for p in ps))
        assert rules.phrase_bits(folded) == plain, folded
        hits += plain != 0
    assert hits > 100


def test_an_mhtml_save_is_refused_with_the_format_to_save_in(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Chrome's "Webpage, Single File": quoted-printable HTML in a MIME archive, where
    # type=3D"checkbox" hides every box; it read as "0 controls", exit 0
    import quopri

    html = (RULES / "fixtures" / "change-password" / "en.2025.html").read_bytes()
    page = tmp_path / "saved.mhtml"
    page.write_bytes(
        b"From: <Saved by Blink>\r\nSnapshot-Content-Location: https://accounts.zoho.com/\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: multipart/related;\r\n\ttype=\"text/html\";\r\n"
        b"\tboundary=\"----B----\"\r\n\r\n------B----\r\nContent-Type: text/html\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n" + quopri.encodestring(html)
        + b"\r\n------B------\r\n")
    assert main([str(page)]) == 2
    assert capsys.readouterr().err == (
        f"pwguard scan: {page} is an MHTML archive (\"Webpage, Single File\"), which scan does "
        "not read: save the page as \"Webpage, Complete\" (an .html file) and scan that\n")

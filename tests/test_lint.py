"""pwguard lint: one bad rule file per code (tests/lint_cases/), file-level failures, the CLI."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from pwguard.lint import lint_paths, lint_text
from pwguard.lint.cli import main
from pwguard.lint.codes import CODES
from pwguard.rules import sites

ROOT = Path(__file__).resolve().parent.parent
CASES = Path(__file__).parent / "lint_cases"
CASE_FILES = sorted(CASES.glob("*.yaml"))
EXPECT = re.compile(r"#\s*expect:\s*(?P<codes>[A-Z0-9 ]+)$")
# codes whose bad input cannot be a committed YAML file; each has its own test below
CODES_TESTED_IN_CODE = {"F001", "F002", "F003", "F008", "F009", "U004", "E006", "E007", "P001"}


def expected(path: Path) -> set[tuple[str, int]]:
    """(code, line) pairs announced by `# expect: CODE...` comments on the offending lines."""
    out = set()
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        m = EXPECT.search(line)
        if m:
            out |= {(code, n) for code in m.group("codes").split()}
    return out


@pytest.mark.parametrize("case", CASE_FILES, ids=[p.stem for p in CASE_FILES])
def test_case_reports_exactly_its_codes_on_their_lines(case: Path) -> None:
    result = lint_paths([case])
    assert {(f.code, f.line) for f in result.findings} == expected(case)


def test_every_code_has_a_case() -> None:
    in_files = {code for case in CASE_FILES for code, _ in expected(case)}
    assert set(CODES) - in_files - CODES_TESTED_IN_CODE == set()


def test_clean_case_is_clean_and_yields_a_ruleset() -> None:
    result = lint_paths([CASES / "clean.yaml"])
    assert result.findings == [] and result.ruleset is not None
    assert [r.id for r in result.ruleset.rules] == ["mobile-sessions"]


def test_silence_with_a_reason_drops_only_that_finding() -> None:
    result = lint_paths([CASES / "silenced_with_reason.yaml"])
    assert result.findings == []
    text = (CASES / "silenced_with_reason.yaml").read_text()
    unsilenced = re.sub(r"  # pwguard: .*", "", text)
    assert [f.code for f in lint_text(unsilenced, "x.yaml", CASES / "fixtures").findings] == [
        "R001"
    ]


def test_repo_ruleset_is_clean() -> None:
    assert main(["rules"]) == 0


def test_a_rule_file_with_windows_line_ends_has_no_carriage_return_in_its_messages(
    tmp_path: Path,
) -> None:
    # M007 flags a carriage return in a message; YAML reads a CRLF file's line ends (and a
    # folded block's) as line feeds, so a file saved on Windows stays clean
    text = (CASES / "M007_message_carriage_return.yaml").read_text(encoding="utf-8")
    text = text.replace("\\r", "").replace("  # expect: M007", "")
    (tmp_path / "r.yaml").write_bytes(text.replace("\n", "\r\n").encode("utf-8"))
    shutil.copytree(CASES / "fixtures", tmp_path / "fixtures")
    result = lint_paths([tmp_path / "r.yaml"])
    assert result.findings == [] and result.ruleset is not None
    assert result.ruleset.rules[0].message["de"] == "Dieses Kästchen nicht ankreuzen.\n"


# --- file-level problems ---------------------------------------------------------------


def codes_lines(result: object) -> list[tuple[str, int]]:
    return [(f.code, f.line) for f in result.findings]  # type: ignore[attr-defined]


def test_binary_file_is_F002(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_bytes(b"rules:\n  - \x00\x01")
    assert codes_lines(lint_paths([tmp_path])) == [("F002", 2)]


def test_invalid_utf8_is_F002_on_its_line(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_bytes(b"rules:\n\n  - id: caf\xe9\n")
    result = lint_paths([tmp_path / "r.yaml"])
    assert codes_lines(result) == [("F002", 3)]
    assert result.findings[0].col == 12


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32"])
def test_utf16_or_utf32_file_is_F002_saying_to_save_it_as_utf8(
    encoding: str, tmp_path: Path
) -> None:
    # Windows Notepad's "Unicode" is UTF-16: it was called a binary file (NUL byte)
    (tmp_path / "r.yaml").write_bytes((CASES / "clean.yaml").read_text().encode(encoding))
    result = lint_paths([tmp_path / "r.yaml"])
    assert [(f.code, f.line, f.message) for f in result.findings] == [
        ("F002", 1, f"{encoding.upper()} text (byte order mark); save the file as UTF-8")
    ]


def test_oversized_file_is_F003(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_bytes(b"rules: []\n" + b"#" * (1024 * 1024 + 1))
    assert codes_lines(lint_paths([tmp_path])) == [("F003", 1)]
    assert codes_lines(lint_text("x" * (1024 * 1024 + 1), "big.yaml")) == [("F003", 1)]


def test_unreadable_file_is_F001(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").symlink_to(tmp_path / "missing.yaml")
    assert [f.code for f in lint_paths([tmp_path / "r.yaml"]).findings] == ["F001"]


def test_unreadable_file_exits_2_as_an_io_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # exists, but reading it fails (EIO): the way a failing disk or network share looks
    (tmp_path / "r.yaml").symlink_to("/proc/self/mem")
    code = main([str(tmp_path / "r.yaml")])
    out = capsys.readouterr().out
    assert (code, "F001" in out) == (2, True), out


def _rules_folder_with(tmp_path: Path, name: str, make: object) -> Path:
    """A rules folder holding clean.yaml, its fixtures, and `name` made by make(path)."""
    shutil.copy(CASES / "clean.yaml", tmp_path / "a.yaml")
    (tmp_path / "fixtures").symlink_to(CASES / "fixtures")
    make(tmp_path / name)  # type: ignore[operator]
    return tmp_path


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: p.symlink_to("/nonexistent"),
         "broken symbolic link (to '/nonexistent', which does not exist); fix or remove the link"),
        (lambda p: (p.symlink_to(p.with_name("c.link")), p.with_name("c.link").symlink_to(p)),
         "symbolic link loop (too many levels of symbolic links); fix or remove the link"),
        (lambda p: p.mkdir(), "is a directory; give a regular file"),
    ],
    ids=["dangling-link", "link-loop", "directory"],
)
def test_rule_file_entry_that_cannot_be_read_is_F001_with_its_reason(
    make: object, reason: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # it was skipped: serve, publish and export shipped the ruleset without that rule
    folder = _rules_folder_with(tmp_path, "b.yaml", make)
    result = lint_paths([folder])
    assert [(Path(f.path).name, f.code, f.line) for f in result.findings] == [("b.yaml", "F001", 1)]
    assert result.findings[0].message == f"cannot read b.yaml: {reason}"
    assert result.ruleset is None
    assert main([str(folder)]) == 2
    out, err = capsys.readouterr()
    assert reason in out and err == ""
    if (folder / "b.yaml").is_symlink():  # named, the same reason (it said "no such file")
        assert main([str(folder / "b.yaml")]) == 2
        out, err = capsys.readouterr()
        assert reason in out and err == ""


def test_emacs_lock_link_is_not_a_rule_file(tmp_path: Path) -> None:
    folder = _rules_folder_with(tmp_path, ".#a.yaml", lambda p: p.symlink_to("me@host.123"))
    assert lint_paths([folder]).findings == []


def test_named_pipe_is_F001_without_waiting_for_a_writer(tmp_path: Path) -> None:
    import os
    import threading

    os.mkfifo(tmp_path / "r.yaml")
    done: list[object] = []
    worker = threading.Thread(target=lambda: done.append(lint_paths([tmp_path])), daemon=True)
    worker.start()
    worker.join(10)
    assert done, "lint waited on the FIFO"
    assert [(f.code, f.message) for f in done[0].findings] == [  # type: ignore[attr-defined]
        ("F001", "cannot read r.yaml: is a named pipe (FIFO), not a regular file; "
         "give a regular file")
    ]


@pytest.mark.parametrize(
    ("make", "code", "message"),
    [
        (lambda p: p.mkdir(), "F001", "cannot read x.html: is a directory; give a regular file"),
        (lambda p: p.symlink_to("/nonexistent"), "F001",
         "cannot read x.html: broken symbolic link (to '/nonexistent', which does not exist); "
         "fix or remove the link"),
        (lambda p: p.symlink_to(p), "F001", "cannot read x.html: symbolic link loop "
         "(too many levels of symbolic links); fix or remove the link"),
        (__import__("os").mkfifo, "F001",
         "cannot read x.html: is a named pipe (FIFO), not a regular file; give a regular file"),
        (lambda p: p.write_bytes(b"<html>" + b" " * (20 * 1024 * 1024)), "F003",
         "page is over the 20971520-byte limit; save a smaller page"),
    ],
    ids=["directory", "dangling-link", "link-loop", "fifo", "too-large"],
)
def test_fixture_page_that_cannot_be_read_is_reported_on_it(
    make: object, code: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # lint, scan, serve and export died with a traceback (IsADirectoryError, FileNotFoundError,
    # OSError 40) and a page of any size was read whole
    shutil.copytree(CASES / "fixtures", tmp_path / "fixtures")
    shutil.copy(CASES / "clean.yaml", tmp_path / "r.yaml")
    make(tmp_path / "fixtures" / "harmless" / "x.html")  # type: ignore[operator]
    result = lint_paths([tmp_path])
    assert [(f.path, f.code, f.line, f.message) for f in result.findings] == [
        (str(tmp_path / "fixtures" / "harmless" / "x.html"), code, 1, message)
    ]
    assert main([str(tmp_path)]) == (2 if code == "F001" else 1)
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize(
    "make", [lambda p: p.mkdir(), lambda p: p.symlink_to("/nonexistent")], ids=["dir", "link"]
)
def test_harmless_controls_file_that_cannot_be_read_is_F001(make: object, tmp_path: Path) -> None:
    # a broken link was taken for "no such file": the harmless selectors silently ignored
    shutil.copytree(CASES / "fixtures", tmp_path / "fixtures")
    shutil.copy(CASES / "clean.yaml", tmp_path / "r.yaml")
    (tmp_path / "fixtures" / "harmless-controls.txt").unlink()
    make(tmp_path / "fixtures" / "harmless-controls.txt")  # type: ignore[operator]
    result = lint_paths([tmp_path])
    assert [(Path(f.path).name, f.code) for f in result.findings] == [
        ("harmless-controls.txt", "F001")
    ]
    assert result.findings[0].message.startswith("cannot read harmless-controls.txt: ")


def test_folder_without_rule_files_is_F008(tmp_path: Path) -> None:
    (tmp_path / "schema.json").write_text("{}")
    assert [f.code for f in lint_paths([tmp_path]).findings] == ["F008"]


def test_ruleset_without_rules_is_F008(tmp_path: Path) -> None:
    # the extension refuses a payload with no rules: the gate must refuse it first
    (tmp_path / "r.yaml").write_text("rules: []\n")
    assert codes_lines(lint_paths([tmp_path])) == [("F008", 1)]
    assert codes_lines(lint_text('{"rules": []}', "x.json")) == [("F008", 1)]
    assert lint_text("rules: []", "x.yaml").ruleset is None


def big_ruleset(rules: int) -> str:
    """A small file whose anchor repeats one long label list in every rule: 100 phrases of
    ~120 characters make ~12 KB of payload a rule."""
    phrases = [" ".join(f"w{n}x{k}{'q' * 14}" for k in range(6)) for n in range(100)]
    head = ["rules:"]
    for r in range(rules):
        head += [f"  - id: big-{r}", f"    title: Big rule {r}",
                 "    why: Checks that the linter refuses what the extension would refuse.",
                 "    action: block", '    sites: ["https://accounts.zoho.com/*"]',
                 "    message: {en: Leave this box unticked, es: Deje esta casilla sin marcar}",
                 "    help: https://{host}/u/h#sessions", "    controls:"]
        if r == 0:
            head += ["      - label: &phrases"] + [f"          - {p}" for p in phrases]
        else:
            head += ["      - label: *phrases"]
    return "\n".join(head) + "\n"


def test_rules_whose_signed_bundle_the_extension_would_refuse_are_F009(tmp_path: Path) -> None:
    # the extension refuses a rules answer over 1 MiB (background.js MAX_BODY_BYTES): a ruleset
    # that linted clean but signed bigger was served and refused by every browser at every
    # sync (anchors, or several files each under F003's limit, get there)
    (tmp_path / "r.yaml").write_text(big_ruleset(90))
    found = [f for f in lint_paths([tmp_path]).findings if f.severity == "error"]
    # at the rule that takes the most of the bundle (the longest id, the rules being alike
    # else), not at line 1 of the first file, which may hold no rules at all
    line = big_ruleset(90).splitlines().index("  - id: big-10") + 1
    assert [(f.code, f.line, f.col) for f in found] == [("F009", line, 5)]
    assert "over the extension's 1048576-byte limit" in found[0].message
    assert found[0].message.endswith("; the largest rule, big-10 (here), takes 12462 bytes of it")
    assert [f.code for f in lint_text(big_ruleset(90), "r.yaml").errors] == ["F009"]
    # F findings cannot be silenced nor left out
    assert "F009" in {f.code for f in lint_paths([tmp_path], ignore=("F",)).findings}
    # 80 such rules sign to less than 1 MiB: no F009
    assert "F009" not in {f.code for f in lint_text(big_ruleset(80), "r.yaml").findings}


@pytest.mark.parametrize(
    "path", ["*/closesession?x=1", "*/closesession#top", "/cuenta/contraseña", "/a b/*"]
)
def test_request_path_that_no_url_path_can_match_is_R002(path: str) -> None:
    # the extension globs `new URL(url).pathname`: no query or fragment, percent-encoded
    clean = (CASES / "clean.yaml").read_text()
    line = f"      path: {json.dumps(path, ensure_ascii=False)}"
    text = re.sub(r"(?m)^      path: .*$", lambda _: line, clean, count=1)
    assert text != clean and lint_text(clean, "x.yaml", CASES / "fixtures").findings == []
    result = lint_text(text, "x.yaml", CASES / "fixtures")
    assert [f.code for f in result.findings] == ["R002"]
    assert result.findings[0].line == text.splitlines().index(line) + 1


@pytest.mark.parametrize(
    "site", ["https://accounts.zoho.com\\n/*", "https://accounts.zoho.com:\u0663/*"],
    ids=["newline-in-host", "non-ascii-digit-port"],
)
def test_site_the_extension_would_refuse_is_U001(site: str) -> None:
    # engine.js parse_pattern refuses these (JS `$` and [0-9]); one bad site fails a whole sync
    clean = (CASES / "clean.yaml").read_text()
    text = clean.replace("      - https://accounts.zoho.com/*", f'      - "{site}"', 1)
    assert text != clean
    assert codes_lines(lint_text(text, "x.yaml", CASES / "fixtures")) == [("U001", 7)]


@pytest.mark.parametrize(
    "site",
    ["https://accounts.zoho.com/#security", "https://accounts.zoho.com/u/h *",
     "https://accounts.zoho.com/contraseña/*", 'https://accounts.zoho.com/"x"*'],
    ids=["fragment", "space", "non-ascii", "quote"],
)
def test_site_whose_path_no_url_can_have_is_U001(site: str) -> None:
    # the extension matches a site's path against the URL's `pathname + search`, which never
    # holds a fragment, a space or a non-ASCII character (browsers percent-encode them): the
    # rule never ran, and lint said nothing
    clean = (CASES / "clean.yaml").read_text()
    text = clean.replace("      - https://accounts.zoho.com/*", f"      - {json.dumps(site)}", 1)
    assert text != clean
    result = lint_text(text, "x.yaml", CASES / "fixtures")
    assert codes_lines(result) == [("U001", 7)]
    assert "can never match a URL" in result.findings[0].message
    query = clean.replace("https://accounts.zoho.com/*", "https://accounts.zoho.com/*?lang=es", 1)
    assert lint_text(query, "x.yaml", CASES / "fixtures").findings == []  # a query can match


@pytest.mark.parametrize(
    ("help_", "says"),
    [
        ("https://{host}/u/h\n#sessions", "holds white space or a control character"),
        ("https://{host}/u/h\t", "holds white space or a control character"),
        ("https://{host}/u/h\x7f", "holds white space or a control character"),
        ("https://{{host}}/u/h", "its host '{accounts.zoho.com}' is not a host name"),
        ("https://{host/u/h", "its host '{host' is not a host name"),
    ],
    ids=["newline", "tab", "delete", "double-braces", "unclosed-brace"],
)
def test_help_link_that_is_not_the_one_written_is_H001(help_: str, says: str) -> None:
    # only a plain space was refused: browsers drop a tab or line break from a URL, and a
    # brace left in the host made a link to no host at all; lint was clean
    clean = (CASES / "clean.yaml").read_text()
    text = clean.replace("help: https://{host}/u/h#sessions", f"help: {json.dumps(help_)}", 1)
    assert text != clean
    result = lint_text(text, "x.yaml", CASES / "fixtures")
    assert codes_lines(result) == [("H001", 19)]
    assert says in result.findings[0].message


@pytest.mark.parametrize(
    ("old", "new", "code"),
    [
        ('selector: "#ter_mob"', 'selector: "' + "#a:checked," * 40000 + '#a"', "C001"),
        ("- desktop and mobile app sessions", "- " + "terminate all sessions " * 20000, "L003"),
        ("- https://accounts.zoho.com/*", "- https://accounts.zoho.com/" + "a " * 200000, "U001"),
        ("- https://accounts.zoho.com/*", "- https://" + "A" * 400000 + "/*", "U001"),
        ('path: "*/closesession"', 'path: "' + "/?" * 200000 + '"', "R002"),
        ("match: [change-password.html]", "match: [" + "x" * 400000 + "]", "E001"),
        ("    action: block\n", "    action: block\n    ? " + "k" * 400000 + "\n    : 1\n", "S001"),
    ],
    ids=["selector", "phrase", "site-path", "site-host", "request-path", "example", "field"],
)
def test_a_huge_value_is_quoted_cut_in_its_finding(old: str, new: str, code: str) -> None:
    # the whole value went into the message: a 600 KB finding line (and 422 body)
    clean = (CASES / "clean.yaml").read_text()
    text = clean.replace(old, new, 1)
    assert text != clean
    result = lint_text(text, "x.yaml", CASES / "fixtures")
    found = [f for f in result.findings if f.code == code]
    assert found, result.findings
    assert all(len(f.message) < 600 for f in result.findings), [
        (f.code, len(f.message)) for f in result.findings
    ]
    assert "characters)" in found[0].message


def test_json_true_field_with_a_trailing_newline_is_R004() -> None:
    # the extension compares keys exactly: "rmappses\n" would guard nothing
    clean = (CASES / "clean.yaml").read_text()
    text = clean.replace("json_true: [rmappses]", 'json_true: ["rmappses\\n"]', 1)
    assert text != clean
    assert codes_lines(lint_text(text, "x.yaml", CASES / "fixtures")) == [("R004", 15)]


def test_lone_surrogate_escape_is_F002_on_its_line() -> None:
    # "\ud800" is valid YAML/JSON escape syntax but not Unicode: the payload cannot be UTF-8
    clean = (CASES / "clean.yaml").read_text()
    text = clean.replace("- desktop and mobile app sessions", '- "\\ud800 mobile sessions"', 1)
    assert text != clean
    assert codes_lines(lint_text(text, "x.yaml", CASES / "fixtures")) == [("F002", 11)]
    assert codes_lines(lint_text('{"rules": [{"id": "a\\udfffb"}]}', "x.json")) == [("F002", 1)]
    # a pair of escapes is one character (json.dumps writes emoji that way): accepted
    paired = clean.replace("en: Don't tick this box.", 'en: "Stop \\ud83d\\uded1"', 1)
    result = lint_text(paired, "x.yaml", CASES / "fixtures")
    assert result.findings == [] and result.ruleset is not None
    assert result.ruleset.rules[0].message["en"] == "Stop \U0001f6d1"


def test_a_file_named_twice_is_linted_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # `pwguard lint rules rules/zoho.yaml` reported every id of zoho.yaml as a duplicate (S006)
    monkeypatch.chdir(CASES.parent)
    case = "lint_cases/clean.yaml"
    result = lint_paths(["lint_cases/clean.yaml", case, "./" + case, CASES / "clean.yaml"])
    assert result.findings == [] and result.files == [case]
    assert result.ruleset is not None and len(result.ruleset.rules) == 1


@pytest.mark.parametrize("pattern", [".", "./", "./.", ""])
def test_example_naming_the_fixtures_folder_itself_is_E005(pattern: str) -> None:
    clean = (CASES / "clean.yaml").read_text()
    text = clean.replace("match: [change-password.html]", f"match: [{pattern!r}]", 1)
    assert text != clean
    assert codes_lines(lint_text(text, "x.yaml", CASES / "fixtures")) == [("E005", 21)]


def test_example_naming_a_link_out_of_fixtures_says_so(tmp_path: Path) -> None:
    # it said "matches no file" of a page that is there, as a link to a file outside
    shutil.copytree(CASES / "fixtures", tmp_path / "fixtures")
    (tmp_path / "fixtures" / "out.html").symlink_to("/etc/passwd")
    clean = (CASES / "clean.yaml").read_text()
    text = clean.replace("match: [change-password.html]", "match: [out.html]", 1)
    result = lint_text(text, "x.yaml", tmp_path / "fixtures")
    assert [(f.code, f.line, f.message) for f in result.findings] == [
        ("E001", 21, f"'out.html' names only files outside {tmp_path / 'fixtures'} (symbolic "
         "links that leave it, which are not read); copy the pages into it")
    ]


def test_yaml_merge_key_is_F004_saying_it_is_not_supported() -> None:
    text = "base: &b {action: block}\nrules:\n  - <<: *b\n    id: x\n"
    result = lint_text(text, "x.yaml")
    assert codes_lines(result) == [("F004", 3)]
    assert result.findings[0].message == (
        "YAML merge keys (`<<:`) are not supported: write the fields out in each rule"
    )


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ("!!python/object:os.system {id: x}", "!!python/object:os.system"),
        ("!foo {id: x}", "!foo"),
        ("!!set {id, x}", "!!set"),
        ("!!omap [id: x]", "!!omap"),
    ],
)
def test_tag_on_a_mapping_or_list_is_F004_not_dropped(written: str, shown: str) -> None:
    # a tag on a scalar was refused (SafeLoader), one on a mapping or list was dropped: the
    # value was read as if the tag were not there, and a tagged rule passed the gate
    clean = (CASES / "clean.yaml").read_text()
    rule = "  - id: mobile-sessions\n"
    text = clean.replace(rule, f"  - {written}\n{rule}", 1)
    assert text != clean
    result = lint_text(text, "x.yaml", CASES / "fixtures")
    assert [(f.code, f.line, f.col) for f in result.findings] == [("F004", 2, 5)]
    assert result.findings[0].message == (
        f"unsupported YAML tag `{shown}`: remove it (rule files are plain mappings and lists)"
    )
    assert result.ruleset is None
    # the tag on the rule itself, or on `rules:`
    tagged = clean.replace(rule, "  - !!python/object:x\n    id: mobile-sessions\n", 1)
    assert codes_lines(lint_text(tagged, "x.yaml", CASES / "fixtures")) == [("F004", 2)]
    tagged = clean.replace("rules:\n", "rules: !!python/object/apply:os.system\n", 1)
    assert codes_lines(lint_text(tagged, "x.yaml", CASES / "fixtures")) == [("F004", 1)]


@pytest.mark.parametrize(
    ("text", "where", "fix"),
    [
        ("rules:\n\t- id: x\n", (2, 1), "; write spaces instead of the tab"),
        ("rules:\n  - id:\tx\n", (2, 8), "; write spaces instead of the tab"),
        ("rules: []\n---\nrules: []\n", (2, 1),
         "; a rule file is one document: put every rule in one `rules:` list and remove the "
         "`---` line"),
        ("rules:\n  - id: 1" + "0" * 5000 + "\n", (2, 9),
         "invalid YAML value: a number of more than 4300 digits; quote it if it is text"),
    ],
    ids=["tab-indent", "tab-after-colon", "two-documents", "huge-number"],
)
def test_careless_yaml_is_F004_saying_what_to_do(
    text: str, where: tuple[int, int], fix: str
) -> None:
    # the YAML error alone ("found character '\t' that cannot start any token", "expected a
    # single document in the stream") said what was wrong but not what to write; a number
    # too long for Python advised calling sys.set_int_max_str_digits()
    result = lint_text(text, "x.yaml")
    assert [(f.code, f.line, f.col) for f in result.findings] == [("F004", *where)]
    assert result.findings[0].message.endswith(fix)


def test_bom_and_json_are_accepted() -> None:
    text = (CASES / "clean.yaml").read_text()
    assert lint_text("\ufeff" + text, "x.yaml", CASES / "fixtures").findings == []
    import yaml

    as_json = json.dumps(yaml.safe_load(text), indent="\t")
    result = lint_text(as_json.encode(), "x.json", CASES / "fixtures")
    assert result.findings == [] and result.ruleset is not None


def _tab_json(replace: tuple[str, str]) -> str:
    import yaml

    text = json.dumps(yaml.safe_load((CASES / "clean.yaml").read_text()), indent="\t")
    assert replace[0] in text
    return text.replace(*replace, 1)


def test_tab_indented_json_keeps_duplicate_keys_and_positions() -> None:
    # YAML refuses the tabs; the JSON fallback kept the last of two keys and put every
    # finding at 1:1
    dup = _tab_json(('"action": "block",', '"action": "block",\n\t\t\t"action": "warn",'))
    result = lint_text(dup, "x.json", CASES / "fixtures")
    assert [(f.code, f.line, f.col) for f in result.findings] == [("F005", 8, 4)]
    assert result.findings[0].message == "duplicate key 'action' (first at line 7); keep one"
    typo = _tab_json(('"action": "block",', '"acton": "block",'))
    result = lint_text(typo, "x.json", CASES / "fixtures")
    assert [(f.code, f.line, f.col) for f in result.findings] == [("S001", 7, 4)]


@pytest.mark.parametrize(
    ("key", "shown"),
    [("2024-01-01", '"2024-01-01"'), ("2024-01-01 10:00:00", '"2024-01-01 10:00:00"'),
     ("!!binary aGVsbG8=", '"aGVsbG8="'), ("!!str 5", '"5"')],
)
def test_a_key_yaml_reads_as_a_date_or_bytes_is_named_as_written_where_it_is(key, shown) -> None:
    # `2024-01-01:` was reported at the rule's first line as
    # S003 `"datetime.date(2024, 1, 1)"`: keys should be strings (got date)
    text = (CASES / "clean.yaml").read_text().replace(
        "    action: block\n", f"    action: block\n    {key}: x\n", 1)
    result = lint_text(text, "x.yaml", CASES / "fixtures")
    assert [(f.code, f.line, f.col) for f in result.findings] == [("S001", 6, 5)]
    assert result.findings[0].message.startswith(f"unknown field `{shown}`")
    assert "datetime" not in result.findings[0].message and result.ruleset is None


def test_json_that_yaml_refuses_still_reports_duplicate_keys() -> None:
    # a key over YAML's 1024-character limit for simple keys: read as JSON, without positions
    key = json.dumps("k" * 1100)
    result = lint_text(f'{{"rules": [], {key}: 1, {key}: 2}}', "x.json")
    assert codes_lines(result) == [("F005", 1)] and result.ruleset is None


def test_a_file_of_many_rules_is_linted_in_time_linear_in_its_size() -> None:
    # the positions of each rule were picked out of every position of the file: quadratic,
    # 16000 one-line rules (160 KB, far under the size limit) kept lint and the server's PUT
    # gate busy for over a minute
    import time

    start = time.monotonic()
    result = lint_text("rules:\n" + "- {id: a}\n" * 16000, "x.yaml")
    assert time.monotonic() - start < 20
    assert result.ruleset is None
    last = max(result.findings, key=lambda f: f.line)
    assert (last.code, last.line, last.col) == ("S002", 16001, 3)


def _rules_naming_every_page(count: int) -> str:
    rule = (CASES / "clean.yaml").read_text().split("rules:\n", 1)[1]
    every = "    examples: {match: ['**/*.html'], no_match: ['**/*.html']}\n"
    rule = re.sub(r"(?s)    examples:.*", lambda _: every, rule)
    return "rules:\n" + "".join(rule.replace("mobile-sessions", f"r{i}") for i in range(count))


def test_examples_naming_too_many_pages_in_all_are_E007_and_lint_stops_checking_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a 60-byte `examples: {match: ['**/*.html']}` names every fixture page: a file of a few
    # thousand such rules kept lint and the PUT gate busy for minutes and wrote a finding per
    # rule and page (over a million)
    from pwguard.lint import check_examples

    monkeypatch.setattr(check_examples, "MAX_PAGE_CHECKS", 7)  # 3 pages a pattern here
    text = _rules_naming_every_page(3)
    result = lint_text(text, "x.yaml", CASES / "fixtures")
    # the third pattern (the second rule's `match`) takes it to 9 pages
    line = [n for n, t in enumerate(text.splitlines(), 1) if "examples:" in t][1]
    e007 = [f for f in result.findings if f.code == "E007"]
    assert [(f.line, f.col) for f in e007] == [(line, 24)]
    assert e007[0].message.startswith("the examples name more than 7 pages in all")
    assert all(f.line < line for f in result.findings if f.code in ("E002", "E003"))


def test_examples_naming_every_page_of_the_repo_fixtures_stop_at_the_limit() -> None:
    import time

    start = time.monotonic()
    result = lint_text(_rules_naming_every_page(400), "x.yaml")  # the repo's rules/fixtures
    assert time.monotonic() - start < 30
    assert [f.code for f in result.findings].count("E007") == 1


def test_duplicate_ids_across_files_are_S006(tmp_path: Path) -> None:
    text = (CASES / "clean.yaml").read_text()
    for name in ("a.yaml", "b.yaml"):
        (tmp_path / name).write_text(text)
    (tmp_path / "fixtures").symlink_to(CASES / "fixtures")
    result = lint_paths([tmp_path])
    assert [(Path(f.path).name, f.code, f.line) for f in result.findings] == [("b.yaml", "S006", 2)]
    assert result.ruleset is None


def test_pattern_outside_host_permissions_is_U004(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sites, "OPTIONAL_HOSTS", ())
    text = (
        (CASES / "clean.yaml")
        .read_text()
        .replace(
            "      - https://accounts.zoho.com/*\n",
            "      - https://accounts.zoho.com/*\n      - https://accounts.example.com/*\n",
        )
    )
    assert codes_lines(lint_text(text, "x.yaml", CASES / "fixtures")) == [("U004", 8)]


def test_lint_text_without_fixtures_folder_skips_example_files(tmp_path: Path) -> None:
    text = (CASES / "clean.yaml").read_text()
    assert lint_text(text, "x.yaml", tmp_path / "none").errors != []  # examples missing: E001
    result = lint_text(text, "x.yaml", CASES / "fixtures")
    assert result.errors == [] and result.ruleset is not None


def test_errors_gate_but_warnings_do_not() -> None:
    result = lint_paths([CASES / "M002_no_es.yaml"])
    assert result.errors == [] and [f.severity for f in result.warnings] == ["warning"]
    assert main([str(CASES / "M002_no_es.yaml")]) == 1
    assert main([str(CASES / "M002_no_es.yaml"), "--ignore", "M002"]) == 0


# --- CLI ---------------------------------------------------------------------------------


def test_text_output_is_path_line_col_code_message(capsys: pytest.CaptureFixture[str]) -> None:
    case = CASES / "R002_bad_path.yaml"
    assert main([str(case)]) == 1
    assert (
        capsys.readouterr().out
        == f"{case}:14:13: R002 path 'closesession' must start with `/` or `*`\n"
    )


@pytest.mark.parametrize(
    ("comment", "message"),
    [
        ("# pwguard: ignore[] legacy",
         "`pwguard: ignore[]` names no code; write the code it silences, e.g. ignore[L002]"),
        ("# pwguard: ignore[ , ] legacy",
         "`pwguard: ignore[]` names no code; write the code it silences, e.g. ignore[L002]"),
        ("# pwguard: ignore[R001 M002] legacy",
         "unknown code 'R001 M002' in a silencing comment; separate codes with commas"),
    ],
    ids=["empty", "only-commas", "space-separated"],
)
def test_silence_that_silences_nothing_says_why(comment: str, message: str) -> None:
    # `ignore[] reason` silenced nothing and said nothing: the finding stayed with no word
    # about the comment meant to hide it
    clean = (CASES / "clean.yaml").read_text()
    text = clean.replace("method: PUT", f"method: GET  {comment}", 1)
    result = lint_text(text, "x.yaml", CASES / "fixtures")
    assert [(f.code, f.line, f.message) for f in result.findings] == [
        ("R001", 13, "method 'GET' must be one of PUT, POST, PATCH, DELETE"),
        ("I002", 13, message),
    ]


def test_select_and_ignore_by_prefix(capsys: pytest.CaptureFixture[str]) -> None:
    case = str(CASES / "I001_silence_without_reason.yaml")
    assert main([case, "--select", "R"]) == 1
    assert " R001 " in capsys.readouterr().out
    assert main([case, "--select", "R,I00", "--ignore", "I"]) == 1
    assert ": I001 " not in capsys.readouterr().out
    assert main([case, "--ignore", "R001,I"]) == 0


def test_findings_that_stop_loading_are_not_silenced(capsys: pytest.CaptureFixture[str]) -> None:
    # silenced, the rules looked clean (exit 0) while serve, publish and scan refused them
    case = CASES / "S001_cannot_be_silenced.yaml"
    result = lint_paths([case])
    assert codes_lines(result) == [("S001", 6)] and result.ruleset is None
    assert result.findings[0].message.endswith(
        "(not silenced: the rules cannot load with it; fix it)"
    )
    assert main([str(case)]) == 1


@pytest.mark.parametrize("flag", [["--ignore", "F"], ["--ignore", "F001"], ["--select", "L"]])
def test_select_and_ignore_never_hide_an_unreadable_file(
    flag: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "r.yaml").symlink_to("/proc/self/mem")  # exists, reading it fails (EIO)
    assert main([*flag, str(tmp_path / "r.yaml")]) == 2
    assert " F001 cannot read " in capsys.readouterr().out


@pytest.mark.parametrize("flag", [["--ignore", "S"], ["--select", "L"], ["--ignore", "S001"]])
def test_select_and_ignore_never_hide_findings_that_stop_loading(
    flag: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    case = CASES / "S001_unknown_field.yaml"
    assert codes_lines(lint_paths([case], select=["L"], ignore=["S"])) == [("S001", 6)]
    assert main([*flag, str(case)]) == 1
    assert ": S001 unknown field" in capsys.readouterr().out


def test_explain_says_which_findings_are_always_reported(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for code in ("F001", "S001"):
        assert main(["--explain", code]) == 0
        assert "a silencing comment does not hide them" in capsys.readouterr().out
    assert main(["--explain", "L002"]) == 0
    assert "always reported" not in capsys.readouterr().out


@pytest.mark.parametrize("fmt", ["json", "sarif", "github"])
def test_machine_formats(fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    case = CASES / "H002_unknown_placeholder.yaml"
    assert main([str(case), "--format", fmt]) == 1
    out = capsys.readouterr().out
    if fmt == "json":
        assert [(d["code"], d["line"], d["col"]) for d in json.loads(out)] == [("H002", 19, 11)]
    elif fmt == "sarif":
        run = json.loads(out)["runs"][0]
        assert run["tool"]["driver"]["rules"][0]["id"] == "H002"
        region = run["results"][0]["locations"][0]["physicalLocation"]["region"]
        assert region == {"startLine": 19, "startColumn": 11}
    else:
        assert out.startswith(
            f"::error file={case},line=19,col=11,title=H002::H002 unknown placeholder"
        )


def test_sarif_locations_are_uri_references(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # SARIF's artifactLocation.uri is a URI: a space or `%` in a path must be percent-encoded
    folder = tmp_path / "my rules"
    folder.mkdir()
    shutil.copy(CASES / "H002_unknown_placeholder.yaml", folder / "100%.yaml")
    assert main([str(folder / "100%.yaml"), "--format", "sarif"]) == 1
    run = json.loads(capsys.readouterr().out)["runs"][0]
    uri = run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == f"{tmp_path}/my%20rules/100%25.yaml"


@pytest.mark.parametrize("fmt", ["text", "json", "github", "sarif"])
def test_file_name_that_is_not_utf8_is_shown_escaped(
    fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # sarif died in quote() (UnicodeEncodeError), every format at stdout.write when stdout
    # is strict UTF-8, and json wrote a raw 0xff byte
    import os

    name = os.fsdecode(b"bad\xff.yaml")
    shutil.copy(CASES / "H002_unknown_placeholder.yaml", tmp_path / name)
    assert main([str(tmp_path / name), "--format", fmt, "--select", "H"]) == 1
    out = capsys.readouterr().out
    out.encode("utf-8")  # strict: no surrogate escapes left
    shown = f"{tmp_path}/bad\\xff.yaml"
    if fmt == "text":
        assert out.startswith(f"{shown}:19:11: H002 ")
    elif fmt == "json":
        assert [d["path"] for d in json.loads(out)] == [shown]
    elif fmt == "github":
        assert out.startswith(f"::error file={shown},line=19")
    else:
        result = json.loads(out)["runs"][0]["results"][0]
        uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert uri == f"{tmp_path}/bad%FF.yaml"  # the name's bytes, percent-encoded


def test_field_name_with_a_newline_cannot_forge_a_finding_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "r.yaml").write_text(
        'rules: []\n"x\\nother.yaml:9:9: S999 injected": 1\n'
        "  # a key with control characters: \n"
    )
    (tmp_path / "s.yaml").write_text((CASES / "S001_unknown_field.yaml").read_text().replace(
        "acton: block", '"act\\u0085on\\r": block'
    ))
    assert main([str(tmp_path / "r.yaml"), str(tmp_path / "s.yaml")]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{tmp_path}/r.yaml:2:1: S001 unknown top-level field "
        '`"x\\nother.yaml:9:9: S999 injected"`',
        f"{tmp_path}/s.yaml:6:5: S001 unknown field `"
        '"act\\x85on\\r"`; did you mean `action`?',
    ]


@pytest.mark.parametrize(
    "argv", [["tests/lint_cases/H002_unknown_placeholder.yaml"], ["--list-codes"]]
)
def test_lint_output_that_cannot_be_written_is_said_and_exits_2(argv: list[str]) -> None:
    # `pwguard lint X >/dev/full` died with an OSError (ENOSPC) traceback
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    exe = Path(sys.executable).with_name("pwguard")
    with open("/dev/full", "wb") as full:
        proc = subprocess.run(
            [str(exe), "lint", *argv], stdout=full, stderr=subprocess.PIPE, env=env,
            cwd=CASES.parent.parent, check=False, timeout=60,
        )
    assert (proc.returncode, proc.stderr.decode()) == (
        2, "pwguard lint: cannot write the output: No space left on device\n"
    )


def test_output_in_an_encoding_that_cannot_hold_it_is_escaped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io
    import sys

    shutil.copy(CASES / "H002_unknown_placeholder.yaml", tmp_path / "reglas-ñ.yaml")
    stream = io.TextIOWrapper(io.BytesIO(), encoding="ascii")  # PYTHONIOENCODING=ascii
    monkeypatch.setattr(sys, "stdout", stream)
    assert main([str(tmp_path / "reglas-ñ.yaml"), "--select", "H"]) == 1
    stream.flush()
    out = stream.buffer.getvalue().decode("ascii")  # type: ignore[attr-defined]
    assert out.startswith(f"{tmp_path}/reglas-\\xf1.yaml:19:11: H002 ")


def test_explain_and_list_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--explain", "l004"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("L004 (error, label phrases): label phrase matches a harmless control")
    assert main(["--list-codes"]) == 0
    listed = re.findall(r"^  ([A-Z]\d{3}) ", capsys.readouterr().out, re.MULTILINE)
    assert sorted(listed) == sorted(CODES)


@pytest.mark.parametrize(
    "argv",
    [
        ["--explain", "Z123"], ["no/such/dir"], ["--select", "Q"], ["--format", "xml"], ["--bogus"],
        # these linted rules/ (--explain '') or selected every code (--select '', ',,,')
        ["--explain", ""], ["--select", ""], ["--select", ",,,"], ["--ignore", " , "],
        # P codes are pwguard scan's: lint reported nothing but F and S, and exited 0
        ["--select", "P", str(CASES / "C002_has.yaml")], ["--select", "P001,P"],
    ],
)
def test_usage_and_io_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and err and "Traceback" not in err


def test_folder_without_rule_files_exits_2_saying_what_to_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # it was a finding (exit 1), as if the rules had a problem: it is the wrong folder
    assert main([str(tmp_path)]) == 2
    # the folder, without a line: it was `DIR:0:0:`, a line 0 that no editor can go to
    assert capsys.readouterr().out == (
        f"{tmp_path}: F008 no rule files (*.yaml, *.yml) here: name a folder that holds "
        "rule files, or a rule file\n"
    )
    assert main([str(tmp_path), "--format", "github"]) == 2
    assert capsys.readouterr().out.startswith(f"::error file={tmp_path},title=F008::F008 no ")
    assert main([str(tmp_path), "--format", "sarif"]) == 2
    [result] = json.loads(capsys.readouterr().out)["runs"][0]["results"]
    where = {"artifactLocation": {"uri": str(tmp_path)}}  # no region
    assert result["locations"] == [{"physicalLocation": where}]
    (tmp_path / "r.yaml").write_text("rules: []\n")  # a rule file without rules: a finding
    assert main([str(tmp_path)]) == 1


def test_catalogue_is_well_formed() -> None:
    for code, entry in CODES.items():
        assert re.fullmatch(r"[A-Z]\d{3}", code) and entry.code == code
        assert entry.severity in {"error", "warning"} and entry.summary and len(entry.why) > 20


def test_bad_line_in_harmless_controls_is_E006(tmp_path: Path) -> None:
    import shutil

    shutil.copytree(CASES / "fixtures", tmp_path / "fixtures")
    (tmp_path / "fixtures" / "harmless-controls.txt").write_text(
        "# comment\n#ter_all  # web sessions\ninput:checked\n"
    )
    (tmp_path / "r.yaml").write_text((CASES / "clean.yaml").read_text())
    (tmp_path / "s.yaml").write_text(
        (CASES / "clean.yaml").read_text().replace("mobile-sessions", "s")
    )
    result = lint_paths([tmp_path])
    assert [(Path(f.path).name, f.code, f.line) for f in result.findings] == [
        ("harmless-controls.txt", "E006", 3)
    ]
    assert "input:checked" in result.findings[0].message


# Phrases an administrator might add that touch a harmless box of the repo's own fixtures:
# Zoho's web-sessions box (any language), the "Include OneAuth" toggle, ordinary "Remember me"
# and "Keep me signed in" boxes of a sign-in page. Each is an error on its own line: L003 when
# every word is one the vocabulary counts as common (all words of those harmless sentences
# are), else L004 naming the harmless control.
HARMLESS_PHRASES = [
    ("all the browsers sessions", "L003"),  # en web box, #ter_all
    ("alle Browsersitzungen", "L003"),  # de web box
    ("include oneauth", "L003"),  # the OneAuth toggle, #include_oneauth
    ("Remember me", "L003"),  # harmless/signin/en.html
    ("angemeldet bleiben", "L004"),  # harmless/signin/de.html, "Keep me signed in"
    ("trust this browser and don't ask", "L004"),  # harmless/signin/en.html
]


def test_phrases_matching_harmless_boxes_of_the_repo_fixtures_are_errors_on_their_lines() -> None:
    text = (ROOT / "rules" / "zoho.yaml").read_text(encoding="utf-8")
    anchor = "      - label:\n"
    at = text.index(anchor, text.index("id: zoho-mobile-app-sessions-box")) + len(anchor)
    first = text[:at].count("\n") + 1
    added = "".join(f"          - {json.dumps(p)}\n" for p, _ in HARMLESS_PHRASES)
    result = lint_text(text[:at] + added + text[at:], "zoho.yaml")  # the repo's rules/fixtures
    got = [(f.code, f.line) for f in result.findings if f.code[0] == "L"]
    assert got == [(code, first + n) for n, (_, code) in enumerate(HARMLESS_PHRASES)]
    assert all(f.severity == "error" for f in result.findings if f.code[0] == "L")


def test_pre_commit_hook_runs_pwguard_lint_on_the_rules(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """.pre-commit-hooks.yaml: what pre-commit would run (entry + args, from the repo root,
    for changes of the files it names) is `pwguard lint rules`, clean here, failing on a bad
    rule file."""
    import tomllib

    import yaml

    from pwguard import cli

    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    hook = next(h for h in hooks if h["id"] == "pwguard-lint")
    assert hook["language"] == "python" and hook["pass_filenames"] is False
    script, *entry = hook["entry"].split()
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts[script] == "pwguard.cli:main"
    files = re.compile(hook["files"])
    for changed in ("rules/zoho.yaml", "rules/fixtures/legacy/en.html",
                    "rules/fixtures/harmless-controls.txt"):
        assert files.search(changed), changed
    assert not files.search("server/pwguard/cli.py")
    assert cli.main([*entry, *hook["args"]]) == 0
    capsys.readouterr()
    bad = tmp_path / "rules"
    bad.mkdir()
    shutil.copy(CASES / "H001_not_https.yaml", bad / "zoho.yaml")
    args = [str(bad) if a == "rules" else a for a in hook["args"]]
    assert cli.main([*entry, *args]) == 1
    assert "H001" in capsys.readouterr().out


@pytest.mark.parametrize(
    "value",
    [
        '"GET  # pwguard: ignore[R001] legacy"',  # a quoted value
        "'GET # pwguard: ignore[R001] legacy'",
    ],
    ids=["double-quoted", "single-quoted"],
)
def test_a_silence_inside_a_value_is_text_and_silences_nothing(value: str) -> None:
    # it silenced the finding of its line although YAML reads it as part of the value
    clean = (CASES / "clean.yaml").read_text()
    text = clean.replace("method: PUT", f"method: {value}", 1)
    result = lint_text(text, "x.yaml", CASES / "fixtures")
    assert [f.code for f in result.findings] == ["R001"], result.findings


def test_a_silence_after_a_quoted_value_still_silences() -> None:
    clean = (CASES / "clean.yaml").read_text()
    text = clean.replace("method: PUT", 'method: "GET"  # pwguard: ignore[R001] legacy API', 1)
    assert lint_text(text, "x.yaml", CASES / "fixtures").findings == []


def test_a_selector_that_cannot_match_a_checkbox_as_written_is_a_C005_warning() -> None:
    from pwguard.lint.check_controls import control_problems
    from pwguard.rules.engine import Page
    from pwguard.rules.selectors import compile_selector

    # `selector: "a"` or `label[for=ter_mob]` (the label, not its box) loaded and matched nothing
    assert control_problems("div.toggle") == [
        "selector 'div.toggle' matches a checkbox-like control only if that <div> has "
        "role=checkbox or role=switch: if it has, say so (add [role=switch] or [role=checkbox]); "
        "else select the box itself, e.g. input#ter_mob"
    ]
    assert control_problems("a[role=link]") == [
        "selector 'a[role=link]' can never match a checkbox-like control (input[type=checkbox], "
        "[role=checkbox], [role=switch]): its type or role says otherwise; select the box "
        "itself, e.g. input#ter_mob"
    ]
    # the fix it names: the warning goes, and the selector matches such a control
    assert control_problems("div.toggle[role=switch]") == []
    page = Page('<div class="toggle" role="switch">Sign out of mobile apps</div>')
    assert [c.get("class") for c in page.controls] == ["toggle"]
    assert compile_selector("div.toggle[role=switch]")(page.controls[0])
    finding = lint_paths([CASES / "C005_not_a_control.yaml"]).findings[0]
    assert (finding.code, finding.severity) == ("C005", "warning")

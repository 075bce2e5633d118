"""Commands whose rules folder defaults to `rules` say so, with the fix, when it is not there.

Run outside the repository (a server where pwguard was `pip install`ed), `pwguard scan
saved-page.html` answered `pwguard scan: rules: no such file or directory`: the page was
given, `rules` was not, and nothing said it was the default of --rules.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from pwguard import scan
from pwguard.api import publish
from pwguard.lint import cli as lint_cli
from pwguard.rules import bundle
from tests.serve import ROOT

EXE = Path(sys.executable).with_name("pwguard")
PAGE = str(next((ROOT / "rules" / "fixtures" / "harmless").glob("*.html")))

CASES: list[tuple[Callable[[list[str]], int], list[str], str]] = [
    (lint_cli.main, [],
     "pwguard lint: no rules folder here (`rules`, the default when no path is given): "
     "name the rule files or folders to check, e.g. pwguard lint /srv/pwguard/rules"),
    (scan.main, [PAGE],
     "pwguard scan: no rules folder here (`rules`, the default of --rules): pass --rules "
     "with the rules folder or file, e.g. --rules /srv/pwguard/rules"),
    (bundle.main, ["--out", "bundle.json"],
     "pwguard bundle: no rules folder here (`rules`, the default of --rules): pass --rules "
     "with the rules folder or file, e.g. --rules /srv/pwguard/rules"),
    (publish.main, ["--server", "http://127.0.0.1:1"],
     "pwguard publish: no rules folder here (`rules`, the default when no folder is given): "
     "name it, e.g. pwguard publish /srv/pwguard/rules --server URL"),
]


@pytest.mark.parametrize("case", CASES, ids=["lint", "scan", "bundle", "publish"])
def test_a_missing_default_rules_folder_is_named_as_the_default_with_the_fix(
    tmp_path, monkeypatch, capsys, case
):
    main, argv, expected = case
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PWGUARD_ADMIN_TOKEN", "t")
    assert main(argv) == 2
    assert capsys.readouterr().err == expected + "\n"


@pytest.mark.parametrize(
    ("main", "argv", "expected"),
    [(lint_cli.main, ["nope"], "pwguard lint: nope: no such file or directory"),
     (scan.main, ["--rules", "nope", PAGE], "pwguard scan: nope: no such file or directory"),
     (bundle.main, ["--rules", "nope", "--out", "b.json"],
      "pwguard bundle: nope: no such file or directory"),
     (publish.main, ["nope", "--server", "http://127.0.0.1:1"], "pwguard publish: nope not found")],
    ids=["lint", "scan", "bundle", "publish"],
)
def test_a_missing_folder_given_by_name_is_named_as_given(
    tmp_path, monkeypatch, capsys, main, argv, expected
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PWGUARD_ADMIN_TOKEN", "t")
    assert main(argv) == 2
    assert capsys.readouterr().err == expected + "\n"


LONG = "a" * 300  # one name over the 255 bytes a file system allows (ENAMETOOLONG)


@pytest.mark.parametrize(
    ("argv", "database_url"),
    [(["keygen", "--out", LONG], None), (["bundle", "--rules", LONG, "--out", "b.json"], None),
     (["export", "--rules", LONG, "--out", "site"], None),
     (["publish", LONG, "--server", "http://127.0.0.1:1"], None),
     (["serve", "--rules", LONG, "--port", "0"], None),
     (["serve", "--rules", "", "--port", "0"], f"sqlite:///{LONG}/x.db"),
     (["export", "--from-db", "--out", "site"], f"sqlite:///{LONG}")],
    ids=["keygen", "bundle", "export", "publish", "serve-rules", "serve-database", "export-db"],
)
def test_a_path_name_too_long_is_one_line_naming_it_not_a_traceback(tmp_path, argv, database_url):
    # pathlib's exists()/is_dir() raise ENAMETOOLONG (only "no such file" is False): keygen,
    # bundle, export, publish and serve died with an OSError traceback
    env = {k: v for k, v in os.environ.items() if not k.startswith("PWGUARD_")}
    env["PWGUARD_ADMIN_TOKEN"] = "t"
    if database_url:
        env["PWGUARD_DATABASE_URL"] = database_url
    proc = subprocess.run([str(EXE), *argv], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=60)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 2, proc.stderr
    assert LONG[:40] in proc.stderr and "path too long" in proc.stderr, proc.stderr

"""`make bench`'s scan benchmark (issue 3) prints its figures for the fixture pages: the time of
`pwguard scan` over the time of a bare lxml parse, and the wall time of `pwguard lint rules/`.
Only that it prints them, with sane values, is checked here: the speed goal is `make bench`'s."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from bench import scan as bench_scan

from pwguard.rules import engine

FIXTURES = Path(__file__).resolve().parents[1] / "rules" / "fixtures"


def test_scan_bench_prints_the_ratio_to_lxml_and_the_lint_wall_time(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(bench_scan, "REPEAT", 1)
    bench_scan.run()
    out = capsys.readouterr().out
    pages = re.search(
        r"^pages: (\d+) \(\d+ KiB\), controls: (\d+), rules: (\d+), page index: (.+)$", out, re.M)
    assert pages, out
    built = engine.walk_index is not None
    assert pages.group(4) == ("C (_walk)" if built else "Python (_walk is not built)")
    assert int(pages.group(1)) == len(list(FIXTURES.rglob("*.html")))
    assert int(pages.group(2)) > 0 and int(pages.group(3)) > 0
    parse = re.search(r"^lxml\.html parse: +([\d.]+) ms", out, re.M)
    scan = re.search(r"^pwguard scan: +([\d.]+) ms", out, re.M)
    ratio = re.search(r"^ratio scan/parse: +([\d.]+) +\(goal <= 1\.5\)$", out, re.M)
    assert parse and scan and ratio, out
    assert float(parse.group(1)) > 0 and float(scan.group(1)) > 0
    assert float(ratio.group(1)) == pytest.approx(
        float(scan.group(1)) / float(parse.group(1)), rel=0.02, abs=0.01)
    assert re.search(r"^pwguard lint rules/: [\d.]+ s wall, exit 0$", out, re.M), out

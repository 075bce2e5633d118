"""`pwguard scan` work on every fixture page vs a bare lxml.html parse of the same pages.

Both run in this process over the same bytes held in memory; each is repeated and the best
CPU time (process_time: steadier than wall time on a shared machine) is kept. The scan side
is what `pwguard scan` does per page: parse, find the controls, compute label texts, match
every rule, and look for dangerous uncovered controls.
Goal: ratio <= 1.5. Also prints the wall time of `pwguard lint rules/` (a subprocess).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import lxml.html

from pwguard.lint import lint_paths
from pwguard.rules.engine import Page
from pwguard.scan import Vocabulary, scan_page

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "rules"
REPEAT = 7
GOAL = 1.5


def best_of(fn: Callable[[], object], repeat: int = REPEAT) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()  # CPU time: steadier than wall time on a shared machine
        fn()
        best = min(best, time.process_time() - start)
    return best


def run() -> None:
    pages = [(p, p.read_bytes()) for p in sorted((RULES / "fixtures").rglob("*.html"))]
    ruleset = lint_paths([RULES]).ruleset
    if ruleset is None:
        raise RuntimeError("rules/ does not load: run `pwguard lint rules`")
    rules = list(ruleset.rules)
    vocab = Vocabulary()

    def parse_only() -> None:
        for _, data in pages:
            lxml.html.document_fromstring(data)

    def scan_all() -> int:
        return sum(len(scan_page(path, Page(data), rules, vocab)) for path, data in pages)

    controls = scan_all()  # warm-up (selector compilation, caches)
    parse_only()
    base = best_of(parse_only)
    scan = best_of(scan_all)
    size = sum(len(d) for _, d in pages)
    print(f"pages: {len(pages)} ({size / 1024:.0f} KiB), controls: {controls}, rules: {len(rules)}")
    print(f"lxml.html parse:  {base * 1000:8.2f} ms  (best of {REPEAT})")
    print(f"pwguard scan:     {scan * 1000:8.2f} ms  (best of {REPEAT})")
    print(f"ratio scan/parse: {scan / base:8.2f}   (goal <= {GOAL})")

    exe = Path(sys.executable).with_name("pwguard")
    cmd = [str(exe) if exe.exists() else "pwguard", "lint", str(RULES)]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    print(f"pwguard lint rules/: {wall:.2f} s wall, exit {proc.returncode}")

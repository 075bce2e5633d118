"""`pwguard scan` work on every fixture page vs a bare lxml.html parse of the same pages.

Both run in this process over the same bytes held in memory; the two are repeated in turns
(so that a change of load on a shared machine hits both alike) and the best CPU time of each
(process_time: steadier than wall time) is kept. The scan side is what `pwguard scan` does
per page: parse, find the controls, compute label texts, match every rule, and look for
dangerous uncovered controls. As in `pwguard scan`, the rules are loaded and prepared
(compiled_rules: selectors compiled and indexed, phrases folded into one Aho-Corasick
automaton) and the danger vocabulary built (Vocabulary: Zoho's dangerous and harmless labels
in one automaton, the danger words by language) once, before the pages; neither depends on
the pages.
Like one `pwguard scan` run over many pages, a repetition remembers, from one page to the
next, what depends on a string alone: what a label text implies (its folded form, the rules
whose phrases occur in it: `CompiledRules.labels`, by the text as joined and as collapsed),
the selector alternatives a control's id, name and class attributes make candidates
(`CompiledRules.plans`) and the danger wording of a folded label (`Vocabulary.by_label`).
Each repetition starts with these memos empty (`clear_memo`), as each `pwguard scan` run
does. The scope ids above the elements of a page are remembered for that page only. Nothing
else computed for one page or one repetition is reused by another.
Pages are indexed by the C accelerator of Page (pwguard/rules/_walk.c) when it is built, as
`pwguard scan` does; the first line printed says whether it was.
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
from pwguard.rules import engine
from pwguard.rules.engine import Page, applicable_rules, compiled_rules
from pwguard.scan import Vocabulary, scan_page

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "rules"
REPEAT = 15
GOAL = 1.5


def best_of(fns: list[Callable[[], object]], repeat: int = REPEAT) -> list[float]:
    """Best CPU time of each function, running them in turns `repeat` times."""
    best = [float("inf")] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            start = time.process_time()  # CPU time: steadier than wall time on a shared machine
            fn()
            best[i] = min(best[i], time.process_time() - start)
    return best


def run() -> None:
    pages = [(p, p.read_bytes()) for p in sorted((RULES / "fixtures").rglob("*.html"))]
    ruleset = lint_paths([RULES]).ruleset
    if ruleset is None:
        raise RuntimeError("rules/ does not load: run `pwguard lint rules`")
    rules = compiled_rules(applicable_rules(ruleset, None))  # as pwguard scan, once
    vocab = Vocabulary()

    def parse_only() -> None:
        for _, data in pages:
            lxml.html.document_fromstring(data)

    def scan_all() -> int:
        rules.clear_memo()  # a fresh `pwguard scan` run: no label text seen yet
        vocab.clear_memo()
        return sum(len(scan_page(path, Page(data), rules, vocab)) for path, data in pages)

    controls = scan_all()  # warm-up
    parse_only()
    base, scan = best_of([parse_only, scan_all])
    size = sum(len(d) for _, d in pages)
    n_rules = len(rules.rules)
    index = "C (_walk)" if engine.walk_index is not None else "Python (_walk is not built)"
    print(f"pages: {len(pages)} ({size / 1024:.0f} KiB), controls: {controls}, rules: {n_rules}, "
          f"page index: {index}")
    print(f"lxml.html parse:  {base * 1000:8.2f} ms  (best of {REPEAT})")
    print(f"pwguard scan:     {scan * 1000:8.2f} ms  (best of {REPEAT})")
    print(f"ratio scan/parse: {scan / base:8.2f}   (goal <= {GOAL})")

    exe = Path(sys.executable).with_name("pwguard")
    cmd = [str(exe) if exe.exists() else "pwguard", "lint", str(RULES)]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    print(f"pwguard lint rules/: {wall:.2f} s wall, exit {proc.returncode}")

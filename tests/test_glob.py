"""Globs (`sites` paths, `request.path`): `*` matches any run of characters, the rest is
literal. sites.py, engine.js and guard-main.js give the same answers, in time linear in the
text: `.*`-joined literals backtracked through every placement of them, and a glob such as
`*/*/*/*/*/closesession` froze a Zoho page on every guarded request with a long path."""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
from pathlib import Path

from pwguard.rules.sites import glob_match

EXT = Path(__file__).resolve().parent.parent / "extension"

# each took from seconds to hours with `.*` between the literals (Python and JavaScript)
PATHOLOGICAL = [
    ("*" * 40 + "x", "/" + "a" * 3000),
    ("*/" * 12 + "closesession", "/" + "ab/" * 1000 + "x"),
    ("*a" * 40 + "*b", "/" + "a" * 3000),
    ("/accounts/*/*/*/*/*/*/*/self/closesession", "/accounts/" + "p/" * 1500),
]


def reference(glob: str, text: str) -> bool:
    """The definition, by dynamic programming: which prefixes of `text` the glob read so far
    can match."""
    ends = [True] + [False] * len(text)  # the empty glob matches the empty prefix
    for ch in glob:
        if ch == "*":
            for t in range(1, len(text) + 1):
                ends[t] = ends[t] or ends[t - 1]
        else:
            ends = [False] + [ends[t] and text[t] == ch for t in range(len(text))]
    return ends[-1]


def cases() -> list[tuple[str, str]]:
    rng = random.Random(20261127)
    out = [
        ("*", ""), ("", ""), ("", "a"), ("**", "a"), ("a*", "a"), ("*a", "ba"), ("*aa*aa*", "aaa"),
        ("*aa*aa*", "aaaa"), ("*ab*b", "ab"), ("*ab*b", "abb"), ("a*b*a", "aba"),
        ("*/closesession", "/x/closesession"), ("*/closesession", "/x/closesession/"),
        ("*.+?^${}()|[]\\/*", "x.+?^${}()|[]\\/y"), ("*(a)*", "(a)"), ("*\\1*", "\\1"),
        ("*a*", "x\ny\na\n"), ("a*b*c*d*e*f*g*h*i*j*k*l", "abcdefghijkl"),
    ]
    for _ in range(3000):
        glob = "".join(rng.choice("ab/*") for _ in range(rng.randint(0, 9)))
        text = "".join(rng.choice("ab/") for _ in range(rng.randint(0, 12)))
        out.append((glob, text))
    return out


def test_python_glob_is_the_definition() -> None:
    wrong = [(g, t) for g, t in cases() if glob_match(g, t) != reference(g, t)]
    assert not wrong, wrong[:10]


def test_python_glob_takes_linear_time_on_pathological_globs() -> None:
    # in a child process: a backtracking regex cannot be interrupted from here
    code = (
        "import json, sys, time\n"
        "from pwguard.rules.sites import glob_match\n"
        "cases = json.loads(sys.stdin.read())\n"
        "start = time.monotonic()\n"
        "answers = [glob_match(g, t) for g, t in cases]\n"
        "print(json.dumps([answers, time.monotonic() - start]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], input=json.dumps(PATHOLOGICAL),
                          capture_output=True, text=True, timeout=60, check=True)
    answers, seconds = json.loads(proc.stdout)
    assert answers == [reference(g, t) for g, t in PATHOLOGICAL]
    assert seconds < 2, seconds


# guard-main.js runs in the page's world and cannot load engine.js: its globRegExp is read
# out of the file and run as it is written there
GUARD_GLOB = re.compile(r"\n  function globRegExp\(glob\) \{\n.*?\n  \}\n", re.DOTALL)

NODE_SCRIPT = """
const fs = require("fs");
require(process.argv[1]);
const String_ = String;
const globRegExp = eval("(" + process.argv[2] + ")");
const { cases, pathological } = JSON.parse(fs.readFileSync(0, "utf8"));
const engine = (c) => c.map(([g, t]) => pwguardEngine.glob_match(g, t));
const guard = (c) => c.map(([g, t]) => globRegExp(g).test(t));
const start = Date.now();
const slow = [engine(pathological), guard(pathological)];
const ms = Date.now() - start;
console.log(JSON.stringify({ engine: engine(cases), guard: guard(cases), slow, ms }));
"""


def test_engine_js_and_guard_main_js_agree_with_python_in_linear_time() -> None:
    source = GUARD_GLOB.search((EXT / "guard-main.js").read_text(encoding="utf-8"))
    assert source, "guard-main.js: function globRegExp(glob) not found"
    all_cases = cases()
    proc = subprocess.run(
        ["node", "-e", NODE_SCRIPT, str(EXT / "engine.js"), source.group(0).strip()],
        input=json.dumps({"cases": all_cases, "pathological": PATHOLOGICAL}),
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    want = [glob_match(g, t) for g, t in all_cases]
    for name in ("engine", "guard"):
        wrong = [c for c, a, b in zip(all_cases, out[name], want, strict=True) if a != b]
        assert not wrong, f"{name}: {wrong[:10]}"
    expected = [reference(g, t) for g, t in PATHOLOGICAL]
    assert out["slow"] == [expected, expected]
    assert out["ms"] < 2000, out["ms"]


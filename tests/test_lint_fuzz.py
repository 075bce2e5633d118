"""No input, however malformed, makes the linter raise: random bytes, text and YAML-ish trees."""

from __future__ import annotations

from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pwguard.lint import lint_text
from pwguard.rules.finding import Finding

CASES = Path(__file__).parent / "lint_cases"
CLEAN = (CASES / "clean.yaml").read_text(encoding="utf-8")
FIXTURES = CASES / "fixtures"
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=20)
)
trees = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "rules",
                    "id",
                    "controls",
                    "label",
                    "selector",
                    "sites",
                    "message",
                    "request",
                    "json_true",
                    "examples",
                    "match",
                    "help",
                    "en",
                    "x",
                ]
            ),
            inner,
            max_size=5,
        )
    ),
    max_leaves=25,
)


def assert_clean_result(text: str | bytes) -> None:
    result = lint_text(text, "fuzz.yaml", FIXTURES)
    assert all(isinstance(f, Finding) and f.line >= 0 and f.col >= 0 for f in result.findings)
    assert (result.ruleset is None) or not any(f.code[0] in "FS" for f in result.errors)


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes(data: bytes) -> None:
    assert_clean_result(data)


@FUZZ
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=300))
def test_random_text(text: str) -> None:
    assert_clean_result(text)


@FUZZ
@given(trees)
def test_random_yaml_trees(tree: object) -> None:
    assert_clean_result(yaml.safe_dump({"rules": [tree]}, allow_unicode=True))


@FUZZ
@given(st.integers(0, len(CLEAN)), st.integers(0, 40), st.text(max_size=8))
def test_mutated_clean_file(start: int, length: int, insert: str) -> None:
    assert_clean_result(CLEAN[:start] + insert + CLEAN[start + length :])


def test_deep_nesting_and_alias_loops() -> None:
    for text in ("[" * 5000, "a: &a [*a]\nrules: []", "rules: " + "- " * 3000 + "x"):
        assert_clean_result(text)

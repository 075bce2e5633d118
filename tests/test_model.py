"""Rule model and positioned loading; the JSON Schema is generated and committed fresh."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from pwguard.rules.loader import load_paths, load_text
from pwguard.rules.model import Control, Rule
from pwguard.rules.schema import json_schema, main, schema_text

ROOT = Path(__file__).resolve().parents[1]
CLEAN = ROOT / "tests" / "lint_cases" / "clean.yaml"


def test_loader_keeps_line_and_column_of_every_value() -> None:
    result = load_paths([CLEAN])
    assert result.findings == [] and result.ruleset is not None
    path = str(CLEAN)
    assert result.position(0, "id") == (path, 2, 9)
    assert result.position(0, "sites", 0) == (path, 7, 9)
    assert result.position(0, "controls", 1, "label", 0) == (path, 11, 13)
    assert result.position(0, "request", "json_true", 0) == (path, 15, 19)
    assert result.position(0, "message", "es") == (path, 18, 11)
    assert result.key_position(0, "message", "es") == (path, 18, 7)
    # a key that is absent falls back to its nearest enclosing value
    assert result.position(0, "request", "nope") == (path, 13, 7)


def test_positions_count_rules_across_files(tmp_path: Path) -> None:
    text = CLEAN.read_text()
    (tmp_path / "a.yaml").write_text(text)
    (tmp_path / "b.yaml").write_text(text.replace("mobile-sessions", "other"))
    result = load_paths([tmp_path])
    assert [r.id for r in result.ruleset.rules] == ["mobile-sessions", "other"]  # type: ignore[union-attr]
    assert result.position(1, "id") == (str(tmp_path / "b.yaml"), 2, 9)


def test_defaults_are_filled() -> None:
    text = CLEAN.read_text().replace("    action: block\n", "")
    text = text[: text.index("    request:")] + text[text.index("    message:") :]
    rule = load_text(text, "x.yaml").ruleset.rules[0]  # type: ignore[union-attr]
    assert rule.action == "block" and rule.request is None


def test_model_is_strict() -> None:
    with pytest.raises(ValidationError):
        Control(selector="#a", label=["b"])
    with pytest.raises(ValidationError):
        Control()
    with pytest.raises(ValidationError):
        Rule.model_validate({"id": 5})
    assert Control(label=["mobile app"]).label == ["mobile app"]


def test_yaml_scalars_are_not_coerced() -> None:
    text = CLEAN.read_text().replace("es: No marque esta casilla.", "es: yes")
    result = load_text(text, "x.yaml")
    assert [(f.code, f.line) for f in result.findings] == [("S003", 18)]


def test_committed_schema_is_fresh() -> None:
    committed = (ROOT / "rules" / "schema.json").read_text(encoding="utf-8")
    assert committed == schema_text(), (
        "rules/schema.json is stale: run `pwguard schema > rules/schema.json`"
    )


def test_schema_command_prints_the_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema == json_schema()
    assert schema["properties"]["rules"]["type"] == "array"
    assert set(schema["$defs"]["Rule"]["required"]) == {
        "id",
        "title",
        "why",
        "sites",
        "controls",
        "message",
        "help",
    }
    assert main(["--bogus"]) == 2

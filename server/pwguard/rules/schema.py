"""JSON Schema of rule files, for editors (`pwguard schema`; committed as rules/schema.json)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from pwguard.cliargs import parse_args, write_output
from pwguard.rules.model import RuleFile

SCHEMA_ID = "https://pwguard.invalid/schema/rules.json"


def json_schema() -> dict[str, Any]:
    schema = RuleFile.model_json_schema()
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "pwguard rule file",
        **{k: v for k, v in schema.items() if k != "title"},
    }
    return schema


def schema_text() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="pwguard schema",
        description="Print the JSON Schema of rule files (committed as rules/schema.json).",
    )
    args = parse_args(parser, argv)
    if isinstance(args, int):
        return args
    return write_output(schema_text(), "pwguard schema") or 0

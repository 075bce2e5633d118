"""The rules payload the extension enforces, and `pwguard bundle` (extension/rules.bundled.json).

    {"format": 1, "version": "<16 hex>", "rules": [<rule>...]}

Each rule has exactly the keys `id, title, why, action, sites, controls, request, message,
help` (defaults filled in, `examples` removed, `request` null when absent); each control
is `{"selector": ...}` or `{"label": [...]}`. `version` = first 16 hex digits of SHA-256
over the canonical JSON of the `rules` list; canonical JSON = sort_keys, no spaces,
ensure_ascii=False, UTF-8. See docs/internals.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from pwguard.cliargs import DEFAULT_RULES_MISSING, parse_args, write_output
from pwguard.rules.files import write_atomic
from pwguard.rules.model import Rule, RuleSet

FORMAT = 1
# The largest signed bundle the extension takes (MAX_BODY_BYTES in extension/background.js):
# every browser refuses a bigger one at every sync, so the linter refuses rules that make one
# (F009)
MAX_SIGNED_BYTES = 1024 * 1024


def canonical_json(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def rule_payload(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "title": rule.title,
        "why": rule.why,
        "action": rule.action,
        "sites": list(rule.sites),
        "controls": [c.model_dump(exclude_none=True) for c in rule.controls],
        "request": rule.request.model_dump() if rule.request else None,
        "message": dict(rule.message),
        "help": rule.help,
    }


def version_of(ruleset: RuleSet) -> str:
    rules = [rule_payload(r) for r in ruleset.rules]
    return hashlib.sha256(canonical_json(rules)).hexdigest()[:16]


def payload(ruleset: RuleSet) -> dict[str, Any]:
    rules = [rule_payload(r) for r in ruleset.rules]
    version = hashlib.sha256(canonical_json(rules)).hexdigest()[:16]
    return {"format": FORMAT, "version": version, "rules": rules}


def payload_bytes(ruleset: RuleSet) -> bytes:
    return canonical_json(payload(ruleset))


def signed_size(payload: bytes) -> int:
    """The length of the signed bundle of these payload bytes (api/signing.sign_bundle), with
    any key: its key id is always 16 hex digits and its signature 88 base64 characters."""
    return len(canonical_json({"format": "pwguard-bundle/1", "key_id": "0" * 16,
                               "payload": payload.decode("utf-8"), "signature": "A" * 88}))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="pwguard bundle",
        description="Write the unsigned rules payload the extension ships (extension/rules.bundled.json).",  # noqa: E501
    )
    parser.add_argument("--rules", help="rules folder or files (default: rules)")
    parser.add_argument(
        "--out", required=True, help="file to write, e.g. extension/rules.bundled.json"
    )
    parser.add_argument("--check", action="store_true", help="only check that --out is up to date")
    args = parse_args(parser, argv)
    if isinstance(args, int):
        return args
    from pwguard.lint import lint_paths, unreadable

    if args.rules is None:
        if not Path("rules").exists():
            print(f"pwguard bundle: {DEFAULT_RULES_MISSING}", file=sys.stderr)
            return 2
        args.rules = "rules"
    if not Path(args.rules).exists():
        print(f"pwguard bundle: {args.rules}: no such file or directory", file=sys.stderr)
        return 2
    result = lint_paths([args.rules])
    if result.ruleset is None or result.errors:
        for finding in result.errors:
            print(finding, file=sys.stderr)
        if unreadable(result.errors):  # an I/O error, as `pwguard lint` exits on it
            print(f"pwguard bundle: cannot read the rules in {args.rules} (F001 above); "
                  "nothing written", file=sys.stderr)
            return 2
        print(
            f"pwguard bundle: {args.rules} has lint errors; fix them (pwguard lint {args.rules})",
            file=sys.stderr,
        )
        return 1
    data = payload_bytes(result.ruleset) + b"\n"
    out = Path(args.out)
    if args.check:
        try:
            current = out.read_bytes()
        except OSError:
            current = None
        if current != data:
            print(f"{out} is stale (or missing): run `make bundle`", file=sys.stderr)
            return 1
        return write_output(f"{out} is up to date (version {payload(result.ruleset)['version']})\n",
                            "pwguard bundle") or 0
    try:  # (in one rename: a failed write leaves the bundle the extension ships as it was)
        write_atomic(out, data, keep_mode=True)
    except OSError as exc:
        print(f"pwguard bundle: cannot write {out}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    return write_output(
        f"wrote {out} (version {payload(result.ruleset)['version']}, {len(result.ruleset.rules)} rules)\n",  # noqa: E501
        "pwguard bundle",
    ) or 0

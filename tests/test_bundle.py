"""The rules payload (docs/internals.md) and `pwguard bundle` / `--check`."""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path

import pytest

from pwguard.lint import lint_paths
from pwguard.rules.bundle import main, payload, payload_bytes, version_of
from pwguard.rules.loader import load_text

ROOT = Path(__file__).resolve().parents[1]
CASES = ROOT / "tests" / "lint_cases"


def clean_ruleset(text: str | None = None):  # type: ignore[no-untyped-def]
    result = load_text(text or (CASES / "clean.yaml").read_text(), "x.yaml")
    assert result.ruleset is not None
    return result.ruleset


def test_payload_shape() -> None:
    data = payload(clean_ruleset())
    assert set(data) == {"format", "version", "rules"} and data["format"] == 1
    (rule,) = data["rules"]
    assert list(rule) == [
        "id",
        "title",
        "why",
        "action",
        "sites",
        "controls",
        "request",
        "message",
        "help",
    ]
    assert rule["controls"] == [
        {"selector": "#ter_mob"},
        {"label": ["desktop and mobile app sessions"]},
    ]
    assert rule["request"] == {"method": "PUT", "path": "*/closesession", "json_true": ["rmappses"]}


def test_version_is_sha256_of_canonical_rules() -> None:
    rs = clean_ruleset()
    rules = payload(rs)["rules"]
    canonical = json.dumps(rules, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert version_of(rs) == hashlib.sha256(canonical.encode()).hexdigest()[:16]
    assert (
        payload_bytes(rs)
        == json.dumps(
            payload(rs), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
    )


def test_version_ignores_examples_but_not_content() -> None:
    text = (CASES / "clean.yaml").read_text()
    base = version_of(clean_ruleset(text))
    assert version_of(clean_ruleset(text.replace("[plain.html]", "[other.html]"))) == base
    assert version_of(clean_ruleset(text.replace("Don't tick", "Do not tick"))) != base


def test_non_ascii_stays_utf8() -> None:
    text = (CASES / "clean.yaml").read_text().replace("esta casilla", "esta casilla ñ")
    assert "ñ".encode() in payload_bytes(clean_ruleset(text))


def test_bundle_writes_then_check_detects_staleness(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.yaml").write_text((CASES / "clean.yaml").read_text())
    (rules / "fixtures").symlink_to(CASES / "fixtures")
    out = tmp_path / "ext" / "rules.bundled.json"
    assert main(["--rules", str(rules), "--out", str(out), "--check"]) == 1
    assert "make bundle" in capsys.readouterr().err
    assert main(["--rules", str(rules), "--out", str(out)]) == 0
    ruleset = lint_paths([rules]).ruleset
    assert ruleset is not None and out.read_bytes() == payload_bytes(ruleset) + b"\n"
    assert main(["--rules", str(rules), "--out", str(out), "--check"]) == 0
    (rules / "r.yaml").write_text((CASES / "clean.yaml").read_text().replace("Don't", "Do not"))
    assert main(["--rules", str(rules), "--out", str(out), "--check"]) == 1


def test_bundle_writes_through_a_symbolic_link_and_keeps_the_file_mode(tmp_path: Path) -> None:
    # the write in one rename replaced a linked --out by a file of mode 0644
    target = tmp_path / "real" / "rules.bundled.json"
    target.parent.mkdir()
    target.write_text("{}")
    target.chmod(0o664)
    link = tmp_path / "rules.bundled.json"
    link.symlink_to(target)
    assert main(["--rules", str(CASES / "clean.yaml"), "--out", str(link)]) == 0
    assert link.is_symlink() and target.read_bytes().startswith(b'{"format"')
    assert stat.S_IMODE(target.stat().st_mode) == 0o664


def test_bundle_refuses_rules_with_lint_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "b.json"
    assert main(["--rules", str(CASES / "R001_bad_method.yaml"), "--out", str(out)]) == 1
    assert "R001" in capsys.readouterr().err and not out.exists()
    assert main(["--rules", str(tmp_path / "none"), "--out", str(out)]) == 2
    assert main(["--out"]) == 2


def test_bundle_of_a_rule_file_it_cannot_read_exits_2_as_lint_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # it exited 1 (lint findings) where `pwguard lint` exits 2 (an I/O error)
    rules, out = tmp_path / "rules", tmp_path / "b.json"
    rules.mkdir()
    (rules / "r.yaml").symlink_to(tmp_path / "gone.yaml")
    assert main(["--rules", str(rules), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert " F001 cannot read r.yaml: broken symbolic link" in err
    assert f"pwguard bundle: cannot read the rules in {rules} (F001 above); nothing written" in err
    assert not out.exists()

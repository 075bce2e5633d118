"""Rule texts for the rules-server tests: a valid ruleset, variants of it, and bad ones."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import httpx

from pwguard.api.signing import bundle_etag, key_id, verify_bundle

GOOD_DIR = Path(__file__).resolve().parent / "good"
GOOD_TEXT = (GOOD_DIR / "zoho-sessions.yaml").read_text("utf-8")
TITLE = "title: Keep mobile and desktop app sessions"


def variant(n: int) -> str:
    """A valid ruleset different from GOOD_TEXT (and from every other n): a new version."""
    assert TITLE in GOOD_TEXT
    return GOOD_TEXT.replace(TITLE, f"{TITLE} (variant {n})", 1)


def etag_for(version: str, public_key: str) -> str:
    """The ETag a server signing with `public_key` gives `version`."""
    return bundle_etag(version, key_id(base64.b64decode(public_key)))


def check_bundle(resp: httpx.Response, public_key: str) -> dict[str, Any]:
    """A 200 from /v1/rules: signature valid, ETag names its version and key; return the payload."""
    assert resp.status_code == 200, resp.text
    payload = verify_bundle(resp.content, public_key)
    assert resp.headers["etag"] == bundle_etag(payload["version"], resp.json()["key_id"])
    return payload


def bundle_version(resp: httpx.Response) -> str:
    """The version inside an (unverified) bundle's payload."""
    version: str = json.loads(json.loads(resp.content)["payload"])["version"]
    return version

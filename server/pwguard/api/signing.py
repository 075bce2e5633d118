"""Ed25519 signing of the rules payload: the signed bundle of docs/internals.md.

A bundle is one JSON object that can be checked from the file alone:

    {"format": "pwguard-bundle/1", "key_id": "<16 hex>",
     "payload": "<payload bytes as a JSON string>", "signature": "<base64 Ed25519>"}

The signature covers the UTF-8 bytes of `payload` exactly, so a verifier never
re-serialises anything before checking it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from pwguard.rules.files import FileProblem, read_limited

BUNDLE_FORMAT = "pwguard-bundle/1"
PRIVATE_KEY_NAME = "pwguard-signing.key"  # what `pwguard keygen` writes
MAX_KEY_FILE = 64 * 1024  # a PEM key is ~120 bytes: more is not a key file (/dev/zero...)
KEY_FILE_CONTENT = (
    "it must hold an Ed25519 private key as PEM text (-----BEGIN PRIVATE KEY----- ...) or "
    "the base64 of a 32-byte seed, as `pwguard keygen --out DIR` writes"
)


KEY_FORMS = ("give the PEM text (with its BEGIN/END lines), the 44-character base64 seed, or "
             "the key file's path (`pwguard keygen --out DIR` writes one)")


class SigningKeyError(ValueError):
    """A signing or public key that cannot be used; the message names the place and the fix."""


class BundleError(ValueError):
    """A bundle that fails to parse or to verify."""


def public_key_raw(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    """Return the raw 32-byte public key."""
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_b64(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """Return the public key the way the extension's `publicKey` setting takes it."""
    return base64.b64encode(public_key_raw(key)).decode("ascii")


def key_id(key: Ed25519PrivateKey | Ed25519PublicKey | bytes) -> str:
    """Return the first 16 hex digits of SHA-256 over the raw public key."""
    raw = key if isinstance(key, bytes) else public_key_raw(key)
    return hashlib.sha256(raw).hexdigest()[:16]


def bundle_etag(version: str, kid: str) -> str:
    """The strong ETag of a bundle: its rules version and signing key (a rotation changes it)."""
    return f'"{version}-{kid[:8]}"'


def private_key_pem(key: Ed25519PrivateKey) -> bytes:
    """Serialise a private key as unencrypted PKCS#8 PEM (what `openssl pkey` reads)."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def parse_private_key(text: str, where: str) -> Ed25519PrivateKey:
    """Parse a PKCS#8 PEM Ed25519 key or the base64 of its raw 32-byte seed."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        if "\\n" in text:
            raise SigningKeyError(
                f"{where}: the PEM key has a literal \\n (backslash and n) where its line breaks "
                "belong: put real line breaks there (e.g. PWGUARD_SIGNING_KEY=\"$(cat "
                f"{PRIVATE_KEY_NAME})\"), or set PWGUARD_SIGNING_KEY to the key file's path"
            )
        try:
            key = serialization.load_pem_private_key(text.encode("ascii"), password=None)
        except (ValueError, TypeError, UnicodeEncodeError) as exc:
            reason = str(exc).split(" See https://", 1)[0].strip()
            raise SigningKeyError(
                f"{where}: not a readable unencrypted PEM private key ({reason}); "
                f"{KEY_FILE_CONTENT}"
            ) from None
        if not isinstance(key, Ed25519PrivateKey):
            raise SigningKeyError(
                f"{where}: the PEM key is not Ed25519; create one with `pwguard keygen`"
            )
        return key
    seed = _raw_32_bytes(text)
    if seed is None:
        raise SigningKeyError(
            f"{where}: expected a file path, a PEM Ed25519 private key or the base64 of a 32-byte "
            "Ed25519 seed; create one with `pwguard keygen --out DIR`"
        )
    return Ed25519PrivateKey.from_private_bytes(seed)


def key_file_path(value: str) -> Path | None:
    """The file PWGUARD_SIGNING_KEY names, or None when it holds the key itself."""
    if "-----BEGIN" in value or _looks_like_base64_seed(value):
        return None
    return Path(value.strip()).expanduser()


def read_key_file(path: Path, where: str) -> str:
    """A key file's text: a regular file, small, ASCII; else SigningKeyError saying what it
    must hold (never blocks: FIFOs and devices are refused, see files.read_limited)."""
    try:
        data = read_limited(path, MAX_KEY_FILE)
    except FileProblem as exc:
        if not os.path.lexists(path):  # never echo a value that may be the key itself
            shown = str(path)
            if _looks_like_key_material(shown):
                raise SigningKeyError(
                    f"{where} ({len(shown)} characters) names no file and looks like key "
                    "material in a form pwguard does not read (PEM without its BEGIN/END "
                    f"lines, unpadded, URL-safe or 64-byte base64, hex): {KEY_FORMS}"
                ) from None
            if not _plausible_path(shown):
                raise SigningKeyError(
                    f"{where} ({len(shown)} characters) is neither a file path nor a key "
                    f"pwguard reads: {KEY_FORMS}"
                ) from None
        if exc.missing:
            message = f"no key file at {path}; create one with `pwguard keygen --out DIR`"
        elif exc.not_regular and (path / PRIVATE_KEY_NAME).is_file():  # keygen's --out DIR
            message = (f"{path} is a folder; set PWGUARD_SIGNING_KEY to "
                       f"{path / PRIVATE_KEY_NAME}")
        elif exc.not_regular:
            message = f"{path} is not a regular file; {KEY_FILE_CONTENT}"
        elif exc.too_large:
            message = f"{path} is over {MAX_KEY_FILE} bytes, not a key file; {KEY_FILE_CONTENT}"
        else:
            message = f"cannot read {path}: {exc.reason}"
        raise SigningKeyError(f"{where}: {message}") from None
    try:
        return data.decode("ascii")
    except UnicodeDecodeError:
        raise SigningKeyError(
            f"{where}: {path} is not a key file (it has binary content); {KEY_FILE_CONTENT}"
        ) from None


QUOTES_KEPT = ("is in quotes, which are part of its value here (an env file read as is keeps "
               "them: `docker run --env-file`, unlike a shell): remove them")


def in_quotes(value: str) -> bool:
    """Whether a setting's value is wrapped in quotes that a shell would have removed."""
    text = value.strip()
    return len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'"


def load_private_key(value: str, where: str = "PWGUARD_SIGNING_KEY") -> Ed25519PrivateKey:
    """Load a key from a file path, or from the value itself (PEM or base64 seed)."""
    if in_quotes(value):  # (else: "no key file at "/etc/..."; create one with pwguard keygen")
        raise SigningKeyError(f"{where} {QUOTES_KEPT}")
    path = key_file_path(value)
    if path is None:
        return parse_private_key(value, where)
    text = read_key_file(path, where)
    key = parse_private_key(text, f"{where} ({path})")
    if "-----BEGIN" not in text and _is_a_public_key_file(path, text):
        # any 32 bytes make a seed: without this the server signs with a key nobody trusts
        raise SigningKeyError(
            f"{where}: {path} is the public key (the extension's `publicKey` policy), not "
            f"the private one; set PWGUARD_SIGNING_KEY to {path.parent / PRIVATE_KEY_NAME}"
        )
    return key


def _is_a_public_key_file(path: Path, text: str) -> bool:
    """A `.pub` file, or the public key of the key pair `pwguard keygen` wrote beside it."""
    if path.suffix == ".pub":
        return True
    sibling = path.parent / PRIVATE_KEY_NAME
    if sibling == path or not sibling.is_file():
        return False
    try:
        pair = serialization.load_pem_private_key(sibling.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return False
    raw = base64.b64decode(text.strip())
    return isinstance(pair, Ed25519PrivateKey) and public_key_raw(pair) == raw


def _raw_32_bytes(text: str) -> bytes | None:
    """The 32 bytes (an Ed25519 seed or public key) that `text` is the base64 of, else None."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == 32 else None


def _looks_like_base64_seed(value: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z0-9+/]{43}=", value.strip()))


def _looks_like_key_material(value: str) -> bool:
    """Whether a value that names no file is a key in a form pwguard does not read (a PEM body
    without its BEGIN/END lines, unpadded, URL-safe or 64-byte base64, hex) rather than a
    path: long, of base64 or hex characters only (upper and lower case letters and digits
    mixed, as random bytes give them), with nothing a path has (a dot, a leading `/` or `~`,
    a first folder that exists)."""
    text = value.strip()
    if len(text) < 40 or not re.fullmatch(r"[A-Za-z0-9+/=_\-\s]+", text):
        return False
    if text.startswith("/") or ("/" in text and Path(text.split("/", 1)[0]).is_dir()):
        return False
    hex_digits = re.fullmatch(r"[0-9a-fA-F\s]+", text) is not None
    mixed = all(re.search(pattern, text) for pattern in (r"[A-Z]", r"[a-z]", r"[0-9]"))
    return hex_digits or mixed


def _plausible_path(value: str) -> bool:
    """Whether a value could be a file path: no line breaks nor control characters, and not
    longer than any system takes."""
    return len(value) <= 4096 and not re.search(r"[\x00-\x1f\x7f]", value)


def parse_public_keys(value: str) -> list[bytes]:
    """Parse the extension's `publicKey` setting: base64 raw keys separated by commas or spaces."""
    keys = []
    for part in re.split(r"[\s,]+", value.strip()):
        if not part:
            continue
        raw = _raw_32_bytes(part)
        if raw is None:
            raise SigningKeyError(
                f"public key {part!r}: expected the base64 of a raw 32-byte Ed25519 key"
            )
        keys.append(raw)
    if not keys:
        raise SigningKeyError("public key: empty; give the base64 printed by `pwguard keygen`")
    return keys


def generate_key_file(path: Path) -> Ed25519PrivateKey:
    """Create a new private key at `path`, readable by its owner only (0600)."""
    key = Ed25519PrivateKey.generate()
    path.parent.mkdir(exist_ok=True)  # one level (./.pwguard/): a missing folder above is an error
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(private_key_pem(key))
        os.chmod(path, 0o600)
    except BaseException:  # (a full disk): an empty or partial key file must not stay, as if
        path.unlink(missing_ok=True)  # it were a key to keep; this call created it
        raise
    return key


def canonical_json(obj: Any) -> bytes:
    """The canonical JSON of docs/internals.md."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign_bundle(payload_bytes: bytes, key: Ed25519PrivateKey) -> bytes:
    """Wrap payload bytes in a signed bundle and return the bundle's bytes."""
    try:
        payload_text = payload_bytes.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BundleError(f"payload is not UTF-8: {exc}") from None
    signature = base64.b64encode(key.sign(payload_bytes)).decode("ascii")
    bundle = {
        "format": BUNDLE_FORMAT,
        "key_id": key_id(key),
        "payload": payload_text,
        "signature": signature,
    }
    return canonical_json(bundle)


def signed_by(bundle_bytes: bytes, key: Ed25519PrivateKey) -> bytes:
    """A stored bundle as `key` signs it: unchanged if it is `key`'s, else its payload re-signed.

    After a key rotation the server must stop serving signatures of the old key (the
    extension's policy may drop it), also for versions stored before the rotation.
    """
    try:
        bundle = json.loads(bundle_bytes)
        payload = bundle["payload"] if bundle.get("key_id") != key_id(key) else None
    except (ValueError, TypeError, KeyError, AttributeError):
        return bundle_bytes  # not ours to repair: served as stored, the extension judges it
    if not isinstance(payload, str):
        return bundle_bytes
    return sign_bundle(payload.encode("utf-8"), key)


def verify_bundle(bundle_bytes: bytes, public_key_b64_: str) -> dict[str, Any]:
    """Check a bundle against one or more public keys; return the parsed payload.

    Raises BundleError when it does not parse or no key verifies it.
    """
    try:
        bundle = json.loads(bundle_bytes)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BundleError(f"bundle is not JSON: {exc}") from None
    if not isinstance(bundle, dict) or bundle.get("format") != BUNDLE_FORMAT:
        raise BundleError(f"bundle: expected an object with format {BUNDLE_FORMAT!r}")
    payload, signature, kid = bundle.get("payload"), bundle.get("signature"), bundle.get("key_id")
    if not all(isinstance(v, str) for v in (payload, signature, kid)):
        raise BundleError("bundle: `key_id`, `payload` and `signature` must be strings")
    assert isinstance(payload, str) and isinstance(signature, str)
    try:
        sig = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        raise BundleError("bundle: `signature` is not base64") from None
    if base64.b64encode(sig).decode("ascii") != signature:
        raise BundleError("bundle: `signature` is not canonical base64")
    data = payload.encode("utf-8")
    for raw in parse_public_keys(public_key_b64_):
        if key_id(raw) != kid:
            continue
        try:
            Ed25519PublicKey.from_public_bytes(raw).verify(sig, data)
        except InvalidSignature:
            continue
        try:
            parsed = json.loads(data)
        except ValueError as exc:
            raise BundleError(f"bundle: signed payload is not JSON: {exc}") from None
        if not isinstance(parsed, dict):
            raise BundleError("bundle: signed payload is not a JSON object")
        return parsed
    raise BundleError(
        f"bundle: key id {kid} with a signature none of the given public key(s) verifies"
    )

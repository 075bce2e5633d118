"""`pwguard keygen`: write an Ed25519 key pair, print the public key for the extension's policy."""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from pwguard.api.settings import Settings, shown_url
from pwguard.api.signing import (
    PRIVATE_KEY_NAME,
    SigningKeyError,
    generate_key_file,
    key_file_path,
    key_id,
    load_private_key,
    public_key_b64,
)
from pwguard.cliargs import parse_args, write_output

PRIVATE_NAME = PRIVATE_KEY_NAME
PUBLIC_NAME = "pwguard-signing.pub"
# the extension's ids, for the policy files keygen prints (tests/test_extension_static.py
# holds them to extension/manifest.json): Chrome's is the unpacked extension's, fixed by the
# manifest's key (a Chrome Web Store upload gets an id of its own)
CHROME_EXTENSION_ID = "ifejdgnbhbhkfhlplcanjgbknffbngka"
FIREFOX_EXTENSION_ID = "pwguard@pwguard.dev"

log = logging.getLogger("pwguard.keys")
DEV_KEY_DIR = Path(".pwguard")  # where dev keeps its key when the database is not SQLite


def resolve_signing_key(settings: Settings) -> Ed25519PrivateKey:
    """The server's signing key: PWGUARD_SIGNING_KEY, else (dev only) one generated on disk."""
    if settings.signing_key.strip():
        return load_private_key(settings.signing_key.strip())
    if settings.env != "dev":
        raise SigningKeyError(
            "PWGUARD_SIGNING_KEY is empty: production never generates keys; run "
            "`pwguard keygen --out DIR` and set PWGUARD_SIGNING_KEY=DIR/" + PRIVATE_NAME
        )
    path = settings.default_key_path()
    if not path.parent.is_dir() and path.parent != DEV_KEY_DIR:
        raise SigningKeyError(
            f"PWGUARD_DATABASE_URL {shown_url(settings.database_url)!r}: the folder "
            f"{str(path.parent)!r} must exist (it is not created; dev mode keeps its signing key "
            "beside the database): create it, or point PWGUARD_DATABASE_URL at a file in an "
            "existing folder"
        )
    if path.exists():
        return load_private_key(str(path), where=f"dev signing key {path}")
    try:
        key = generate_key_file(path)
    except FileExistsError:  # another process generated it a moment ago
        return load_private_key(str(path), where=f"dev signing key {path}")
    except OSError as exc:
        raise SigningKeyError(
            f"cannot create the dev signing key {path}: {exc.strerror}; set PWGUARD_SIGNING_KEY "
            "to a key made with `pwguard keygen --out DIR`"
        ) from None
    log.warning(
        "generated a dev signing key at %s (public key %s); set PWGUARD_SIGNING_KEY in production",
        path, public_key_b64(key),
    )
    return key


def key_file_warning(settings: Settings) -> str | None:
    """A warning when the private key file can be read by others than its owner (as ssh
    warns), or None. Anyone who reads it can sign rules every browser accepts."""
    value = settings.signing_key.strip()
    path = key_file_path(value) if value else settings.default_key_path()
    if path is None:
        return None
    try:
        mode = path.stat().st_mode & 0o777
    except OSError:
        return None
    if not mode & 0o077:
        return None
    return (f"signing key {path} has mode {mode:04o}, open to other users (whoever reads it can "
            f"sign rules every browser accepts); it should be 0600: chmod 600 {path}")


# the user name and password of an address (`https://user:pass@host`)
USERINFO = re.compile(r"(//)[^/?#]*@")
# a server URL that names the rules' own address (<server>/v1/rules)
RULES_PATH = re.compile(r"/v1/rules/*$")


def server_url_problem(url: str) -> str | None:
    """Why the extension would refuse `url` as its `serverUrl` policy (background.js
    settingsProblems), or None."""
    try:
        parts = urlsplit(url.strip())
        ok = parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
        parts.port  # noqa: B018 (raises ValueError on a port that is not one)
    except ValueError:
        ok = False
    fix = "give the rules server's base URL, such as https://rules.example.com"
    shown = USERINFO.sub(r"\1***@", url)  # (a password is never shown)
    if not ok:
        return f"--server-url {shown!r} is not a full http(s) address: {fix}"
    if parts.username is not None or parts.password is not None:
        return (f"--server-url {shown!r} has a user name or password, which browsers refuse to "
                f"fetch: {fix}")
    if "?" in url or "#" in url:
        return (f"--server-url {shown!r} has a \"?\" or \"#\" part, which the extension "
                f"refuses: {fix}")
    if RULES_PATH.search(parts.path):  # (background.js RULES_PATH_RE)
        # (no user name or password: refused above)
        base = url.strip()[:url.strip().rfind("/v1/rules")] + "/"
        return (f"--server-url {shown!r} is the rules' own address, which the extension "
                f"refuses (it fetches <server URL>/v1/rules): give {base}")
    return None


def policy_snippet(public_key: str, server_url: str) -> dict[str, object]:
    """Managed-storage policy values for the extension (Chrome `3rdparty` / Firefox `3rdparty`)."""
    return {"serverUrl": server_url, "publicKey": public_key, "pollMinutes": 5}


def policy_files(values: dict[str, object]) -> tuple[dict[str, object], dict[str, object]]:
    """The Chrome policy file and the Firefox policies.json that give the extension `values`."""
    chrome: dict[str, object] = {"3rdparty": {"extensions": {CHROME_EXTENSION_ID: values}}}
    firefox: dict[str, object] = {
        "policies": {"3rdparty": {"Extensions": {FIREFOX_EXTENSION_ID: values}}}}
    return chrome, firefox


def keep_replaced(*paths: Path) -> list[tuple[Path, Path]]:
    """Rename the key pair --force replaces to NAME.replaced-UTCSTAMP beside it (the private
    key keeps its mode 0600): until every browser's policy names the new public key, bundles
    signed with the old one are the only ones they accept, so the old key must not be lost."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    kept: list[tuple[Path, Path]] = []
    for path in paths:
        if os.path.lexists(path):  # (a broken link too: it would stop the new key's write)
            target = path.with_name(f"{path.name}.replaced-{stamp}")
            n = 1
            while os.path.lexists(target):
                n += 1
                target = path.with_name(f"{path.name}.replaced-{stamp}-{n}")
            try:
                path.rename(target)
            except OSError:  # (the private key renamed, the public one not): both stay in use
                put_back(kept)
                raise
            kept.append((path, target))
    return kept


def put_back(kept: list[tuple[Path, Path]]) -> None:
    """Undo keep_replaced: the new pair could not be written, so the old one stays in use."""
    for path, target in kept:
        try:
            path.unlink(missing_ok=True)
            target.rename(path)
        except OSError:
            log.warning("the replaced %s is kept as %s", path, target)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="pwguard keygen",
        description="Write an Ed25519 key pair for signing rule bundles: DIR/pwguard-signing.key "
        "(private, PEM, mode 0600; give it to the server as PWGUARD_SIGNING_KEY) and "
        "DIR/pwguard-signing.pub (the base64 public key the extension's `publicKey` policy takes).",
    )
    parser.add_argument("--out", required=True, type=Path, help="folder to write the key pair to")
    parser.add_argument(
        "--server-url", default="https://rules.example.com",
        help="server URL to put in the printed policy snippet",
    )
    parser.add_argument("--force", action="store_true",
                        help="replace an existing key pair (the old one is kept, renamed)")
    args = parse_args(parser, argv, lambda a: server_url_problem(a.server_url))
    if isinstance(args, int):
        return args

    out: Path = args.out
    private, public = out / PRIVATE_NAME, out / PUBLIC_NAME
    # a link to nothing: "[Errno 17] File exists" said the opposite of what is there
    for path, force in ((out, ""), (private, ", or pass --force to replace it")):
        if path.is_symlink() and not path.exists() and not (force and args.force):
            target = os.readlink(path)
            print(f"pwguard keygen: cannot write to {path}: it is a broken symbolic link (to "
                  f"{target!r}, which does not exist); fix or remove the link{force}",
                  file=sys.stderr)
            return 2
    if private.exists() and not args.force:
        print(
            f"pwguard keygen: {private} exists; keep it (bundles signed with it stay valid) "
            "or pass --force to replace it (the old pair is kept, renamed)",
            file=sys.stderr,
        )
        return 2
    kept: list[tuple[Path, Path]] = []
    created = False
    try:
        out.mkdir(parents=True, exist_ok=True)
        if args.force:
            kept = keep_replaced(private, public)
        key = generate_key_file(private)
        created = True
        pub = public_key_b64(key)
        public.write_text(pub + "\n", "ascii")
    except OSError as exc:
        if created:  # half a pair: the next keygen would refuse it as a key to keep
            private.unlink(missing_ok=True)
        put_back(kept)
        print(f"pwguard keygen: cannot write to {out}: {exc}", file=sys.stderr)
        return 2
    snippet = policy_snippet(pub, args.server_url)
    chrome, firefox = policy_files(snippet)
    text = "\n".join([
        *(f"replaced:    {path} (the old one; delete it once no policy names its key)"
          for _, path in kept),  # the key browsers still trust until the policy names the new one
        f"private key: {private} (mode 0600) -> PWGUARD_SIGNING_KEY={private.absolute()}",
        f"public key:  {public}",
        f"key id:      {key_id(key)}",
        "",
        f"publicKey: {pub}",
        "",
        "Chrome policy (Linux: /etc/opt/chrome/policies/managed/pwguard.json, Chromium:",
        "/etc/chromium/policies/managed/pwguard.json; the id is the unpacked extension's, a",
        "Chrome Web Store upload gets its own: put that one instead):",
        json.dumps(chrome, indent=2),
        "",
        "Firefox policy (policies.json in the distribution/ folder of the installation):",
        json.dumps(firefox, indent=2),
    ]) + "\n"
    failed = write_output(text, "pwguard keygen")
    if failed is not None:
        # the keys are written all the same: say where, so nobody generates another pair
        print(f"pwguard keygen: the key pair is written: the public key is in {public}, the "
              f"private key in {private}", file=sys.stderr)
        return failed
    return 0

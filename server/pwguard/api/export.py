"""`pwguard export --out DIR`: the signed bundle as static files that nginx or any CDN can serve.

`DIR/v1/rules` and `DIR/v1/rules.json` hold the same bytes GET /v1/rules serves, so a
static server rooted at DIR answers the extension's URL. The bundle verifies from the
file alone; the static server's own ETag (often size/mtime) works as well as ours.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from contextlib import closing
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from pwguard.api.build import build_dir, format_finding
from pwguard.api.keys import resolve_signing_key
from pwguard.api.settings import (
    Settings,
    database_url_problem,
    shown_url,
    sqlite_file_problem,
    validation_problems,
)
from pwguard.api.signing import SigningKeyError, key_id, sign_bundle, signed_by
from pwguard.api.storage import Storage, driver_message, sqlite_file
from pwguard.cliargs import parse_args, write_output
from pwguard.lint import unreadable
from pwguard.rules.files import PairWriteError, write_together

NGINX_SNIPPET = """\
location = /v1/rules {
    root DIR;                      # the --out folder
    default_type application/json;
    add_header Cache-Control "no-cache" always;
    add_header Access-Control-Allow-Origin "*" always;
    add_header Access-Control-Expose-Headers "ETag" always;
    etag on;
}
"""


def write_bundle(out: Path, bundle: bytes) -> list[Path]:
    """Write DIR/v1/rules and DIR/v1/rules.json (same bytes) as a pair: a failure between
    the two (a full disk) leaves both as they were, never one new bundle and one old."""
    paths = [out / "v1" / "rules", out / "v1" / "rules.json"]
    write_together(paths, bundle)
    return paths


def foreign_database(path: Path, url: str) -> str | None:
    """Why the SQLite file `path` (of `url`) is not a pwguard database, read without writing
    to it; None when it is one (or when reading it fails: Storage then says why)."""
    shown = shown_url(url)
    problem = sqlite_file_problem(url)  # not a regular file, or not SQLite
    if problem:
        return problem
    if path.stat().st_size == 0:
        return (f"{shown!r}: {path} is empty, not the database of a pwguard server: point "
                "PWGUARD_DATABASE_URL at the database `pwguard serve` runs on")
    try:
        with closing(sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)) as conn:
            found = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
                                 "name = 'pwguard_active'").fetchone()
    except sqlite3.Error:
        return None
    if found is None:
        return (f"cannot read {shown!r} (no such table: pwguard_active); is it the database a "
                "`pwguard serve` ran on?")
    return None


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="pwguard export",
        description="Write the signed rules bundle to DIR/v1/rules and DIR/v1/rules.json. "
        "By default it lints and signs the rules folder (PWGUARD_RULES_DIR) with the server's "
        "key (PWGUARD_SIGNING_KEY, or the dev key beside the database); --from-db copies the "
        "active version from PWGUARD_DATABASE_URL instead, byte for byte as the server serves it "
        "(re-signed with PWGUARD_SIGNING_KEY if an earlier key signed it).",
        epilog="nginx:\n" + NGINX_SNIPPET,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", required=True, type=Path, help="folder to write v1/rules into")
    parser.add_argument("--rules", metavar="DIR",
                        help="rules folder or file (default PWGUARD_RULES_DIR)")
    parser.add_argument("--from-db", action="store_true",
                        help="export the database's active version instead of a rules folder")
    args = parse_args(parser, argv, check=lambda a: (
        "give --rules or --from-db, not both" if a.rules and a.from_db else None))
    if isinstance(args, int):
        return args
    try:
        settings = Settings()
    except ValidationError as exc:
        for problem in validation_problems(exc):
            print(f"pwguard export: {problem}", file=sys.stderr)
        return 2
    # checked first: the dev key lives beside the SQLite file, so the URL matters either way
    db_problem = database_url_problem(settings.database_url)
    if db_problem:
        print(f"pwguard export: {db_problem}", file=sys.stderr)
        return 2
    shown = shown_url(settings.database_url)

    if args.from_db:
        db_file = sqlite_file(settings.database_url)
        if db_file is not None and not db_file.is_file():
            print(f"pwguard export: no database file at {db_file} (PWGUARD_DATABASE_URL "
                  f"{shown!r}); point it at the database `pwguard serve` runs on",
                  file=sys.stderr)
            return 2
        # export only reads: a file that is no pwguard database is refused before Storage,
        # whose connections switch the file to WAL mode (another application's database too)
        foreign = None if db_file is None else foreign_database(db_file, settings.database_url)
        if foreign:
            print(f"pwguard export: {foreign}", file=sys.stderr)
            return 2
        try:
            storage = Storage(settings.database_url)
            active = storage.active_bundle()
            storage.close()
        except SQLAlchemyError as exc:
            reason = driver_message(exc)
            print(f"pwguard export: cannot read {shown!r} ({reason}); is it the "
                  "database a `pwguard serve` ran on?", file=sys.stderr)
            return 2
        if active is None:
            print(f"pwguard export: no active version in {shown!r}; publish first "
                  "or export from a rules folder", file=sys.stderr)
            return 2
        version, bundle, source = active.version, active.bundle, shown
        # the key the server would sign with (never a newly generated one): after a rotation
        # the server serves stored versions re-signed, so the static copy must be too
        if settings.signing_key.strip() or (
            settings.env == "dev" and settings.default_key_path().is_file()
        ):
            try:
                key = resolve_signing_key(settings)
            except SigningKeyError as exc:
                print(f"pwguard export: {exc}", file=sys.stderr)
                return 2
            bundle = signed_by(bundle, key)
            source = f"{shown} (key id {key_id(key)})"
    else:
        rules_dir = Path(args.rules or settings.rules_dir or "rules")
        if not rules_dir.exists():  # a folder, or one rule file as `pwguard lint` takes it
            print(f"pwguard export: rules folder {str(rules_dir)!r} not found; pass --rules DIR",
                  file=sys.stderr)
            return 2
        outcome = build_dir(rules_dir)
        if outcome.built is None:
            for f in outcome.findings:
                print(format_finding(f), file=sys.stderr)
            if unreadable(outcome.findings):  # an I/O error, as `pwguard lint` exits on it
                print(f"pwguard export: cannot read the rules in {rules_dir} (F001 above); "
                      "nothing written", file=sys.stderr)
                return 2
            print(f"pwguard export: {rules_dir} has lint errors; nothing written", file=sys.stderr)
            return 1
        try:
            key = resolve_signing_key(settings)
        except SigningKeyError as exc:
            print(f"pwguard export: {exc}", file=sys.stderr)
            return 2
        version, bundle = outcome.built.version, sign_bundle(outcome.built.payload, key)
        source = f"{rules_dir} (key id {key_id(key)})"
    try:
        paths = write_bundle(args.out, bundle)
    except PairWriteError as exc:
        changed = ", ".join(map(str, exc.changed))
        print(f"pwguard export: cannot write to {args.out}: {exc}; only {changed} holds version "
              f"{version} now: run the export again", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"pwguard export: cannot write to {args.out}: {exc}; {args.out / 'v1' / 'rules'} "
              "and rules.json are left as they were", file=sys.stderr)
        return 2
    return write_output(f"exported version {version} from {source}:\n"
                        + "".join(f"  {p}\n" for p in paths), "pwguard export") or 0

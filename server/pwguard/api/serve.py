"""`pwguard serve`: check settings, key and rules, store the rules as a version, run uvicorn."""

from __future__ import annotations

import argparse
import errno
import logging
import os
import socket
import sys
from collections.abc import Mapping
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from pwguard.api.build import Built, build_dir, format_finding
from pwguard.api.keys import key_file_warning, resolve_signing_key
from pwguard.api.settings import (
    Settings,
    as_given,
    configure_logging,
    setting_name,
    shown_url,
    sqlite_file_problem,
    validation_problems,
)
from pwguard.api.signing import SigningKeyError, key_id, public_key_b64, sign_bundle
from pwguard.api.storage import (
    REFUSES_WRITES,
    Storage,
    database_failure,
    driver_message,
    is_sqlite,
    server_said,
    write_refusal,
)
from pwguard.cliargs import parse_args

log = logging.getLogger("pwguard.serve")

# command-line option -> Settings field; an option overrides PWGUARD_<FIELD>.
OPTIONS = {
    "--rules": "rules_dir",
    "--database-url": "database_url",
    "--host": "host",
    "--port": "port",
    "--workers": "workers",
    "--env": "env",
    "--log-level": "log_level",
}


def env_help() -> str:
    """Every setting with its environment variable, default and meaning."""
    lines = ["environment (an option above overrides its variable):"]
    for name, field in Settings.model_fields.items():
        default = field.default
        shown = repr(default) if default not in ("", None) else "(empty)"
        lines.append(f"  PWGUARD_{name.upper():<22} default {shown}")
        lines.append(f"      {field.description}")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pwguard serve",
        description="Run the rules server. At start it lints the rules folder (refusing to start "
        "on errors), stores it as a version if it is new, makes it active, then serves "
        "GET /v1/rules and the admin API.",
        epilog=env_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rules", metavar="DIR", help="rules folder (PWGUARD_RULES_DIR)")
    parser.add_argument("--database-url", metavar="URL", help="database (PWGUARD_DATABASE_URL)")
    parser.add_argument("--host", help="listen address (PWGUARD_HOST)")
    parser.add_argument("--port", type=int, help="listen port (PWGUARD_PORT)")
    parser.add_argument("--workers", type=int, help="worker processes (PWGUARD_WORKERS)")
    # (any case, as the variables: --log-level INFO)
    parser.add_argument("--env", type=str.lower, choices=["dev", "production"],
                        help="PWGUARD_ENV")
    parser.add_argument("--log-level", type=str.lower,
                        choices=["critical", "error", "warning", "info", "debug"],
                        help="PWGUARD_LOG_LEVEL")
    return parser


def database_hint(url: str, reason: str) -> str:
    """What to do about a database that would not open, after its driver's reason."""
    if not is_sqlite(url):
        return ""
    if "not a database" in reason:
        return ("; it is not an SQLite database: point PWGUARD_DATABASE_URL at the database of "
                "a pwguard server, or at a new file (created at start)")
    if "malformed" in reason:
        return ("; the file is damaged: restore it from a backup, or point "
                "PWGUARD_DATABASE_URL at a new file (created at start)")
    if "unable to open" in reason:
        return "; the folder must exist and be writable (or set PWGUARD_DATABASE_URL)"
    return ""


def database_problem(url: str, exc: SQLAlchemyError, *, opening: bool) -> str:
    """One line for a database error at start: a database that refuses writes says so with
    the fix, as does any failure `database_failure` names (a connection refused, a full disk,
    a lock...); else the driver's reason (after a hint when it would not open)."""
    where = f"PWGUARD_DATABASE_URL {shown_url(url)!r}"
    failure = database_failure(exc, url)  # (a refusal to write among them: write_refusal)
    if failure is not None:
        stores = (", and the server stores each rules version there"
                  if failure.state == REFUSES_WRITES else "")
        return (f"{where}: the database {failure.state} ({failure.why}: {server_said(exc)})"
                f"{stores}: {failure.fix}")
    reason = str(exc.orig if hasattr(exc, "orig") and exc.orig else exc).strip()
    if opening:
        return (f"cannot open the database PWGUARD_DATABASE_URL={shown_url(url)!r}: "
                f"{reason}{database_hint(url, reason)}")
    return f"{where}: the database failed at start ({driver_message(exc)})"


KEEP_ALIVE_SECONDS = 75  # an idle keep-alive connection is closed after this


def fail(message: str) -> int:
    print(f"pwguard serve: {message}", file=sys.stderr)
    return 2


HOST_CHOICES = ("127.0.0.1 (this machine only), 0.0.0.0 (every interface) or another address "
                "of this machine")


def free_port_example(port: int) -> str:
    """The fix's example of a free port: 8080, or 8081 when 8080 is the port refused (the
    default, and `make run`'s: a second server there was told to take 8080)."""
    return f"a free port, e.g. {free_port_number(port)}"


def free_port_number(port: int) -> int:
    return 8081 if port == 8080 else 8080


def given_options(args: argparse.Namespace) -> dict[str, str]:
    """Settings field -> the command-line option that set it (`port` -> `--port`), for the
    options given: messages name what the user gave, not the variable it overrides."""
    return {field: option for option, field in OPTIONS.items()
            if getattr(args, option[2:].replace("-", "_")) is not None}


def setting_fix(field: str, given: Mapping[str, str], value: str) -> str:
    """How to change a setting, the way the user gave it."""
    option = next(o for o, f in OPTIONS.items() if f == field)
    if field in given:
        return f"give {option} {value}"
    return f"set PWGUARD_{field.upper()} (or {option}) to {value}"


def listen_problem(host: str, port: int, given: Mapping[str, str] | None = None) -> str | None:
    """Why uvicorn could not listen on host:port, or None: bind (then release) every address.

    Binds as uvicorn does (SO_REUSEADDR; IPv6 sockets IPv6-only), so a port another server
    listens on is refused and one left in TIME_WAIT by a restart is not. `given`: the
    settings that came from options (`given_options`), named as such.
    """
    given = given or {}
    host_name, port_name = setting_name("host", given), setting_name("port", given)
    host_fix = setting_fix("host", given, HOST_CHOICES)
    port_fix = setting_fix("port", given, free_port_example(port))
    if "port" in given:  # `make run` gives --port from its PORT: that is what its users set
        port_fix += f" (`make run PORT={free_port_number(port)}` when `make run` started it)"
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, socket.gaierror) else str(exc)
        return f"{host_name} {host!r} is not an address to listen on ({reason}): {host_fix}"
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in infos:
            try:
                sock = socket.socket(family, kind, proto)
            except OSError:  # a family this kernel lacks: asyncio skips it too
                continue
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
    except OSError as exc:
        where = f"{host_name} {host!r}, {port_name} {port}"
        if exc.errno == errno.EADDRINUSE:
            return (f"{port_name} {port} is already in use on {host!r} (another server "
                    f"listens there): stop it or {port_fix}")
        if exc.errno == errno.EACCES:
            return (f"{port_name} {port}: permission denied (ports below 1024 need "
                    f"privileges): {port_fix}, behind a reverse proxy if need be")
        if exc.errno == errno.EADDRNOTAVAIL:
            return f"{host_name} {host!r} is not an address of this machine: {host_fix}"
        return f"cannot listen on {where}: {exc.strerror or exc}: {host_fix}; {port_fix}"
    finally:
        for sock in sockets:
            sock.close()
    return None


def prepare(settings: Settings, given: Mapping[str, str] | None = None) -> int:
    """Everything before listening; returns 0 or an exit code after printing why. `given`:
    the settings that came from command-line options (`given_options`)."""
    given = given or {}
    problems = settings.problems()
    if problems:
        for p in problems:
            print(f"pwguard serve: {as_given(p, given)}", file=sys.stderr)
        return 2
    # before anything is stored: a second `pwguard serve` on a taken port must not
    # activate its rules folder on the database of the server already listening there
    problem = listen_problem(settings.host, settings.port, given)
    if problem:
        return fail(problem)
    # before the key and the database: a rules folder that cannot be served leaves no new
    # SQLite file or development key behind
    built = None
    if settings.rules_dir:
        checked = check_rules_dir(Path(settings.rules_dir))
        if isinstance(checked, int):
            return checked
        built = checked
    # before the key: in dev it is generated beside the SQLite file
    problem = sqlite_file_problem(settings.database_url)
    if problem:
        return fail(as_given(problem, given))
    try:
        key = resolve_signing_key(settings)
    except SigningKeyError as exc:
        return fail(as_given(str(exc), given))
    warning = key_file_warning(settings)
    if warning:
        log.warning("%s", warning)
    try:
        storage = Storage(settings.database_url)
        storage.create_schema()
    except SQLAlchemyError as exc:
        return fail(as_given(database_problem(settings.database_url, exc, opening=True), given))
    try:
        try:
            storage.check_writable()
        except SQLAlchemyError as exc:
            # with no rules folder to store, a read-only database can still serve its rules
            if settings.rules_dir or write_refusal(exc, settings.database_url) is None:
                raise
            log.warning("%s; until it is fixed, publishes and rollbacks answer 503",
                        as_given(database_problem(settings.database_url, exc, opening=False),
                                 given))
        if built is not None:
            store_rules(Path(settings.rules_dir), built, storage, key)
        elif storage.active_version() is None:
            log.warning("no rules folder and no active version: GET /v1/rules answers 503 "
                        "until a publish")
    except SQLAlchemyError as exc:
        return fail(as_given(database_problem(settings.database_url, exc, opening=False), given))
    finally:
        storage.close()
    log.info("signing key id %s, public key %s (the extension's publicKey)", key_id(key),
             public_key_b64(key))
    return 0


def check_rules_dir(rules_dir: Path) -> Built | int:
    """The folder's rules, linted; or an exit code after printing why they cannot be served."""
    if rules_dir.is_file():
        return fail(
            f"rules folder {str(rules_dir)!r} is a file, not a folder: pass --rules with the "
            "folder that holds it"
        )
    if not rules_dir.is_dir():
        return fail(
            f"rules folder {str(rules_dir)!r} not found: pass --rules DIR or set "
            "PWGUARD_RULES_DIR (empty to serve only published versions)"
        )
    outcome = build_dir(rules_dir)
    if outcome.built is None:
        for f in outcome.findings:
            print(format_finding(f), file=sys.stderr)
        return fail(
            f"{rules_dir}: {len(outcome.errors) or len(outcome.findings)} lint error(s); "
            "fix them (see `pwguard lint`) before serving"
        )
    return outcome.built


def store_rules(rules_dir: Path, built: Built, storage: Storage, key: Ed25519PrivateKey) -> None:
    """Store the folder's rules (active) when new or when nothing is active yet."""
    known = storage.bundle_of(built.version) is not None
    # A restart must not undo a later publish or rollback: only new rules take over.
    activate = not known or storage.active_version() is None
    storage.add_version(
        built.version, built.payload, sign_bundle(built.payload, key),
        note=f"loaded from {rules_dir} at start", actor="pwguard serve", activate=activate,
    )
    active = storage.active_version()
    log.info("rules %s: version %s (%s); active version %s", rules_dir, built.version,
             "new" if not known else "already stored", active)


def main(argv: list[str]) -> int:
    args = parse_args(build_parser(), argv)
    if isinstance(args, int):
        return args
    given = given_options(args)
    for field, option in given.items():
        # (the worker processes read their settings from the environment)
        os.environ[f"PWGUARD_{field.upper()}"] = str(getattr(args, option[2:].replace("-", "_")))
    try:
        settings = Settings()
    except ValidationError as exc:
        for problem in validation_problems(exc, given):
            print(f"pwguard serve: {problem}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    code = prepare(settings, given)
    if code:
        return code
    import uvicorn

    try:
        uvicorn.run(
            "pwguard.api.app:app_from_env",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            log_level=settings.log_level,
            access_log=settings.log_level == "debug",
            proxy_headers=False,
            # longer than a reverse proxy keeps an idle connection to its upstream (nginx's
            # and most load balancers' 60 s): uvicorn's 5 s closed connections the proxy was
            # sending the next request on, a 502 now and then
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
        )
    except SystemExit as exc:  # uvicorn exits 1 or 3 when it cannot start; its log says why
        if exc.code in (None, 0):
            return 0
        return fail(
            f"the server did not start (uvicorn's error above); if it is about the address, "
            f"check {setting_name('host', given)} {settings.host!r} and "
            f"{setting_name('port', given)} {settings.port}"
        )
    return 0

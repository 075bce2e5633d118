"""Every knob of the rules server, read from the environment (prefix PWGUARD_)."""

from __future__ import annotations

import logging
import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL, make_url

from pwguard.api.signing import QUOTES_KEPT, in_quotes
from pwguard.api.storage import engine_problem, sqlite_file
from pwguard.rules.loader import MAX_BYTES as MAX_RULES_TEXT

# what QUOTES_KEPT says of a value an option gave (no env file gave it: quoted twice)
QUOTES_GIVEN = ("is in quotes, which are part of its value here (quoted twice on the command "
                "line?): remove them")

# Tokens people paste from docs or leave in; refused outside development.
PLACEHOLDER_TOKENS = {
    "changeme", "change-me", "change_me", "secret", "password", "admin", "token", "test",
    "example", "xxx", "placeholder", "dev", "development", "todo", "none", "null",
}
# Words that give a long placeholder away ("changeme-changeme-changeme", "<your-token-here>").
PLACEHOLDER_WORDS = ("changeme", "change-me", "change_me", "placeholder", "replace", "your-",
                     "your_", "example", "<", ">", "xxxx")
MIN_PRODUCTION_TOKEN = 24
# Settings whose value an env file read as is (`docker run --env-file`) may leave in quotes.
# (PWGUARD_DATABASE_URL: database_url_problem, which export uses too)
QUOTABLE = ("admin_token", "signing_key", "rules_dir", "host")
# Characters no HTTP header value can carry (a tab can): `pwguard publish` refuses such a
# token too (publish.HEADER_UNSAFE, not imported: publish stays light)
HEADER_UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f]")
# SQLAlchemy driver names the storage layer supports (plain postgres URLs get psycopg 3).
SUPPORTED_DRIVERS = {"sqlite", "sqlite+pysqlite", "postgresql", "postgres", "postgresql+psycopg"}
DATABASE_URL_FIX = "use sqlite:///path.db or postgresql://user@host/db"
SQLITE_HEADER = b"SQLite format 3\x00"
# The largest body `pwguard publish` sends: a ruleset of at most the loader's limit in
# characters (several files are merged into one text), each character at most 4 UTF-8 bytes.
DEFAULT_MAX_BODY_BYTES = 4 * MAX_RULES_TEXT


QUERY_PASSWORD = re.compile(r"([?&]password=)[^&#]*", re.IGNORECASE)
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
AUDIT_LOGGER = "pwguard.audit"


def configure_logging(level: str) -> None:
    """Log to stderr at PWGUARD_LOG_LEVEL (unless logging is set up already).

    The audit logger stays at info whatever the level: its lines record who changed the
    rules a fleet enforces (rare, never noise), and quieting the server must not hide them.
    """
    logging.basicConfig(level=level.upper(), format=LOG_FORMAT)
    logging.getLogger(AUDIT_LOGGER).setLevel(logging.INFO)


def cut_at_an_at(url: str, parsed: URL) -> bool:
    """Whether an `@` in the user name or password of `url` (parsed as `parsed`) ended it
    early: the text after it was read as the host, and the rest of it as the host, the path
    (a `/` in the password) or the query (a `?`). An `@` in a query value is no sign of it."""
    if parsed.host and "@" in parsed.host:
        return True
    if parsed.password is None or "://" not in url:
        return False
    values = [v for value in parsed.query.values()
              for v in (value if isinstance(value, tuple) else (value,))]
    read = 1 + (parsed.username or "").count("@") + parsed.password.count("@")
    return url.split("://", 1)[1].count("@") > read + sum(v.count("@") for v in values)


def shown_url(url: str) -> str:
    """The database URL as error messages show it: the password masked."""
    try:
        parsed = make_url(url)
    except Exception:  # unparsable: nothing to mask reliably, show only the scheme
        return url.split("://", 1)[0] + "://..." if "://" in url else url
    if cut_at_an_at(url, parsed):  # the password's end was read as the host, path or query
        scheme, rest = url.split("://", 1)
        shown = f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    else:  # rendered only when there is a password to hide: rendering re-quotes the rest
        shown = url if parsed.password is None else parsed.render_as_string(hide_password=True)
    # (libpq takes the password as an option too: ?password=...)
    return QUERY_PASSWORD.sub(r"\1***", shown)


def database_url_problem(url: str) -> str | None:
    """Why PWGUARD_DATABASE_URL cannot work (unparsable or an unsupported driver), or None."""
    if in_quotes(url):
        return f"PWGUARD_DATABASE_URL {QUOTES_KEPT}"
    try:
        url.encode("utf-8")
    except UnicodeEncodeError:  # bytes os.environ kept as surrogates: no driver takes them
        escaped = os.fsencode(url).decode("utf-8", "backslashreplace")
        shown = url.split("://", 1)[0] + "://..." if "@" in url else escaped
        return (f"PWGUARD_DATABASE_URL '{shown}' has bytes that are not UTF-8 text (a file or "
                "folder name in another encoding): point it at a path whose names are UTF-8")
    try:
        driver = make_url(url).drivername
    except Exception:  # sqlalchemy raises ArgumentError; any parse failure is the same fix
        return f"PWGUARD_DATABASE_URL {shown_url(url)!r} is not a database URL: {DATABASE_URL_FIX}"
    if driver not in SUPPORTED_DRIVERS:
        return (
            f"PWGUARD_DATABASE_URL {shown_url(url)!r}: database {driver!r} is not supported: "
            f"{DATABASE_URL_FIX}"
        )
    if cut_at_an_at(url, make_url(url)):
        return (
            f"PWGUARD_DATABASE_URL {shown_url(url)!r}: the user name or password holds an `@`, "
            "which ends it early (the host read is not the server's): write each `@` in them "
            "as %40, e.g. postgresql://user:p%40ss@host/db"
        )
    if driver.startswith("sqlite") and make_url(url).database in (None, "", ":memory:"):
        # every connection would open its own empty database, and nothing would survive a restart
        return (
            f"PWGUARD_DATABASE_URL {shown_url(url)!r}: an in-memory database cannot hold "
            "versions: use sqlite:///path.db"
        )
    reason = engine_problem(url)
    if reason:
        shown = shown_url(url)
        fix = "fix or remove the options after `?`" if "?" in url else DATABASE_URL_FIX
        return f"PWGUARD_DATABASE_URL {shown!r} cannot be used ({reason}): {fix}"
    return None


def sqlite_file_problem(url: str) -> str | None:
    """Why the SQLite file of PWGUARD_DATABASE_URL cannot hold the server's database, or None.

    Checked before anything is written: the dev signing key is created beside the file, and
    neither it nor the database may create folders or land beside a file that is not ours.
    """
    path = sqlite_file(url)
    if path is None:
        return None
    where = f"PWGUARD_DATABASE_URL {shown_url(url)!r}"
    if not path.parent.is_dir():
        return (f"{where}: the folder {str(path.parent)!r} must exist (it is not created): "
                "create it, or point PWGUARD_DATABASE_URL at a file in an existing folder")
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return None  # a new database: created at start
    except OSError:
        return None  # reported by the database's own open, with the reason
    if not stat.S_ISREG(mode):
        return f"{where}: {str(path)!r} is not a regular file: point it at an SQLite file"
    try:
        with path.open("rb") as fh:
            header = fh.read(len(SQLITE_HEADER))
    except OSError:
        return None
    if header and header != SQLITE_HEADER:
        return (f"{where}: {str(path)!r} is not an SQLite database: point it at the database "
                "of a pwguard server, or at a new file (created at start)")
    return None


def validation_problems(exc: ValidationError, given: Mapping[str, str] | None = None) -> list[str]:
    """Settings() refusing the environment, as one `PWGUARD_<NAME>: <what> (got <value>)` line
    per problem (pydantic's own text is several lines naming the field, not the variable).
    `given` maps a field to the command-line option its value came from (`port` ->
    `--port`): that option is named instead of the variable."""
    problems = []
    for err in exc.errors():
        name = setting_name("_".join(str(p) for p in err["loc"]), given or {})
        problems.append(f"{name}: {err['msg']} (got {err.get('input')!r})")
    return problems


def setting_name(field: str, given: Mapping[str, str]) -> str:
    """`--port` when the value came from that option (`given`: field -> option), else
    `PWGUARD_PORT`."""
    return given.get(field) or f"PWGUARD_{field.upper()}"


def as_given(message: str, given: Mapping[str, str]) -> str:
    """`message` with each setting it names by its variable (PWGUARD_DATABASE_URL) named by the
    option that set it instead (--database-url), for the settings that came from options:
    the user is told what they typed, and a fix says to give the option, not the variable
    (which the option overrides)."""
    for field, option in given.items():
        variable = f"PWGUARD_{field.upper()}"
        # (no env file gave an option's quotes: the value was quoted twice)
        message = message.replace(f"{variable} {QUOTES_KEPT}", f"{option} {QUOTES_GIVEN}")
        message = message.replace(f"set {variable}", f"give {option}").replace(variable, option)
    return message


class Settings(BaseSettings):
    """Settings of `pwguard serve`; each field is the environment variable PWGUARD_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="PWGUARD_", extra="ignore")

    env: Literal["dev", "production"] = Field(
        "dev",
        description="dev generates a signing key if absent and allows a weak PWGUARD_ADMIN_TOKEN "
        "(with none set, every admin request gets 401); production refuses to start without a "
        "signing key or with an empty, short or placeholder admin token",
    )
    database_url: str = Field(
        "sqlite:///./pwguard.db",
        description="SQLAlchemy URL: sqlite:///path.db or postgresql://user@host/db",
    )
    signing_key: str = Field(
        "",
        description="Ed25519 private key: a file path, PEM text or base64 seed; in dev, if empty, "
        "a key is generated beside the SQLite database (or in ./.pwguard/)",
    )
    admin_token: str = Field(
        "", description="bearer token for /v1/admin; empty disables the admin API"
    )
    rules_dir: str = Field(
        "rules", description="rules folder loaded, linted and activated at start; empty: none"
    )
    max_body_bytes: int = Field(
        DEFAULT_MAX_BODY_BYTES, ge=1024,
        description="largest accepted PUT /v1/admin/rules body (413 above); the default takes "
        "any ruleset the linter accepts (1 MiB of text, up to 4 bytes a character)",
    )
    host: str = Field("127.0.0.1", description="address to listen on")
    port: int = Field(8080, ge=0, le=65535, description="port to listen on")
    workers: int = Field(1, ge=1, le=64, description="uvicorn worker processes")
    active_check_seconds: float = Field(
        1.0,
        ge=0,
        le=300,
        description="how often a worker re-reads the active version from the database "
        "(other workers' publishes show within this delay; 0: every request)",
    )
    log_level: Literal["critical", "error", "warning", "info", "debug"] = Field(
        "info", description="log level of the server; the audit lines of publishes and "
        "rollbacks (logger pwguard.audit, level info) are written at every level"
    )

    @field_validator("env", "log_level", mode="before")
    @classmethod
    def _any_case(cls, value: object) -> object:
        """PWGUARD_LOG_LEVEL=INFO, PWGUARD_ENV=Production: names as loggers and people write
        them, taken as the lower-case ones."""
        return value.strip().lower() if isinstance(value, str) else value

    def default_key_path(self) -> Path:
        """Where dev mode keeps the generated key: beside the SQLite file, else ./.pwguard/."""
        database = sqlite_file(self.database_url)
        if database is not None:
            return Path(f"{database}.signing-key")
        return Path(".pwguard") / "signing-key"

    def problems(self) -> list[str]:
        """Settings that make the server unsafe to run, each with its fix."""
        found = []
        quoted = [name for name in QUOTABLE if in_quotes(getattr(self, name))]
        # (the value itself is not shown: it may be the token or the key)
        found += [f"PWGUARD_{name.upper()} {QUOTES_KEPT}" for name in quoted]
        token = self.admin_token.strip()
        if "admin_token" in quoted:
            pass
        elif not token.isascii():
            found.append(
                "PWGUARD_ADMIN_TOKEN has non-ASCII characters, which no HTTP client can send: "
                "set a random ASCII token (e.g. `openssl rand -hex 32`)"
            )
        elif HEADER_UNSAFE.search(token):  # (a tab or a space inside is fine: a header holds it)
            found.append(
                "PWGUARD_ADMIN_TOKEN contains a line break or another control character, which "
                "no HTTP client can send: set the token on one line (e.g. `openssl rand -hex 32`)"
            )
        if self.env == "production":
            if not token.isascii() or HEADER_UNSAFE.search(token) or "admin_token" in quoted:
                pass  # reported above
            elif not token:
                found.append(
                    "PWGUARD_ADMIN_TOKEN is empty: set a random token of at least "
                    f"{MIN_PRODUCTION_TOKEN} characters (e.g. `openssl rand -hex 32`)"
                )
            elif (
                token.lower() in PLACEHOLDER_TOKENS
                or len(set(token)) < 4
                or any(word in token.lower() for word in PLACEHOLDER_WORDS)
            ):
                found.append(
                    "PWGUARD_ADMIN_TOKEN looks like a placeholder: set a random token "
                    "(e.g. `openssl rand -hex 32`)"
                )
            elif len(token) < MIN_PRODUCTION_TOKEN:
                found.append(
                    f"PWGUARD_ADMIN_TOKEN is {len(token)} characters: use at least "
                    f"{MIN_PRODUCTION_TOKEN} (e.g. `openssl rand -hex 32`)"
                )
            if not self.signing_key.strip():
                found.append(
                    "PWGUARD_SIGNING_KEY is empty: production never generates keys; create one "
                    "with `pwguard keygen --out DIR` and set "
                    "PWGUARD_SIGNING_KEY=DIR/pwguard-signing.key"
                )
        db_problem = database_url_problem(self.database_url)
        if db_problem:
            found.append(db_problem)
        return found

"""Versions, active pointer and audit log: one SQLAlchemy Core layer for SQLite and PostgreSQL.

Every write is one transaction that also moves the active pointer, so a reader
sees either the old or the new version, never a half-written one. Writers are
serialised: SQLite takes its write lock up front (`BEGIN IMMEDIATE`, WAL, busy
timeout), PostgreSQL locks the single `active` row (`SELECT ... FOR UPDATE`).
"""

from __future__ import annotations

import logging
import re
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    false,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import NullPool

audit_log = logging.getLogger("pwguard.audit")  # kept at info: settings.configure_logging

metadata = MetaData()

versions = Table(
    "pwguard_versions",
    metadata,
    Column("version", String(64), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("note", Text, nullable=False, default=""),
    Column("actor", String(200), nullable=False, default=""),
    Column("payload", LargeBinary, nullable=False),
    Column("bundle", LargeBinary, nullable=False),
)

# One row (id = 1): which version GET /v1/rules serves.
active = Table(
    "pwguard_active",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("version", String(64), ForeignKey("pwguard_versions.version"), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=True),
)

audit = Table(
    "pwguard_audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(40), nullable=False),
    Column("version", String(64), nullable=True),
    Column("previous", String(64), nullable=True),
    Column("note", Text, nullable=False, default=""),
)


@dataclass(frozen=True)
class Version:
    """One stored ruleset version."""

    version: str
    created_at: datetime
    note: str
    actor: str


@dataclass(frozen=True)
class Published:
    """What a publish did: the stored version, whether it is new, and the version it replaced
    as the active one (`previous == version.version`: it was active already, nothing changed)."""

    version: Version
    created: bool
    previous: str | None

    @property
    def changed(self) -> bool:
        return self.created or self.previous != self.version.version


@dataclass(frozen=True)
class ActiveBundle:
    """The active version with the exact bytes GET /v1/rules serves."""

    version: str
    bundle: bytes


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    actor: str
    action: str
    version: str | None
    previous: str | None
    note: str


def is_sqlite(url: str) -> bool:
    """Whether a database URL names an SQLite database."""
    return make_url(url).get_backend_name() == "sqlite"


def sqlite_file(url: str) -> Path | None:
    """The file an SQLite URL keeps its database in; None for another database, an in-memory
    one (no name, or :memory:) and an SQLite URI (`?uri=true`: file:NAME?options, no path)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:") \
            or parsed.query.get("uri"):
        return None
    return Path(parsed.database)


def engine_url(url: str) -> str:
    """Pick the psycopg 3 driver for plain postgresql:// URLs (SQLAlchemy defaults to psycopg2)."""
    parsed = make_url(url)
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def driver_message(exc: BaseException) -> str:
    """The first line of what the database said: the driver's error SQLAlchemy wraps (`orig`),
    else the error's own text ("" if it has none)."""
    orig = getattr(exc, "orig", None) or exc
    return (str(orig).strip().splitlines() or [""])[0]


@dataclass(frozen=True)
class WriteRefusal:
    """A database that answers but refuses to be written: `why` is "read-only" or
    "permission denied", `fix` what to change (neither holds SQL nor secrets)."""

    why: str
    fix: str


REFUSES_WRITES = "refuses writes"  # DatabaseFailure.state of a write_refusal


@dataclass(frozen=True)
class DatabaseFailure:
    """A database error the administrator can act on: what the database does (`state`: "is
    full", "is locked"...), `why` in a few words, and `fix`: what to do (no SQL values, no
    secrets). A transient one (a lock, a conflict, no connection free) has `retry_after`
    seconds: the same request may succeed then as it is."""

    state: str
    why: str
    fix: str
    retry_after: int | None = None

    @property
    def summary(self) -> str:
        """What fails, without the fix (which names files, roles and databases)."""
        return f"the database {self.state} ({self.why})"

    @property
    def detail(self) -> str:
        return f"{self.summary}: {self.fix}"


def _sql_name(name: str | None, placeholder: str) -> str:
    """A role or database name as SQL writes it (quoted unless plain lowercase)."""
    if not name:
        return placeholder
    return name if re.fullmatch(r"[a-z_][a-z0-9_$]*", name) else '"' + name.replace('"', '""') + '"'


# PostgreSQL's words for refusing a connection, by SQLSTATE. psycopg gives no SQLSTATE when
# the server refuses a connection (only libpq's text, with `pgconn` set), so it is read from
# the server's message then; an unknown message, or a server speaking another language, stays
# unnamed. The password methods fail with 28P01, the others (peer, ident...) with 28000.
CONNECT_REFUSALS = (
    (re.compile(r'permission denied for database "'), "42501"),
    (re.compile(r"(password|LDAP|RADIUS|PAM|BSD) authentication failed for user "), "28P01"),
    (re.compile(r'role ".*" (does not exist|is not permitted to log in)|no pg_hba\.conf entry '
                r"|pg_hba\.conf rejects |.*authentication failed for user "), "28000"),
    (re.compile(r'database ".*" does not exist'), "3D000"),
    (re.compile(r"sorry, too many clients|too many connections for |remaining connection slots "
                r"are reserved"), "53300"),
)


def server_said(exc: BaseException) -> str:
    """What the database said: for a refused PostgreSQL connection the server's FATAL line
    without libpq's "connection to server ... failed:" before it, else `driver_message`."""
    first = driver_message(exc)
    said = re.search(r"FATAL:\s+(.*)", first)
    if said:
        return said.group(1).strip()
    return re.sub(r"^connection failed: connection to server .*? failed: ", "", first)


def _postgres_error(orig: BaseException) -> tuple[str, bool]:
    """The SQLSTATE of a PostgreSQL error ("" if none is known) and whether it refused the
    connection itself (psycopg sets `pgconn` only on an error of a connection attempt)."""
    at_connect = getattr(orig, "pgconn", None) is not None
    sqlstate = str(getattr(orig, "sqlstate", "") or "")
    if at_connect and not sqlstate:
        said = server_said(orig)
        sqlstate = next((code for words, code in CONNECT_REFUSALS if words.match(said)), "")
    return sqlstate, at_connect


def write_refusal(exc: BaseException, url: str) -> WriteRefusal | None:
    """Whether a database error says the database is read-only or the server's role lacks a
    privilege (a read-only SQLite file, a PostgreSQL role with SELECT only, a standby), and
    what to do about it; None for any other error (a connection lost, a damaged file...)."""
    orig = getattr(exc, "orig", None) or exc
    sqlite_name = str(getattr(orig, "sqlite_errorname", "") or "")
    sqlstate, at_connect = _postgres_error(orig)
    parsed = make_url(url)
    if sqlite_name.startswith("SQLITE_READONLY") or sqlite_name == "SQLITE_PERM":
        if parsed.query.get("mode") == "ro":
            return WriteRefusal("read-only", "remove mode=ro from PWGUARD_DATABASE_URL")
        where = sqlite_file(url)
        files = f"{where}, its -wal and -shm files" if where else "the SQLite file, its " \
            "-wal and -shm files"
        return WriteRefusal("read-only", f"make {files} and its folder writable by the user "
                            "pwguard runs as")
    if sqlstate == "42501" and not at_connect:  # insufficient_privilege (on a table)
        role = _sql_name(parsed.username, "<role>")
        return WriteRefusal(
            "permission denied",
            "GRANT SELECT, INSERT, UPDATE ON pwguard_versions, pwguard_active, pwguard_audit "
            f"TO {role}, and USAGE ON SEQUENCE pwguard_audit_id_seq (CREATE on the schema "
            "while the tables do not exist yet)",
        )
    if sqlstate == "25006":  # read_only_sql_transaction: a standby, or read-only by default
        return WriteRefusal(
            "read-only", "point PWGUARD_DATABASE_URL at the primary server, not a standby, "
            "with a role whose transactions are not read-only (default_transaction_read_only)")
    return None


SQLITE_BUSY, SQLITE_LOCKED, SQLITE_FULL = 5, 6, 13  # primary result codes


def database_failure(exc: BaseException, url: str) -> DatabaseFailure | None:
    """What a database error means to the administrator and what to do, by SQLite result code
    or PostgreSQL SQLSTATE: a refusal to write (`write_refusal`), a full disk, a lock held too
    long, a conflict, too many connections, no memory, a connection refused at start (no
    CONNECT privilege, a wrong password, a role or database missing); None for any other."""
    refusal = write_refusal(exc, url)
    if refusal is not None:
        return DatabaseFailure(REFUSES_WRITES, refusal.why, refusal.fix)
    orig = getattr(exc, "orig", None) or exc
    sqlite_code = getattr(orig, "sqlite_errorcode", None)
    if isinstance(sqlite_code, int):
        return _sqlite_failure(sqlite_code, str(getattr(orig, "sqlite_errorname", "")), url)
    sqlstate, at_connect = _postgres_error(orig)
    return _postgres_failure(sqlstate, at_connect, orig, url)


def _sqlite_failure(code: int, name: str, url: str) -> DatabaseFailure | None:
    path = sqlite_file(url)
    file = str(path.absolute()) if path else "the SQLite file"
    folder = str(path.absolute().parent) if path else "the SQLite file's folder"
    grow = f"free disk space at {folder}, where the SQLite file and its -wal file grow"
    if code & 0xFF == SQLITE_FULL:
        return DatabaseFailure("is full", "disk full", grow)
    if name == "SQLITE_IOERR_SHMSIZE":  # what a full disk gives when the -shm file is new
        return DatabaseFailure("is full", "disk full, or an I/O error growing its -shm file",
                               grow)
    if code & 0xFF in (SQLITE_BUSY, SQLITE_LOCKED):
        holder = f" (fuser {file})" if path else ""
        return DatabaseFailure(
            "is locked", "busy", f"another process held the SQLite write lock on {file} past "
            f"the busy timeout; retry, and if it persists find the process that holds it"
            f"{holder}", retry_after=5)
    return None


def _postgres_failure(
    sqlstate: str, at_connect: bool, orig: BaseException, url: str,
) -> DatabaseFailure | None:
    parsed = make_url(url)
    role = _sql_name(parsed.username, "<role>")
    database = _sql_name(parsed.database, "<database>")
    refused = "refuses the connection"
    if sqlstate == "42501" and at_connect:
        return DatabaseFailure(refused, "permission denied",
                               f"GRANT CONNECT ON DATABASE {database} TO {role}")
    if at_connect and getattr(getattr(orig, "pgconn", None), "needs_password", False):
        return DatabaseFailure(refused, "no password", f"pg_hba.conf asks role {role} for a "
                               "password: put it in PWGUARD_DATABASE_URL "
                               "(postgresql://user:password@host/db)")
    if sqlstate == "28P01":
        return DatabaseFailure(refused, "wrong password", f"check the password of role {role} "
                               f"in PWGUARD_DATABASE_URL (ALTER ROLE {role} PASSWORD sets it), "
                               "and the authentication method pg_hba.conf gives this host")
    if sqlstate == "28000":
        return DatabaseFailure(refused, "role refused", f"check that role {role} exists and "
                               f"may log in (CREATE ROLE {role} LOGIN), and that pg_hba.conf "
                               f"lets it connect to {database} from this host")
    if sqlstate == "3D000":
        owner = f"-O {shlex.quote(parsed.username)} " if parsed.username else ""
        name = shlex.quote(parsed.database) if parsed.database else "<database>"
        return DatabaseFailure(refused, "no such database", f"create it (createdb {owner}"
                               f"{name}), or fix the database name in PWGUARD_DATABASE_URL")
    if sqlstate == "53300":
        return DatabaseFailure(
            "refuses connections", "too many connections", "raise max_connections on the "
            f"PostgreSQL server (or the CONNECTION LIMIT of role {role} or database "
            f"{database}), or have other clients hold fewer, then retry", retry_after=5)
    if sqlstate == "53100":
        return DatabaseFailure("is full", "disk full", "free disk space on the PostgreSQL "
                               "server, where its data directory or the tables' tablespace lives")
    if sqlstate == "53200":
        return DatabaseFailure("is out of memory", "out of memory", "free memory on the "
                               "PostgreSQL server or lower its memory settings (work_mem, "
                               "shared_buffers), then retry")
    if sqlstate == "55P03":
        return DatabaseFailure(
            "is locked", "lock timeout", "another session held a lock on the pwguard tables "
            "past lock_timeout; retry, and if it persists find that session in pg_locks and "
            "pg_stat_activity", retry_after=5)
    if sqlstate == "40001":
        return DatabaseFailure("is busy", "serialization failure", "a concurrent transaction "
                               "changed the same rows; retry", retry_after=1)
    if sqlstate == "40P01":
        return DatabaseFailure("is busy", "deadlock", "another session locked the pwguard "
                               "tables in another order; retry", retry_after=1)
    return None


def engine_problem(url: str) -> str | None:
    """Why SQLAlchemy refuses to make an engine of `url` (e.g. `?timeout=abc`), or None.

    Nothing is opened: the engine connects only when used.
    """
    try:
        Storage(url).close()
    except SQLAlchemyError as exc:
        return driver_message(exc) or type(exc).__name__
    return None


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything we store is UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


VERSION_COLUMNS = (versions.c.version, versions.c.created_at, versions.c.note, versions.c.actor)


def _version_of(row: Any) -> Version:
    return Version(row[0], _aware(row[1]), row[2], row[3])


class Storage:
    """The database of one rules server (or several workers sharing it)."""

    def __init__(self, url: str, *, busy_timeout_ms: int = 30_000) -> None:
        self.url = engine_url(url)
        self.is_sqlite = is_sqlite(self.url)
        self.engine: Engine
        try:
            self._create_engine(busy_timeout_ms)
        except (ValueError, TypeError) as exc:  # a driver refusing a URL option
            raise ArgumentError(str(exc)) from None

    def _create_engine(self, busy_timeout_ms: int) -> None:
        if self.is_sqlite:
            # NullPool: each worker thread opens its own connection; SQLite connections are cheap.
            self.engine = create_engine(
                self.url,
                poolclass=NullPool,
                connect_args={"timeout": busy_timeout_ms / 1000, "check_same_thread": False},
            )
            self._setup_sqlite(busy_timeout_ms)
        else:
            self.engine = create_engine(self.url, pool_pre_ping=True, pool_size=5, max_overflow=10)
            self._setup_postgres(busy_timeout_ms)

    def _setup_postgres(self, lock_timeout_ms: int) -> None:
        @event.listens_for(self.engine, "connect")
        def on_connect(dbapi_conn: Any, _record: Any) -> None:
            # PostgreSQL waits for a lock forever by default (lock_timeout 0): a session holding
            # one (a migration, a manual transaction left open) hung every publish until the
            # client gave up, with no answer. Past this wait it fails (55P03), which is answered
            # 503 with Retry-After, as SQLite's busy timeout is. A lock_timeout the
            # administrator set for the role or the database stays as it is.
            cur = dbapi_conn.cursor()
            try:
                cur.execute("SELECT current_setting('lock_timeout')")
                row = cur.fetchone()
                if row and row[0] in ("0", "0ms"):
                    cur.execute(f"SET lock_timeout = {int(lock_timeout_ms)}")
            finally:
                cur.close()
            dbapi_conn.commit()  # (outside any transaction of the pool's: a session setting)

    def _setup_sqlite(self, busy_timeout_ms: int) -> None:
        @event.listens_for(self.engine, "connect")
        def on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (pysqlite's is broken)
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(self.engine, "begin")
        def on_begin(conn: Connection) -> None:
            # Writers take the lock at BEGIN so two writers never deadlock upgrading a read lock.
            conn.exec_driver_sql(
                "BEGIN IMMEDIATE" if conn.get_execution_options().get("pwguard_write") else "BEGIN"
            )

    def create_schema(self) -> None:
        """Create the tables and the active row if missing (idempotent, safe to race)."""
        with self._write() as conn:
            metadata.create_all(conn)
            if conn.execute(select(active.c.id).where(active.c.id == 1)).first() is None:
                conn.execute(insert(active).values(id=1, version=None, updated_at=None))

    def check_writable(self) -> None:
        """Raise the database's error (see `write_refusal`) if it refuses the writes a publish
        makes: the same lock, an update and inserts of no rows, then a rollback (nothing is
        written)."""
        with self.engine.connect().execution_options(pwguard_write=True) as conn, \
                conn.begin() as transaction:
            self._lock_active(conn)
            conn.execute(update(active).where(active.c.id == 1).values(version=active.c.version))
            conn.execute(insert(versions).from_select(
                [c.name for c in versions.c], select(versions).where(false())))
            audited = [c for c in audit.c if c.name != "id"]
            conn.execute(insert(audit).from_select(
                [c.name for c in audited], select(*audited).where(false())))
            transaction.rollback()

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self.engine.connect().execution_options(pwguard_write=True) as conn, conn.begin():
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def _lock_active(self, conn: Connection) -> str | None:
        row = conn.execute(
            select(active.c.version).where(active.c.id == 1).with_for_update()
        ).first()
        if row is None:
            raise RuntimeError("pwguard_active row missing: call create_schema() first")
        value: str | None = row[0]
        return value

    def _version(self, conn: Connection, version: str) -> Version | None:
        row = conn.execute(
            select(*VERSION_COLUMNS).where(versions.c.version == version)
        ).first()
        return None if row is None else _version_of(row)

    def _set_active(self, conn: Connection, version: str) -> None:
        conn.execute(
            update(active).where(active.c.id == 1).values(version=version, updated_at=_now())
        )

    def _audit(
        self, conn: Connection, actor: str, action: str, version: str | None,
        previous: str | None, note: str,
    ) -> None:
        conn.execute(
            insert(audit).values(
                at=_now(), actor=actor, action=action, version=version, previous=previous, note=note
            )
        )

    def add_version(
        self, version: str, payload: bytes, bundle: bytes, *, note: str = "", actor: str = "",
        activate: bool = True,
    ) -> tuple[Version, bool]:
        """Store a version (unless already stored) and, if asked, make it active.

        Returns the stored version and whether it is new. Content-addressed: the
        same rules twice never make two versions.
        """
        done = self.publish(version, payload, bundle, note=note, actor=actor, activate=activate)
        return done.version, done.created

    def publish(
        self, version: str, payload: bytes, bundle: bytes, *, note: str = "", actor: str = "",
        activate: bool = True,
    ) -> Published:
        """`add_version`, also telling which version was active before."""
        with self._write() as conn:
            previous = self._lock_active(conn)
            found = self._version(conn, version)
            created = found is None
            if found is None:
                now = _now()
                conn.execute(
                    insert(versions).values(
                        version=version, created_at=now, note=note, actor=actor,
                        payload=payload, bundle=bundle,
                    )
                )
                stored = Version(version, now, note, actor)
                self._audit(conn, actor, "publish", version, previous, note)
            else:
                stored = found
            if activate and previous != version:
                self._set_active(conn, version)
                if not created:
                    self._audit(conn, actor, "activate", version, previous, note)
        if created or (activate and previous != version):
            audit_log.info(
                "audit action=%s version=%s previous=%s actor=%r note=%r",
                "publish" if created else "activate", version, previous, actor, note,
            )
        return Published(stored, created, previous)

    def activate(self, version: str, *, actor: str = "", note: str = "") -> Version | None:
        """Make a stored version active (rollback); None if no such version."""
        with self._write() as conn:
            previous = self._lock_active(conn)
            stored = self._version(conn, version)
            if stored is None:
                return None
            if previous != version:
                self._set_active(conn, version)
                self._audit(conn, actor, "activate", version, previous, note)
        if previous != version:
            audit_log.info(
                "audit action=activate version=%s previous=%s actor=%r note=%r",
                version, previous, actor, note,
            )
        return stored

    def active_version(self) -> str | None:
        """The active version id: one indexed single-row read."""
        with self._read() as conn:
            value: str | None = conn.execute(
                select(active.c.version).where(active.c.id == 1)
            ).scalar()
            return value

    def active_bundle(self) -> ActiveBundle | None:
        """The active version and its signed bundle bytes, read in one transaction."""
        with self._read() as conn:
            row = conn.execute(
                select(versions.c.version, versions.c.bundle)
                .select_from(active.join(versions, active.c.version == versions.c.version))
                .where(active.c.id == 1)
            ).first()
        return None if row is None else ActiveBundle(row[0], bytes(row[1]))

    def bundle_of(self, version: str) -> bytes | None:
        with self._read() as conn:
            value = conn.execute(
                select(versions.c.bundle).where(versions.c.version == version)
            ).scalar()
        return None if value is None else bytes(value)

    def list_versions(self) -> list[tuple[Version, bool]]:
        """All versions, newest first, each with whether it is the active one."""
        with self._read() as conn:
            current = conn.execute(select(active.c.version).where(active.c.id == 1)).scalar()
            rows = conn.execute(
                select(*VERSION_COLUMNS)
                .order_by(versions.c.created_at.desc(), versions.c.version)
            ).all()
        return [(_version_of(r), r[0] == current) for r in rows]

    def audit_entries(self) -> list[AuditEntry]:
        with self._read() as conn:
            rows = conn.execute(select(audit).order_by(audit.c.id)).all()
        return [
            AuditEntry(_aware(r.at), r.actor, r.action, r.version, r.previous, r.note) for r in rows
        ]

    def count_versions(self) -> int:
        with self._read() as conn:
            return int(conn.execute(select(func.count()).select_from(versions)).scalar() or 0)

"""The database handle: an async engine, its session factory, and Alembic migrations.

SQLite runs with WAL, foreign keys and a busy timeout; its driver-level transaction handling is
replaced by explicit ``BEGIN`` statements so that write transactions can take the write lock up
front (``BEGIN IMMEDIATE``) instead of failing with ``SQLITE_BUSY`` when they upgrade a read
lock under concurrency.

Alembic (with Mako: ~8 MiB resident) is imported only when a migration really runs: the
embedded default calls `migrate` on every start, and a database already at `HEAD_REVISION` is
recognised with one plain query of the ``alembic_version`` table. `require_schema` is the
start-up gate: a process either migrates or refuses a database behind `HEAD_REVISION`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import anyio.to_thread
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from storage.pg_direct import PgSql
from storage.sql import Row, Sql, Statement, Step
from storage.sqlite_direct import SqliteSql, configure_sqlite

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

Dialect = Literal["sqlite", "postgresql"]

_MIGRATIONS = Path(__file__).with_name("migrations")
_SQLITE_BUSY_TIMEOUT_MS = 10_000
_BEGIN_OPTION = "storage_sqlite_begin"
_LOCK = 0x636F6C6C6162  # "collab": the migration advisory lock key
_MIGRATION_LOCK = threading.Lock()

HEAD_REVISION = "0009"
"""The newest migration in ``storage/migrations/versions``: bump it with every new migration.

`migrate` skips Alembic when the database is already there; a test compares this constant
with Alembic's own head so that the two cannot drift apart.
"""


class Database:
    """An async engine plus a session factory; repositories take one of these.

    ``sql`` runs the hot statements (`storage.sql`): on a file-backed SQLite database its own
    ``sqlite3`` connection, on PostgreSQL an asyncpg pool (``connect`` sets them up), otherwise
    the engine.
    """

    def __init__(self, engine: AsyncEngine, sql: Sql | None = None) -> None:
        self.engine = engine
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)
        self.sql: Sql = sql if sql is not None else EngineSql(engine)

    @property
    def dialect(self) -> Dialect:
        name = self.engine.dialect.name
        if name not in ("sqlite", "postgresql"):
            raise RuntimeError(f"unsupported database dialect {name!r}")
        return "sqlite" if name == "sqlite" else "postgresql"

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for reads; its transaction is rolled back on exit."""
        async with self.sessions() as session:
            yield session

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A session in one write transaction: committed on success, rolled back on error.

        On SQLite the transaction starts with ``BEGIN IMMEDIATE`` so it queues on the busy
        timeout for the write lock rather than failing later when it first writes.
        """
        async with self.sessions() as session, session.begin():
            await session.connection(execution_options={_BEGIN_OPTION: "IMMEDIATE"})
            yield session

    async def check(self) -> None:
        """Health probe: raises when the database does not answer ``SELECT 1``."""
        async with self.engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))


class EngineSql:
    """`Sql` on the SQLAlchemy engine (in-memory SQLite, or a `Database` built without a
    driver of its own): a write begins like `Database.write`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def fetch(self, statement: Statement, values: Mapping[str, Any]) -> Sequence[Row]:
        async with self._engine.connect() as conn:
            result = await conn.execute(statement.core, _only(statement, values))
            return result.all()

    async def execute(self, statement: Statement, values: Mapping[str, Any]) -> int:
        return (await self.transaction((statement, values)))[0]

    async def executemany(
        self, statement: Statement, rows: Sequence[Mapping[str, Any]]
    ) -> None:
        if rows:
            async with self._write() as conn:
                await conn.execute(statement.core, [_only(statement, row) for row in rows])

    async def transaction(self, *steps: Step) -> list[int]:
        counts = []
        async with self._write() as conn:
            for statement, values in steps:
                result = await conn.execute(statement.core, _only(statement, values))
                counts.append(int(getattr(result, "rowcount", 0)))
        return counts

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        async with self._engine.connect() as conn:
            conn = await conn.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})
            async with conn.begin():
                yield conn

    async def close(self) -> None:
        """Nothing of its own: the engine is disposed by its owner."""


def _only(statement: Statement, values: Mapping[str, Any]) -> dict[str, Any]:
    # An INSERT given a column's name it does not bind would insert that column too.
    return {k: v for k, v in values.items() if k in statement.names}


def _sqlite_events(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Autocommit at the driver level: transactions are begun by the "begin" hook below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            configure_sqlite(cursor, _SQLITE_BUSY_TIMEOUT_MS)
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        mode = conn.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {'IMMEDIATE' if mode == 'IMMEDIATE' else 'DEFERRED'}")


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """Build the async engine for ``url`` (``sqlite+aiosqlite://`` or ``postgresql+asyncpg://``)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, echo=echo)
        _sqlite_events(engine)
        return engine
    if parsed.get_backend_name() == "postgresql":
        return create_async_engine(
            url, echo=echo, pool_size=10, max_overflow=10, pool_pre_ping=True
        )
    raise ValueError(f"unsupported database URL scheme {parsed.drivername!r}")


def _sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(str(parsed.database)).expanduser()


async def _driver(url: str, engine: AsyncEngine) -> Sql:
    if make_url(url).get_backend_name() == "postgresql":
        return await PgSql.open(url)
    path = _sqlite_file(url)
    if path is not None:
        return SqliteSql(path, busy_timeout_ms=_SQLITE_BUSY_TIMEOUT_MS)
    return EngineSql(engine)


@asynccontextmanager
async def connect(url: str, *, echo: bool = False) -> AsyncIterator[Database]:
    """Open a :class:`Database` for ``url``; its driver and engine are closed on exit."""
    engine = create_engine(url, echo=echo)
    try:
        sql = await _driver(url, engine)
        try:
            yield Database(engine, sql)
        finally:
            await sql.close()
    finally:
        await engine.dispose()


def alembic_config() -> Config:
    """An Alembic config pointing at the migrations shipped inside this package."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    return config


async def _run_alembic(url: str, action: str, revision: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            # Several processes may migrate at start-up: serialise them (SQLite: the write lock
            # taken by BEGIN IMMEDIATE; PostgreSQL: a transaction-scoped advisory lock).
            conn = await conn.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})
            if conn.dialect.name == "postgresql":
                await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK})
            await conn.run_sync(_alembic_on, action, revision)
            await conn.commit()
    finally:
        await engine.dispose()


def _run_alembic_blocking(url: str, action: str, revision: str) -> None:
    # Alembic's `context`/`op` are process-wide proxies, so two migrations interleaving on one
    # event loop would run each other's operations: one at a time per process, on its own loop.
    with _MIGRATION_LOCK:
        asyncio.run(_run_alembic(url, action, revision))


def _alembic_on(connection: sa.Connection, action: str, revision: str) -> None:
    from alembic import command

    config = alembic_config()
    config.attributes["connection"] = connection
    if action == "upgrade":
        command.upgrade(config, revision)
    else:
        command.downgrade(config, revision)


async def migrate(url: str, revision: str = "head") -> None:
    """Run Alembic ``upgrade`` to ``revision`` on the database at ``url``.

    An upgrade to the head returns at once, without importing Alembic, when the database is
    already there (see `HEAD_REVISION`). That check reads without the migration lock: only
    a database at the head skips, and an upgrade never moves one away from it.
    """
    if revision in ("head", HEAD_REVISION) and await _stored_revisions(url) == [HEAD_REVISION]:
        log.debug("database already at revision %s", HEAD_REVISION)
        return
    log.info("migrating database to %s", revision)
    await anyio.to_thread.run_sync(_run_alembic_blocking, url, "upgrade", revision)


async def downgrade(url: str, revision: str = "base") -> None:
    """Run Alembic ``downgrade`` to ``revision`` (``base`` drops every table)."""
    log.info("downgrading database to %s", revision)
    await anyio.to_thread.run_sync(_run_alembic_blocking, url, "downgrade", revision)


def _read_revisions(conn: sa.Connection) -> list[str]:
    if not sa.inspect(conn).has_table("alembic_version"):
        return []
    rows = conn.execute(sa.text("SELECT version_num FROM alembic_version"))
    return [str(version) for version in rows.scalars()]


async def _stored_revisions(url: str) -> list[str]:
    """The rows of ``alembic_version`` (``[]`` before the first migration), read with plain
    SQLAlchemy: Alembic's `MigrationContext` would import the whole of Alembic."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_read_revisions)
    finally:
        await engine.dispose()


async def stored_revision(conn: AsyncConnection) -> str | None:
    """The revision in ``alembic_version`` (``None`` before the first migration), without
    importing Alembic: cheap enough for every health probe."""
    revisions = await conn.run_sync(_read_revisions)
    return ",".join(revisions) or None


SchemaState = Literal["current", "behind", "newer"]


def schema_state(revision: str | None) -> SchemaState:
    """Where `revision` stands against this build: at `HEAD_REVISION`, behind it (an empty
    database or an older migration of ours) or newer (a revision this build does not ship)."""
    if revision == HEAD_REVISION:
        return "current"
    if revision is None:
        return "behind"
    return "behind" if revision in _known_revisions() else "newer"


@functools.cache
def _known_revisions() -> frozenset[str]:
    # Only reached off the happy path (a database not at the head): Alembic may be imported.
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(alembic_config())
    return frozenset(script.revision for script in scripts.walk_revisions())


class SchemaBehind(RuntimeError):
    """The database schema is older than this build: its queries would fail on missing tables
    or columns, so a process refuses to start on it."""

    def __init__(self, revision: str | None) -> None:
        at = f"revision {revision}" if revision else "no revision (an empty database)"
        super().__init__(
            f"the database schema is at {at}, but this build needs revision {HEAD_REVISION}: "
            "run `collab db upgrade` (or start with COLLAB_AUTO_MIGRATE=true)"
        )
        self.revision = revision


async def require_schema(url: str, *, upgrade: bool) -> str | None:
    """Migrate to the head (``upgrade``) or check that the database is not behind this build.

    Returns the revision the database is at; raises `SchemaBehind` when it is behind and
    ``upgrade`` is false. A newer revision (a later build migrated it) is logged and allowed.
    """
    if upgrade:
        await migrate(url)
        return HEAD_REVISION
    revision = ",".join(await _stored_revisions(url)) or None
    state = schema_state(revision)
    if state == "behind":
        raise SchemaBehind(revision)
    if state == "newer":
        log.warning(
            "database schema revision %s is newer than this build's %s", revision, HEAD_REVISION
        )
    return revision


async def current_revision(conn: AsyncConnection) -> str | None:
    """The Alembic revision the connected database is at (``None`` before the first)."""

    def _read(sync_conn: sa.Connection) -> str | None:
        from alembic.runtime.migration import MigrationContext

        return MigrationContext.configure(sync_conn).get_current_revision()

    return await conn.run_sync(_read)

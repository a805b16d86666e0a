from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

import storage
from storage.db import HEAD_REVISION, alembic_config, connect, current_revision, downgrade, migrate
from storage.modules import ModuleRepository
from storage.search import rebuild_sqlite_fts

HEAD = "0009"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/nested/dir/fresh.db"
    create: Callable[[], str] = request.getfixturevalue("pg_database_factory")
    return create()


def _diff(conn: sa.Connection) -> list[object]:
    context = MigrationContext.configure(conn, opts={"compare_type": True})

    def include(obj: object, name: str | None, kind: str, reflected: bool, _: object) -> bool:
        # Search structures exist only in the migrations, per database.
        if kind == "table" and name is not None and "_fts" in name:
            return False
        if kind == "table" and name == "alembic_version":
            return False
        if kind == "column" and name == "search_vector":
            return False
        return not (
            kind == "index"
            and name
            in {
                "ix_modules_search_vector",
                "ix_notes_search_vector",
                "ix_notes_tags",
                "ix_transcript_segments_search_vector",
            }
        )

    context.opts["include_object"] = include
    diffs = compare_metadata(context, SQLModel.metadata)
    return [d for d in diffs if not _inline_reference(conn, d)]


def _inline_reference(conn: sa.Connection, diff: object) -> bool:
    """SQLite's reflection reads ON DELETE only from table-level FOREIGN KEY clauses; 0006 adds
    ``notes.session_id`` with a column-level reference (ADD COLUMN cannot add a table
    constraint, and a rebuild would renumber the rows the full-text index points at), so its
    ON DELETE SET NULL reads back as none. Its behaviour is tested instead
    (tests/api/test_session_notes.py)."""
    if conn.dialect.name != "sqlite" or not isinstance(diff, tuple) or len(diff) != 2:
        return False
    kind, fk = diff
    return (
        kind in ("add_fk", "remove_fk")
        and isinstance(fk, sa.ForeignKeyConstraint)
        and fk.table.name == "notes"
        and [c.name for c in fk.columns] == ["session_id"]
    )


async def test_upgrade_matches_the_models_and_downgrade_to_base(empty_url: str) -> None:
    await migrate(empty_url)
    async with connect(empty_url) as db:
        async with db.engine.connect() as conn:
            assert await current_revision(conn) == HEAD
            assert await conn.run_sync(_diff) == []
        await db.check()
    await migrate(empty_url)  # idempotent
    await downgrade(empty_url, "base")
    async with connect(empty_url) as db, db.engine.connect() as conn:
        assert await current_revision(conn) is None
        tables = await conn.run_sync(lambda c: sa.inspect(c).get_table_names())
        assert set(tables) <= {"alembic_version"}
    await migrate(empty_url)
    async with connect(empty_url) as db:
        module = await ModuleRepository(db).create(title="After a round trip")
        assert (await ModuleRepository(db).search("round trip"))[1] == 1
        assert module.id is not None


async def test_sqlite_runs_wal_with_foreign_keys(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/a/b/wal.db"
    await migrate(url)
    assert (tmp_path / "a" / "b" / "wal.db").exists()
    async with connect(url) as db, db.engine.connect() as conn:
        assert db.dialect == "sqlite"
        assert (await conn.execute(sa.text("PRAGMA journal_mode"))).scalar() == "wal"
        assert (await conn.execute(sa.text("PRAGMA foreign_keys"))).scalar() == 1
        assert (await conn.execute(sa.text("PRAGMA busy_timeout"))).scalar() == 10_000


async def test_sqlite_fts_rebuild_restores_the_index(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/fts.db"
    await migrate(url)
    async with connect(url) as db:
        repo = ModuleRepository(db)
        await repo.create(title="Beard sculpting")
        async with db.write() as session:
            await session.execute(sa.text("DELETE FROM modules_fts"))
        assert await repo.search("beard") == ([], 0)
        async with db.write() as session:
            await rebuild_sqlite_fts(session)
        assert (await repo.search("beard"))[1] == 1


async def test_a_failed_write_leaves_the_database_unchanged(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/tx.db"
    await migrate(url)
    async with connect(url) as db:
        repo = ModuleRepository(db)
        with pytest.raises(RuntimeError):
            async with db.write() as session:
                await session.execute(sa.text("UPDATE modules SET title = 'x'"))
                session.add(storage.models.Module(title="never"))
                await session.flush()
                raise RuntimeError("boom")
        assert await repo.search() == ([], 0)


def test_unsupported_urls_are_refused() -> None:
    from storage.db import create_engine

    with pytest.raises(ValueError, match="unsupported"):
        create_engine("mysql+aiomysql://x/y")


async def test_concurrent_migrations_are_serialised(empty_url: str) -> None:
    import asyncio

    await asyncio.gather(migrate(empty_url), migrate(empty_url), migrate(empty_url))
    async with connect(empty_url) as db, db.engine.connect() as conn:
        assert await current_revision(conn) == HEAD


async def test_check_raises_when_the_database_is_unreachable() -> None:
    async with connect("postgresql+asyncpg://postgres@127.0.0.1:1/nothing") as db:
        assert db.dialect == "postgresql"
        with pytest.raises(OSError):
            await db.check()


def test_head_revision_is_alembics_only_head() -> None:
    # `migrate` trusts HEAD_REVISION to skip Alembic: a new migration must bump it.
    from alembic.script import ScriptDirectory

    assert ScriptDirectory.from_config(alembic_config()).get_heads() == [HEAD_REVISION]
    assert HEAD == HEAD_REVISION


async def test_an_older_database_still_migrates_to_the_head(empty_url: str) -> None:
    await migrate(empty_url, "0001")
    async with connect(empty_url) as db, db.engine.connect() as conn:
        assert await current_revision(conn) == "0001"
    await migrate(empty_url)
    async with connect(empty_url) as db, db.engine.connect() as conn:
        assert await current_revision(conn) == HEAD_REVISION
        assert (await conn.execute(sa.text("SELECT count(*) FROM note_versions"))).scalar() == 0


async def test_a_database_at_the_head_skips_alembic(
    empty_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await migrate(empty_url)

    def no_alembic(*args: object) -> None:
        raise AssertionError("alembic ran on a database already at the head")

    monkeypatch.setattr("storage.db._run_alembic_blocking", no_alembic)
    await migrate(empty_url)
    await migrate(empty_url, HEAD_REVISION)
    with pytest.raises(AssertionError, match="alembic ran"):
        await migrate(empty_url, "0002")  # any other target still goes through alembic

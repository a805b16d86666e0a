"""Full-text search over modules and notes.

PostgreSQL: a generated, weighted ``search_vector`` tsvector column with a GIN index (ranked with
``ts_rank``). SQLite: FTS5 tables kept in step by triggers, keyed by the base table's rowid
(ranked with ``bm25``). ``VACUUM`` may renumber rowids of tables without an INTEGER primary
key, so after a VACUUM run :func:`storage.search.rebuild_sqlite_fts`.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

_PG_UPGRADE = [
    """ALTER TABLE modules ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english', coalesce(title, '')), 'A')
        || setweight(to_tsvector('english', coalesce(description, '')), 'B')
        || setweight(jsonb_to_tsvector('english', content, '["string"]'), 'C')
    ) STORED""",
    "CREATE INDEX ix_modules_search_vector ON modules USING GIN (search_vector)",
    """ALTER TABLE notes ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english', coalesce(title, '')), 'A')
        || setweight(jsonb_to_tsvector('english', tags, '["string"]'), 'A')
        || setweight(to_tsvector('english', coalesce(content_text, '')), 'B')
    ) STORED""",
    "CREATE INDEX ix_notes_search_vector ON notes USING GIN (search_vector)",
    "CREATE INDEX ix_notes_tags ON notes USING GIN (tags)",
]

_PG_DOWNGRADE = [
    "DROP INDEX IF EXISTS ix_notes_tags",
    "ALTER TABLE notes DROP COLUMN IF EXISTS search_vector",
    "ALTER TABLE modules DROP COLUMN IF EXISTS search_vector",
]

# The text of a module's JSON content is every string leaf (objectives, materials, exercises).
_MODULE_ROW = """(new.rowid, new.title, new.description,
    coalesce((SELECT group_concat(value, ' ') FROM json_tree(new.content)
              WHERE type = 'text'), ''))"""
_NOTE_ROW = """(new.rowid, new.title, new.content_text,
    coalesce((SELECT group_concat(value, ' ') FROM json_each(new.tags)), ''))"""

_SQLITE_UPGRADE = [
    "CREATE VIRTUAL TABLE modules_fts USING fts5("
    "title, description, body, tokenize = 'porter unicode61 remove_diacritics 2')",
    f"""CREATE TRIGGER modules_fts_insert AFTER INSERT ON modules BEGIN
        INSERT INTO modules_fts (rowid, title, description, body) VALUES {_MODULE_ROW};
    END""",  # noqa: S608
    f"""CREATE TRIGGER modules_fts_update AFTER UPDATE OF title, description, content ON modules
    BEGIN
        DELETE FROM modules_fts WHERE rowid = old.rowid;
        INSERT INTO modules_fts (rowid, title, description, body) VALUES {_MODULE_ROW};
    END""",  # noqa: S608
    """CREATE TRIGGER modules_fts_delete AFTER DELETE ON modules BEGIN
        DELETE FROM modules_fts WHERE rowid = old.rowid;
    END""",
    "CREATE VIRTUAL TABLE notes_fts USING fts5("
    "title, content_text, tags, tokenize = 'porter unicode61 remove_diacritics 2')",
    f"""CREATE TRIGGER notes_fts_insert AFTER INSERT ON notes BEGIN
        INSERT INTO notes_fts (rowid, title, content_text, tags) VALUES {_NOTE_ROW};
    END""",  # noqa: S608
    f"""CREATE TRIGGER notes_fts_update AFTER UPDATE OF title, content_text, tags ON notes
    BEGIN
        DELETE FROM notes_fts WHERE rowid = old.rowid;
        INSERT INTO notes_fts (rowid, title, content_text, tags) VALUES {_NOTE_ROW};
    END""",  # noqa: S608
    """CREATE TRIGGER notes_fts_delete AFTER DELETE ON notes BEGIN
        DELETE FROM notes_fts WHERE rowid = old.rowid;
    END""",
    # Rows that existed before this revision.
    "UPDATE modules SET title = title",
    "UPDATE notes SET title = title",
]

_SQLITE_DOWNGRADE = [
    *(
        f"DROP TRIGGER IF EXISTS {t}_fts_{e}"
        for t in ("modules", "notes")
        for e in ("insert", "update", "delete")
    ),
    "DROP TABLE IF EXISTS notes_fts",
    "DROP TABLE IF EXISTS modules_fts",
]


def _run(statements: list[str]) -> None:
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _run(_PG_UPGRADE)
    else:
        _run(_SQLITE_UPGRADE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _run(_PG_DOWNGRADE)
    else:
        _run(_SQLITE_DOWNGRADE)

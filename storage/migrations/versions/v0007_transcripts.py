"""Transcripts: a recording's format read from its bytes, one transcription per recording with
a status, and its timed segments, indexed for full-text search.

Numbered 0007: 0006 is taken by work on another branch; until that lands this revision follows
0005 (merging both means pointing this ``down_revision`` at "0006").

PostgreSQL: a generated ``search_vector`` on ``transcript_segments.text`` with a GIN index.
SQLite: an FTS5 table kept in step by triggers, keyed by the segment row's rowid (as notes are;
`storage.search.rebuild_sqlite_fts` re-derives it after a ``VACUUM``). Either way the indexed
text is the segment's current text: a correction stays what is found.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None

_TS = sa.DateTime(timezone=True)
_STATUS = sa.Enum(
    "processing", "done", "failed", name="transcription_status", native_enum=False,
    create_constraint=True, length=20,
)

_PG_UPGRADE = [
    """ALTER TABLE transcript_segments ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
        to_tsvector('english', coalesce(text, ''))) STORED""",
    "CREATE INDEX ix_transcript_segments_search_vector ON transcript_segments "
    "USING GIN (search_vector)",
]
_SQLITE_UPGRADE = [
    "CREATE VIRTUAL TABLE transcript_segments_fts USING fts5("
    "text, tokenize = 'porter unicode61 remove_diacritics 2')",
    """CREATE TRIGGER transcript_segments_fts_insert AFTER INSERT ON transcript_segments BEGIN
        INSERT INTO transcript_segments_fts (rowid, text) VALUES (new.rowid, new.text);
    END""",
    """CREATE TRIGGER transcript_segments_fts_update AFTER UPDATE OF text ON transcript_segments
    BEGIN
        DELETE FROM transcript_segments_fts WHERE rowid = old.rowid;
        INSERT INTO transcript_segments_fts (rowid, text) VALUES (new.rowid, new.text);
    END""",
    """CREATE TRIGGER transcript_segments_fts_delete AFTER DELETE ON transcript_segments BEGIN
        DELETE FROM transcript_segments_fts WHERE rowid = old.rowid;
    END""",
]
_SQLITE_DOWNGRADE = [
    *(f"DROP TRIGGER IF EXISTS transcript_segments_fts_{event}"
      for event in ("insert", "update", "delete")),
    "DROP TABLE IF EXISTS transcript_segments_fts",
]


def upgrade() -> None:
    with op.batch_alter_table("audio_recordings") as batch:
        batch.add_column(sa.Column("format", sa.String(length=20), nullable=True))
    # Earlier rows (none were ever written by a transcription job) count as done.
    with op.batch_alter_table("transcriptions") as batch:
        batch.add_column(sa.Column("status", _STATUS, nullable=False, server_default="done"))
        batch.add_column(sa.Column("error", sa.Text(), nullable=True))
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("edited", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("updated_at", _TS, nullable=True))
    op.execute("UPDATE transcriptions SET updated_at = created_at")
    # Keep the newest transcription of a recording: there is one per recording from now on.
    op.execute(
        """DELETE FROM transcriptions WHERE EXISTS (
            SELECT 1 FROM transcriptions AS newer
            WHERE newer.audio_recording_id = transcriptions.audio_recording_id
              AND (newer.created_at > transcriptions.created_at
                   OR (newer.created_at = transcriptions.created_at
                       AND newer.id > transcriptions.id)))"""
    )
    with op.batch_alter_table("transcriptions") as batch:
        batch.alter_column("status", server_default=None)
        batch.alter_column("attempts", server_default=None)
        batch.alter_column("edited", server_default=None)
        batch.alter_column("updated_at", existing_type=_TS, nullable=False)
        batch.create_unique_constraint("uq_transcription_recording", ["audio_recording_id"])
    op.create_table(
        "transcript_segments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("transcription_id", sa.Uuid(), nullable=False),
        sa.Column("recording_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("start_seconds", sa.Float(), nullable=False),
        sa.Column("end_seconds", sa.Float(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("original_text", sa.Text(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["transcription_id"], ["transcriptions.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["recording_id"], ["audio_recordings.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("transcription_id", "position", name="uq_transcript_segment"),
    )
    op.create_index(op.f("ix_transcript_segments_transcription_id"), "transcript_segments",
                    ["transcription_id"], unique=False)
    op.create_index(op.f("ix_transcript_segments_recording_id"), "transcript_segments",
                    ["recording_id"], unique=False)
    statements = _PG_UPGRADE if op.get_bind().dialect.name == "postgresql" else _SQLITE_UPGRADE
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        for statement in _SQLITE_DOWNGRADE:
            op.execute(statement)
    op.drop_index(op.f("ix_transcript_segments_recording_id"), table_name="transcript_segments")
    op.drop_index(op.f("ix_transcript_segments_transcription_id"),
                  table_name="transcript_segments")
    op.drop_table("transcript_segments")
    with op.batch_alter_table("transcriptions") as batch:
        batch.drop_constraint("uq_transcription_recording", type_="unique")
        batch.drop_constraint("transcription_status", type_="check")
        batch.drop_column("updated_at")
        batch.drop_column("edited")
        batch.drop_column("attempts")
        batch.drop_column("error")
        batch.drop_column("status")
    with op.batch_alter_table("audio_recordings") as batch:
        batch.drop_column("format")

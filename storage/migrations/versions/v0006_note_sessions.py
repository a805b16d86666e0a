"""Private notes linked to a live session: ``notes.session_id``.

An attendee's own notes for a session are ordinary notes carrying the session's id (NULL for
every other note); the link is cleared if the session row is ever deleted.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None

_FK = "fk_notes_session_id_live_sessions"
_INDEX = "ix_notes_session_id"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # A plain ADD COLUMN with an inline reference: alembic would rebuild the table for the
        # constraint (batch mode), and the rebuild would drop the notes' full-text triggers.
        op.execute(
            "ALTER TABLE notes ADD COLUMN session_id CHAR(32) "
            "REFERENCES live_sessions (id) ON DELETE SET NULL"
        )
    else:
        op.add_column("notes", sa.Column("session_id", sa.Uuid(), nullable=True))
        op.create_foreign_key(
            _FK, "notes", "live_sessions", ["session_id"], ["id"], ondelete="SET NULL"
        )
    op.create_index(_INDEX, "notes", ["session_id"], unique=False)


def downgrade() -> None:
    op.drop_index(_INDEX, table_name="notes")
    if op.get_bind().dialect.name == "sqlite":
        op.drop_column("notes", "session_id")  # SQLite 3.35+: drops the inline reference too
    else:
        op.drop_constraint(_FK, "notes", type_="foreignkey")
        op.drop_column("notes", "session_id")

"""Lesson videos: a description per lesson and the state Mux reports for a lesson's video.

``video_status`` is NULL until a Mux webhook names the lesson's playback id; then ``preparing``,
``ready`` or ``errored`` (with ``video_error``). The page plays any lesson with a playback id
whose status is not ``errored``/``preparing``.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

_TABLES = ("lessons", "sub_lessons")


def upgrade() -> None:
    op.add_column("lessons", sa.Column("description", sa.Text(), nullable=True))
    for table in _TABLES:
        op.add_column(table, sa.Column("video_status", sa.String(length=20), nullable=True))
        op.add_column(table, sa.Column("video_error", sa.String(length=500), nullable=True))


def downgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("video_error")
            batch.drop_column("video_status")
    with op.batch_alter_table("lessons") as batch:
        batch.drop_column("description")

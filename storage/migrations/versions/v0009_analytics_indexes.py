"""Indexes for the admin analytics: progress rows by when they were saved (and lessons by when
they were completed), recordings by upload time, so a date range reads only its rows.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None

_INDEXES = (
    ("ix_lesson_progress_updated_at", "lesson_progress", "updated_at"),
    ("ix_lesson_progress_completed_at", "lesson_progress", "completed_at"),
    ("ix_sub_lesson_progress_updated_at", "sub_lesson_progress", "updated_at"),
    ("ix_module_progress_updated_at", "module_progress", "updated_at"),
    ("ix_audio_recordings_created_at", "audio_recordings", "created_at"),
)


def upgrade() -> None:
    for name, table, column in _INDEXES:
        op.create_index(name, table, [column])


def downgrade() -> None:
    for name, table, _ in reversed(_INDEXES):
        op.drop_index(name, table_name=table)

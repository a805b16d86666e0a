"""Live rooms: co-host and viewer participant roles, removed participants, the host user role.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

_TS = sa.DateTime(timezone=True)
_PARTICIPANT_OLD = ("host", "presenter", "participant")
_PARTICIPANT_NEW = ("host", "co-host", "presenter", "participant", "viewer")
_USER_OLD = ("user", "premium", "admin")
_USER_NEW = ("user", "premium", "host", "admin")


def _enum(values: tuple[str, ...], name: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=20)


def _retype(table: str, column: str, name: str, old: tuple[str, ...], new: tuple[str, ...]) -> None:
    # Batch mode: SQLite rebuilds the table (its CHECK constraint cannot be altered in place);
    # PostgreSQL drops and re-adds the named CHECK constraint.
    with op.batch_alter_table(table, recreate="auto") as batch:
        batch.alter_column(
            column, existing_type=_enum(old, name), type_=_enum(new, name), existing_nullable=False
        )


def upgrade() -> None:
    _retype("session_participants", "role", "participant_role", _PARTICIPANT_OLD, _PARTICIPANT_NEW)
    with op.batch_alter_table("session_participants") as batch:
        batch.add_column(sa.Column("removed_at", _TS, nullable=True))
    _retype("users", "role", "user_role", _USER_OLD, _USER_NEW)


def downgrade() -> None:
    op.execute("UPDATE users SET role = 'user' WHERE role = 'host'")
    _retype("users", "role", "user_role", _USER_NEW, _USER_OLD)
    op.execute(
        "UPDATE session_participants SET role = 'participant' "
        "WHERE role IN ('co-host', 'viewer')"
    )
    with op.batch_alter_table("session_participants") as batch:
        batch.drop_column("removed_at")
    _retype("session_participants", "role", "participant_role", _PARTICIPANT_NEW, _PARTICIPANT_OLD)

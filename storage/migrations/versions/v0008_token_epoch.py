"""A token epoch per user: access tokens carry the epoch they were issued in (claim ``ep``).

Signing out everywhere, changing the password and deleting the account raise the epoch; an
access token from an older epoch is refused on every route and every node (api/epochs.py)
instead of staying valid until it expires.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column(
        "users",
        sa.Column("token_epoch", sa.Integer(), nullable=False, server_default=sa.text("0")),
    )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("token_epoch")

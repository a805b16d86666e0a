"""Refresh tokens: stored hashed, rotated on every use, reuse revokes the whole family.

A family is every token descended from one login. :meth:`TokenRepository.rotate` spends the
presented token with a single conditional ``UPDATE ... RETURNING`` (so two concurrent refreshes
with the same token cannot both succeed) and inserts its successor in the same transaction.
Presenting a spent or revoked token is treated as theft: the family is revoked and
:class:`TokenReuse` is raised. There is deliberately no grace period for concurrent refreshes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import col, select

from storage.db import Database
from storage.models import RefreshToken
from storage.types import utcnow

_TABLE = RefreshToken.__table__  # type: ignore[attr-defined]


class TokenRejected(Exception):
    """The presented refresh token cannot be used."""


class TokenInvalid(TokenRejected):
    """Unknown or expired refresh token."""


class TokenReuse(TokenRejected):
    """A spent or revoked token was presented again; its family has been revoked."""

    def __init__(self, user_id: uuid.UUID, family_id: uuid.UUID) -> None:
        super().__init__("refresh token reuse")
        self.user_id = user_id
        self.family_id = family_id


@dataclass(frozen=True, slots=True)
class Rotation:
    user_id: uuid.UUID
    family_id: uuid.UUID
    token: RefreshToken


class TokenRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def create(
        self,
        user_id: uuid.UUID,
        *,
        token_hash: str,
        expires_at: datetime,
        family_id: uuid.UUID | None = None,
    ) -> RefreshToken:
        token = RefreshToken(
            user_id=user_id,
            family_id=family_id or uuid.uuid4(),
            token_hash=token_hash,
            expires_at=expires_at,
        )
        async with self._db.write() as session:
            session.add(token)
        return token

    async def get_by_hash(self, token_hash: str) -> RefreshToken | None:
        async with self._db.read() as session:
            result = await session.scalars(
                select(RefreshToken).where(col(RefreshToken.token_hash) == token_hash)
            )
            return result.first()

    async def rotate(self, token_hash: str, new_hash: str, new_expiry: datetime) -> Rotation:
        """Spend ``token_hash`` and issue its successor in the same family.

        Raises :class:`TokenReuse` (after revoking the family, committed) for a spent or
        revoked token, :class:`TokenInvalid` for an unknown or expired one.
        """
        now = utcnow()
        new_id = uuid.uuid4()
        async with self._db.write() as session:
            spent = (
                await session.execute(
                    sa.update(_TABLE)
                    .where(
                        _TABLE.c.token_hash == token_hash,
                        _TABLE.c.used_at.is_(None),
                        _TABLE.c.revoked_at.is_(None),
                        _TABLE.c.expires_at > now,
                    )
                    .values(used_at=now, replaced_by=new_id)
                    .returning(_TABLE.c.user_id, _TABLE.c.family_id)
                )
            ).first()
            if spent is not None:
                token = RefreshToken(
                    id=new_id,
                    user_id=spent.user_id,
                    family_id=spent.family_id,
                    token_hash=new_hash,
                    expires_at=new_expiry,
                    created_at=now,
                )
                session.add(token)
                return Rotation(user_id=spent.user_id, family_id=spent.family_id, token=token)
            old = (
                await session.execute(
                    sa.select(
                        _TABLE.c.user_id, _TABLE.c.family_id, _TABLE.c.used_at, _TABLE.c.revoked_at
                    ).where(_TABLE.c.token_hash == token_hash)
                )
            ).first()
            if old is None:
                raise TokenInvalid("unknown refresh token")
            if old.used_at is None and old.revoked_at is None:
                raise TokenInvalid("expired refresh token")
            await session.execute(_revoke(_TABLE.c.family_id == old.family_id, now))
        raise TokenReuse(old.user_id, old.family_id)

    async def revoke(self, token_hash: str) -> bool:
        """Revoke the family of ``token_hash`` (logout). False if the token is unknown."""
        async with self._db.write() as session:
            family = await session.scalar(
                sa.select(_TABLE.c.family_id).where(_TABLE.c.token_hash == token_hash)
            )
            if family is None:
                return False
            await session.execute(_revoke(_TABLE.c.family_id == family, utcnow()))
        return True

    async def revoke_family(self, family_id: uuid.UUID) -> int:
        async with self._db.write() as session:
            result = await session.execute(_revoke(_TABLE.c.family_id == family_id, utcnow()))
        return int(getattr(result, "rowcount", 0))

    async def revoke_all_for_user(self, user_id: uuid.UUID) -> int:
        async with self._db.write() as session:
            result = await session.execute(_revoke(_TABLE.c.user_id == user_id, utcnow()))
        return int(getattr(result, "rowcount", 0))

    async def purge_expired(self, before: datetime) -> int:
        """Delete tokens that expired before ``before`` (housekeeping)."""
        async with self._db.write() as session:
            result = await session.execute(sa.delete(_TABLE).where(_TABLE.c.expires_at < before))
        return int(getattr(result, "rowcount", 0))


def _revoke(condition: sa.ColumnElement[bool], now: datetime) -> sa.Update:
    return sa.update(_TABLE).where(condition, _TABLE.c.revoked_at.is_(None)).values(revoked_at=now)

"""Users: accounts with a unique, lower-cased email."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from storage.db import Database
from storage.models import Role, Tier, User
from storage.types import utcnow


class EmailTaken(Exception):
    """Another account already uses this email."""


def normalize_email(email: str) -> str:
    return email.strip().lower()


class UserRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def create(
        self,
        *,
        email: str,
        name: str,
        password_hash: str,
        role: Role = Role.USER,
        subscription_tier: Tier = Tier.FREE,
    ) -> User:
        user = User(
            email=normalize_email(email),
            name=name,
            password_hash=password_hash,
            role=role,
            subscription_tier=subscription_tier,
        )
        try:
            async with self._db.write() as session:
                session.add(user)
        except IntegrityError as exc:
            raise EmailTaken(user.email) from exc
        return user

    async def get(self, user_id: uuid.UUID) -> User | None:
        async with self._db.read() as session:
            return await session.get(User, user_id)

    async def get_by_email(self, email: str) -> User | None:
        async with self._db.read() as session:
            result = await session.scalars(
                select(User).where(col(User.email) == normalize_email(email))
            )
            return result.first()

    async def get_many(self, user_ids: list[uuid.UUID]) -> dict[uuid.UUID, User]:
        if not user_ids:
            return {}
        async with self._db.read() as session:
            result = await session.scalars(select(User).where(col(User.id).in_(user_ids)))
            return {user.id: user for user in result}

    async def update(
        self,
        user_id: uuid.UUID,
        *,
        name: str | None = None,
        password_hash: str | None = None,
        role: Role | None = None,
        subscription_tier: Tier | None = None,
    ) -> User | None:
        async with self._db.write() as session:
            user = await session.get(User, user_id)
            if user is None:
                return None
            if name is not None:
                user.name = name
            if password_hash is not None:
                user.password_hash = password_hash
            if role is not None:
                user.role = role
            if subscription_tier is not None:
                user.subscription_tier = subscription_tier
            user.updated_at = utcnow()
        return user

    async def token_epochs(self, user_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
        """The token epoch of each existing user among ``user_ids`` (a deleted one is absent)."""
        if not user_ids:
            return {}
        async with self._db.read() as session:
            rows = await session.execute(
                sa.select(col(User.id), col(User.token_epoch)).where(col(User.id).in_(user_ids))
            )
            return {row[0]: int(row[1]) for row in rows}

    async def raise_token_epoch(self, user_id: uuid.UUID) -> int | None:
        """Move ``user_id`` to a new token epoch (one atomic increment); None: no such user."""
        async with self._db.write() as session:
            result = await session.execute(
                sa.update(User)
                .where(col(User.id) == user_id)
                .values(token_epoch=User.token_epoch + 1, updated_at=utcnow())
                .returning(col(User.token_epoch))
            )
            row = result.first()
        return None if row is None else int(row[0])

    async def delete(self, user_id: uuid.UUID) -> bool:
        async with self._db.write() as session:
            result = await session.execute(sa.delete(User).where(col(User.id) == user_id))
        return bool(getattr(result, "rowcount", 0))

    async def count(self) -> int:
        async with self._db.read() as session:
            return int(await session.scalar(select(sa.func.count()).select_from(User)) or 0)

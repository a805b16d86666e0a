from __future__ import annotations

import uuid

import pytest

from storage.db import Database
from storage.models import Role, Tier
from storage.users import EmailTaken, UserRepository


async def test_create_lowercases_email_and_finds_it_case_insensitively(database: Database) -> None:
    users = UserRepository(database)
    user = await users.create(email="  Ada@Example.COM ", name="Ada", password_hash="h")
    assert user.email == "ada@example.com"
    found = await users.get_by_email("ADA@example.com")
    assert found is not None and found.id == user.id
    assert found.role is Role.USER and found.subscription_tier is Tier.FREE
    assert found.created_at.tzinfo is not None


async def test_duplicate_email_is_refused_and_leaves_one_row(database: Database) -> None:
    users = UserRepository(database)
    await users.create(email="bob@example.com", name="Bob", password_hash="h")
    with pytest.raises(EmailTaken):
        await users.create(email="BOB@example.com", name="Other", password_hash="h")
    assert await users.count() == 1


async def test_update_and_delete(database: Database) -> None:
    users = UserRepository(database)
    user = await users.create(email="c@example.com", name="C", password_hash="h")
    updated = await users.update(user.id, name="Cee", role=Role.ADMIN)
    assert updated is not None and updated.name == "Cee" and updated.role is Role.ADMIN
    reloaded = await users.get(user.id)
    assert reloaded is not None and reloaded.role is Role.ADMIN
    assert await users.update(uuid.uuid4(), name="x") is None
    assert await users.delete(user.id) is True
    assert await users.get(user.id) is None
    assert await users.delete(user.id) is False

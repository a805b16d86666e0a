from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest

from storage.db import Database
from storage.tokens import TokenInvalid, TokenRepository, TokenReuse
from storage.types import utcnow
from storage.users import UserRepository


async def _user(database: Database) -> uuid.UUID:
    user = await UserRepository(database).create(
        email=f"{uuid.uuid4().hex}@example.com", name="T", password_hash="h"
    )
    return user.id


async def test_rotation_spends_the_old_token_and_keeps_the_family(database: Database) -> None:
    tokens = TokenRepository(database)
    user_id = await _user(database)
    expiry = utcnow() + timedelta(days=7)
    first = await tokens.create(user_id, token_hash="t1", expires_at=expiry)
    rotation = await tokens.rotate("t1", "t2", expiry)
    assert rotation.user_id == user_id
    assert rotation.family_id == first.family_id == rotation.token.family_id
    old = await tokens.get_by_hash("t1")
    assert old is not None and old.used_at is not None and old.replaced_by == rotation.token.id
    again = await tokens.rotate("t2", "t3", expiry)
    assert again.family_id == first.family_id


async def test_reuse_of_a_spent_token_revokes_the_whole_family(database: Database) -> None:
    tokens = TokenRepository(database)
    user_id = await _user(database)
    expiry = utcnow() + timedelta(days=7)
    first = await tokens.create(user_id, token_hash="a1", expires_at=expiry)
    other = await tokens.create(user_id, token_hash="b1", expires_at=expiry)
    await tokens.rotate("a1", "a2", expiry)
    with pytest.raises(TokenReuse) as caught:
        await tokens.rotate("a1", "evil", expiry)
    assert caught.value.family_id == first.family_id and caught.value.user_id == user_id
    current = await tokens.get_by_hash("a2")
    assert current is not None and current.revoked_at is not None
    assert await tokens.get_by_hash("evil") is None
    with pytest.raises(TokenReuse):
        await tokens.rotate("a2", "a3", expiry)
    untouched = await tokens.get_by_hash("b1")
    assert untouched is not None and untouched.revoked_at is None
    assert untouched.family_id == other.family_id


async def test_unknown_and_expired_tokens_are_invalid(database: Database) -> None:
    tokens = TokenRepository(database)
    user_id = await _user(database)
    await tokens.create(user_id, token_hash="old", expires_at=utcnow() - timedelta(seconds=1))
    with pytest.raises(TokenInvalid):
        await tokens.rotate("nope", "x", utcnow() + timedelta(days=1))
    with pytest.raises(TokenInvalid):
        await tokens.rotate("old", "y", utcnow() + timedelta(days=1))
    assert await tokens.purge_expired(utcnow()) == 1


async def test_concurrent_rotation_of_one_token_lets_exactly_one_win(database: Database) -> None:
    tokens = TokenRepository(database)
    user_id = await _user(database)
    expiry = utcnow() + timedelta(days=7)
    await tokens.create(user_id, token_hash="c1", expires_at=expiry)
    results = await asyncio.gather(
        *(tokens.rotate("c1", f"c2-{i}", expiry) for i in range(4)), return_exceptions=True
    )
    wins = [r for r in results if not isinstance(r, BaseException)]
    assert len(wins) == 1
    assert all(isinstance(r, TokenReuse) for r in results if r not in wins)
    # The losers saw reuse, so even the winner's successor is revoked.
    survivor = await tokens.get_by_hash(wins[0].token.token_hash)
    assert survivor is not None and survivor.revoked_at is not None


async def test_logout_and_revoke_all(database: Database) -> None:
    tokens = TokenRepository(database)
    user_id = await _user(database)
    expiry = utcnow() + timedelta(days=7)
    await tokens.create(user_id, token_hash="l1", expires_at=expiry)
    await tokens.create(user_id, token_hash="m1", expires_at=expiry)
    assert await tokens.revoke("l1") is True
    assert await tokens.revoke("unknown") is False
    with pytest.raises(TokenReuse):
        await tokens.rotate("l1", "l2", expiry)
    assert await tokens.revoke_all_for_user(user_id) == 1
    with pytest.raises(TokenReuse):
        await tokens.rotate("m1", "m2", expiry)

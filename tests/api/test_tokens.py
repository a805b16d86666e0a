"""Access tokens: verified ones are remembered, but a remembered token still expires, a token
differing in any byte (a forged signature) is verified afresh, and the memory is bounded."""

from __future__ import annotations

import time
import uuid

import jwt
import pytest

from api import tokens as tokens_module
from api.errors import ApiError
from api.tokens import AccessTokens

SECRET = "a-test-secret-of-at-least-thirty-two-bytes"


def test_a_remembered_token_still_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    tokens = AccessTokens(SECRET, ttl_seconds=60, leeway_seconds=5)
    now = time.time()  # pyjwt reads the real clock: start from it
    monkeypatch.setattr(tokens_module.time, "time", lambda: now)
    token, expires_at = tokens.issue(user_id=uuid.uuid4(), name="A", email="a@x.io", role="user")
    first = tokens.decode(token)
    assert tokens.decode(token) is first  # the second decode is a hit
    now = expires_at + 4  # within the leeway
    assert tokens.decode(token) is first
    now = expires_at + 6
    with pytest.raises(ApiError, match="expired"):
        tokens.decode(token)
    assert token not in tokens._verified  # forgotten: pyjwt judges it from now on


def test_a_token_with_another_signature_is_verified_not_remembered() -> None:
    tokens = AccessTokens(SECRET)
    token, _ = tokens.issue(user_id=uuid.uuid4(), name="A", email="a@x.io", role="user")
    tokens.decode(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    forged = jwt.encode(claims, "another-secret-of-at-least-thirty-two-bytes")
    assert forged.split(".")[:2] == token.split(".")[:2]  # same header and claims
    with pytest.raises(ApiError, match="invalid"):
        tokens.decode(forged)


def test_remembered_tokens_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens_module, "_VERIFIED_MAX", 3)
    tokens = AccessTokens(SECRET)
    issued = [
        tokens.issue(user_id=uuid.uuid4(), name="A", email="a@x.io", role="user")[0]
        for _ in range(5)
    ]
    for token in issued:
        tokens.decode(token)
    assert len(tokens._verified) == 3  # the bound is the point
    assert all(tokens.decode(token) for token in issued)  # evicted ones verify again

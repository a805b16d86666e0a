"""Fixtures of the media tests that talk to Redis (the media home's claims and forwarding)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis


@pytest.fixture
async def redis(redis_url: str, redis_prefix: str) -> AsyncIterator[Redis[bytes]]:
    """A client of the real Redis; the test's keys (under its prefix) are deleted after it."""
    client: Redis[bytes] = Redis.from_url(redis_url)
    try:
        yield client
    finally:
        keys = [key async for key in client.scan_iter(f"{redis_prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()  # type: ignore[attr-defined]

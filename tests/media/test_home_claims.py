"""Claims on rooms' media in a real Redis (``media.homeclaim``): the first node wins, only the
holder refreshes or releases, a lapsed claim goes to the next node, a take-over is a
compare-and-set."""

from __future__ import annotations

import anyio
import pytest
from redis.asyncio import Redis

from media.homeclaim import RedisClaims

pytestmark = pytest.mark.redis


async def test_the_first_node_holds_and_only_it_refreshes_or_releases(
    redis: Redis[bytes], redis_prefix: str
) -> None:
    a = RedisClaims(redis, "node-a", prefix=redis_prefix, ttl=30)
    b = RedisClaims(redis, "node-b", prefix=redis_prefix, ttl=30)
    assert await a.holder("r1") is None
    assert await a.claim("r1") == "node-a"
    assert await b.claim("r1") == "node-a"  # taken: b is told who hosts it
    assert await b.holder("r1") == "node-a"
    assert 29_000 < await redis.pttl(a.key("r1")) <= 30_000

    await redis.pexpire(a.key("r1"), 5_000)
    assert await a.refresh(["r1"]) == []
    assert await redis.pttl(a.key("r1")) > 29_000  # extended to the whole TTL again
    await redis.pexpire(a.key("r1"), 5_000)
    assert await b.refresh(["r1"]) == ["r1"]  # not b's: reported lost, left alone
    assert await redis.pttl(a.key("r1")) <= 5_000

    await b.release("r1")
    assert await a.holder("r1") == "node-a"
    await a.release("r1")
    await a.release("r1")  # idempotent
    assert await a.holder("r1") is None
    assert await b.claim("r1") == "node-b"
    assert await a.refresh(["r1", "r2"]) == ["r1", "r2"]
    assert await a.refresh([]) == []


async def test_a_lapsed_claim_goes_to_the_next_node(
    redis: Redis[bytes], redis_prefix: str
) -> None:
    dead = RedisClaims(redis, "node-dead", prefix=redis_prefix, ttl=0.2)
    b = RedisClaims(redis, "node-b", prefix=redis_prefix, ttl=30)
    assert await dead.claim("r") == "node-dead"
    with anyio.fail_after(5):  # nobody refreshes it: it lapses after the TTL
        while await b.holder("r") is not None:
            await anyio.sleep(0.05)
    assert await b.claim("r") == "node-b"


async def test_take_over_only_from_the_node_named(
    redis: Redis[bytes], redis_prefix: str
) -> None:
    a = RedisClaims(redis, "node-a", prefix=redis_prefix, ttl=30)
    b = RedisClaims(redis, "node-b", prefix=redis_prefix, ttl=30)
    c = RedisClaims(redis, "node-c", prefix=redis_prefix, ttl=30)
    assert await b.take_over("r", "node-a") is False  # nobody holds it: nothing to take
    assert await a.holder("r") is None
    await a.claim("r")
    assert await b.take_over("r", "node-a") is True
    assert await c.take_over("r", "node-a") is False  # a lost it already: b stays
    assert await c.holder("r") == "node-b"
    assert await redis.pttl(b.key("r")) > 29_000

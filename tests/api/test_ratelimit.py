"""Rate limits: in memory and in the real Redis, at the unit and at the HTTP level."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from api.ratelimit import MemoryRateLimiter, RateRule, RedisRateLimiter
from tests.api.conftest import PASSWORD, unique_email

RULE = RateRule("auth", 3, 60)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_rule_parsing() -> None:
    assert RateRule.parse("notes", "100/900") == RateRule("notes", 100, 900)
    for bad in ("100", "a/b", "0/10", "5/0"):
        with pytest.raises(ValueError, match="notes"):
            RateRule.parse("notes", bad)


async def test_memory_limiter_window() -> None:
    clock = FakeClock()
    limiter = MemoryRateLimiter(clock=clock)
    decisions = [await limiter.hit(RULE, "1.2.3.4") for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert decisions[-1].retry_after == 60
    assert (await limiter.hit(RULE, "5.6.7.8")).allowed  # other clients are separate
    clock.now += 45
    assert (await limiter.hit(RULE, "1.2.3.4")).retry_after == 15
    clock.now += 15
    assert (await limiter.hit(RULE, "1.2.3.4")).allowed


@pytest.mark.redis
async def test_redis_limiter_window(redis_client: Redis, redis_prefix: str) -> None:
    limiter = RedisRateLimiter(redis_client, prefix=redis_prefix)
    decisions = [await limiter.hit(RULE, "1.2.3.4") for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert 1 <= decisions[-1].retry_after <= 60
    ttl = await redis_client.pttl(f"{redis_prefix}auth:1.2.3.4")
    assert 0 < ttl <= 60_000
    shared = RedisRateLimiter(redis_client, prefix=redis_prefix)  # another process, same budget
    assert not (await shared.hit(RULE, "1.2.3.4")).allowed
    await redis_client.delete(f"{redis_prefix}auth:1.2.3.4")


async def _login_until_limited(client: httpx.AsyncClient) -> httpx.Response:
    body = {"email": unique_email(), "password": PASSWORD}
    responses = [await client.post("/api/workbook/auth/login", json=body) for _ in range(3)]
    assert [r.status_code for r in responses] == [401, 401, 429]
    return responses[-1]


async def test_auth_429_in_memory(app_factory: Any) -> None:
    client = await app_factory(RATE_LIMIT_AUTH="2/900")
    limited = await _login_until_limited(client)
    assert limited.json()["error"]["code"] == "rate_limited"
    assert 890 <= int(limited.headers["retry-after"]) <= 900


@pytest.mark.redis
async def test_auth_429_in_redis(app_factory: Any, redis_url: str, redis_prefix: str) -> None:
    client = await app_factory(
        RATE_LIMIT_AUTH="2/900", REDIS_URL=redis_url, REDIS_PREFIX=redis_prefix
    )
    limited = await _login_until_limited(client)
    assert int(limited.headers["retry-after"]) > 0
    # A second app on the same Redis shares the budget (several web nodes).
    other = await app_factory(
        RATE_LIMIT_AUTH="2/900", REDIS_URL=redis_url, REDIS_PREFIX=redis_prefix
    )
    again = await other.post("/api/workbook/auth/login", json={"email": "a@b.co", "password": "x"})
    assert again.status_code == 429
    health = (await client.get("/api/health")).json()
    assert health["checks"]["redis"]["status"] == "ok"


async def test_limits_can_be_disabled(app_factory: Any) -> None:
    client = await app_factory(RATE_LIMIT_AUTH="1/900", RATE_LIMITS_ENABLED=False)
    body = {"email": unique_email(), "password": PASSWORD}
    statuses = {
        (await client.post("/api/workbook/auth/login", json=body)).status_code for _ in range(3)
    }
    assert statuses == {401}

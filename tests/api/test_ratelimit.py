"""Rate limits: in memory and in the real Redis, at the unit and at the HTTP level."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from api.ratelimit import MemoryRateLimiter, RateRule, RedisRateLimiter
from api.settings import Settings
from tests.api.conftest import BASE_URL, PASSWORD, register, unique_email

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


async def test_memory_peek_counts_nothing() -> None:
    clock = FakeClock()
    limiter = MemoryRateLimiter(clock=clock)
    for _ in range(5):
        assert (await limiter.peek(RULE, "k")).allowed
    for _ in range(3):
        await limiter.hit(RULE, "k")
    refused = await limiter.peek(RULE, "k")
    assert not refused.allowed and refused.retry_after == 60
    clock.now += 60
    assert (await limiter.peek(RULE, "k")).allowed


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
    assert not (await shared.peek(RULE, "1.2.3.4")).allowed
    assert (await shared.peek(RULE, "9.9.9.9")).allowed
    await redis_client.delete(f"{redis_prefix}auth:1.2.3.4")


LOGIN = "/api/workbook/auth/login"
# The shipped sign-in numbers (README "Rate limits"), not the test suite's raised ones.
DEFAULTS = {
    alias: Settings.model_fields[name].default
    for name, alias in (
        ("rate_limit_login_account", "RATE_LIMIT_LOGIN_FAILURES_PER_ACCOUNT"),
        ("rate_limit_login_ip", "RATE_LIMIT_LOGIN_FAILURES_PER_IP"),
        ("rate_limit_register", "RATE_LIMIT_REGISTER"),
    )
}


def test_shipped_sign_in_numbers() -> None:
    assert DEFAULTS == {
        "RATE_LIMIT_LOGIN_FAILURES_PER_ACCOUNT": "10/900",
        "RATE_LIMIT_LOGIN_FAILURES_PER_IP": "100/900",
        "RATE_LIMIT_REGISTER": "60/3600",
    }


async def _login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> int:
    response = await client.post(LOGIN, json={"email": email, "password": password})
    client.cookies.clear()
    return response.status_code


async def test_a_classroom_signs_up_and_in_from_one_address(app_factory: Any) -> None:
    client = await app_factory(**DEFAULTS)
    emails = [unique_email(f"pupil{i}") for i in range(30)]
    for email in emails:
        await register(client, email=email)
    # Everyone mistypes once, then signs in; the whole class twice (a second lesson).
    assert [await _login(client, email, "typo-password") for email in emails] == [401] * 30
    for _ in range(2):
        assert [await _login(client, email) for email in emails] == [200] * 30


async def test_guessing_one_password_is_stopped_but_others_sign_in(app_factory: Any) -> None:
    client = await app_factory(**DEFAULTS)
    victim, bystander = unique_email("victim"), unique_email("bystander")
    await register(client, email=victim)
    await register(client, email=bystander)
    guesses = [await _login(client, victim, f"guess-{i}") for i in range(10)]
    assert guesses == [401] * 10
    refused = await client.post(LOGIN, json={"email": victim.upper(), "password": "guess-10"})
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 890 <= int(refused.headers["retry-after"]) <= 900
    # Locked for this window even with the right password (the attacker cannot test guesses).
    assert await _login(client, victim) == 429
    # The same address signs another account in: only the victim's account is held.
    assert await _login(client, bystander) == 200


async def test_successes_never_count_and_never_reset(app_factory: Any) -> None:
    client = await app_factory(RATE_LIMIT_LOGIN_FAILURES_PER_ACCOUNT="2/900")
    email = unique_email()
    await register(client, email=email)
    assert [await _login(client, email) for _ in range(5)] == [200] * 5
    assert await _login(client, email, "wrong-1") == 401
    assert await _login(client, email) == 200  # a success does not clear the failure
    assert await _login(client, email, "wrong-2") == 401
    assert await _login(client, email) == 429


async def test_per_address_ceiling_on_failures(app_factory: Any) -> None:
    client = await app_factory(RATE_LIMIT_LOGIN_FAILURES_PER_IP="3/900")
    email = unique_email()
    await register(client, email=email)
    assert [await _login(client, unique_email(), "x-password") for _ in range(3)] == [401] * 3
    assert await _login(client, email) == 429  # this address spent its failures
    elsewhere = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=client.app, client=("10.9.8.7", 4000)),  # type: ignore[attr-defined]
        base_url=BASE_URL,
    )
    async with elsewhere:
        assert await _login(elsewhere, email) == 200


async def test_sign_up_is_limited_per_address(app_factory: Any) -> None:
    client = await app_factory(RATE_LIMIT_REGISTER="2/3600")
    body = {"password": PASSWORD, "name": "N"}
    statuses = [
        (await client.post("/api/workbook/auth/register", json={**body, "email": unique_email()}))
        .status_code
        for _ in range(3)
    ]
    assert statuses == [201, 201, 429]


@pytest.mark.redis
async def test_login_failures_in_redis(app_factory: Any, redis_url: str, redis_prefix: str) -> None:
    overrides = {
        "RATE_LIMIT_LOGIN_FAILURES_PER_ACCOUNT": "2/900",
        "REDIS_URL": redis_url,
        "REDIS_PREFIX": redis_prefix,
    }
    client = await app_factory(**overrides)
    email = unique_email()
    assert [await _login(client, email, "x-password") for _ in range(3)] == [401, 401, 429]
    # A second app on the same Redis shares the budget (several web nodes).
    other = await app_factory(**overrides)
    assert await _login(other, email, "x-password") == 429
    health = (await client.get("/api/health")).json()
    assert health["checks"]["redis"]["status"] == "ok"


async def test_limits_can_be_disabled(app_factory: Any) -> None:
    client = await app_factory(
        RATE_LIMIT_LOGIN_FAILURES_PER_ACCOUNT="1/900", RATE_LIMITS_ENABLED=False
    )
    email = unique_email()
    statuses = {await _login(client, email, "x-password") for _ in range(3)}
    assert statuses == {401}

"""Fixed-window rate limits: in memory for one process, in Redis when several share the budget.

A rule is written `"<count>/<seconds>"` (`"10/900"`: ten per 15 minutes). `hit` counts one
request, refused ones included, so hammering a limited endpoint never shortens the wait.
`peek` reads a count without adding to it: sign-in counts only failures (`refuse_if_over` before
checking the password, `hit` after a failed one), so successful sign-ins never use the budget.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from api.errors import ApiError

if TYPE_CHECKING:  # redis is imported only when REDIS_URL is set (see `api.app`)
    from redis.asyncio import Redis


@dataclass(frozen=True, slots=True)
class RateRule:
    name: str
    limit: int
    window_seconds: int

    @classmethod
    def parse(cls, name: str, text: str) -> RateRule:
        count, sep, seconds = text.partition("/")
        if not sep or not count.strip().isdigit() or not seconds.strip().isdigit():
            raise ValueError(
                f"rate limit {name!r} must look like '<count>/<seconds>', got {text!r}"
            )
        rule = cls(name, int(count), int(seconds))
        if rule.limit < 1 or rule.window_seconds < 1:
            raise ValueError(f"rate limit {name!r} needs a count and a window of at least 1")
        return rule


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: bool
    remaining: int
    retry_after: int


class RateLimiter(Protocol):
    async def hit(self, rule: RateRule, key: str) -> RateDecision:
        """Count one event for ``key``; allowed while the window's count is within the limit."""
        ...

    async def peek(self, rule: RateRule, key: str) -> RateDecision:
        """The window's state without counting: allowed while another event would be."""
        ...


@dataclass(slots=True)
class MemoryRateLimiter:
    """Per-process counters; right for the embedded single-process mode and for tests."""

    clock: Callable[[], float] = time.monotonic
    _windows: dict[tuple[str, str], tuple[float, int]] = field(default_factory=dict)

    async def hit(self, rule: RateRule, key: str) -> RateDecision:
        now = self.clock()
        if len(self._windows) > 10_000:  # bound memory: drop windows that already ended
            self._windows = {k: v for k, v in self._windows.items() if v[0] > now}
        slot = (rule.name, key)
        ends, count = self._windows.get(slot, (0.0, 0))
        if ends <= now:
            ends, count = now + rule.window_seconds, 0
        count += 1
        self._windows[slot] = (ends, count)
        return _decide(rule, count, ends - now)

    async def peek(self, rule: RateRule, key: str) -> RateDecision:
        now = self.clock()
        ends, count = self._windows.get((rule.name, key), (0.0, 0))
        if ends <= now:
            count = 0
        return _decide(rule, count + 1, ends - now)


# INCR then set the expiry only when this hit opened the window: one atomic round trip.
_LUA_HIT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {count, ttl}
"""


@dataclass(slots=True)
class RedisRateLimiter:
    """Counters shared by every process talking to the same Redis."""

    redis: Redis[bytes]
    prefix: str = "collab:ratelimit:"

    async def hit(self, rule: RateRule, key: str) -> RateDecision:
        result = await self.redis.eval(  # type: ignore[no-untyped-call]
            _LUA_HIT, 1, f"{self.prefix}{rule.name}:{key}", rule.window_seconds * 1000
        )
        count, ttl_ms = int(result[0]), int(result[1])
        return _decide(rule, count, ttl_ms / 1000)

    async def peek(self, rule: RateRule, key: str) -> RateDecision:
        name = f"{self.prefix}{rule.name}:{key}"
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(name)
            pipe.pttl(name)
            raw, ttl_ms = await pipe.execute()
        count = int(raw) if raw is not None and int(ttl_ms) > 0 else 0
        return _decide(rule, count + 1, max(int(ttl_ms), 0) / 1000)


def _decide(rule: RateRule, count: int, seconds_left: float) -> RateDecision:
    allowed = count <= rule.limit
    return RateDecision(
        allowed=allowed,
        remaining=max(0, rule.limit - count),
        retry_after=0 if allowed else max(1, math.ceil(seconds_left)),
    )


async def enforce(limiter: RateLimiter, rule: RateRule, key: str, *, enabled: bool = True) -> None:
    """Count one hit against `rule` for `key`; raise a 429 with Retry-After when over."""
    if not enabled:
        return
    decision = await limiter.hit(rule, key)
    if not decision.allowed:
        raise too_many(rule, decision)


async def refuse_if_over(
    limiter: RateLimiter, rule: RateRule, key: str, *, enabled: bool = True
) -> None:
    """Raise a 429 with Retry-After when `key` has used up `rule` already; counts nothing."""
    if not enabled:
        return
    decision = await limiter.peek(rule, key)
    if not decision.allowed:
        raise too_many(rule, decision)


def too_many(rule: RateRule, decision: RateDecision) -> ApiError:
    return ApiError(
        429,
        f"too many requests ({rule.name}: {rule.limit} per {rule.window_seconds} s); "
        f"retry in {decision.retry_after} s",
        headers={"Retry-After": str(decision.retry_after)},
    )

"""Per-user rate limits of the room actions that write text (chat, questions): token buckets
kept per node, on top of the core's per-connection limit for every stateless message."""

from __future__ import annotations

from dataclasses import dataclass

from rooms.rules import Rejected


@dataclass(frozen=True, slots=True)
class Rate:
    per_second: float
    burst: int


#: chat: 5 at once, then one a second; questions: 3 at once, then one every 10 s.
RATES: dict[str, Rate] = {
    "chat.post": Rate(1.0, 5),
    "qa.ask": Rate(0.1, 3),
}


class Throttle:
    """Token buckets by (room, user, action); an idle bucket is full and is forgotten."""

    _MAX_BUCKETS = 100_000

    def __init__(self, rates: dict[str, Rate] | None = None) -> None:
        self.rates = dict(RATES if rates is None else rates)
        self._buckets: dict[tuple[str, str, str], tuple[float, float]] = {}

    def check(self, room: str, user: str, action: str, now: float) -> None:
        """Take one token for ``action``, or raise ``Rejected("rate_limited")``."""
        rate = self.rates.get(action)
        if rate is None:
            return
        key = (room, user, action)
        tokens, since = self._buckets.get(key, (float(rate.burst), now))
        tokens = min(float(rate.burst), tokens + (now - since) * rate.per_second)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            raise Rejected("rate_limited")
        if len(self._buckets) >= self._MAX_BUCKETS:
            self._forget_full(now)
        self._buckets[key] = (tokens - 1.0, now)

    def _forget_full(self, now: float) -> None:
        for key, (tokens, since) in list(self._buckets.items()):
            rate = self.rates[key[2]]
            if tokens + (now - since) * rate.per_second >= rate.burst:
                del self._buckets[key]

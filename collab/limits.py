"""Per-connection limits without I/O: a token bucket for message rates and the send budget.

``TokenBucket`` refills ``rate`` tokens per second up to ``burst``; every message takes one.

``SendBudget`` decides whether a frame may be buffered for a peer. A connection may hold at
most ``limit`` unsent bytes, except for the frames the server must send to sync the client (its
sync step 1, the step 2 reply, the awareness snapshot at open): those are always admitted, and
while they are still buffered their bytes do not count against the other frames. A second sync
frame while the sync bytes already buffered reach the limit (a client asking again and again
without reading) is refused. The budget also tracks how many bytes this connection reported to
the server-wide budget, which only hears about buffers above ``report_floor``.
"""

from __future__ import annotations

__all__ = ["SendBudget", "TokenBucket"]


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved; starts full."""

    __slots__ = ("_at", "_burst", "_rate", "_tokens")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._at = now

    def take(self, now: float) -> bool:
        """Spend one token; False (and nothing spent) when the bucket is empty."""
        self._tokens = min(self._burst, self._tokens + (now - self._at) * self._rate)
        self._at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


class SendBudget:
    """The unsent bytes one connection may hold (see the module docstring).

    Args:
        limit: bytes of non-sync frames that may be buffered.
        report_floor: buffers up to this size are not reported to the server-wide budget.
    """

    __slots__ = ("_enqueued", "_floor", "_limit", "_sync_ends", "reported")

    def __init__(self, limit: int, report_floor: int) -> None:
        self._limit = limit
        self._floor = report_floor
        self._enqueued = 0  # bytes ever given to the channel
        # (``_enqueued`` after, size); a list: rarely more than two entries, and an empty deque
        # costs ~600 bytes per connection
        self._sync_ends: list[tuple[int, int]] = []
        self.reported = 0
        """Buffered bytes last reported to the server-wide budget."""

    def refusal(self, queued: int, size: int, *, sync: bool) -> str | None:
        """Why a frame of ``size`` bytes may not join the ``queued`` ones, or None."""
        syncing = self._syncing(queued) if self._sync_ends else 0
        if sync:
            return "sync frames buffered" if syncing >= self._limit else None
        if queued > syncing and queued - syncing + size > self._limit:
            return "send buffer bytes"
        return None

    def added(self, queued: int, size: int, *, sync: bool) -> int:
        """Note a frame handed to the channel (``queued`` bytes were buffered before it).

        Returns:
            the change to report to the server-wide budget (0: nothing to report).
        """
        self._enqueued += size
        if sync:
            self._sync_ends.append((self._enqueued, size))
        held = queued + size
        if held > self._floor:
            delta, self.reported = held - self.reported, held
            return delta
        delta, self.reported = -self.reported, 0
        return delta

    def _syncing(self, queued: int) -> int:
        """Bytes of sync frames still buffered: the channel sends in order, so what left the
        buffer is the first ``enqueued - queued`` bytes ever given to it."""
        gone = self._enqueued - queued
        ends = self._sync_ends
        done = 0
        while done < len(ends) and ends[done][0] <= gone:
            done += 1
        if done:
            del ends[:done]
        return sum(min(size, end - gone) for end, size in ends)

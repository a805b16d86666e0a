"""The incoming bitrate of one publication over a sliding window, and whether it is too high.

The relay's answer asks a publisher to cap each video (``b=AS``/``b=TIAS``, ``media.sdp``), and
a browser does; a client that ignores it (aiortc's encoder does) would make every subscriber
and the relay's uplink pay for it. ``BitrateMeter`` counts the bytes of the packets a
publication forwards, in buckets of ``window / BUCKETS`` seconds, and is ``over`` once it has
watched a whole window and the bytes of the last window exceed ``threshold`` bits per second.

Invariants: buckets are in time order, none older than one window before the last ``add``;
memory is bounded (``BUCKETS + 1`` buckets); ``over`` is never true before a full window has
passed since the first packet (a keyframe burst at the start is not a verdict). Pure: the
caller passes the clock.
"""

from __future__ import annotations

import collections

__all__ = ["BUCKETS", "BitrateMeter"]

BUCKETS = 10  # per window


class BitrateMeter:
    """Bytes over the last ``window`` seconds against ``threshold`` bits/s."""

    def __init__(self, threshold: float, window: float = 5.0) -> None:
        assert threshold > 0 and window > 0
        self.threshold = threshold
        self.window = window
        self._width = window / BUCKETS
        self._buckets: collections.deque[list[float]] = collections.deque()  # [start, bytes]
        self._first: float | None = None

    def add(self, size: int, now: float) -> None:
        """Count a packet of ``size`` bytes that arrived at ``now`` (seconds, non-decreasing)."""
        if self._first is None:
            self._first = now
        if self._buckets and now < self._buckets[-1][0] + self._width:
            self._buckets[-1][1] += size
        else:
            self._buckets.append([now, float(size)])
        self._expire(now)

    def rate(self, now: float) -> float:
        """Bits per second over the window ending at ``now`` (0 before any packet)."""
        self._expire(now)
        if not self._buckets:
            return 0.0
        # the buckets cover from the oldest's start (at most one bucket before the window)
        span = max(self.window, now - self._buckets[0][0])
        return sum(b[1] for b in self._buckets) * 8 / span

    def over(self, now: float) -> bool:
        """Whether a whole window has been watched and its rate exceeds the threshold."""
        if self._first is None or now - self._first < self.window:
            return False
        return self.rate(now) > self.threshold

    def _expire(self, now: float) -> None:
        while self._buckets and self._buckets[0][0] + self._width <= now - self.window:
            self._buckets.popleft()

"""Forwarding one published track to its subscribers, encoded, with bounded queues.

A ``Forwarder`` reads the packets of one publisher track (``media.passthrough`` makes the
receiver yield ``av.Packet``) and offers each to every subscriber's ``Outlet``. An outlet is the
``MediaStreamTrack`` an aiortc sender reads; the sender only re-packetizes. Invariants:

* one reader per published track; a subscriber never blocks it (``Outlet.offer`` never awaits);
* an outlet holds at most ``limit`` packets. When a video outlet overflows, it drops everything
  it holds and then every packet until the next keyframe, and asks for one; an audio outlet drops
  its oldest packet (Opus frames decode on their own);
* a new video outlet starts waiting for a keyframe, so a subscriber never gets a picture it
  cannot decode, and its arrival asks for one;
* a muted forwarder (``set_muted``) reads its source and offers nothing: subscribers and a
  recording get no packet of a muted source whatever the client sends. On unmute, every video
  outlet waits for the next keyframe again and one is requested;
* keyframe requests (a new subscriber, an overflow, a subscriber's PLI/FIR) reach the publisher
  at most once per ``KeyframeThrottle.interval``; a request inside the window is deferred to its
  end, never dropped (a recorder waiting for a keyframe must get one).
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from media.passthrough import is_keyframe

__all__ = ["Forwarder", "KeyframeThrottle", "Outlet"]

log = logging.getLogger(__name__)


class KeyframeThrottle:
    """When to send a keyframe request upstream (pure: the caller passes the clock).

    ``request(now)`` answers ``0.0`` (send now), a delay (send then: the window's end) or
    ``None`` (one is already scheduled, which covers this request). ``sent(now)`` opens the
    window; call it when the deferred request goes out too.
    """

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self._last: float | None = None
        self._scheduled = False

    def request(self, now: float) -> float | None:
        if self._scheduled:
            return None
        if self._last is None or now - self._last >= self.interval:
            return 0.0
        self._scheduled = True
        return self._last + self.interval - now

    def sent(self, now: float) -> None:
        self._last = now
        self._scheduled = False


class Outlet(MediaStreamTrack):
    """One subscriber's copy of a published track: a bounded queue of encoded packets."""

    def __init__(self, kind: str, limit: int, on_keyframe_needed: Callable[[], None]) -> None:
        super().__init__()
        self.kind = kind
        self._limit = limit
        self._packets: collections.deque[av.Packet[Any]] = collections.deque()
        self._ready = asyncio.Event()
        self._need_keyframe = kind == "video"
        self._on_keyframe_needed = on_keyframe_needed
        self.delivered = 0
        self.dropped = 0

    def offer(self, packet: av.Packet[Any]) -> None:
        """Queue ``packet`` for the sender (never waits; drops as the module docstring says)."""
        if self.readyState != "live":
            return
        if self._need_keyframe:
            if not is_keyframe(packet):
                self.dropped += 1
                return
            self._need_keyframe = False
        if len(self._packets) >= self._limit:
            if self.kind == "video":
                self.dropped += len(self._packets) + 1
                self._packets.clear()
                self._need_keyframe = True
                self._on_keyframe_needed()
                return
            self._packets.popleft()
            self.dropped += 1
        self._packets.append(packet)
        self._ready.set()

    def await_keyframe(self) -> None:
        """Drop what is queued and take nothing until the next keyframe (video; a no-op for
        audio, whose packets decode on their own)."""
        if self.kind == "video":
            self.dropped += len(self._packets)
            self._packets.clear()
            self._need_keyframe = True

    def finish(self) -> None:
        """End the track: the sender's next ``recv`` raises ``MediaStreamError`` (idempotent)."""
        self.stop()
        self._packets.clear()
        self._ready.set()

    async def recv(self) -> av.Packet[Any]:
        while not self._packets:
            if self.readyState != "live":
                raise MediaStreamError
            self._ready.clear()
            await self._ready.wait()
        if self.readyState != "live":
            raise MediaStreamError
        self.delivered += 1
        return self._packets.popleft()


class Forwarder:
    """Fans one published track out to outlets; owns the track's keyframe throttle.

    Args:
        source: the publisher's remote track (marked with ``passthrough.forward_encoded``).
        send_keyframe_request: sends one PLI to the publisher (awaited; errors are logged).
        queue_limit: packets per outlet.
        keyframe_interval: the throttle window in seconds.
        observe: called with every packet read, muted or not (the relay's bitrate meter);
            must not block.
    """

    def __init__(
        self,
        source: Any,
        send_keyframe_request: Callable[[], Awaitable[None]],
        *,
        queue_limit: int,
        keyframe_interval: float = 0.5,
        observe: Callable[[av.Packet[Any]], None] | None = None,
    ) -> None:
        self.source = source
        self._observe = observe
        self.kind: str = source.kind
        self._send = send_keyframe_request
        self._limit = queue_limit
        self._throttle = KeyframeThrottle(keyframe_interval)
        self._outlets: set[Outlet] = set()
        self._deferred: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.received = 0
        self.withheld = 0  # packets read while muted
        self.muted = False
        self.keyframes = 0
        self.requests_sent = 0
        self.ended = asyncio.Event()

    @property
    def outlets(self) -> frozenset[Outlet]:
        return frozenset(self._outlets)

    def attach(self) -> Outlet:
        """A new outlet for one subscriber; a video outlet asks for a keyframe."""
        outlet = Outlet(self.kind, self._limit, self.request_keyframe)
        if self.ended.is_set():
            outlet.finish()
            return outlet
        self._outlets.add(outlet)
        if self.kind == "video":
            self.request_keyframe()
        return outlet

    def detach(self, outlet: Outlet) -> None:
        """Stop feeding ``outlet`` and end it (idempotent)."""
        self._outlets.discard(outlet)
        outlet.finish()

    def set_muted(self, muted: bool) -> None:
        """Stop or resume offering packets to the outlets; resuming video starts every
        outlet at the next keyframe and asks the publisher for one."""
        if muted == self.muted:
            return
        self.muted = muted
        if not muted and self.kind == "video":
            for outlet in self._outlets:
                outlet.await_keyframe()
            self.request_keyframe()

    def request_keyframe(self) -> None:
        """Ask the publisher for a keyframe, throttled and coalesced (never waits)."""
        if self.kind != "video" or self.ended.is_set():
            return
        loop = self._loop or asyncio.get_running_loop()
        delay = self._throttle.request(loop.time())
        if delay is None:
            return
        if delay == 0.0:
            self._fire()
        else:
            self._deferred = loop.call_later(delay, self._fire)

    def _fire(self) -> None:
        loop = self._loop or asyncio.get_running_loop()
        self._throttle.sent(loop.time())
        self._deferred = None
        self.requests_sent += 1
        # The request is one RTCP packet on the publisher's transport; it must not hold up
        # the caller (an outlet's offer, a subscriber's RTCP handler).
        task = loop.create_task(self._send_logged())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send_logged(self) -> None:
        try:
            await self._send()
        except Exception:
            log.exception("keyframe request to the publisher failed")

    async def run(self) -> None:
        """Read the source until it ends, then end every outlet. Run it in a task group."""
        self._loop = asyncio.get_running_loop()
        try:
            while True:
                try:
                    packet = await self.source.recv()
                except MediaStreamError:
                    return
                self.received += 1
                if self._observe is not None:
                    self._observe(packet)
                if self.kind == "video" and is_keyframe(packet):
                    self.keyframes += 1
                if self.muted:
                    self.withheld += 1
                    continue
                for outlet in list(self._outlets):
                    outlet.offer(packet)
        finally:
            self.close()

    def close(self) -> None:
        """End every outlet and cancel a deferred request (idempotent)."""
        self.ended.set()
        if self._deferred is not None:
            self._deferred.cancel()
            self._deferred = None
        for task in list(self._tasks):
            task.cancel()
        for outlet in list(self._outlets):
            self.detach(outlet)

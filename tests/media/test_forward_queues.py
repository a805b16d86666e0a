"""Outlets (bounded, dropping to the next keyframe), the keyframe throttle (coalesced, never
dropped) and a forwarder's fan-out, without any network."""

from __future__ import annotations

import asyncio
from typing import Any

import av
import pytest
from aiortc.mediastreams import MediaStreamError

from media.forward import Forwarder, KeyframeThrottle, Outlet


def _packet(key: bool, n: int = 0) -> av.Packet[Any]:
    packet = av.Packet(bytes([n % 256]))
    packet.pts = n
    packet.is_keyframe = key
    return packet


async def _drain(outlet: Outlet) -> list[int]:
    got = []
    while outlet._packets:
        got.append((await outlet.recv()).pts)
    return got


async def test_a_video_outlet_starts_at_a_keyframe() -> None:
    asked: list[int] = []
    outlet = Outlet("video", 4, lambda: asked.append(1))
    for n, key in enumerate([False, False, True, False]):
        outlet.offer(_packet(key, n))
    assert await _drain(outlet) == [2, 3]
    assert outlet.dropped == 2 and not asked


async def test_an_overflowing_video_outlet_drops_to_the_next_keyframe() -> None:
    asked: list[int] = []
    outlet = Outlet("video", 3, lambda: asked.append(1))
    outlet.offer(_packet(True, 0))
    for n in range(1, 4):  # the fourth packet overflows: all dropped, a keyframe asked for
        outlet.offer(_packet(False, n))
    assert asked == [1] and not outlet._packets
    outlet.offer(_packet(False, 4))  # still waiting for a keyframe
    outlet.offer(_packet(True, 5))
    outlet.offer(_packet(False, 6))
    assert await _drain(outlet) == [5, 6]
    assert outlet.dropped == 5


async def test_an_overflowing_audio_outlet_drops_its_oldest() -> None:
    outlet = Outlet("audio", 3, lambda: pytest.fail("audio never asks for keyframes"))
    for n in range(5):
        outlet.offer(_packet(True, n))
    assert await _drain(outlet) == [2, 3, 4]


async def test_a_finished_outlet_ends_its_reader() -> None:
    outlet = Outlet("audio", 3, lambda: None)
    reader = asyncio.ensure_future(outlet.recv())
    await asyncio.sleep(0)
    outlet.finish()
    with pytest.raises(MediaStreamError):
        await asyncio.wait_for(reader, 1)
    outlet.offer(_packet(True))  # ignored
    assert not outlet._packets


def test_the_keyframe_throttle_defers_and_never_drops() -> None:
    throttle = KeyframeThrottle(0.5)
    assert throttle.request(10.0) == 0.0
    throttle.sent(10.0)
    assert throttle.request(10.1) == pytest.approx(0.4)  # deferred to the window's end
    assert throttle.request(10.2) is None  # covered by the deferred one
    throttle.sent(10.5)
    assert throttle.request(11.0) == 0.0


class _Source:
    kind = "video"

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Any] = asyncio.Queue()

    async def recv(self) -> Any:
        item = await self.queue.get()
        if item is None:
            raise MediaStreamError
        return item


async def test_a_forwarder_fans_out_and_coalesces_keyframe_requests() -> None:
    sent: list[float] = []
    loop = asyncio.get_running_loop()

    async def send() -> None:
        sent.append(loop.time())

    source = _Source()
    forwarder = Forwarder(source, send, queue_limit=10, keyframe_interval=0.1)
    runner = asyncio.ensure_future(forwarder.run())
    first, second, third = forwarder.attach(), forwarder.attach(), forwarder.attach()
    # three joins: one request at once, one at the end of the window, none dropped or extra
    await asyncio.sleep(0.25)
    assert len(sent) == 2 and sent[1] - sent[0] >= 0.09
    source.queue.put_nowait(_packet(True, 1))
    source.queue.put_nowait(_packet(False, 2))
    assert [(await first.recv()).pts, (await first.recv()).pts] == [1, 2]
    assert (await second.recv()).pts == 1
    forwarder.detach(third)
    source.queue.put_nowait(None)  # the publisher's track ends: every outlet ends
    await asyncio.wait_for(runner, 1)
    for outlet in (first, second, third):  # what was still queued is dropped with it
        with pytest.raises(MediaStreamError):
            await outlet.recv()
    assert forwarder.received == 2 and forwarder.keyframes == 1


async def test_a_slow_subscriber_never_slows_the_others() -> None:
    sent: list[int] = []

    async def send() -> None:
        sent.append(1)

    source = _Source()
    forwarder = Forwarder(source, send, queue_limit=5, keyframe_interval=0.05)
    runner = asyncio.ensure_future(forwarder.run())
    fast, slow = forwarder.attach(), forwarder.attach()
    received: list[int] = []

    async def read_fast() -> None:
        while len(received) < 40:
            received.append((await fast.recv()).pts)

    reader = asyncio.ensure_future(read_fast())
    for n in range(40):  # a keyframe every 10 packets; nobody reads `slow`
        source.queue.put_nowait(_packet(n % 10 == 0, n))
        await asyncio.sleep(0)
    await asyncio.wait_for(reader, 2)
    assert received == list(range(40))  # every packet, in order, for the reader that keeps up
    # The one that does not holds at most its limit (starting at a keyframe when it holds
    # any), dropped the rest and asked the publisher for keyframes.
    assert len(slow._packets) <= 5 and slow.dropped + len(slow._packets) == 40
    assert all(p.is_keyframe for p in list(slow._packets)[:1])
    assert slow.dropped >= 35 and sent
    source.queue.put_nowait(None)
    await asyncio.wait_for(runner, 1)


async def test_a_muted_forwarder_offers_nothing_and_resumes_at_a_keyframe() -> None:
    sent: list[int] = []

    async def send() -> None:
        sent.append(1)

    source = _Source()
    forwarder = Forwarder(source, send, queue_limit=10, keyframe_interval=0.0)
    runner = asyncio.ensure_future(forwarder.run())
    outlet = forwarder.attach()
    await asyncio.sleep(0)
    asked = len(sent)
    source.queue.put_nowait(_packet(True, 0))
    source.queue.put_nowait(_packet(False, 1))
    assert [(await outlet.recv()).pts, (await outlet.recv()).pts] == [0, 1]

    forwarder.set_muted(True)
    for n in range(2, 6):  # the publisher keeps sending, a keyframe among them
        source.queue.put_nowait(_packet(n == 3, n))
    await asyncio.sleep(0.01)
    assert not outlet._packets and forwarder.withheld == 4 and forwarder.received == 6

    forwarder.set_muted(False)  # video: the outlet waits for a keyframe, one is asked for
    await asyncio.sleep(0.01)
    assert len(sent) > asked
    source.queue.put_nowait(_packet(False, 6))
    source.queue.put_nowait(_packet(True, 7))
    source.queue.put_nowait(_packet(False, 8))
    assert [(await outlet.recv()).pts, (await outlet.recv()).pts] == [7, 8]
    source.queue.put_nowait(None)
    await asyncio.wait_for(runner, 1)

"""The recorder's choice of the presenter's video (``media.recording.Recording``), without a
network: forwarders fed by hand, so which packets are written at a switch is exact."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import av

from media.forward import Forwarder
from media.recording import Recording
from tests.media.test_recording_size_switch_plays import _vp8


class _Source:
    """A remote track the test feeds (``None`` ends it)."""

    kind = "video"

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Any] = asyncio.Queue()

    async def recv(self) -> av.Packet:
        from aiortc.mediastreams import MediaStreamError

        packet = await self.queue.get()
        if packet is None:
            raise MediaStreamError
        return packet


async def _noop() -> None:
    return None


async def _settle() -> None:
    for _ in range(10):  # let the forwarders and the recorder's pumps pass the packets on
        await asyncio.sleep(0)


async def test_the_recorder_switches_at_the_new_source_s_keyframe_and_falls_back(
        tmp_path: Path) -> None:
    camera_packets = _vp8((320, 240), 40, 0)
    screen_packets = _vp8((480, 272), 10, 0)
    assert camera_packets[0].is_keyframe and screen_packets[0].is_keyframe
    sources = {"camera": _Source(), "screen": _Source()}
    forwarders = {name: Forwarder(source, _noop, queue_limit=100)
                  for name, source in sources.items()}
    tasks: set[asyncio.Task[Any]] = set()

    def spawn(run: Any) -> None:
        tasks.add(asyncio.ensure_future(run()))

    recording = Recording("ann", tmp_path / "r.webm", spawn, 0.0)
    for forwarder in forwarders.values():
        tasks.add(asyncio.ensure_future(forwarder.run()))
    recording.consider("ann", "camera", forwarders["camera"])
    recording.consider("bob", "screen", forwarders["screen"])  # not the presenter's: ignored
    assert recording.video_source == "camera"

    async def feed(name: str, packets: list[av.Packet]) -> int:
        before = recording.written("video")
        for packet in packets:
            sources[name].queue.put_nowait(packet)
        await _settle()
        return recording.written("video") - before

    camera, screen = iter(camera_packets), iter(screen_packets)
    assert await feed("camera", [next(camera) for _ in range(5)]) == 5

    # The screen is shared: the camera goes on being written until the screen's keyframe.
    recording.consider("ann", "screen", forwarders["screen"])
    assert recording.video_source == "screen"
    assert await feed("camera", [next(camera) for _ in range(3)]) == 3
    screen_key = next(screen)
    assert await feed("screen", [screen_key, next(screen)]) == 2
    assert await feed("camera", [next(camera) for _ in range(3)]) == 0  # no longer written

    # The screen ends: back to the camera, from its next keyframe (a delta is not written).
    sources["screen"].queue.put_nowait(None)
    await _settle()
    assert recording.video_source == "camera"
    assert await feed("camera", [next(camera)]) == 0
    keyframe = av.Packet(bytes(camera_packets[0]))
    keyframe.pts, keyframe.time_base = 10**6, camera_packets[0].time_base
    keyframe.is_keyframe = True
    assert await feed("camera", [keyframe, next(camera)]) == 2

    parts = recording.stop()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert [(p.kind, p.user_id, p.packets) for p in parts] == [("video", "ann", 12)]

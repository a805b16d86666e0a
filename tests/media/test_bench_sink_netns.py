"""The media benchmark's sinks (``bench/media/sink.py``) do not fake delivery: through the relay,
each counts exactly the frames a decoding probe sees, and nothing once the camera is unpublished
(while its audio still arrives and is counted); the relay's senders get their receiver reports.
Peers in network namespaces, as the benchmark runs them (``bench/media/run.py``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest
from aiortc.rtcrtpsender import RTCRtpSender
from aiortc.rtp import RtcpRrPacket

from bench.media.run import PUBLISHER, ROOM, report, spawn
from media.config import RelayLimits
from media.relay import MediaRelay
from tests.media._netns import Namespace, Peer, namespaces

__all__ = ["namespaces"]

WINDOW = 30  # frames: one second of the publisher's video


async def _until(check: Callable[[], Awaitable[bool]], seconds: float) -> None:
    with anyio.fail_after(seconds):
        while not await check():
            await anyio.sleep(0.1)  # polling other processes' counters


async def _subscribers(peer: Peer, since: int = 0) -> list[dict[str, Any]]:
    return list((await report(peer, since))["subscribers"])


async def test_sinks_count_the_probes_frames_and_none_after_unpublish(
    namespaces: Callable[[], Namespace], monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The relay's senders (in this process) note the receiver reports that reach them.
    reported: set[int] = set()
    handle = RTCRtpSender._handle_rtcp_packet

    async def noting(sender: RTCRtpSender, packet: Any) -> None:
        if isinstance(packet, RtcpRrPacket):
            reported.update(r.ssrc for r in packet.reports if r.ssrc == sender._ssrc)
        await handle(sender, packet)

    monkeypatch.setattr(RTCRtpSender, "_handle_rtcp_packet", noting)
    publisher_ns, subscriber_ns = namespaces(), namespaces()
    peers: list[Peer] = []
    async with MediaRelay(RelayLimits(connect_timeout=20)) as relay:
        try:
            publisher = await spawn(publisher_ns, "publish")
            peers.append(publisher)
            offer = (await publisher.expect(lambda e: "offers" in e, timeout=30))["offers"][0]
            answer = await relay.publish(ROOM, PUBLISHER, offer["sdp"],
                                         {t["mid"]: t["source"] for t in offer["tracks"]})
            await publisher.send(answers=[answer])
            probe = await spawn(subscriber_ns, "subscribe", "probe", "1", PUBLISHER)
            sinks = await spawn(subscriber_ns, "subscribe", "sink", "2", PUBLISHER)
            peers += [probe, sinks]
            for user, peer in enumerate((probe, sinks)):
                offers = (await peer.expect(lambda e: "offers" in e, timeout=30))["offers"]
                answers = []
                for i, o in enumerate(offers):
                    wanted = {t["mid"]: (t["userId"], t["source"]) for t in o["tracks"]}
                    answers.append(await relay.subscribe(ROOM, f"s{user}-{i}", o["sdp"], wanted))
                await peer.send(answers=answers)

            async def indexed() -> bool:  # connected, and each sink has read one keyframe
                got = await _subscribers(sinks)
                return all(s["exact"] and s["complete"] > 0 for s in got)

            await _until(indexed, 30)

            # A short stream: the next WINDOW frames the publisher sends.
            sent0 = int((await report(publisher))["sent"])

            async def window_sent() -> bool:
                return int((await report(publisher))["sent"]) >= sent0 + WINDOW

            await _until(window_sent, 10)
            window = {(sent0 + k) % 65536 for k in range(1, WINDOW + 1)}

            async def window_arrived() -> bool:
                got = await _subscribers(probe, sent0) + await _subscribers(sinks, sent0)
                return all(window <= {int(k) for k in s["times"]} for s in got)

            await _until(window_arrived, 10)
            sent = {int(k) for k in (await report(publisher, sent0))["times"]}
            (seen,) = await _subscribers(probe, sent0)
            probe_frames = {int(k) for k in seen["times"]} & window
            assert probe_frames == window
            for sink in await _subscribers(sinks, sent0):
                assert {int(k) for k in sink["times"]} <= sent  # no index the publisher lacks
                assert {int(k) for k in sink["times"]} & window == probe_frames
                assert sink["srtp_failures"] == sink["mismatches"] == sink["unaligned"] == 0
                assert sink["audio_packets"] > 0

            async def reports_arrived() -> bool:  # one a second from every receiver
                return len(reported) == 2 * 3  # audio and video, the probe and two sinks

            await _until(reports_arrived, 5)

            # Unpublished camera: the sinks count no more video, while audio goes on.
            assert await relay.unpublish(ROOM, PUBLISHER, "camera")
            before = await _subscribers(sinks)

            async def audio_moved(by: int) -> bool:
                now = await _subscribers(sinks)
                return all(n["audio_packets"] >= b["audio_packets"] + by
                           for b, n in zip(before, now, strict=True))

            await _until(lambda: audio_moved(10), 10)  # past what was in flight
            stopped = await _subscribers(sinks)
            await _until(lambda: audio_moved(60), 10)  # a second of audio later
            after = await _subscribers(sinks)
            for s0, s1 in zip(stopped, after, strict=True):
                assert s1["complete"] - s0["complete"] == 0
                assert s1["video_packets"] - s0["video_packets"] == 0
                assert s1["audio_packets"] - s0["audio_packets"] >= 25  # audio flows on
        finally:
            for peer in peers:
                await peer.close()

"""The relay end to end: aiortc clients, each in a network namespace of its own, publishing and
subscribing through ``MediaRelay`` with the offers and answers carried as ``media.*`` actions on
the room's socket (a real collab server with the sessions kind)."""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import anyio
import av
import pytest

from media.recording import RecordedFile
from media.relay import MediaRelay, RelayLimits
from rooms.media import RoomMedia
from storage.db import migrate
from storage.models import Role
from tests.collab._kit import wait_for
from tests.media._netns import Namespace, Peer, namespaces
from tests.media._signal import publish as _publish
from tests.media._signal import subscribe as _subscribe
from tests.rooms._room import Attendee, room_env

__all__ = ["namespaces"]


@pytest.fixture
async def url(tmp_path: Path) -> str:
    database = f"sqlite+aiosqlite:///{tmp_path / 'media.db'}"
    await migrate(database)
    return database


async def test_publish_late_subscriber_unpublish(
    url: str, namespaces: Callable[[], Namespace]
) -> None:
    publisher_ns, subscriber_ns = namespaces(), namespaces()
    async with (
        MediaRelay(RelayLimits(connect_timeout=20)) as relay,
        room_env(url, media=RoomMedia(relay)) as env,
    ):
        host, ann = await env.user("Hannah", Role.HOST), await env.user("Ann")
        live = await env.session(host)
        await env.join(live, ann)
        live = await env.start(live)
        host_room, ann_room = await env.attend(live, host), await env.attend(live, ann)
        doc_id = str(live.id)

        publisher = await publisher_ns.spawn("publish", "audio,camera")
        subscriber: Peer | None = None
        try:
            await _publish(host_room, publisher)
            await ann_room.until(lambda a: a.map("media").get(host.id) == {
                "audio": {"muted": False}, "camera": {"muted": False}})
            assert relay.publications(doc_id) == {host.id: ["audio", "camera"]}

            # Late: two seconds of video have gone by (its first keyframe with them).
            camera = relay._rooms[doc_id][host.id].publications["camera"].forwarder
            await wait_for(lambda: camera.received >= 30, 10)
            keyframes_before = camera.keyframes

            subscriber = await subscriber_ns.spawn(
                "subscribe", f"{host.id}:camera,{host.id}:audio")
            await _subscribe(ann_room, subscriber)
            first = await subscriber.expect(
                lambda e: e.get("event") == "first" and e["source"].endswith(":camera"))
            assert first["after_connected"] < 1.0, first
            assert camera.keyframes > keyframes_before  # the join asked the publisher for one
            await subscriber.expect(
                lambda e: e.get("event") == "first" and e["source"].endswith(":audio"))

            # Frames keep coming (15 fps): a second and a half of them.
            with anyio.fail_after(10):
                while (await subscriber.frames()).get(f"{host.id}:camera", 0) < 22:
                    await anyio.sleep(0.1)  # polling another process's counter

            # A viewer sees the room but cannot publish.
            await host_room.ok("participant.setRole", userId=ann.id, role="viewer")
            await ann_room.until(lambda a: a.map("participants")[ann.id]["role"] == "viewer")
            reason = await ann_room.refused(
                "media.publish", sdp="v=0\r\n", tracks=[{"mid": "0", "source": "audio"}])
            assert reason == "not_allowed"

            # Unpublishing the camera ends the subscriber's camera track; audio goes on.
            await host_room.ok("media.unpublish", source="camera")
            ended = await subscriber.expect(
                lambda e: e.get("event") == "ended" and e["source"].endswith(":camera"))
            assert ended["frames"] >= 22
            await ann_room.until(lambda a: a.map("media").get(host.id) == {
                "audio": {"muted": False}})
            assert relay.stats()["subscriptions"] == 1

            # A removed participant's media ends with their last connection to the room.
            await host_room.ok("participant.remove", userId=ann.id)
            await subscriber.expect(
                lambda e: e.get("event") == "ended" and e["source"].endswith(":audio"))
            await wait_for(lambda: ann.id not in relay._rooms.get(doc_id, {}), 5)
            assert relay.stats()["subscriptions"] == 0
        finally:
            await publisher.close()
            if subscriber is not None:
                await subscriber.close()
        await host_room.ok("media.leave")
        await host_room.until(lambda a: host.id not in a.map("media"))


async def test_subscribing_to_nothing_published_is_not_found(url: str) -> None:
    async with (
        MediaRelay() as relay,
        room_env(url, media=RoomMedia(relay)) as env,
    ):
        host = await env.user("Hannah", Role.HOST)
        live = await env.start(await env.session(host))
        room = await env.attend(live, host)
        offer = ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
                 "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:0\r\na=recvonly\r\n")
        reason = await room.refused("media.subscribe", sdp=offer, tracks=[
            {"mid": "0", "userId": str(uuid.uuid4()), "source": "camera"}])
        assert reason == "not_found"


class _Sink:
    """A RecordingSink keeping the bytes in memory."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[bytes, RecordedFile, str]] = {}

    async def store(self, session_id: str, user_id: str, recorded: RecordedFile) -> str:
        key = f"recordings/{session_id}/{len(self.files)}.webm"
        self.files[key] = (recorded.path.read_bytes(), recorded, user_id)
        return key


async def test_recording_remuxes_and_survives_a_rejoin(
    url: str, namespaces: Callable[[], Namespace], tmp_path: Path
) -> None:
    publisher_ns = namespaces()
    sink = _Sink()
    async with (
        MediaRelay(RelayLimits(connect_timeout=20)) as relay,
        room_env(url, media=RoomMedia(relay, sink, tmp_path / "rec")) as env,
    ):
        host = await env.user("Hannah", Role.HOST)
        live = await env.start(await env.session(host))
        room = await env.attend(live, host)
        doc_id = str(live.id)
        first = await publisher_ns.spawn("publish", "audio,camera")
        second: Peer | None = None
        try:
            await _publish(room, first)
            started = time.monotonic()
            await room.ok("media.record", on=True)
            assert (await room.refused("media.record", on=True)) == "recording_active"
            await room.until(lambda a: a.map("state")["recording"]["userId"] == host.id)
            recording = relay._recordings[doc_id]
            await wait_for(lambda: recording.written("video") >= 20, 10)

            # The publisher leaves and comes back on a new connection: the same file goes on.
            await room.ok("media.leave")
            await first.close()
            written = {"video": recording.written("video")}
            second = await publisher_ns.spawn("publish", "audio,camera")
            await _publish(room, second)
            await wait_for(lambda: recording.written("video") >= written["video"] + 20, 10)
            # the stop is timed on both sides: the mixdown after it may wait for a worker process
            stopping = time.monotonic() - started
            reply = await room.ok("media.record", on=False)
            elapsed = time.monotonic() - started

            # Ending the session finishes a running recording and everyone's media.
            await room.ok("media.record", on=True)
            await wait_for(lambda: relay._recordings[doc_id].written("video") > 5, 10)
            await room.ok("session.end")
            assert len(sink.files) == 2 and doc_id not in relay._rooms
            await second.expect(lambda e: e.get("event") in ("closed", "failed"), 40)
        finally:
            await first.close()
            if second is not None:
                await second.close()
        await room.until(lambda a: a.map("state")["recording"] is None)
        assert not list((tmp_path / "rec").iterdir())  # the scratch file is gone

    data, recorded, user_id = sink.files[reply["objectKey"]]
    assert user_id == host.id and recorded.video and reply["duration"] == recorded.duration
    # Two segments and the gap between them: the file spans (nearly) the whole recording.
    assert stopping - 1.5 < recorded.duration <= elapsed + 0.1, (recorded.duration, stopping)
    with av.open(io.BytesIO(data)) as container:
        video = container.streams.video[0]
        assert (video.codec_context.name, video.width, video.height) == ("vp8", 320, 240)
        assert container.streams.audio[0].codec_context.name == "opus"
        frames = {"video": 0, "audio": 0}
        first_video_key: bool | None = None
        for packet in container.demux():
            if packet.size == 0:
                continue
            kind = packet.stream.type
            if kind == "video" and first_video_key is None:
                first_video_key = packet.is_keyframe
            frames[kind] += len(packet.decode())  # raises on a broken bitstream
    assert first_video_key is True
    assert frames["video"] >= written["video"] + 20 - 2
    assert frames["audio"] >= 50


async def _renegotiate(room: Attendee, peer: Peer, sources: list[str]) -> None:
    after = len(peer.events)
    await peer.send(cmd="publish", sources=sources)
    offer = await peer.expect(lambda e: "offer" in e, after=after)
    reply = await room.ok("media.publish", sdp=offer["offer"], tracks=offer["tracks"])
    await peer.send(answer=reply["sdp"])


async def test_screen_share_on_and_off(url: str, namespaces: Callable[[], Namespace]) -> None:
    publisher_ns, first_ns, second_ns = namespaces(), namespaces(), namespaces()
    async with (
        MediaRelay(RelayLimits(connect_timeout=20)) as relay,
        room_env(url, media=RoomMedia(relay)) as env,
    ):
        host, ann = await env.user("Hannah", Role.HOST), await env.user("Ann")
        live = await env.session(host)
        await env.join(live, ann)
        live = await env.start(live)
        host_room, ann_room = await env.attend(live, host), await env.attend(live, ann)
        doc_id = str(live.id)
        peers = [await publisher_ns.spawn("publish", "audio,camera,screen")]
        try:
            publisher = peers[0]
            await _publish(host_room, publisher)
            peers.append(first := await first_ns.spawn(
                "subscribe", f"{host.id}:camera,{host.id}:screen"))
            await _subscribe(ann_room, first)
            for source in ("camera", "screen"):
                await first.expect(
                    lambda e, s=source: e.get("event") == "first" and e["source"].endswith(s))

            # Screen off: the publisher's new offer leaves it out.
            await _renegotiate(host_room, publisher, ["audio", "camera"])
            await first.expect(
                lambda e: e.get("event") == "ended" and e["source"].endswith(":screen"))
            assert relay.publications(doc_id) == {host.id: ["audio", "camera"]}
            await ann_room.until(lambda a: set(a.map("media")[host.id]) == {"audio", "camera"})
            before = (await first.frames())[f"{host.id}:camera"]
            with anyio.fail_after(10):  # the camera goes on
                while (await first.frames())[f"{host.id}:camera"] < before + 10:
                    await anyio.sleep(0.1)

            # Screen on again (a new m-line): another attendee gets it.
            await _renegotiate(host_room, publisher, ["audio", "camera", "screen"])
            await ann_room.until(lambda a: "screen" in a.map("media")[host.id])
            bob = await env.user("Bob")
            await env.join(live, bob)
            bob_room = await env.attend(live, bob)
            peers.append(second := await second_ns.spawn("subscribe", f"{host.id}:screen"))
            await _subscribe(bob_room, second)
            await second.expect(
                lambda e: e.get("event") == "first" and e["source"].endswith(":screen"))

            # Ann's page comes back on a new connection (a reload): it replaces the old one.
            peers.append(again := await first_ns.spawn("subscribe", f"{host.id}:camera"))
            await _subscribe(ann_room, again)
            await again.expect(
                lambda e: e.get("event") == "first" and e["source"].endswith(":camera"))
            await first.expect(
                lambda e: e.get("event") == "ended" and e["source"].endswith(":camera"))
            assert relay.stats()["subscriptions"] == 2  # Bob's screen, Ann's new camera
        finally:
            for peer in peers:
                await peer.close()


async def test_a_publisher_above_the_bitrate_cap_is_stopped(
    url: str, namespaces: Callable[[], Namespace]
) -> None:
    """aiortc's encoder ignores the answer's b=AS (the uncooperative case): a camera of noise
    goes over a low cap and is stopped with the room's map updated; a still camera (a few
    kbit/s) under the cap keeps publishing, and the stopped m-line stays off on a re-offer."""
    limits = RelayLimits(connect_timeout=20, max_video_bitrate=60_000, bitrate_window=2.0)
    window = limits.bitrate_window
    async with (
        MediaRelay(limits) as relay,
        room_env(url, media=RoomMedia(relay)) as env,
    ):
        host, ann = await env.user("Hannah", Role.HOST), await env.user("Ann")
        live = await env.session(host)
        await env.join(live, ann)
        live = await env.start(live)
        host_room, ann_room = await env.attend(live, host), await env.attend(live, ann)
        doc_id = str(live.id)

        loud, quiet = await namespaces().spawn("publish", "audio,camera@noise"), None
        try:
            quiet = await namespaces().spawn("publish", "camera@still")
            await _publish(host_room, loud)
            await _publish(ann_room, quiet)
            await ann_room.until(lambda a: a.map("media").get(ann.id) == {
                "camera": {"muted": False}})
            still = relay._rooms[doc_id][ann.id].publications["camera"]

            # The noise goes over 1.5 x 60 kbit/s for a whole window: stopped.
            await ann_room.until(lambda a: a.map("media").get(host.id) == {
                "audio": {"muted": False}}, timeout=30)
            assert relay.publications(doc_id)[host.id] == ["audio"]
            assert relay._rooms[doc_id][host.id].limited  # its m-line stays off
            # the host is told why (a push to the host only): the page turns its camera off
            await host_room.until(lambda a: any(
                p["push"] == "media.stopped" for p in a.pushes))
            told = next(p for p in host_room.pushes if p["push"] == "media.stopped")
            assert (told["source"], told["reason"], told["limit"]) == (
                "camera", "bitrate", 90_000)
            assert told["rate"] > told["limit"]
            assert not [p for p in ann_room.pushes if p["push"] == "media.stopped"]

            # The still camera has been watched for two windows and keeps publishing.
            loop_time = anyio.current_time
            assert still.meter is not None
            await wait_for(lambda: still.meter is not None and still.meter._first is not None
                           and loop_time() - still.meter._first > 2 * window, 20)
            assert still.meter.rate(loop_time()) < 90_000
            assert relay.publications(doc_id)[ann.id] == ["camera"]
            received = still.forwarder.received
            await wait_for(lambda: still.forwarder.received > received + 5, 10)

            # The host's page offers again with the same m-lines: the camera stays stopped.
            await _renegotiate(host_room, loud, ["audio", "camera"])
            assert relay.publications(doc_id)[host.id] == ["audio"]
            limited = relay._rooms[doc_id][host.id].limited
            assert [r._enabled for r in limited.values()] == [False]  # answered inactive
            await host_room.until(lambda a: a.map("media").get(host.id) == {
                "audio": {"muted": False}})
        finally:
            await loud.close()
            if quiet is not None:
                await quiet.close()


"""The relay end to end: aiortc clients, each in a network namespace of its own, publishing and
subscribing through ``MediaRelay`` with the offers and answers carried as ``media.*`` actions on
the room's socket (a real collab server with the sessions kind)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest

from media.relay import MediaRelay, RelayLimits
from rooms.media import RoomMedia
from storage.db import migrate
from storage.models import Role
from tests.collab._kit import wait_for
from tests.media._netns import Namespace, Peer, namespaces
from tests.rooms._room import Attendee, room_env

__all__ = ["namespaces"]


@pytest.fixture
async def url(tmp_path: Path) -> str:
    database = f"sqlite+aiosqlite:///{tmp_path / 'media.db'}"
    await migrate(database)
    return database


async def _publish(room: Attendee, peer: Peer) -> None:
    offer = await peer.expect(lambda e: "offer" in e)
    reply = await room.ok("media.publish", sdp=offer["offer"], tracks=offer["tracks"])
    await peer.send(answer=reply["sdp"])
    await peer.expect(lambda e: e.get("event") == "connected")


async def _subscribe(room: Attendee, peer: Peer) -> None:
    offer = await peer.expect(lambda e: "offer" in e)
    reply = await room.ok("media.subscribe", sdp=offer["offer"], tracks=offer["tracks"])
    await peer.send(answer=reply["sdp"])
    await peer.expect(lambda e: e.get("event") == "connected")


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
        finally:
            await publisher.close()
            if subscriber is not None:
                await subscriber.close()
        await host_room.ok("media.leave")
        await ann_room.until(lambda a: host.id not in a.map("media"))


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

"""Mute enforced by the relay, the speakers it measures, and a recording of everyone's voice:
aiortc clients in network namespaces of their own, offers and answers carried as ``media.*``
actions on the room's socket (as in test_relay_netns.py)."""

from __future__ import annotations

import io
import time
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
from tests.media._audio import decoded_mono, tone_power
from tests.media._netns import Namespace, Peer, namespaces
from tests.media._signal import publish as _publish
from tests.media._signal import subscribe as _subscribe
from tests.rooms._room import room_env

__all__ = ["namespaces"]


@pytest.fixture
async def url(tmp_path: Path) -> str:
    database = f"sqlite+aiosqlite:///{tmp_path / 'media-mute.db'}"
    await migrate(database)
    return database


async def _until_frames(peer: Peer, wanted: dict[str, int], timeout: float = 10) -> dict[str, int]:
    with anyio.fail_after(timeout):
        while True:
            frames = await peer.frames()
            if all(frames.get(name, 0) >= count for name, count in wanted.items()):
                return frames
            await anyio.sleep(0.1)  # polling another process's counters


async def test_mute_is_enforced_by_the_relay(
    url: str, namespaces: Callable[[], Namespace]
) -> None:
    publisher_ns, subscriber_ns = namespaces(), namespaces()
    async with (
        MediaRelay(RelayLimits(connect_timeout=20)) as relay,
        room_env(url, media=RoomMedia(relay)) as env,
    ):
        host, ann, bob = (await env.user("Hannah", Role.HOST), await env.user("Ann"),
                          await env.user("Bob"))
        live = await env.session(host)  # whoMayUnmute: everyone (the default)
        for user in (ann, bob):
            await env.join(live, user)
        live = await env.start(live)
        host_room, ann_room, bob_room = [await env.attend(live, u) for u in (host, ann, bob)]
        doc_id = str(live.id)
        voice, picture = f"{ann.id}:audio", f"{ann.id}:camera"
        publisher = await publisher_ns.spawn("publish", "audio@440,camera")
        subscriber: Peer | None = None
        try:
            await _publish(ann_room, publisher)
            subscriber = await subscriber_ns.spawn("subscribe", f"{voice},{picture}")
            await _subscribe(bob_room, subscriber)
            await _until_frames(subscriber, {voice: 25, picture: 10})
            published = relay._rooms[doc_id][ann.id].publications
            audio, camera = published["audio"].forwarder, published["camera"].forwarder

            # Ann mutes herself; her client goes on sending, the relay forwards nothing.
            await ann_room.ok("media.mute", source="audio", muted=True)
            await ann_room.ok("media.mute", source="camera", muted=True)
            await bob_room.until(lambda a: a.map("media")[ann.id] == {
                "audio": {"muted": True}, "camera": {"muted": True}})
            await wait_for(lambda: audio.withheld >= 10 and camera.withheld >= 5, 10)
            before = await subscriber.frames()
            held = (audio.withheld, camera.withheld)
            # Another second and a half of media reaches the relay...
            await wait_for(lambda: audio.withheld >= held[0] + 75
                           and camera.withheld >= held[1] + 20, 10)
            during = await subscriber.frames()
            # ...and none of it reaches Bob.
            assert during[voice] == before[voice] and during[picture] == before[picture], (
                before, during)

            # Unmuted: both flow again; the camera restarts at a keyframe asked for.
            keyframes = camera.keyframes
            await ann_room.ok("media.mute", source="audio", muted=False)
            await ann_room.ok("media.mute", source="camera", muted=False)
            await _until_frames(subscriber, {voice: during[voice] + 25,
                                             picture: during[picture] + 10})
            assert camera.keyframes > keyframes

            # A host's forced mute, which the session's rules now keep Ann from undoing.
            await env.service.update(await env.service.get(live.id),
                                     {"settings": {"whoMayUnmute": "hosts"}})
            await ann_room.until(
                lambda a: a.map("state")["settings"].get("whoMayUnmute") == "hosts")
            assert await bob_room.refused(
                "media.mute", userId=ann.id, source="audio", muted=True) == "not_allowed"
            await host_room.ok("media.mute", userId=ann.id, source="audio", muted=True)
            await bob_room.until(lambda a: a.map("media")[ann.id]["audio"] == {
                "muted": True, "forced": True})
            assert audio.muted
            assert await ann_room.refused("media.mute", source="audio", muted=False) == \
                "not_allowed"
            assert await host_room.refused(  # a host does not turn someone's microphone on
                "media.mute", userId=ann.id, source="audio", muted=False) == "not_allowed"
            assert audio.muted and bob_room.map("media")[ann.id]["audio"]["forced"]

            # The rules allow it again: Ann may unmute, which ends the forced mute.
            await env.service.update(await env.service.get(live.id),
                                     {"settings": {"whoMayUnmute": "everyone"}})
            await ann_room.until(
                lambda a: a.map("state")["settings"].get("whoMayUnmute") == "everyone")
            await ann_room.ok("media.mute", source="audio", muted=False)
            await bob_room.until(lambda a: a.map("media")[ann.id]["audio"] == {"muted": False})
            assert not audio.muted
        finally:
            await publisher.close()
            if subscriber is not None:
                await subscriber.close()


async def test_speakers_come_from_the_audio_level_of_packets(
    url: str, namespaces: Callable[[], Namespace]
) -> None:
    loud_ns, quiet_ns = namespaces(), namespaces()
    async with (
        MediaRelay(RelayLimits(connect_timeout=20)) as relay,
        room_env(url, media=RoomMedia(relay)) as env,
    ):
        host, ann = await env.user("Hannah", Role.HOST), await env.user("Ann")
        live = await env.session(host)
        await env.join(live, ann)
        live = await env.start(live)
        host_room, ann_room = await env.attend(live, host), await env.attend(live, ann)
        peers = [await loud_ns.spawn("publish", "audio@440"),
                 await quiet_ns.spawn("publish", "audio@0")]
        try:
            await _publish(host_room, peers[0])  # a tone: loud
            await _publish(ann_room, peers[1])  # silence
            speaker = {"userId": host.id, "speaking": [host.id]}
            await ann_room.until(lambda a: a.map("state").get("speaker") == speaker)
            assert relay.speakers(str(live.id)).active == host.id

            # A muted voice is not heard: nobody speaks.
            await host_room.ok("media.mute", source="audio", muted=True)
            await ann_room.until(lambda a: a.map("state").get("speaker") == {
                "userId": None, "speaking": []})
            await host_room.ok("media.mute", source="audio", muted=False)
            await ann_room.until(lambda a: a.map("state").get("speaker") == speaker)
        finally:
            for peer in peers:
                await peer.close()


class _Sink:
    def __init__(self) -> None:
        self.files: dict[str, tuple[bytes, RecordedFile]] = {}

    async def store(self, session_id: str, user_id: str, recorded: RecordedFile) -> str:
        key = f"recordings/{session_id}/{len(self.files)}.webm"
        self.files[key] = (recorded.path.read_bytes(), recorded)
        return key


async def test_recording_holds_every_voice_mixed(
    url: str, namespaces: Callable[[], Namespace], tmp_path: Path
) -> None:
    host_ns, ann_ns = namespaces(), namespaces()
    sink = _Sink()
    async with (
        MediaRelay(RelayLimits(connect_timeout=20)) as relay,
        room_env(url, media=RoomMedia(relay, sink, tmp_path / "rec")) as env,
    ):
        host, ann = await env.user("Hannah", Role.HOST), await env.user("Ann")
        live = await env.session(host)
        await env.join(live, ann)
        live = await env.start(live)
        host_room, ann_room = await env.attend(live, host), await env.attend(live, ann)
        doc_id = str(live.id)
        peers = [await host_ns.spawn("publish", "audio@440,camera")]
        try:
            await _publish(host_room, peers[0])
            started = time.monotonic()
            await host_room.ok("media.record", on=True)
            recording = relay._recordings[doc_id]
            await wait_for(lambda: recording.written("audio") >= 50, 10)
            # Ann starts speaking after the recording began: her voice is recorded too.
            peers.append(await ann_ns.spawn("publish", "audio@1000"))
            await _publish(ann_room, peers[1])
            joined = time.monotonic() - started
            audio_before = recording.written("audio")
            # Both voices for about two seconds and a half (50 packets a second each).
            await wait_for(lambda: recording.written("audio") >= audio_before + 250, 15)
            # the stop is timed on both sides: the mixdown after it may wait for a worker process
            stopping = time.monotonic() - started
            reply = await host_room.ok("media.record", on=False)
            elapsed = time.monotonic() - started
        finally:
            for peer in peers:
                await peer.close()
        assert not list((tmp_path / "rec").iterdir())  # parts and scratch file are gone

    data, recorded = sink.files[reply["objectKey"]]
    assert (recorded.video, recorded.voices) == (True, 2)
    assert stopping - 1.5 < recorded.duration <= elapsed + 0.1, (recorded.duration, stopping)
    path = tmp_path / "stored.webm"
    path.write_bytes(data)
    with av.open(io.BytesIO(data)) as container:
        kinds = [(s.type, s.codec_context.name) for s in container.streams]
        assert kinds == [("audio", "opus"), ("video", "vp8"), ("audio", "opus"),
                         ("audio", "opus")]
        assert stopping - 1.5 < float(container.duration or 0) / av.time_base < elapsed + 0.5
    mix = decoded_mono(path)  # the first audio track: what a browser plays
    alone, together = (0.2, joined - 0.3), (joined + 0.5, stopping - 0.5)
    assert together[1] - together[0] > 1.0
    floor = 1e-6
    assert tone_power(mix, 440, *alone) > 100 * max(floor, tone_power(mix, 1000, *alone))
    low, high = tone_power(mix, 440, *together), tone_power(mix, 1000, *together)
    assert low > 1e-3 and high > 1e-3, (low, high)

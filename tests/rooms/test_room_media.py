"""``media.*`` actions on the room's socket: who may publish (role and settings), the session's
status, limits, and refusals that change nothing. No media flows here (no offer gets that far);
tests/media/test_relay_netns.py sends real media."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from collab.protocol import encode_stateless
from media.config import Stopped
from media.relay import MediaRelay, RelayLimits
from rooms.media import RoomMedia, may_publish
from rooms.rules import MAX_ACTION_BYTES
from storage.db import migrate
from storage.models import Role
from tests.rooms._room import room_env

SDP = ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
       "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=sendonly\r\n"
       "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\na=sendonly\r\n")
AUDIO = [{"mid": "0", "source": "audio"}]
SCREEN = [{"mid": "1", "source": "screen"}]


@pytest.fixture
async def url(tmp_path: Path) -> str:
    database = f"sqlite+aiosqlite:///{tmp_path / 'room-media.db'}"
    await migrate(database)
    return database


@pytest.mark.parametrize(("role", "settings", "allowed"), [
    ("host", {"whoMayUnmute": "hosts", "whoMayShare": "hosts"}, {"audio", "camera", "screen"}),
    ("co-host", {"whoMayUnmute": "hosts"}, {"audio", "camera", "screen"}),
    ("participant", {}, {"audio", "camera"}),
    ("participant", {"whoMayShare": "everyone"}, {"audio", "camera", "screen"}),
    ("participant", {"whoMayUnmute": "hosts"}, set()),
    ("presenter", {"whoMayUnmute": "everyone"}, {"audio", "camera"}),
    ("viewer", {"whoMayUnmute": "everyone", "whoMayShare": "everyone"}, set()),
])
def test_who_may_publish(role: str, settings: dict[str, Any], allowed: set[str]) -> None:
    assert {s for s in ("audio", "camera", "screen") if may_publish(role, settings, s)} == allowed


async def test_the_room_enforces_who_may_publish(url: str) -> None:
    async with MediaRelay(RelayLimits()) as relay, room_env(url, media=RoomMedia(relay)) as env:
        host, ann, vic = (await env.user("H", Role.HOST), await env.user("Ann"),
                          await env.user("Vic"))
        live = await env.session(host, whoMayUnmute="hosts")
        for user in (ann, vic):
            await env.join(live, user)
        host_room = await env.attend(live, host)
        assert await host_room.refused("media.publish", sdp=SDP, tracks=AUDIO) == \
            "not_started"
        live = await env.start(live)
        ann_room, vic_room = await env.attend(live, ann), await env.attend(live, vic)
        await host_room.ok("participant.setRole", userId=vic.id, role="viewer")
        await vic_room.until(lambda a: a.map("participants")[vic.id]["role"] == "viewer")

        assert await ann_room.refused("media.publish", sdp=SDP, tracks=AUDIO) == \
            "not_allowed"  # whoMayUnmute: hosts
        assert await ann_room.refused("media.publish", sdp=SDP, tracks=SCREEN) == \
            "not_allowed"  # whoMayShare: hosts (the default)
        assert await vic_room.refused("media.publish", sdp=SDP, tracks=AUDIO) == \
            "not_allowed"
        assert await ann_room.refused("media.mute", source="audio", muted=False) == \
            "not_allowed"
        # The host may; a listed mid that is not a sending section of its kind is invalid.
        assert await host_room.refused("media.publish", sdp=SDP, tracks=[
            {"mid": "0", "source": "camera"}]) == "invalid"
        assert await host_room.refused("media.publish", sdp=SDP, tracks=[
            {"mid": "7", "source": "audio"}]) == "invalid"
        assert await host_room.refused("media.mute", source="audio", muted=True) == \
            "not_found"
        assert await host_room.refused("media.ice", pc="publish", sdpMid="0", candidate=(
            "candidate:1 1 udp 1 198.18.0.2 4000 typ host")) == "not_found"
        config = await vic_room.ok("media.config")
        assert config["iceServers"] == [] and config["limits"]["publishersPerRoom"] == 6
        assert relay.stats() == {"rooms": 0, "connections": 0, "subscriptions": 0}
        assert not host_room.map("media")


async def test_media_limits_refuse_clearly(url: str) -> None:
    async with (
        MediaRelay(RelayLimits(publishers_per_room=0)) as no_publishers,
        MediaRelay(RelayLimits(connections_per_process=0)) as no_connections,
    ):
        for relay in (no_publishers, no_connections):
            async with room_env(url, media=RoomMedia(relay)) as env:
                host = await env.user("H", Role.HOST)
                live = await env.start(await env.session(host))
                room = await env.attend(live, host)
                assert await room.refused("media.publish", sdp=SDP, tracks=AUDIO) == \
                    "media_limit"
                assert relay.stats() == {"rooms": 0, "connections": 0, "subscriptions": 0}


async def test_without_a_relay_media_is_unavailable_and_offers_may_be_large(url: str) -> None:
    async with room_env(url) as env:
        host = await env.user("H", Role.HOST)
        live = await env.start(await env.session(host))
        room = await env.attend(live, host)
        big = SDP + "a=x-padding:" + "p" * (MAX_ACTION_BYTES + 100) + "\r\n"
        assert await room.refused("media.publish", sdp=big, tracks=AUDIO) == \
            "media_unavailable"  # over the 8 KiB of other actions, under the media limit
        assert await room.refused("chat.post", text="x" * (MAX_ACTION_BYTES + 100)) == \
            "too_large"
        await room.client.send(encode_stateless(json.dumps(
            {"id": "big", "action": "media.publish", "sdp": "v=0" + "p" * 40_000,
             "tracks": AUDIO})))
        assert (await room.reply("big"))["reason"] == "too_large"


async def test_ending_the_session_through_rest_ends_its_media(url: str) -> None:
    ended: list[str] = []

    class Backend(MediaRelay):
        async def close_room(self, room_id: str) -> None:
            ended.append(room_id)
            await super().close_room(room_id)

    async with Backend() as relay, room_env(url, media=RoomMedia(relay)) as env:
        host = await env.user("H", Role.HOST)
        live = await env.start(await env.session(host))
        await env.service.transition(await env.service.get(live.id), "end")
        assert ended == [str(live.id)]


async def test_a_publisher_stopped_over_its_bitrate_cap_is_told_why(url: str) -> None:
    """The relay reports a publication it stopped (over its cap: media/members.py
    ``_over_limit``, with real media in tests/media/test_relay_netns.py); its publisher alone
    gets a ``media.stopped`` push saying why, and the map drops the publication."""
    published: dict[str, list[str]] = {}
    stopped: list[Stopped] = []

    class Backend(MediaRelay):
        def publications(self, room_id: str) -> dict[str, list[str]]:
            return dict(published)

        def take_stopped(self, room_id: str) -> list[Stopped]:
            taken = list(stopped)
            stopped.clear()
            return taken

        def report(self, room_id: str) -> None:  # as ``_over_limit`` does
            self._changed.send_nowait(room_id)

    async with Backend() as relay, room_env(url, media=RoomMedia(relay)) as env:
        host, ann = await env.user("H", Role.HOST), await env.user("Ann")
        live = await env.session(host)
        await env.join(live, ann)
        live = await env.start(live)
        host_room, ann_room = await env.attend(live, host), await env.attend(live, ann)
        doc_id = str(live.id)
        published[host.id] = ["audio", "camera"]
        relay.report(doc_id)
        await ann_room.until(lambda a: set(a.map("media").get(host.id) or {}) == {
            "audio", "camera"})

        published[host.id] = ["audio"]
        stopped.append(Stopped(host.id, "camera", "bitrate", 2_400_123.4, 2_250_000))
        relay.report(doc_id)
        await host_room.until(lambda a: bool(a.pushes))
        assert host_room.pushes == [{"push": "media.stopped", "source": "camera",
                                     "reason": "bitrate", "rate": 2_400_123,
                                     "limit": 2_250_000}]
        await ann_room.until(lambda a: a.map("media").get(host.id) == {
            "audio": {"muted": False}})
        assert ann_room.pushes == []

"""Peer-to-peer media (rooms/p2p.py): the room's mode and its one-way rule, ``media.p2p.*``
relayed only to the addressed member of the same room (on another node too), descriptions
checked for what their author sends, and P2P ended from the room state by a role downgrade or
a removal. No media flows here; tests/browser/test_room_p2p_page.py has two Chromium pages."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import anyio
import pytest
from pycrdt import Doc

from media.relay import MediaRelay, RelayLimits
from rooms import document as d
from rooms.media import RoomMedia
from rooms.p2p import MODE, P2P, next_mode, settle
from storage.db import migrate
from storage.models import Role
from tests.collab._nodes import cleanup
from tests.rooms._room import Attendee, room_env

HEAD = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
RECV = (HEAD + "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=recvonly\r\n"
        "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\na=recvonly\r\n")
SEND = RECV.replace("recvonly", "sendonly")
SEND_AUDIO = (HEAD + "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=sendonly\r\n"
              "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\na=recvonly\r\n")
DATA = RECV + "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:2\r\n"
TRACKS = [{"mid": "0", "source": "audio"}, {"mid": "1", "source": "camera"}]
WANT: dict[str, Any] = {"sdp": RECV, "tracks": TRACKS}
SEND_WANT: dict[str, Any] = {"sdp": SEND_AUDIO, "tracks": TRACKS}
CANDIDATE = "candidate:1 1 udp 2130706431 198.18.0.2 40000 typ host"


@pytest.fixture
async def url(tmp_path: Path) -> str:
    database = f"sqlite+aiosqlite:///{tmp_path / 'room-p2p.db'}"
    await migrate(database)
    return database


@pytest.mark.parametrize(("current", "kw", "expected"), [
    (None, {"limit": 4, "publishers": 0}, ("p2p", "small")),
    (None, {"limit": 0, "publishers": 1}, ("relay", "disabled")),
    ("p2p", {"limit": 4, "publishers": 4}, ("p2p", "small")),
    ("p2p", {"limit": 4, "publishers": 5}, ("relay", "publishers")),
    ("p2p", {"limit": 4, "publishers": 2, "moved": "failed"}, ("relay", "failed")),
    ("p2p", {"limit": 4, "publishers": 1, "recording": True}, ("relay", "recording")),
    ("p2p", {"limit": 4, "publishers": 1, "relay_publishers": 1}, ("relay", "relay_publisher")),
    # one-way per period: back under the limit, or nobody republished yet after a switch
    ("relay", {"limit": 4, "publishers": 1}, ("relay", "kept")),
    ("relay", {"limit": 4, "publishers": 0}, ("relay", "kept")),
    # ... until the last relay publication ends: a new period
    ("relay", {"limit": 4, "publishers": 0, "ended": True}, ("p2p", "idle")),
    ("relay", {"limit": 4, "publishers": 1, "ended": True}, ("relay", "kept")),
    ("relay", {"limit": 4, "publishers": 0, "ended": True, "recording": True},
     ("relay", "recording")),
])
def test_the_mode_rule(current: str | None, kw: dict[str, Any], expected: tuple[str, str]) -> None:
    kw = {"relay_publishers": 0, "recording": False, **kw}
    assert next_mode(current, **kw) == expected


def test_switching_to_the_relay_empties_the_p2p_map() -> None:
    doc: Doc[Any] = Doc()
    with doc.transaction():
        d.ymap(doc, P2P)["a"] = {"audio": {"muted": False}}
        assert settle(doc, 4) == "p2p"
        assert settle(doc, 4, moved="failed") == "relay"
    assert d.ymap(doc, P2P).to_py() == {}
    assert d.ymap(doc, d.STATE).to_py()[MODE] == {"mode": "relay", "reason": "failed"}
    with doc.transaction():  # nobody republished yet: still relay (no flapping back)
        assert settle(doc, 4) == "relay"


async def test_p2p_signaling_reaches_only_the_addressed_member_of_the_room(url: str) -> None:
    async with MediaRelay(RelayLimits()) as relay, room_env(url, media=RoomMedia(relay)) as env:
        host_u, ann_u, bob_u, vic_u, carl_u = [
            await env.user(n, r) for n, r in (("H", Role.HOST), ("Ann", Role.USER),
                                               ("Bob", Role.USER), ("Vic", Role.USER),
                                               ("Carl", Role.USER))]
        live = await env.session(host_u)
        other = await env.session(host_u)
        for user in (ann_u, bob_u, vic_u):
            await env.join(live, user)
        await env.join(other, carl_u)
        host = await env.attend(live, host_u)
        assert await host.refused("media.p2p.publish", sources=["audio"]) == "not_started"
        live, other = await env.start(live), await env.start(other)
        ann, bob, vic = [await env.attend(live, u) for u in (ann_u, bob_u, vic_u)]
        carl = await env.attend(other, carl_u)
        await host.ok("participant.setRole", userId=vic_u.id, role="viewer")
        await vic.until(lambda a: a.map("participants")[vic_u.id]["role"] == "viewer")

        config = await ann.ok("media.config")
        assert config["mode"] == "p2p" and config["limits"]["p2pPublishers"] == 4
        assert (await host.ok("media.p2p.publish", sources=["audio", "camera"]))["mode"] == "p2p"
        await ann.until(lambda a: a.map(P2P) == {host_u.id: {"audio": {"muted": False},
                                                             "camera": {"muted": False}}})
        assert ann.map(d.STATE)[MODE]["mode"] == "p2p"

        # the receiver offers (recvonly), the publisher answers (sendonly)
        await ann.ok("media.p2p.offer", to=host_u.id, cid="c1", **WANT)
        await host.until(lambda a: len(a.pushes) == 1)
        assert host.pushes[0] == {"push": "media.p2p.offer", "from": ann_u.id, "cid": "c1",
                                  "sdp": RECV, "tracks": TRACKS}
        await host.ok("media.p2p.answer", to=ann_u.id, cid="c1", sdp=SEND)
        await host.ok("media.p2p.ice", to=ann_u.id, cid="c1", candidate=CANDIDATE, sdpMid="0")
        await ann.until(lambda a: len(a.pushes) == 2)
        assert [p["push"] for p in ann.pushes] == ["media.p2p.answer", "media.p2p.ice"]
        assert ann.pushes[1]["candidate"] == CANDIDATE and ann.pushes[1]["from"] == host_u.id
        # muting a P2P source is written where the pages read it
        await host.ok("media.mute", source="audio", muted=True)
        await ann.until(lambda a: a.map(P2P)[host_u.id]["audio"] == {"muted": True})

        # a member of another room, or nobody, cannot be addressed
        assert await ann.refused("media.p2p.offer", to=carl_u.id, cid="c2", **WANT) == \
            "not_found"
        assert await carl.refused("media.p2p.offer", to=ann_u.id, cid="c3", **WANT) == \
            "not_found"
        assert await ann.refused("media.p2p.offer", to=ann_u.id, cid="c4", **WANT) == \
            "not_found"
        # what an author would send is checked: a viewer sends nothing, a participant only
        # what it may publish and has published, nobody opens a data channel
        assert await vic.refused("media.p2p.offer", to=host_u.id, cid="v1", **SEND_WANT) == \
            "not_allowed"
        assert await vic.refused("media.p2p.publish", sources=["audio"]) == "not_allowed"
        assert await bob.refused("media.p2p.answer", to=host_u.id, cid="b1", sdp=SEND) == \
            "not_found"
        assert await host.refused("media.p2p.answer", to=ann_u.id, cid="c1", sdp=DATA) == \
            "invalid"
        assert await ann.refused("media.p2p.offer", to=host_u.id, cid="bad id", **WANT) == \
            "invalid"
        await vic.ok("media.p2p.offer", to=host_u.id, cid="v2", **WANT)  # viewers receive
        await host.until(lambda a: len(a.pushes) == 2)
        await anyio.sleep(0.2)  # (nothing else is on its way: every reply above came back)
        assert not bob.pushes and not carl.pushes and not vic.pushes
        assert len(host.pushes) == 2 and len(ann.pushes) == 2
        assert relay.publications(str(live.id)) == {}  # the relay carried nothing


async def test_the_mode_moves_to_the_relay_and_room_state_ends_p2p(url: str) -> None:
    media = RoomMedia(MediaRelay(RelayLimits()), p2p_limit=2)
    async with media.relay, room_env(url, media=media) as env:  # type: ignore[attr-defined]
        host_u, ann_u, bob_u = [await env.user(n, r) for n, r in (
            ("H", Role.HOST), ("Ann", Role.USER), ("Bob", Role.USER))]
        live = await env.session(host_u)
        for user in (ann_u, bob_u):
            await env.join(live, user)
        live = await env.start(live)
        host, ann, bob = [await env.attend(live, u) for u in (host_u, ann_u, bob_u)]
        for room in (host, ann):
            assert (await room.ok("media.p2p.publish", sources=["audio"]))["mode"] == "p2p"
        # a role downgrade and a removal end P2P from the room state
        await host.ok("participant.setRole", userId=ann_u.id, role="viewer")
        await host.until(lambda a: set(a.map(P2P)) == {host_u.id})
        assert (await bob.ok("media.p2p.publish", sources=["camera"]))["mode"] == "p2p"
        await host.ok("participant.remove", userId=bob_u.id)
        await host.until(lambda a: set(a.map(P2P)) == {host_u.id})
        # back at two publishers, a third one is over the limit: the room moves, for good
        await host.ok("participant.setRole", userId=ann_u.id, role="participant")
        await ann.until(lambda a: a.map("participants")[ann_u.id]["role"] == "participant")
        assert (await ann.ok("media.p2p.publish", sources=["audio"]))["mode"] == "p2p"
        carol_u = await env.user("Carol")
        await env.join(live, carol_u)
        carol = await env.attend(live, carol_u)
        assert (await carol.ok("media.p2p.publish", sources=["audio"]))["mode"] == "relay"
        await host.until(lambda a: a.map(d.STATE)[MODE] == {"mode": "relay",
                                                            "reason": "publishers"})
        assert host.map(P2P) == {}
        assert await ann.refused("media.p2p.offer", to=host_u.id, cid="x", **WANT) == \
            "media_mode"
        assert (await ann.ok("media.p2p.publish", sources=["audio"]))["mode"] == "relay"
        assert (await ann.ok("media.p2p.failed"))["mode"] == "relay"
        assert host.map(d.STATE)[MODE]["mode"] == "relay"


async def test_a_failure_report_moves_the_room(url: str) -> None:
    async with MediaRelay(RelayLimits()) as relay, room_env(url, media=RoomMedia(relay)) as env:
        host_u = await env.user("H", Role.HOST)
        live = await env.start(await env.session(host_u))
        host = await env.attend(live, host_u)
        await host.ok("media.p2p.publish", sources=["audio"])
        assert (await host.ok("media.p2p.failed", **{"with": str(uuid.uuid4())}))["mode"] == \
            "relay"
        await host.until(lambda a: a.map(d.STATE)[MODE] == {"mode": "relay", "reason": "failed"}
                         and a.map(P2P) == {})


async def test_ending_the_session_ends_p2p_media(url: str) -> None:
    async with MediaRelay(RelayLimits()) as relay, room_env(url, media=RoomMedia(relay)) as env:
        host_u = await env.user("H", Role.HOST)
        live = await env.start(await env.session(host_u))
        host = await env.attend(live, host_u)
        await host.ok("media.p2p.publish", sources=["audio", "camera"])
        await host.until(lambda a: host_u.id in a.map(P2P))
        await host.ok("session.end")
        await host.until(lambda a: a.map(P2P) == {})


@pytest.mark.redis
async def test_an_addressed_message_crosses_nodes_to_its_member_only(
    tmp_path: Path, redis_url: str
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'p2p-nodes.db'}"
    await migrate(url)
    prefix = f"test:{uuid.uuid4().hex[:8]}:"
    try:
        async with MediaRelay(RelayLimits()) as r1, MediaRelay(RelayLimits()) as r2, \
                room_env(url, redis_url=redis_url, prefix=prefix, media=RoomMedia(r1)) as one, \
                room_env(url, redis_url=redis_url, prefix=prefix, media=RoomMedia(r2)) as two:
            host_u, ann_u, bob_u = [await one.user(n, r) for n, r in (
                ("H", Role.HOST), ("Ann", Role.USER), ("Bob", Role.USER))]
            live = await one.session(host_u)
            for user in (ann_u, bob_u):
                await one.join(live, user)
            live = await one.start(live)
            host: Attendee = await one.attend(live, host_u)
            ann, bob = await two.attend(live, ann_u), await two.attend(live, bob_u)
            await host.ok("media.p2p.publish", sources=["audio", "camera"])
            await ann.until(lambda a: host_u.id in a.map(P2P), 10)
            await ann.ok("media.p2p.offer", to=host_u.id, cid="n1", **WANT)
            await host.until(lambda a: len(a.pushes) == 1, 10)
            await host.ok("media.p2p.answer", to=ann_u.id, cid="n1", sdp=SEND)
            await ann.until(lambda a: len(a.pushes) == 1, 10)
            assert ann.pushes[0]["from"] == host_u.id and ann.pushes[0]["sdp"] == SEND
            await host.ok("media.p2p.ice", to=bob_u.id, cid="n2", candidate=CANDIDATE,
                          sdpMid="0")
            await bob.until(lambda a: len(a.pushes) == 1, 10)  # (the last one sent)
            assert len(ann.pushes) == 1 and bob.pushes[0]["cid"] == "n2"
    finally:
        await cleanup(redis_url, prefix)


async def test_a_settings_change_ends_what_may_no_longer_be_sent(url: str) -> None:
    async with MediaRelay(RelayLimits()) as relay, room_env(url, media=RoomMedia(relay)) as env:
        host_u, ann_u = await env.user("H", Role.HOST), await env.user("Ann")
        live = await env.session(host_u)
        await env.join(live, ann_u)
        live = await env.start(live)
        host, ann = await env.attend(live, host_u), await env.attend(live, ann_u)
        await host.ok("media.p2p.publish", sources=["audio"])
        await ann.ok("media.p2p.publish", sources=["audio", "camera"])
        await host.until(lambda a: set(a.map(P2P)) == {host_u.id, ann_u.id})
        await env.service.update(await env.service.get(live.id),
                                 {"settings": {"whoMayUnmute": "hosts"}})
        await host.until(lambda a: set(a.map(P2P)) == {host_u.id})
        assert await ann.refused("media.p2p.publish", sources=["audio"]) == "not_allowed"

"""A room's media across two real `collab serve` processes (one PostgreSQL, one Redis): one
node hosts the room's media (docs/media.md, "One media home per room"). aiortc peers, each in
a network namespace of its own, carry their offers and answers over room sockets on either
node; WebRTC connects them to the home.

A publisher whose room socket is on node1 and a subscriber on node2 get frames through node1's
relay; a participant removed on node2 loses their media at node1; the home is killed, and
node2 takes the room over: the publisher and subscriber offer again (as the page does) and
frames flow through node2."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import redis

from collab.client import CollabClient
from tests.interop.backends import RestBackend
from tests.interop.serverprocess import ServerProcess
from tests.media._netns import Namespace, Peer, namespaces
from tests.multinode.test_rooms_multinode import host_token, ok, room

__all__ = ["namespaces"]

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.postgres]


async def _offer(client: CollabClient, peer: Peer, action: str) -> None:
    offer = await peer.expect(lambda e: "offer" in e, timeout=20)
    reply = await ok(client, action, sdp=offer["offer"], tracks=offer["tracks"])
    await peer.send(answer=reply["sdp"])
    await peer.expect(lambda e: e.get("event") == "connected", timeout=20)


async def _frames(peer: Peer, track: str, at_least: int, timeout: float = 15) -> int:
    async with asyncio.timeout(timeout):
        while (count := (await peer.frames()).get(track, 0)) < at_least:
            await asyncio.sleep(0.1)  # polling another process's counter
    return count


async def test_one_media_home_across_two_nodes(
    nodes: Callable[[str], ServerProcess], namespaces: Callable[[], Namespace],
    redis_url: str, redis_prefix: str, tmp_path: Path,
) -> None:
    node1 = await asyncio.to_thread(nodes, "node1")
    node2 = await asyncio.to_thread(nodes, "node2")
    async with httpx.AsyncClient(base_url=node1.http_url, timeout=20) as http:
        backend = RestBackend(http)
        host = await backend.user("Hannah")
        hosting = {"Authorization": f"Bearer {host_token(host)}"}
        start = datetime.now(UTC) + timedelta(minutes=5)
        created = await http.post("/api/workbook/sessions", headers=hosting, json={
            "title": "Media home", "scheduledStart": start.isoformat(),
            "scheduledEnd": (start + timedelta(hours=1)).isoformat()})
        assert created.status_code == 201, created.text
        sid = created.json()["session"]["id"]
        ann, bob = await backend.user("Ann"), await backend.user("Bob")
        for user in (host, ann, bob):
            joined = await http.post(f"/api/workbook/sessions/{sid}/join",
                                     headers={"Authorization": f"Bearer {user.token}"})
            assert joined.status_code == 200, joined.text
        assert (await http.post(f"/api/workbook/sessions/{sid}/start",
                                headers=hosting)).status_code == 200

    claims = redis.Redis.from_url(redis_url)
    home_key = f"{redis_prefix}media:home:{sid}"

    def home() -> str | None:
        value = claims.get(home_key)
        return None if value is None else bytes(value).decode()

    name = f"sessions/{sid}"
    camera, audio = f"{host.id}:camera", f"{host.id}:audio"
    peers: list[Peer] = []

    async def spawn(*args: str) -> Peer:
        peer = await namespaces().spawn(*args)
        peers.append(peer)
        return peer

    h = CollabClient(f"{node1.ws_url}/collab", name, token=host.token, stateless=True,
                     reconnect=False)
    a = CollabClient(f"{node2.ws_url}/collab", name, token=ann.token, stateless=True)
    b = CollabClient(f"{node2.ws_url}/collab", name, token=bob.token, stateless=True,
                     reconnect=False)
    try:
        async with a:
            async with h, b:
                async with asyncio.timeout(20):
                    await asyncio.gather(h.synced(), a.synced(), b.synced())
                # The host publishes on node1: node1 claims the room's media.
                publisher = await spawn("publish", "audio,camera")
                await _offer(h, publisher, "media.publish")
                assert home() == "node1"
                await a.wait_for(lambda _: room(a, "media").get(host.id) == {
                    "audio": {"muted": False}, "camera": {"muted": False}}, 10)

                # Ann and Bob subscribe through node2's socket, to node1's relay.
                ann_sub = await spawn("subscribe", f"{camera},{audio}")
                await _offer(a, ann_sub, "media.subscribe")
                bob_sub = await spawn("subscribe", f"{camera},{audio}")
                await _offer(b, bob_sub, "media.subscribe")
                assert await _frames(ann_sub, camera, 22) >= 22  # 1.5 s of 15 fps
                await _frames(bob_sub, camera, 1)
                assert home() == "node1"

                # The host records from a second socket, on node2: node1 writes the file and
                # stores it (each node's object store is its own data dir here).
                h_alt = CollabClient(f"{node2.ws_url}/collab", name, token=host.token,
                                     stateless=True, reconnect=False)
                async with h_alt:
                    async with asyncio.timeout(20):
                        await h_alt.synced()
                    await ok(h_alt, "media.record", on=True)
                    await a.wait_for(
                        lambda _: (room(a, "state").get("recording") or {}).get("userId")
                        == host.id, 10)
                    frames = await _frames(ann_sub, camera, 1)
                    await _frames(ann_sub, camera, frames + 30)  # two seconds go by
                    stored = await ok(h_alt, "media.record", on=False)
                key = stored["objectKey"]
                assert key.startswith(f"recordings/sessions/{sid}/") and \
                    stored["duration"] > 1.0, stored
                assert (tmp_path / "node1" / "objects" / key).stat().st_size > 1000
                assert not (tmp_path / "node2" / "objects" / key).exists()
                assert not list((tmp_path / "node1" / "recordings-in-progress").iterdir())

                # The host on node1 removes Bob, whose socket is on node2: node2 ends his
                # media, at node1; Ann's goes on.
                await ok(h, "participant.remove", userId=bob.id)
                async with asyncio.timeout(10):
                    assert await b.closed() == 4403
                ended: set[str] = set()
                while ended != {camera, audio}:
                    event = await bob_sub.expect(lambda e: e.get("event") == "ended",
                                                 after=len(bob_sub.events))
                    ended.add(event["source"])
                before = await _frames(ann_sub, camera, 1)
                await _frames(ann_sub, camera, before + 15)

                # Ann publishes too, from node2, to node1's relay.
                ann_pub = await spawn("publish", "audio")
                await _offer(a, ann_pub, "media.publish")
                await a.wait_for(lambda _: room(a, "media").get(ann.id) == {
                    "audio": {"muted": False}}, 10)
                assert home() == "node1"

            # The home dies with the host's socket on it. Ann's socket on node2 stays: without
            # any call, node2 sees node1 gone, takes the room over and mirrors it empty, which
            # is what makes the pages offer again (the page republishes when its own entry
            # leaves the map, and re-subscribes when the others' change).
            await asyncio.to_thread(node1.kill)
            killed = time.monotonic()
            await a.wait_for(lambda _: not room(a, "media"), 15)
            assert home() == "node2"
            print(f"node2 took the room's media over {time.monotonic() - killed:.2f} s after "
                  "the kill, unasked")
            h2 = CollabClient(f"{node2.ws_url}/collab", name, token=host.token,
                              stateless=True, reconnect=False)
            async with h2:
                async with asyncio.timeout(20):
                    await h2.synced()
                # The host's page offers again (on reconnecting), to node2.
                publisher2 = await spawn("publish", "audio,camera")
                await _offer(h2, publisher2, "media.publish")
                assert home() == "node2"
                # Ann's page offers again on its subscribe connection (its old one went to
                # the dead node) and receives through node2.
                ann_sub2 = await spawn("subscribe", f"{camera},{audio}")
                await _offer(a, ann_sub2, "media.subscribe")
                assert await _frames(ann_sub2, camera, 22) >= 22
                await a.wait_for(lambda _: room(a, "media").get(host.id) == {
                    "audio": {"muted": False}, "camera": {"muted": False}}, 10)
                await ok(h2, "media.leave")
                await a.wait_for(lambda _: host.id not in room(a, "media"), 10)
            await ok(a, "media.leave")
            async with asyncio.timeout(10):  # the room's media ended: node2 let go of it
                while home() is not None:
                    await asyncio.sleep(0.05)
    finally:
        for peer in peers:
            await peer.close()
        claims.close()

"""An aiortc peer (``tests/media/_netns.py``) negotiating through a room socket's ``media.*``
actions: its offer goes to the server, the answer back, and the call returns once connected."""

from __future__ import annotations

from tests.media._netns import Peer
from tests.rooms._room import Attendee


async def publish(room: Attendee, peer: Peer) -> None:
    await _negotiate(room, peer, "media.publish")


async def subscribe(room: Attendee, peer: Peer) -> None:
    await _negotiate(room, peer, "media.subscribe")


async def _negotiate(room: Attendee, peer: Peer, action: str) -> None:
    offer = await peer.expect(lambda e: "offer" in e)
    reply = await room.ok(action, sdp=offer["offer"], tracks=offer["tracks"])
    await peer.send(answer=reply["sdp"])
    await peer.expect(lambda e: e.get("event") == "connected")

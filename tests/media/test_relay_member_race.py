"""A call of a member that waited for the member's lock while another call of the same user
ended with no connection (``_forget``): it goes on with the room's current member instead of
failing with a ``KeyError`` (seen in the room walkthrough: a subscribe during a leave)."""

from __future__ import annotations

import anyio
from aiortc import RTCPeerConnection

from media.relay import MediaRelay, RelayLimits


async def _offer() -> str:
    pc = RTCPeerConnection()
    pc.addTransceiver("audio", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    sdp = pc.localDescription.sdp
    await pc.close()
    return sdp


async def test_a_subscribe_waiting_on_a_forgotten_member_uses_the_current_one() -> None:
    offer = await _offer()
    async with MediaRelay(RelayLimits()) as relay:
        stale = relay._member("room", "ann")
        answers: list[str] = []
        async with anyio.create_task_group() as tg:
            async with stale.lock:  # another call of Ann's holds it ...
                tg.start_soon(lambda: _subscribe(relay, offer, answers))
                await anyio.sleep(0.05)
                relay._forget("room", stale)  # ... and ends with no connection
            with anyio.fail_after(10):
                while not answers:
                    await anyio.sleep(0.02)
        current = relay._rooms["room"]["ann"]
        assert current is not stale and current.subscribe_pc is not None
        assert answers[0].startswith("v=0")
        assert relay.stats()["connections"] == 1
        await relay.leave("room", "ann")
        assert relay.stats() == {"rooms": 0, "connections": 0, "subscriptions": 0}


async def _subscribe(relay: MediaRelay, offer: str, answers: list[str]) -> None:
    answers.append(await relay.subscribe("room", "ann", offer, {}))

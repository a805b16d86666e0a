"""A live room across two real `collab serve` processes (one PostgreSQL, one Redis): attendees
on both nodes, the host on node1. Actions taken on one node show on the other, votes from both
nodes give an exact tally, and a removal by the host on node1 closes the attendee on node2
within the control bound."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest

from collab.client import CollabClient
from rooms import document as d
from tests.interop.backends import JWT_SECRET, RestBackend, User
from tests.interop.serverprocess import ServerProcess

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.postgres]

BOUND = 1.0  # seconds: docs/multinode.md, "Control across nodes"
_ids = itertools.count(1)


def host_token(user: User) -> str:
    """The user's access token with the `host` role (what a promotion in the database plus a
    refresh would give)."""
    now = int(time.time())
    claims = {"sub": user.id, "name": user.name, "email": user.email, "role": "host",
              "type": "access", "iat": now - 60, "exp": now + 900, "jti": uuid.uuid4().hex}
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


async def act(client: CollabClient, action: str, **fields: Any) -> dict[str, Any]:
    client_id = str(next(_ids))
    client.send_stateless(json.dumps({"id": client_id, "action": action, **fields}))
    async with asyncio.timeout(10):
        while True:
            payload, _ = await client.stateless.get()
            reply: dict[str, Any] = json.loads(payload)
            if reply["id"] == client_id:
                return reply


async def ok(client: CollabClient, action: str, **fields: Any) -> dict[str, Any]:
    reply = await act(client, action, **fields)
    assert reply["ok"] is True, reply
    return reply


def room(client: CollabClient, name: str) -> dict[str, Any]:
    return dict(d.ymap(client.doc, name).to_py() or {})


async def test_a_room_across_two_nodes(nodes: Callable[[str], ServerProcess]) -> None:
    node1 = await asyncio.to_thread(nodes, "node1")
    node2 = await asyncio.to_thread(nodes, "node2")
    async with httpx.AsyncClient(base_url=node1.http_url, timeout=20) as http:
        backend = RestBackend(http)
        host = await backend.user("Hannah")
        hosting = {"Authorization": f"Bearer {host_token(host)}"}
        start = datetime.now(UTC) + timedelta(minutes=5)
        created = await http.post("/api/workbook/sessions", headers=hosting, json={
            "title": "Two nodes", "scheduledStart": start.isoformat(),
            "scheduledEnd": (start + timedelta(hours=1)).isoformat()})
        assert created.status_code == 201, created.text
        sid = created.json()["session"]["id"]
        people = [await backend.user(name) for name in ("Ann", "Bob", "Cara")]
        for user in (host, *people):
            joined = await http.post(f"/api/workbook/sessions/{sid}/join",
                                     headers={"Authorization": f"Bearer {user.token}"})
            assert joined.status_code == 200, joined.text
        assert (await http.post(f"/api/workbook/sessions/{sid}/start",
                                headers=hosting)).status_code == 200

    name = f"sessions/{sid}"
    ann, bob, cara = people
    clients = [
        CollabClient(f"{node.ws_url}/collab", name, token=user.token, stateless=True)
        for node, user in ((node1, host), (node1, ann), (node2, bob), (node2, cara))
    ]
    h, a, b, c = clients
    async with h, a, b, c:
        async with asyncio.timeout(20):
            await asyncio.gather(*(client.synced() for client in clients))
        # An action on node2 shows on node1, and one on node1 on node2.
        await ok(b, "chat.post", text="from node2")
        await ok(a, "chat.post", text="from node1")

        def texts(doc: Any) -> set[str]:
            return {m["text"] for m in d.yarray(doc, d.CHAT).to_py() or []}

        await h.wait_for(lambda doc: texts(doc) == {"from node1", "from node2"}, 10)
        await c.wait_for(lambda doc: texts(doc) == {"from node1", "from node2"}, 10)

        # Votes from both nodes at once: the tally counts every one.
        poll = (await ok(h, "poll.create", question="Q", options=["x", "y"]))["pollId"]
        await ok(h, "poll.open", pollId=poll)
        await c.wait_for(lambda doc: room(c, d.POLLS).get(poll, {}).get("status") == "open", 10)
        await asyncio.gather(
            ok(a, "poll.vote", pollId=poll, choices=[0]),
            ok(b, "poll.vote", pollId=poll, choices=[1]),
            ok(c, "poll.vote", pollId=poll, choices=[1]),
        )
        async with asyncio.timeout(10):  # until the votes taken on node2 reach node1's ledger
            while (await ok(h, "poll.results", pollId=poll))["voters"] < 3:
                await asyncio.sleep(0.05)
        await ok(h, "poll.close", pollId=poll)
        await ok(h, "poll.publish", pollId=poll)
        assert (await ok(h, "poll.results", pollId=poll))["results"] == [1, 2]
        await b.wait_for(lambda doc: room(b, d.TALLIES).get(poll) == {"voters": 3,
                                                                       "results": [1, 2]}, 10)

        # The host on node1 removes Cara, who is on node2.
        started = time.monotonic()
        await ok(h, "participant.remove", userId=cara.id)
        async with asyncio.timeout(10):
            code = await c.closed()
        elapsed = time.monotonic() - started
        print(f"removal reached node2 in {elapsed * 1000:.0f} ms")
        assert code == 4403 and elapsed < BOUND
        await b.wait_for(lambda doc: room(b, d.PARTICIPANTS)[cara.id]["removed"] is True, 10)
        # ... and she stays out, on either node.
        again = CollabClient(f"{node1.ws_url}/collab", name, token=cara.token, reconnect=False)
        async with again:
            async with asyncio.timeout(10):
                assert await again.closed() == 4403

        # Ending on node1 freezes the room on node2.
        await ok(h, "session.end")
        await b.wait_for(lambda doc: room(b, d.STATE).get("status") == "ended", 10)
        assert (await act(b, "chat.post", text="late"))["reason"] == "session_ended"

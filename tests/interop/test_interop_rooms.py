"""A live room (docs/rooms.md) with stock npm clients: `yjs` + `y-websocket`'s
`WebsocketProvider`, plus the stateless-message handler an application adds (the client script's
`statelessOptIn`). Attendees join through REST, sync the room read-only, change it only by
typed actions sent as custom messages and see the server-applied change in their document;
what they write into the document directly reaches nobody."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from backends import JWT_SECRET, RestBackend, User
from nodeclients import YjsClient
from serverprocess import ServerProcess

pytestmark = pytest.mark.interop

Clients = Callable[[str], Awaitable[YjsClient]]


def _host_token(user: User) -> str:
    """The user's access token with the `host` role (`sessions.host`)."""
    now = int(time.time())
    claims = {"sub": user.id, "name": user.name, "email": user.email, "role": "host",
              "type": "access", "iat": now - 60, "exp": now + 900, "jti": uuid.uuid4().hex}
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _live_session(http: httpx.AsyncClient, host: User, attendees: list[User]) -> str:
    start = datetime.now(UTC) + timedelta(minutes=5)
    created = await http.post("/api/workbook/sessions", headers=_bearer(_host_token(host)), json={
        "title": "Interop room", "scheduledStart": start.isoformat(),
        "scheduledEnd": (start + timedelta(hours=1)).isoformat()})
    assert created.status_code == 201, created.text
    sid = str(created.json()["session"]["id"])
    started = await http.post(
        f"/api/workbook/sessions/{sid}/start", headers=_bearer(_host_token(host))
    )
    assert started.status_code == 200, started.text
    for user in attendees:
        joined = await http.post(f"/api/workbook/sessions/{sid}/join", headers=_bearer(user.token))
        assert joined.status_code == 200, joined.text
    return sid


class _Actor:
    """Sends actions on a stock client's socket and matches the replies by id."""

    def __init__(self, client: YjsClient) -> None:
        self.client = client
        self.sent = 0

    async def act(self, action: str, **fields: Any) -> dict[str, Any]:
        self.sent += 1
        request_id = f"r{self.sent}"
        await self.client.send_stateless(json.dumps({"id": request_id, "action": action, **fields}))
        messages = await self.client.wait_for_stateless(self.sent)
        replies = [json.loads(m["payload"]) for m in messages]
        (reply,) = [r for r in replies if r["id"] == request_id]
        assert messages[-1]["status"] == 0
        return reply


async def test_stock_clients_act_through_custom_messages_and_cannot_write(
    server: ServerProcess, backend: RestBackend, yjs: Clients
) -> None:
    host, ann, bob = [await backend.user(n) for n in ("Hanna", "Ann", "Bob")]
    sid = await _live_session(backend.http, host, [ann, bob])
    name = f"sessions/{sid}"

    watcher = await yjs("bob")
    await watcher.connect(server.ws_url, name, bob.token, stateless=True)
    await watcher.synced()
    client = await yjs("ann")
    await client.connect(server.ws_url, name, ann.token, stateless=True)
    await client.synced()
    state = await client.shared("state", "map")
    assert state["status"] == "live"
    participants = await client.shared("participants", "map")
    assert participants[ann.id]["role"] == "participant"

    # A typed action as a custom message: accepted, applied by the server, seen by everyone.
    ann_acts = _Actor(client)
    reply = await ann_acts.act("chat.post", text="hello from stock yjs")
    assert reply["ok"] is True, reply
    for who in (client, watcher):
        chat = await who.wait_for_shared("chat", "hello from stock yjs")
        (message,) = chat
        assert message["id"] == reply["messageId"]
        assert message["userId"] == ann.id and message["name"] == "Ann"

    # A refused action changes nothing and says why.
    refused = await ann_acts.act("poll.create", question="Mine?", options=["a", "b"])
    assert refused == {"id": "r2", "ok": False, "reason": "not_allowed"}
    assert await watcher.shared("polls", "map") == {}

    # Writing the document directly: the update goes out on the socket like any edit, and
    # the server drops it (read-only connection). Nobody else ever sees it; the connection
    # stays open. The action sent afterwards proves the server processed the socket past it.
    await client.push_array("chat", {"id": "forged", "userId": host.id, "text": "forged"})
    await client.set_map("state", "status", "ended")
    after = await ann_acts.act("hand.raise")
    assert after["ok"] is True, after
    await watcher.wait_for_shared("hands", ann.id)
    assert "forged" not in json.dumps(await watcher.shared("chat"))
    assert (await watcher.shared("state", "map"))["status"] == "live"
    assert (await client.status())["connected"] is True

    # A client connecting now syncs the server's document: no forged message there either.
    late = await yjs("late ann")
    await late.connect(server.ws_url, name, ann.token, stateless=True)
    await late.synced()
    chat = await late.shared("chat")
    assert [m["text"] for m in chat] == ["hello from stock yjs"]
    assert (await late.shared("state", "map"))["status"] == "live"

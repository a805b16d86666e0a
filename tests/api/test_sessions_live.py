"""The room socket through the real app on uvicorn: `sessions/<id>` is wired with its
authorizer and its actions (join over REST, then the socket; strangers are refused)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from collab.client import CollabClient
from rooms import document as d
from tests.api.conftest import bearer, register, user_with_role

P = "/api/workbook/sessions"


async def test_join_then_act_in_the_room(live_app: dict[str, Any], database_url: str) -> None:
    client: httpx.AsyncClient = live_app["client"]
    host, _ = await user_with_role(client, database_url, "host", name="Hannah")
    created = await client.post(P, headers=host, json={
        "title": "Live", "scheduledStart": "2030-01-01T10:00:00Z",
        "scheduledEnd": "2030-01-01T11:00:00Z"})
    sid = created.json()["session"]["id"]
    ann, stranger = await register(client, name="Ann"), await register(client, name="S")
    assert (await client.post(f"{P}/{sid}/join", headers=bearer(ann["token"]))).status_code == 200
    assert (await client.post(f"{P}/{sid}/start", headers=host)).status_code == 200
    base = live_app["ws"].removesuffix("/notes")
    room = CollabClient(base, f"sessions/{sid}", token=ann["token"], stateless=True)
    outsider = CollabClient(base, f"sessions/{sid}", token=stranger["token"], reconnect=False)
    async with room, outsider:
        async with asyncio.timeout(10):
            await room.synced()
            assert await outsider.closed() == 4403
        assert d.ymap(room.doc, d.STATE)["status"] == "live"
        room.send_stateless(json.dumps({"id": "a1", "action": "chat.post", "text": "hi"}))
        async with asyncio.timeout(10):
            payload, rejected = await room.stateless.get()
        assert not rejected and json.loads(payload)["ok"] is True
        await room.wait_for(lambda doc: len(d.yarray(doc, d.CHAT)) == 1, 10)
    exported = await client.get(f"{P}/{sid}/export", headers=host)
    assert [m["text"] for m in exported.json()["chat"]] == ["hi"]

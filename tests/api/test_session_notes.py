"""An attendee's private notes for a live session: `sessionId` on a note (migration 0006)."""

from __future__ import annotations

import uuid

import httpx
import sqlalchemy as sa

from storage.db import connect
from tests.api.conftest import bearer, register, user_with_role

P = "/api/workbook/sessions"
N = "/api/workbook/notes"


async def _session(client: httpx.AsyncClient, database_url: str) -> str:
    host, _ = await user_with_role(client, database_url, "host")
    body = {"title": "Workshop", "scheduledStart": "2030-01-01T10:00:00Z",
            "scheduledEnd": "2030-01-01T11:00:00Z"}
    created = await client.post(P, json=body, headers=host)
    assert created.status_code == 201, created.text
    return str(created.json()["session"]["id"])


async def test_notes_linked_to_a_session_are_created_listed_and_unlinked(
    client: httpx.AsyncClient, database_url: str
) -> None:
    sid = await _session(client, database_url)
    ann, bob = await register(client, name="Ann"), await register(client, name="Bob")
    a, b = bearer(ann["token"]), bearer(bob["token"])
    body = {"title": "My notes: Workshop", "sessionId": sid}
    # not joined (or no such session): a 404 naming the field, nothing created
    for headers, session_id in ((a, sid), (a, str(uuid.uuid4()))):
        refused = await client.post(N, json={**body, "sessionId": session_id}, headers=headers)
        assert refused.status_code == 404, refused.text
        assert refused.json()["error"]["fields"][0]["field"] == "sessionId"
    assert (await client.get(N, headers=a)).json()["total"] == 0
    assert (await client.post(f"{P}/{sid}/join", headers=a)).status_code == 200
    created = await client.post(N, json=body, headers=a)
    assert created.status_code == 201, created.text
    note = created.json()["note"]
    assert note["sessionId"] == sid
    other = await client.post(N, json={"title": "Shopping"}, headers=a)
    assert other.json()["note"]["sessionId"] is None
    listed = await client.get(N, params={"sessionId": sid}, headers=a)
    assert [n["id"] for n in listed.json()["notes"]] == [note["id"]]
    assert (await client.get(N, headers=a)).json()["total"] == 2
    # Bob, in the session too, sees none of Ann's private notes
    await client.post(f"{P}/{sid}/join", headers=b)
    assert (await client.get(N, params={"sessionId": sid}, headers=b)).json()["total"] == 0
    bad = await client.get(N, params={"sessionId": "nope"}, headers=a)
    assert bad.status_code == 422 and bad.json()["error"]["fields"][0]["field"] == "sessionId"
    # the link goes when the session row goes (ON DELETE SET NULL, SQLite and PostgreSQL)
    async with connect(database_url) as db, db.write() as session:
        await session.execute(sa.text("DELETE FROM session_participants"))
        await session.execute(sa.text("DELETE FROM live_sessions"))
    kept = await client.get(f"{N}/{note['id']}", headers=a)
    assert kept.status_code == 200 and kept.json()["note"]["sessionId"] is None

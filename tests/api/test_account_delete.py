"""`DELETE /api/workbook/me`: the account and everything it owns go, nothing is left behind.

The check walks every table of the database (reflected, so a table added later is walked too)
and the object store: no value anywhere holds the user's id, email or a word only their
content contained; collaborators keep what is theirs.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import sqlalchemy as sa
from pycrdt import Text

from collab.client import CollabClient
from storage.db import connect
from tests.api.conftest import PASSWORD, bearer, register, user_with_role
from tests.audio_samples import encoded, tone_pcm, wav

P = "/api/workbook/sessions"
MP3 = encoded(wav(tone_pcm(1.0)), "mp3")


async def leftovers(database_url: str, needles: list[str]) -> list[str]:
    """Every (table, column) whose value contains one of ``needles``."""
    found: list[str] = []
    async with connect(database_url) as db, db.engine.connect() as conn:
        metadata = sa.MetaData()
        await conn.run_sync(metadata.reflect)
        for table in metadata.sorted_tables:
            if table.name.startswith(("notes_fts_", "modules_fts_")):
                continue  # FTS5 shadow tables: their rows mirror notes_fts (walked) in pages
            for row in (await conn.execute(sa.select(table))).mappings():
                for column, value in row.items():
                    text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
                    found += [
                        f"{table.name}.{column} {row.get('name', '')}" for n in needles if n in text
                    ]
    return sorted(set(found))


async def session(client: httpx.AsyncClient, host: dict[str, str], title: str) -> str:
    created = await client.post(P, headers=host, json={
        "title": title, "scheduledStart": "2030-01-01T10:00:00Z",
        "scheduledEnd": "2030-01-01T11:00:00Z"})
    assert created.status_code == 201, created.text
    sid = str(created.json()["session"]["id"])
    assert (await client.post(f"{P}/{sid}/start", headers=host)).status_code == 200
    return sid


async def test_delete_me_leaves_nothing_of_the_account(
    live_app: dict[str, Any], database_url: str
) -> None:
    client: httpx.AsyncClient = live_app["client"]
    objects = live_app["app"].state.services.objects
    base = live_app["ws"].removesuffix("/notes")
    marker = f"zebra{uuid.uuid4().hex[:10]}"
    me_headers, me = await user_with_role(client, database_url, "host", name=f"Del {marker}")
    my_id, my_email = me["user"]["id"], me["user"]["email"]
    friend = await register(client, name="Friend")
    friend_headers = bearer(friend["token"])
    friend_host, _ = await user_with_role(client, database_url, "host", name="Other host")

    # What the account owns and touches: a shared note edited live, a share from a friend, a
    # recording, a hosted session with an attendee, attendance in someone else's session.
    note = await client.post("/api/workbook/notes", json={"title": marker}, headers=me_headers)
    note_id = note.json()["note"]["id"]
    shared = await client.post(
        f"/api/workbook/notes/{note_id}/shares",
        json={"email": friend["user"]["email"], "permission": "write"}, headers=me_headers,
    )
    assert shared.is_success, shared.text
    theirs = await client.post(
        "/api/workbook/notes", json={"title": "theirs"}, headers=friend_headers
    )
    their_note = theirs.json()["note"]["id"]
    assert (await client.post(
        f"/api/workbook/notes/{their_note}/shares", json={"email": my_email, "permission": "read"},
        headers=friend_headers,
    )).is_success
    uploaded = await client.post(
        "/api/workbook/audio", files={"audio": ("a.mp3", MP3, "audio/mpeg")},
        data={"title": marker}, headers=me_headers,
    )
    assert uploaded.status_code == 201, uploaded.text
    mine = await session(client, me_headers, marker)
    assert (await client.post(f"{P}/{mine}/join", headers=friend_headers)).is_success
    elsewhere = await session(client, friend_host, "Elsewhere")
    assert (await client.post(f"{P}/{elsewhere}/join", headers=me_headers)).is_success

    editor = CollabClient(base, f"notes/{note_id}", token=me["token"])
    friends_editor = CollabClient(base, f"notes/{note_id}", token=friend["token"])
    room = CollabClient(base, f"sessions/{mine}", token=me["token"])
    async with editor, friends_editor, room:
        async with asyncio.timeout(15):
            await asyncio.gather(editor.synced(), friends_editor.synced(), room.synced())
        editor.doc.get("t", type=Text).insert(0, f"secret {marker} text")
        await friends_editor.wait_for(lambda doc: marker in str(doc.get("t", type=Text)), 10)
        await asyncio.sleep(0.5)  # durable (the log's group commit is 10 ms)
        assert await leftovers(database_url, [marker])  # the walk sees what is there

        wrong = await client.request(
            "DELETE", "/api/workbook/me", json={"password": "not it"}, headers=me_headers
        )
        assert wrong.status_code == 403
        assert wrong.json()["error"]["fields"][0]["field"] == "password"
        assert (await client.get("/api/workbook/notes", headers=me_headers)).is_success

        deleted = await client.request(
            "DELETE", "/api/workbook/me", json={"password": PASSWORD}, headers=me_headers
        )
        assert deleted.status_code == 200, deleted.text
        async with asyncio.timeout(10):
            assert await friends_editor.closed() == 4410
            assert await editor.closed() in (4401, 4410)

    # Other hosts' rooms keep the id only as the key of a deleted map entry (a CRDT tombstone:
    # in no state, export or client view; docs/rooms.md, "Deleted accounts").
    assert await leftovers(database_url, [my_email, marker]) == []
    assert await leftovers(database_url, [my_id, uuid.UUID(my_id).hex]) == [
        f"document_updates.data sessions/{elsewhere}"
    ]
    assert [k for k in await objects.keys("audio/") if my_id in k] == []
    assert await objects.keys(f"exports/{note_id}/") == []
    refused = await client.get("/api/workbook/notes", headers=me_headers)
    assert refused.status_code == 401
    again = await client.post(
        "/api/workbook/auth/login", json={"email": my_email, "password": PASSWORD}
    )
    assert again.status_code == 401
    # The friend keeps their own note (and their session), minus the share to the deleted user.
    listed = await client.get("/api/workbook/notes", headers=friend_headers)
    assert [n["id"] for n in listed.json()["notes"]] == [their_note]
    assert (await client.get(f"{P}/{elsewhere}", headers=friend_host)).is_success

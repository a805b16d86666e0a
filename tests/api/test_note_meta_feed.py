"""Title, tags and folder in the note's document (`meta`), the idempotent create and the
per-user live feed, through the real app on uvicorn: REST and raw y-websocket peers only."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from pycrdt import Doc

from notes.meta_mirror import MetaMirror
from notes.richtext import write_plain_text
from storage.notes import NoteRepository
from tests.api.conftest import bearer, register
from tests.livepeer import LivePeer, set_meta, socket_url

NOTES = "/api/workbook/notes"


async def _user(client: httpx.AsyncClient, name: str) -> dict[str, Any]:
    body = await register(client, name=name)
    return {"id": body["user"]["id"], "token": body["token"], "headers": bearer(body["token"])}


def _base(live: dict[str, Any]) -> str:
    return str(live["ws"]).removesuffix("/notes")


def _changed(note_id: str, change: str) -> dict[str, str]:
    return {"type": "notes.changed", "noteId": note_id, "change": change}


def _mirror(live: dict[str, Any]) -> MetaMirror:
    server = live["app"].state.services.collab
    return next(ext for ext in server.extensions if isinstance(ext, MetaMirror))


async def test_create_writes_meta_and_a_rest_rename_reaches_an_open_editor(
    live_app: dict[str, Any],
) -> None:
    client = live_app["client"]
    owner = await _user(client, "Owner")
    created = await client.post(
        NOTES,
        json={"title": "Plan", "tags": ["a", " a ", "b"], "folder": "work", "content": "hi"},
        headers=owner["headers"],
    )
    assert created.status_code == 201, created.text
    note_id = created.json()["note"]["id"]
    url = socket_url(_base(live_app), f"notes/{note_id}", owner["token"])
    async with LivePeer(url) as editor:
        await editor.synced()
        assert editor.meta() == {"title": "Plan", "tags": ["a", "b"], "folder": "work"}
        patched = await client.patch(
            f"{NOTES}/{note_id}",
            json={"title": "Plan B", "tags": ["x"], "folder": None},
            headers=owner["headers"],
        )
        assert patched.status_code == 200, patched.text
        assert patched.json()["note"]["version"] == 2
        await editor.wait_for(
            lambda doc: editor.meta() == {"title": "Plan B", "tags": ["x"], "folder": None}
        )
        for cleared in ("", "   ", None):
            refused = await client.patch(
                f"{NOTES}/{note_id}", json={"title": cleared}, headers=owner["headers"]
            )
            assert refused.status_code == 422
            assert refused.json()["error"]["fields"] == [
                {"field": "title", "message": "cannot be empty: a note needs a title"}
            ]
    await _mirror(live_app).settled()
    note = (await client.get(f"{NOTES}/{note_id}", headers=owner["headers"])).json()["note"]
    assert (note["title"], note["version"]) == ("Plan B", 2)  # the mirror saw nothing new


async def test_meta_edited_in_the_document_reaches_the_row_and_every_feed(
    live_app: dict[str, Any],
) -> None:
    client, base = live_app["client"], _base(live_app)
    owner, guest = await _user(client, "Owner"), await _user(client, "Guest")
    owner_feed = LivePeer(socket_url(base, f"users/{owner['id']}", owner["token"], stateless=True))
    guest_feed = LivePeer(socket_url(base, f"users/{guest['id']}", guest["token"], stateless=True))
    async with owner_feed, guest_feed:
        await owner_feed.synced()
        await guest_feed.synced()
        created = await client.post(NOTES, json={"title": "T"}, headers=owner["headers"])
        note_id = created.json()["note"]["id"]
        assert await owner_feed.message() == _changed(note_id, "created")

        guest_email = (await client.get("/api/workbook/auth/me", headers=guest["headers"])).json()
        shared = await client.post(
            f"{NOTES}/{note_id}/shares",
            json={"email": guest_email["user"]["email"], "permission": "write"},
            headers=owner["headers"],
        )
        assert shared.status_code == 201
        assert await owner_feed.message() == _changed(note_id, "shared")
        assert await guest_feed.message() == _changed(note_id, "shared")

        url = socket_url(base, f"notes/{note_id}", guest["token"])
        async with LivePeer(url) as editor:
            await editor.synced()
            await editor.edit(set_meta(title="Renamed offline", tags=["t1", "t1", "t2"]))
            assert await owner_feed.message() == _changed(note_id, "updated")
            assert await guest_feed.message() == _changed(note_id, "updated")
            note = (await client.get(f"{NOTES}/{note_id}", headers=owner["headers"])).json()
            assert note["note"]["title"] == "Renamed offline"
            assert note["note"]["tags"] == ["t1", "t2"]
            # Invalid values in the document are not copied: the row keeps its last valid ones.
            await editor.edit(set_meta(title="   ", tags="not a list", folder="Archive"))
            assert await owner_feed.message() == _changed(note_id, "updated")  # the folder
            assert await guest_feed.message() == _changed(note_id, "updated")
            note = (await client.get(f"{NOTES}/{note_id}", headers=owner["headers"])).json()
            assert (note["note"]["title"], note["note"]["tags"], note["note"]["folder"]) == (
                "Renamed offline", ["t1", "t2"], "Archive",
            )

        left = await client.delete(
            f"{NOTES}/{note_id}/shares/{guest['id']}", headers=guest["headers"]
        )
        assert left.status_code == 200
        assert await owner_feed.message() == _changed(note_id, "unshared")
        assert await guest_feed.message() == _changed(note_id, "unshared")
        deleted = await client.delete(f"{NOTES}/{note_id}", headers=owner["headers"])
        assert deleted.status_code == 200
        assert await owner_feed.message() == _changed(note_id, "deleted")
        assert guest_feed.messages.empty()  # no longer shared: not told


async def test_a_feed_is_only_its_users_and_stays_empty(live_app: dict[str, Any]) -> None:
    client, base = live_app["client"], _base(live_app)
    alice, bob = await _user(client, "Alice"), await _user(client, "Bob")
    async with LivePeer(socket_url(base, f"users/{bob['id']}", alice["token"])) as snoop:
        assert await snoop.closed() == 4403
    async with LivePeer(socket_url(base, f"users/{alice['id']}", alice["token"])) as feed:
        await feed.synced()
        await feed.edit(set_meta(title="ignored"))  # read-only: dropped by the server
    async with LivePeer(socket_url(base, f"users/{alice['id']}", alice["token"])) as again:
        await again.synced()
        assert again.doc.get_update() == Doc().get_update()


async def test_typing_is_coalesced_to_one_update_per_second(live_app: dict[str, Any]) -> None:
    client, base = live_app["client"], _base(live_app)
    owner = await _user(client, "Owner")
    note_id = (await client.post(NOTES, json={"title": "T"}, headers=owner["headers"])).json()[
        "note"
    ]["id"]
    feed = live_app["app"].state.services.feed
    url = socket_url(base, f"users/{owner['id']}", owner["token"], stateless=True)
    async with LivePeer(url) as peer:
        await peer.synced()
        before = feed.sent
        for _ in range(5):
            await feed.note_changed(uuid.UUID(note_id), "updated")
        assert await peer.message() == _changed(note_id, "updated")  # the first at once
        assert feed.sent == before + 1
        assert await peer.message() == _changed(note_id, "updated")  # one trailing for the rest
        assert feed.sent == before + 2 and peer.messages.empty()


async def test_create_with_a_client_id_is_idempotent_and_keeps_offline_edits(
    live_app: dict[str, Any],
) -> None:
    client, base = live_app["client"], _base(live_app)
    owner, other = await _user(client, "Owner"), await _user(client, "Other")
    note_id = str(uuid.uuid4())
    offline: Doc[Any] = Doc()
    with offline.transaction():
        set_meta(title="Made offline", tags=["trip"], folder=None)(offline)
        write_plain_text(offline, "typed on the train")
    body = {"id": note_id, "title": "Made offline", "tags": ["trip"]}
    first = await client.post(NOTES, json=body, headers=owner["headers"])
    assert first.status_code == 201, first.text
    retry = await client.post(NOTES, json=body, headers=owner["headers"])
    assert retry.status_code == 200
    assert retry.json()["note"] == first.json()["note"]
    listed = (await client.get(NOTES, headers=owner["headers"])).json()
    assert listed["total"] == 1
    taken = await client.post(NOTES, json=body, headers=other["headers"])
    assert taken.status_code == 409
    assert [f["field"] for f in taken.json()["error"]["fields"]] == ["id"]

    url = socket_url(base, f"notes/{note_id}", owner["token"])
    async with LivePeer(url, doc=offline) as editor:
        await editor.synced()
    note = (await client.get(f"{NOTES}/{note_id}", headers=owner["headers"])).json()["note"]
    assert note["content"] == "typed on the train"
    async with LivePeer(url) as fresh:
        await fresh.synced()
        assert fresh.meta() == {"title": "Made offline", "tags": ["trip"], "folder": None}

    assert (await client.delete(f"{NOTES}/{note_id}", headers=owner["headers"])).status_code == 200
    gone = await client.post(NOTES, json=body, headers=owner["headers"])
    assert gone.status_code == 409


async def test_a_note_older_than_meta_gets_it_from_the_row_at_first_load(
    live_app: dict[str, Any],
) -> None:
    client, base = live_app["client"], _base(live_app)
    owner = await _user(client, "Owner")
    db = live_app["app"].state.services.db
    note = await NoteRepository(db).create(
        uuid.UUID(owner["id"]), title="Legacy", tags=["old"], folder="attic"
    )
    url = socket_url(base, f"notes/{note.id}", owner["token"])
    async with LivePeer(url) as editor:
        await editor.synced()
        await editor.wait_for(
            lambda doc: editor.meta() == {"title": "Legacy", "tags": ["old"], "folder": "attic"}
        )

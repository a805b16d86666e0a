"""Stock yjs + y-websocket clients editing one note through the server: convergence,
late joiners, offline edits with a difference-only resync, read-only shares."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable

import pytest
from backends import Note, RestBackend
from nodeclients import YjsClient
from pycrdt import Text
from serverprocess import ServerProcess

from collab.client import CollabClient

pytestmark = pytest.mark.interop

Clients = Callable[[str], Awaitable[YjsClient]]


async def connected(
    yjs: Clients, label: str, server: ServerProcess, note: Note, token: str
) -> YjsClient:
    client = await yjs(label)
    await client.connect(server.ws_url, note.name, token)
    await client.synced()
    return client


async def test_concurrent_edits_from_three_clients_converge(
    server: ServerProcess, note: Note, yjs: Clients
) -> None:
    clients = [await connected(yjs, f"c{i}", server, note, note.owner.token) for i in range(3)]

    async def type_into(client: YjsClient, mark: str) -> None:
        for n in range(20):
            await client.insert(mark, index=0 if n % 2 else None)

    await asyncio.gather(*(type_into(c, m) for c, m in zip(clients, "abc", strict=True)))
    for client in clients:
        await client.wait_for_length(60)
    texts = [await c.text() for c in clients]
    assert texts[0] == texts[1] == texts[2]
    assert Counter(texts[0]) == {"a": 20, "b": 20, "c": 20}


async def test_late_joiner_gets_the_full_state(
    server: ServerProcess, note: Note, yjs: Clients
) -> None:
    writer = await connected(yjs, "writer", server, note, note.owner.token)
    for word in ("one ", "two ", "three ", "four "):
        await writer.insert(word)
    await writer.delete(0, 4)  # deletions are part of the state too
    await writer.insert("héllo 👋 ", 0)  # multi-byte characters survive the round trip
    expected = await writer.text()

    joiner = await connected(yjs, "joiner", server, note, note.owner.token)
    assert await joiner.text() == expected

    # And after everybody left (the document may unload and load again from the store).
    await writer.close()
    await joiner.close()
    again = await connected(yjs, "again", server, note, note.owner.token)
    assert await again.text() == expected


async def test_offline_edits_on_both_sides_converge_sending_only_the_difference(
    server: ServerProcess, note: Note, yjs: Clients
) -> None:
    a = await connected(yjs, "a", server, note, note.owner.token)
    b = await connected(yjs, "b", server, note, note.owner.token)
    base = "".join(f"line {i:05d} of a long shared note\n" for i in range(8000))  # ~270 kB
    await a.insert(base)
    await b.wait_for_length(len(base), timeout=20)
    state_size = await b.state_size()
    assert state_size > 200_000

    await a.call("disconnect")
    await b.call("disconnect")
    await a.insert("[a offline]", index=0)
    await b.insert("[b offline]")
    await a.delete(20, 10)
    for client in (a, b):
        await client.call("resetStats")
        await client.call("reconnect")
    final_length = len(base) + len("[a offline]") + len("[b offline]") - 10
    await a.wait_for_length(final_length)
    await b.wait_for_length(final_length)
    assert await a.text() == await b.text()
    assert (await a.text()).startswith("[a offline]")
    assert (await b.text()).endswith("[b offline]")

    # The resync is state-vector based: each side sends and receives only what the other
    # lacks, not the ~270 kB document.
    for client in (a, b):
        stats = await client.stats()
        assert stats["bytesSent"] < state_size / 50, stats
        assert stats["bytesReceived"] < state_size / 50, stats


async def test_read_only_share_cannot_change_the_document(
    server: ServerProcess, note: Note, backend: RestBackend, yjs: Clients
) -> None:
    reader_user = await backend.user("Reader")
    await backend.share(note.id, note.owner, reader_user, "read")
    owner = await connected(yjs, "owner", server, note, note.owner.token)
    await owner.insert("written by the owner")
    reader = await connected(yjs, "reader", server, note, reader_user.token)
    await reader.wait_for_text("written by the owner")  # read-only still receives sync

    await reader.insert("EVIL ", 0)
    # Fence: the server handles one connection's messages in order, so once the owner sees the
    # reader's next awareness state, the reader's update was either relayed before it or dropped.
    await reader.set_awareness({"fence": 1})
    await owner.wait_for_awareness_field("fence", 1)
    assert await owner.text() == "written by the owner"

    # Nor did it reach the server's copy: a new client gets the owner's text only.
    fresh = await connected(yjs, "fresh", server, note, note.owner.token)
    assert await fresh.text() == "written by the owner"
    # The owner keeps writing; the reader keeps receiving.
    await owner.insert("!")
    await fresh.wait_for_text("written by the owner!")
    # (the reader's local doc still holds its own refused edit)
    await reader.wait_for_text("EVIL written by the owner!")


async def test_python_client_and_yjs_client_edit_together(
    server: ServerProcess, note: Note, yjs: Clients
) -> None:
    js = await connected(yjs, "js", server, note, note.owner.token)
    await js.insert("héllo from yjs 👋")
    async with CollabClient(f"{server.ws_url}/collab", note.name, token=note.owner.token) as py:
        async with asyncio.timeout(10):
            await py.synced()
        content = py.doc.get("content", type=Text)
        assert str(content) == "héllo from yjs 👋"
        # Append at the end; pycrdt positions are UTF-8 byte offsets (docs/hazards.md).
        content.insert(len(str(content).encode()), ", and from pycrdt ✓")
        await js.wait_for_text("héllo from yjs 👋, and from pycrdt ✓")

        # Presence both ways, stamped by the server.
        py.set_awareness({"bot": True})
        (state,) = (await js.wait_for_awareness_field("bot", True)).values()
        assert state["user"]["id"] == note.owner.id
        await js.set_awareness({"cursor": 7})
        await py.wait_for(
            lambda _doc: any(s.get("cursor") == 7 for s in py.awareness.states.values()), 10
        )

        await js.insert("[js] ", 0)
        await py.wait_for(lambda doc: str(doc.get("content", type=Text)).startswith("[js] "), 10)
        assert str(content) == "[js] héllo from yjs 👋, and from pycrdt ✓"

        # Offline on the Python side, edits on both, then the state-vector resync.
        await py.go_offline()
        content.insert(len(str(content).encode()), " (py offline)")
        await js.insert("(js meanwhile) ", 0)
        py.go_online()
        expected = "(js meanwhile) [js] héllo from yjs 👋, and from pycrdt ✓ (py offline)"
        await js.wait_for_text(expected)
        await py.wait_for(lambda doc: str(doc.get("content", type=Text)) == expected, 10)


async def test_a_long_offline_session_over_one_mebibyte_syncs(
    server: ServerProcess, note: Note, yjs: Clients
) -> None:
    # The reconnect's sync step 2 carries everything made offline in one frame: the server's
    # limit (16 MiB) is above the 1 MiB default of the websockets library on purpose.
    traveller = await connected(yjs, "traveller", server, note, note.owner.token)
    peer = await connected(yjs, "peer", server, note, note.owner.token)
    await traveller.call("disconnect")
    chunk = "offline paragraph with some words in it. " * 25  # ~1 kB
    for _ in range(1500):
        await traveller.insert(chunk)
    assert await traveller.state_size() > 1024 * 1024
    await traveller.call("reconnect")
    await peer.wait_for_length(1500 * len(chunk), timeout=30)
    assert (await traveller.status())["connected"]


async def test_rest_content_and_editor_body_are_one_document(
    server: ServerProcess, backend: RestBackend, yjs: Clients
) -> None:
    # REST seeds the editor's XmlFragment (no text offsets: emoji and accents stay valid for
    # Yjs, docs/hazards.md); an edit in that fragment by a stock client is what REST reads back.
    owner = await backend.user("Writer")
    note = Note(owner=owner, id=await backend.note(owner, content="Héllo **wörld** 👋"))
    editor = await connected(yjs, "editor", server, note, owner.token)
    assert await editor.call("xmlText") == "Héllo wörld 👋"

    await editor.call("xmlAppendParagraph", text="añadido ✓ 🎉")
    witness = await connected(yjs, "witness", server, note, owner.token)
    await witness.call("waitForXmlText", contains="añadido ✓ 🎉")
    text = await backend.note_text(note.id, owner)
    assert "Héllo wörld 👋" in text
    assert "añadido ✓ 🎉" in text


async def test_restoring_a_version_is_a_server_edit_stock_clients_apply(
    server: ServerProcess, backend: RestBackend, yjs: Clients
) -> None:
    # A server-side replace of multi-byte text (docs/hazards.md: UTF-8 offsets) must produce updates
    # a connected Yjs client applies, and the client must keep editing afterwards.
    owner = await backend.user("Restorer")
    note = Note(owner=owner, id=await backend.note(owner, content="Ünïcødé 👋 first"))
    editor = await connected(yjs, "editor", server, note, owner.token)
    auth = {"Authorization": f"Bearer {owner.token}"}
    created = await backend.http.post(
        f"/api/workbook/notes/{note.id}/versions", json={"name": "v1"}, headers=auth
    )
    assert created.status_code == 201, created.text
    version_id = created.json()["version"]["id"]

    await editor.call("xmlAppendParagraph", text="second ✓")
    witness = await connected(yjs, "witness", server, note, owner.token)
    await witness.call("waitForXmlText", contains="second ✓")

    restored = await backend.http.post(
        f"/api/workbook/notes/{note.id}/versions/{version_id}/restore", headers=auth
    )
    assert restored.status_code == 200, restored.text
    await editor.call("waitForXmlText", equals="Ünïcødé 👋 first")
    await editor.call("xmlAppendParagraph", text="after restore 🎉")
    fresh = await connected(yjs, "fresh", server, note, owner.token)
    await fresh.call("waitForXmlText", equals="Ünïcødé 👋 first\nafter restore 🎉")

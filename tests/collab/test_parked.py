"""Updates yrs parks until their dependencies arrive: a crafted one sent *before* its
dependency panics inside the owner's later valid edit; the sender of the parked update is the
one closed, and parked updates are bounded (count, bytes, age)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from pycrdt import Doc, Map, Text

from collab import MemoryStore, Persistence
from collab.document import Document
from collab.errors import CloseCode, DocumentPoisoned
from collab.hooks import Hooks, Origin, Principal
from collab.parked import decode_state_vector, leaves_parked
from collab.protocol import SyncStep2, encode_sync_step1, encode_update
from tests.collab._kit import (
    FAST,
    Harness,
    MemoryClient,
    doc_name,
    running,
    wait_for,
)

DATA = json.loads(
    (Path(__file__).resolve().parents[1] / "data" / "yrs-panic-update.json").read_text()
)
PREFIX = [bytes.fromhex(h) for h in DATA["prefix"]]
BAD = bytes.fromhex(DATA["bad"])
FIRST, LAST = 20, 28  # BAD parks after PREFIX[:20]; PREFIX[28] makes yrs retry it and panic


def _text_after(count: int) -> str:
    doc: Doc = Doc()
    doc.get("t", type=Text)
    doc.get("m", type=Map)
    for update in PREFIX[:count]:
        doc.apply_update(update)
    return str(doc.get("t", type=Text))


class Recipient:
    def __init__(self, connection_id: str) -> None:
        self.connection_id = connection_id
        self.principal = Principal(connection_id, connection_id)
        self.closed: tuple[int, str] | None = None

    def send(self, frame: bytes) -> None:
        pass

    def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)


def _document(**limits: int) -> tuple[Document, Recipient, Recipient]:
    document = Document("notes/x", replace(FAST, **limits), Hooks([]))
    document.attach(document.new_doc())
    owner, evil = Recipient("owner"), Recipient("evil")
    document.connections.update(owner=owner, evil=evil)
    return document, owner, evil


def test_detection_of_parked_structs_and_deletions() -> None:
    doc: Doc = Doc()
    seen: list[bytes] = []
    doc.observe(lambda event: seen.append(event.update))
    text = doc.get("t", type=Text)
    text += "hello world"
    insert = seen[-1]
    del text[0:3]
    delete = seen[-1]
    empty: Doc = Doc()
    state = empty.get_state()
    assert leaves_parked(insert, state, {})  # not integrated (yet)
    assert leaves_parked(delete, state, decode_state_vector(state))  # a deletion of unseen
    full = doc.get_state()
    assert not leaves_parked(delete, full, decode_state_vector(full))
    assert not leaves_parked(insert, full, decode_state_vector(full))
    assert leaves_parked(BAD, full, decode_state_vector(full))


def test_a_parked_update_is_blamed_for_the_panic_it_causes_in_a_valid_edit() -> None:
    document, owner, evil = _document()
    for update in PREFIX[:FIRST]:
        document.apply_update(update, "owner")
    assert document.apply_update(BAD, "evil") is None  # parked: nothing applied, nothing stored
    assert document.parked.senders == {"evil"}
    for update in PREFIX[FIRST:LAST]:
        document.apply_update(update, "owner")
    with pytest.raises(DocumentPoisoned) as info:
        document.apply_update(PREFIX[LAST], "owner")
    assert info.value.parked_by == {"evil"}
    assert evil.closed == (CloseCode.INTERNAL_ERROR, "internal error")
    assert owner.closed is None
    document.attach(document.new_doc())  # (the rebuild) holds nothing back
    assert not document.parked


def test_integrated_parked_updates_are_forgotten() -> None:
    document, _, _ = _document()
    document.apply_update(PREFIX[1], "owner")  # needs PREFIX[0]
    assert document.parked.senders == {"owner"}
    document.apply_update(PREFIX[0], "owner")
    assert not document.parked
    assert str(document.doc.get("t", type=Text)) == _text_after(2)


def test_parked_updates_per_connection_are_bounded() -> None:
    document, owner, evil = _document(parked_updates_per_connection=2)
    for update in PREFIX[5:7]:
        document.apply_update(update, "evil")
    assert evil.closed is None
    document.apply_update(PREFIX[7], "evil")
    assert evil.closed == (CloseCode.MISSING_DEPENDENCIES, "missing dependencies")
    assert owner.closed is None and not document.poisoned


def test_parked_bytes_per_connection_are_bounded() -> None:
    document, _, evil = _document(parked_bytes_per_connection=len(PREFIX[5]) + 1)
    document.apply_update(PREFIX[5], "evil")
    assert evil.closed is None
    document.apply_update(PREFIX[6], "evil")
    assert evil.closed == (CloseCode.MISSING_DEPENDENCIES, "missing dependencies")


@pytest.mark.parametrize("limit", ["parked_updates_per_document", "parked_bytes_per_document"])
def test_parked_updates_per_document_are_bounded_and_dropped_with_the_doc(limit: str) -> None:
    value = 2 if limit == "parked_updates_per_document" else len(PREFIX[5]) + len(PREFIX[6])
    document, owner, evil = _document(**{limit: value})
    document.apply_update(PREFIX[5], "owner")
    document.apply_update(PREFIX[6], "evil")
    assert not document.poisoned
    document.apply_update(PREFIX[7], "evil")
    assert evil.closed == (CloseCode.MISSING_DEPENDENCIES, "missing dependencies")
    assert owner.closed is None
    assert document.poisoned  # only a new Doc lets go of what yrs holds (the server rebuilds)


@pytest.mark.parametrize("persist", [True, False], ids=["store", "no-store"])
async def test_poison_sent_before_its_dependency_closes_the_attacker_not_the_owner(
    persist: bool,
) -> None:
    store = MemoryStore()
    extensions = [Persistence(store, flush_interval=0.002)] if persist else []
    async with running(extensions=extensions) as h:
        name = doc_name()
        owner_conn, owner = await h.synced(name, "user-owner")
        for update in PREFIX[:FIRST]:
            owner.doc.apply_update(update)
        await owner.push()
        document = h.server.registry.documents[name]
        await wait_for(lambda: str(document.doc.get("t", type=Text)) == _text_after(FIRST))
        evil = await h.connect(name, "user-evil")
        await evil.recv()
        await evil.send(encode_update(BAD))
        await evil.send(encode_sync_step1(Doc().get_state()))
        while not isinstance(await evil.recv_message(), SyncStep2):  # BAD was handled
            pass
        for update in PREFIX[FIRST : LAST + 1]:  # the owner's valid edits
            owner.doc.apply_update(update)
        await owner.push()
        assert await evil.wait_closed() == CloseCode.INTERNAL_ERROR
        expected = _text_after(LAST + 1)
        await wait_for(lambda: document.ready
                       and str(document.doc.get("t", type=Text)) == expected)
        assert not owner_conn.closed.is_set()
        owner.text += "!"  # the owner keeps editing
        await owner.push()
        await wait_for(lambda: str(document.doc.get("t", type=Text)) == expected + "!")
        if persist:
            await wait_for(lambda: len(store.entries.get(name, [])) > 0)
            assert BAD not in store.entries[name]  # parked bytes were never stored
        await owner_conn.leave()


async def bad_sent_before_its_dependency(h: Harness) -> tuple[str, MemoryClient, MemoryClient]:
    """A new document: the owner sent PREFIX[:FIRST], then "evil" sent BAD (which parks)."""
    name = doc_name()
    owner_conn = await h.connect(name, "user-owner")
    await owner_conn.recv()
    for update in PREFIX[:FIRST]:
        await owner_conn.send(encode_update(update))
    evil = await h.connect(name, "user-evil")
    await evil.recv()
    await evil.send(encode_update(BAD))
    return name, owner_conn, evil


async def test_an_update_waiting_too_long_closes_its_sender_with_4424() -> None:
    persistence = Persistence(MemoryStore(), flush_interval=0.002)
    async with running(replace(FAST, parked_timeout=0.2), [persistence]) as h:
        name, owner_conn, evil = await bad_sent_before_its_dependency(h)
        assert await evil.wait_closed() == CloseCode.MISSING_DEPENDENCIES
        # What yrs holds of it stays a suspect: the panic it causes later is not the owner's.
        document = h.server.registry.documents[name]
        for update in PREFIX[FIRST : LAST + 1]:
            await owner_conn.send(encode_update(update))
        expected = _text_after(LAST + 1)
        await wait_for(lambda: document.ready
                       and str(document.doc.get("t", type=Text)) == expected)
        assert not owner_conn.closed.is_set()
        await owner_conn.leave()


async def test_a_peer_update_that_trips_a_local_parked_update_closes_the_local_sender() -> None:
    async with running() as h:
        name, owner_conn, evil = await bad_sent_before_its_dependency(h)
        document = h.server.registry.documents[name]
        await wait_for(lambda: bool(document.parked))
        for update in PREFIX[FIRST : LAST + 1]:  # from another node: not raised to the bus
            await h.server.apply_remote_update(name, update, Origin.PEER("node-2"))
        assert await evil.wait_closed() == CloseCode.INTERNAL_ERROR
        assert document.ready
        assert not owner_conn.closed.is_set()
        await owner_conn.leave()


def test_a_diff_that_carries_others_parked_updates_is_echoed() -> None:
    document, _, _ = _document()
    document.apply_update(PREFIX[1], "evil")  # parked: it needs PREFIX[0]
    document.apply_update(PREFIX[0], "owner")
    assert document.echo  # the owner lacks what "evil" sent
    document.apply_update(PREFIX[3], "owner")
    document.apply_update(PREFIX[2], "owner")
    assert not document.echo  # its own parked update: it has it


async def test_the_sender_of_a_dependency_receives_the_parked_update_it_released() -> None:
    async with running() as h:
        name = doc_name()
        first = await h.connect(name, "user-a")
        await first.recv()
        await first.send(encode_update(PREFIX[1]))  # parked: it needs PREFIX[0]
        second_conn, second = await h.synced(name, "user-b")
        second.doc.apply_update(PREFIX[0])
        await second.push()
        await wait_for(lambda: str(second.text) == _text_after(2))
        await first.leave()
        await second_conn.leave()

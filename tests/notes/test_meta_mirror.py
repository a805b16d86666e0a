"""The meta mirror on one server: changes made here are copied to the row (once, through the
store), changes relayed from another node only refresh what it last saw, a note without `meta`
is filled from its row at load, and pending work is done when the document unloads."""

from __future__ import annotations

import uuid
from typing import Any

from prometheus_client import CollectorRegistry
from pycrdt import Doc, Map

from collab.config import CollabConfig
from collab.hooks import Origin
from collab.server import CollabServer
from notes.meta import read_meta, write_meta
from notes.meta_mirror import MetaMirror


class Row:
    def __init__(self, title: str, tags: list[str], folder: str | None) -> None:
        self.title, self.tags, self.folder = title, tags, folder


class FakeStore:
    def __init__(self, row: Row) -> None:
        self.row = row
        self.mirrored: list[dict[str, object]] = []

    async def get(self, note_id: uuid.UUID) -> Row:
        return self.row

    async def mirror(self, note_id: uuid.UUID, values: dict[str, object]) -> bool:
        self.mirrored.append(values)
        changed = any(getattr(self.row, k) != v for k, v in values.items())
        for key, value in values.items():
            setattr(self.row, key, value)
        return changed


TITLED: dict[str, object] = {"title": "T", "tags": [], "folder": None}
AFTER: dict[str, object] = {"title": "After", "tags": [], "folder": None}


def server_with(store: FakeStore, **config: Any) -> tuple[MetaMirror, CollabServer]:
    mirror = MetaMirror(store, debounce=0.01, max_delay=0.05)
    server = CollabServer(
        CollabConfig(**config), [mirror], metrics_registry=CollectorRegistry()
    )
    return mirror, server


async def test_local_changes_are_copied_and_peer_changes_are_not() -> None:
    store = FakeStore(Row("Row title", ["r"], None))
    mirror, server = server_with(store)
    name = f"notes/{uuid.uuid4()}"
    async with server:
        async with server.open_direct(name) as session:
            session.transact(lambda doc: write_meta(doc, TITLED))
        await mirror.settled()
        assert store.mirrored[-1] == TITLED
        assert mirror.mirrored == 1
        count = len(store.mirrored)

        other: Doc[Any] = Doc()
        async with server.open_direct(name) as session:
            other.apply_update(session.doc.get_update())
        with other.transaction():
            other.get("meta", type=Map)["title"] = "From node 2"
        async with server.open_direct(name) as session:
            update = other.get_update(session.doc.get_state())
            await server.apply_remote_update(name, update, Origin.PEER("node2"))
            await mirror.settled()
            assert read_meta(session.doc)["title"] == "From node 2"
        assert len(store.mirrored) == count  # node2 copied it


async def test_a_note_without_meta_is_filled_from_its_row() -> None:
    store = FakeStore(Row("Legacy", ["old"], "attic"))
    mirror, server = server_with(store)
    name = f"notes/{uuid.uuid4()}"
    async with server:
        async with server.open_direct(name) as session:
            await mirror.settled()
            assert read_meta(session.doc) == {"title": "Legacy", "tags": ["old"], "folder": "attic"}
        assert mirror.mirrored == 0  # the row already had these values


async def test_pending_work_is_done_at_unload() -> None:
    store = FakeStore(Row("Before", [], None))
    mirror = MetaMirror(store, debounce=60, max_delay=60)  # the loop would wait a minute
    server = CollabServer(
        CollabConfig(unload_delay=0), [mirror], metrics_registry=CollectorRegistry()
    )
    name = f"notes/{uuid.uuid4()}"
    async with server, server.open_direct(name) as session:
        session.transact(lambda doc: write_meta(doc, AFTER))
    assert store.row.title == "After"

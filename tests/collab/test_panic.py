"""A crafted update that panics yrs (tests/data/yrs-panic-update.json) closes only the sender
(1011); the poisoned Doc is rebuilt from the store and the other clients converge with it."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import anyio
import pytest
from prometheus_client import CollectorRegistry

from collab import MemoryStore, Persistence
from collab.document import Document
from collab.errors import CloseCode, DocumentPoisoned
from collab.hooks import Hooks
from collab.protocol import encode_update
from tests.collab._kit import FAST, SyncedClient, doc_name, pump, running, wait_for

DATA = json.loads((Path(__file__).resolve().parents[1] / "data" / "yrs-panic-update.json")
                  .read_text())
PREFIX = [bytes.fromhex(h) for h in DATA["prefix"]]
BAD = bytes.fromhex(DATA["bad"])


def test_document_turns_the_panic_into_document_poisoned() -> None:
    document = Document("notes/x", FAST, Hooks([]))
    document.attach(document.new_doc())
    for update in PREFIX:
        document.apply_update(update)
    with pytest.raises(DocumentPoisoned):
        document.apply_update(BAD)
    assert document.poisoned
    assert not document.observed
    with pytest.raises(DocumentPoisoned):
        _ = document.doc  # never touched again


@pytest.mark.parametrize("persist", [True, False], ids=["store", "no-store"])
async def test_panic_closes_sender_and_others_converge(persist: bool) -> None:
    store = MemoryStore()
    extensions = [Persistence(store, flush_interval=0.002)] if persist else []
    async with running(extensions=extensions) as h:
        name = doc_name()
        evil = await h.connect(name, "user-evil")
        good_conn = await h.connect(name, "user-good")
        good = SyncedClient(good_conn.send)
        async with anyio.create_task_group() as tg:
            tg.start_soon(pump, good_conn, good)
            await good.start()
            with anyio.fail_after(5):
                await good.synced.wait()
            for update in PREFIX:
                await evil.send(encode_update(update))
            reference = Document("notes/reference", FAST, Hooks([]))
            reference.attach(reference.new_doc())
            for update in PREFIX:
                reference.apply_update(update)
            before = str(reference.doc.get("t", type=type(good.text)))
            await wait_for(lambda: str(good.text) == before)  # every prefix update arrived
            await evil.send(encode_update(BAD))
            assert await evil.wait_closed() == CloseCode.INTERNAL_ERROR
            document = h.server.registry.documents[name]
            await wait_for(lambda: not document.poisoned)
            # The survivor keeps editing; a newcomer sees everything, without the bad update.
            good.text += "!"
            await good.push()
            late_conn = await h.connect(name, "user-late")
            late = SyncedClient(late_conn.send)
            tg.start_soon(pump, late_conn, late)
            await late.start()
            await wait_for(lambda: str(late.text) == before + "!")
            assert str(document.doc.get("t", type=type(good.text))) == before + "!"
            await good_conn.leave()
            await late_conn.leave()


async def test_a_panic_is_one_log_line_without_traceback_and_is_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = CollectorRegistry()
    async with running(registry=registry) as h:
        name = doc_name()
        evil = await h.connect(name, "user-evil")
        await evil.recv()
        caplog.clear()
        ids = []
        with caplog.at_level(logging.INFO, logger="collab"):
            for attempt in (1, 2):
                ids += list(h.server.connections)
                for update in PREFIX:
                    await evil.send(encode_update(update))
                await evil.send(encode_update(BAD))
                assert await evil.wait_closed() == CloseCode.INTERNAL_ERROR
                assert registry.get_sample_value("collab_panics_total") == attempt
                document = h.server.registry.documents[name]
                await wait_for(lambda d=document: not d.poisoned)  # type: ignore[misc]
                if attempt == 1:
                    evil = await h.connect(name, "user-evil")
                    await evil.recv()
        panics = [r for r in caplog.records if "panicked" in r.getMessage()]
        assert len(panics) == 2
        for record, connection_id in zip(panics, ids, strict=True):
            assert name in record.getMessage()
            assert connection_id in record.getMessage()
        assert all(r.levelno == logging.WARNING for r in panics)
        assert not [r for r in caplog.records if r.exc_info or r.exc_text]

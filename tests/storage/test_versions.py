"""Note versions on SQLite and PostgreSQL: full Yjs states in, the same document out."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from pycrdt import Doc

from notes.markdown import to_markdown, write_markdown
from storage.db import Database
from storage.models import Note
from storage.types import utcnow
from storage.users import UserRepository
from storage.versions import VersionRepository


async def make_note(db: Database) -> tuple[uuid.UUID, uuid.UUID]:
    user = await UserRepository(db).create(
        email=f"v-{uuid.uuid4().hex[:8]}@example.com", name="Ada", password_hash="x"
    )
    note = Note(owner_id=user.id, title="Versions")
    async with db.write() as session:
        session.add(note)
    return note.id, user.id


def state_of(markdown: str) -> bytes:
    doc: Doc[Any] = Doc()
    write_markdown(doc, markdown)
    return doc.get_update()


async def test_create_list_get_round_trips_the_document(database: Database) -> None:
    note_id, user_id = await make_note(database)
    repo = VersionRepository(database)
    state = state_of("# Draft é 👩‍💻\n\n- one\n")
    t0 = utcnow()

    named = await repo.create(note_id, state, name="First draft", created_by=user_id, created_at=t0)
    auto = await repo.create(
        note_id, state_of("x"), auto=True, created_at=t0 + timedelta(seconds=1)
    )

    listed = await repo.list(note_id)
    assert [v.id for v in listed] == [auto.id, named.id]  # newest first
    assert listed[1].name == "First draft" and not listed[1].auto
    assert listed[1].created_by == user_id and listed[1].size == len(state)

    found = await repo.get(note_id, named.id)
    assert found is not None
    info, stored = found
    assert info == named
    doc: Doc[Any] = Doc()
    doc.apply_update(stored)
    assert to_markdown(doc) == "# Draft é 👩‍💻\n\n- one\n"


async def test_get_is_scoped_to_the_note(database: Database) -> None:
    note_a, _ = await make_note(database)
    note_b, _ = await make_note(database)
    repo = VersionRepository(database)
    version = await repo.create(note_a, state_of("a"))

    assert await repo.get(note_b, version.id) is None
    assert await repo.get(note_a, uuid.uuid4()) is None
    assert await repo.list(note_b) == []


async def test_latest_finds_automatic_and_named_versions(database: Database) -> None:
    note_id, _ = await make_note(database)
    repo = VersionRepository(database)
    t0 = utcnow()
    named = await repo.create(note_id, state_of("n"), name="keep me", created_at=t0)
    autos = [
        await repo.create(
            note_id, state_of(str(i)), auto=True, created_at=t0 + timedelta(minutes=i + 1)
        )
        for i in range(5)
    ]

    latest_auto = await repo.latest(note_id, auto=True)
    assert latest_auto is not None and latest_auto.id == autos[-1].id
    latest_named = await repo.latest(note_id, auto=False)
    assert latest_named is not None and latest_named.id == named.id

    # pruning: test_add_auto_stores_and_prunes_in_one_step


async def test_versions_go_with_their_note(database: Database) -> None:
    note_id, _ = await make_note(database)
    repo = VersionRepository(database)
    await repo.create(note_id, state_of("gone"))

    async with database.write() as session:
        await session.execute(sa.delete(Note).where(Note.id == note_id))  # type: ignore[arg-type]

    assert await repo.list(note_id) == []


@pytest.mark.parametrize("path", ["fast", "engine"])
async def test_add_auto_stores_and_prunes_in_one_step(database: Database, path: str) -> None:
    """What a document's unload does: store an automatic version and keep the newest `keep`
    automatic ones; named versions stay. SQLite's fast path and the engine path agree."""
    note_id, _ = await make_note(database)
    repo = VersionRepository(database if path == "fast" else Database(database.engine))
    named = await repo.create(note_id, state_of("n"), name="keep me")
    for i in range(4):
        await repo.add_auto(note_id, state_of(f"auto {i} é"), keep=2)

    reader = VersionRepository(database)
    listed = await reader.list(note_id)
    autos = [v for v in listed if v.auto]
    assert {v.id for v in listed} - {v.id for v in autos} == {named.id}
    assert len(autos) == 2
    newest = await reader.get(note_id, autos[0].id)
    assert newest is not None
    info, state = newest
    assert to_markdown(doc_from_state(state)) == "auto 3 é\n"
    assert info.size == len(state) and info.created_by is None and info.name is None
    assert info.created_at.tzinfo is not None and abs(info.created_at - utcnow()) < timedelta(
        minutes=1
    )
    older = await reader.get(note_id, autos[1].id)
    assert older is not None and to_markdown(doc_from_state(older[1])) == "auto 2 é\n"


def doc_from_state(state: bytes) -> Doc[Any]:
    doc: Doc[Any] = Doc()
    doc.apply_update(state)
    return doc

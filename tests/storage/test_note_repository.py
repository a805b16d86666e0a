from __future__ import annotations

import uuid

import pytest

from storage.db import Database
from storage.models import Permission
from storage.modules import ModuleRepository
from storage.notes import (
    MAX_CONTENT_TEXT,
    Access,
    NoteRepository,
    UnknownReference,
    VersionConflict,
)
from storage.users import UserRepository


async def _users(database: Database, *names: str) -> list[uuid.UUID]:
    repo = UserRepository(database)
    return [
        (await repo.create(email=f"{n}@example.com", name=n, password_hash="h")).id for n in names
    ]


async def test_access_follows_ownership_and_shares(database: Database) -> None:
    owner, writer, reader, stranger = await _users(database, "o", "w", "r", "s")
    notes = NoteRepository(database)
    note = await notes.create(owner, title="Plan")
    assert await notes.share(note.id, writer, Permission.WRITE) is not None
    assert await notes.share(note.id, reader, Permission.WRITE) is not None
    assert await notes.share(note.id, reader, Permission.READ) is not None  # downgrade
    assert await notes.access(note.id, owner) is Access.OWNER
    assert await notes.access(note.id, writer) is Access.WRITE
    assert await notes.access(note.id, reader) is Access.READ
    assert await notes.access(note.id, stranger) is None
    assert await notes.access(uuid.uuid4(), owner) is None
    assert [s.user_id for s in await notes.shares(note.id)] == [writer, reader]
    assert await notes.unshare(note.id, writer) is True
    assert await notes.unshare(note.id, writer) is False
    assert await notes.access(note.id, writer) is None
    with pytest.raises(UnknownReference):
        await notes.share(note.id, uuid.uuid4(), Permission.READ)


async def test_access_many_answers_every_pair_like_access(database: Database) -> None:
    owner, writer, reader, stranger = await _users(database, "o", "w", "r", "s")
    notes = NoteRepository(database)
    first = await notes.create(owner, title="One")
    second = await notes.create(writer, title="Two")
    gone = await notes.create(owner, title="Gone")
    await notes.share(first.id, writer, Permission.WRITE)
    await notes.share(first.id, reader, Permission.READ)
    await notes.share(second.id, reader, Permission.WRITE)
    await notes.share(gone.id, reader, Permission.READ)
    await notes.delete(gone.id)
    pairs = [(n, u) for n in (first.id, second.id, gone.id, uuid.uuid4())
             for u in (owner, writer, reader, stranger)]
    many = await notes.access_many(pairs)
    assert many == {pair: await notes.access(*pair) for pair in pairs}
    assert many[(first.id, owner)] is Access.OWNER
    assert many[(first.id, reader)] is Access.READ
    assert many[(second.id, reader)] is Access.WRITE
    assert many[(second.id, owner)] is None
    assert many[(gone.id, owner)] is None
    assert await notes.access_many([]) == {}


async def test_soft_delete_hides_the_note_and_drops_shares(database: Database) -> None:
    owner, reader = await _users(database, "o", "r")
    notes = NoteRepository(database)
    note = await notes.create(owner, title="Gone soon", content_text="ephemeral words")
    await notes.share(note.id, reader, Permission.READ)
    assert await notes.delete(note.id) is True
    assert await notes.delete(note.id) is False
    assert await notes.get(note.id) is None
    tombstone = await notes.get(note.id, include_deleted=True)
    assert tombstone is not None and tombstone.deleted_at is not None
    assert await notes.access(note.id, owner) is None
    assert await notes.shares(note.id) == []
    assert await notes.search(owner, "ephemeral") == ([], 0)
    assert await notes.share(note.id, reader, Permission.READ) is None
    assert await notes.purge(note.id) is True
    assert await notes.get(note.id, include_deleted=True) is None


async def test_update_bumps_version_and_checks_expected_version(database: Database) -> None:
    (owner,) = await _users(database, "o")
    module = await ModuleRepository(database).create(title="M")
    notes = NoteRepository(database)
    note = await notes.create(owner, title="v1", tags=["a"], folder="inbox")
    updated = await notes.update(
        note.id,
        {"title": "v2", "tags": ["b", "c"], "module_id": module.id, "folder": None},
        expected_version=1,
    )
    assert updated is not None and updated.version == 2 and updated.tags == ["b", "c"]
    assert updated.folder is None and updated.module_id == module.id
    with pytest.raises(VersionConflict) as caught:
        await notes.update(note.id, {"title": "stale"}, expected_version=1)
    assert caught.value.current == 2
    with pytest.raises(ValueError, match="owner_id"):
        await notes.update(note.id, {"owner_id": owner})
    with pytest.raises(UnknownReference):
        await notes.update(note.id, {"module_id": uuid.uuid4()})
    reloaded = await notes.get(note.id)
    assert reloaded is not None and reloaded.title == "v2" and reloaded.version == 2
    assert await notes.update(uuid.uuid4(), {"title": "x"}) is None


async def test_search_ranks_highlights_and_filters(database: Database) -> None:
    owner, friend = await _users(database, "o", "f")
    notes = NoteRepository(database)
    a = await notes.create(
        owner,
        title="Clipper maintenance",
        tags=["tools"],
        content_text="Oil the blades daily & <b>never</b> skip the clipper oil.",
    )
    b = await notes.create(
        owner,
        title="Pricing",
        tags=["business", "tools"],
        content_text="Raise prices when the clipper work is fully booked.",
    )
    c = await notes.create(friend, title="Friend's clipper notes", content_text="clipper tips")
    await notes.create(friend, title="Private clipper secrets", content_text="clipper")
    await notes.share(c.id, owner, Permission.READ)

    hits, total = await notes.search(owner, "clipper")
    assert total == 3
    assert {h.note.id for h in hits} == {a.id, b.id, c.id}
    assert hits[-1].note.id == b.id  # title matches outrank a body-only match
    by_id = {h.note.id: h for h in hits}
    assert by_id[c.id].access is Access.READ and by_id[a.id].access is Access.OWNER
    snippet = by_id[a.id].snippet
    assert snippet is not None and "<mark>clipper</mark>" in snippet.lower()
    assert "&amp;" in snippet and "<b>" not in snippet  # escaped (or tag-stripped by PG)

    hits, total = await notes.search(owner, "clip")  # the last word is a prefix
    assert total == 3
    hits, total = await notes.search(owner, "clipper", tags=["tools", "business"])
    assert (total, [h.note.id for h in hits]) == (1, [b.id])
    hits, total = await notes.search(owner, tags=["tools"])
    assert total == 2 and all(h.snippet is None for h in hits)
    hits, total = await notes.search(owner, "blades oil")
    assert (total, [h.note.id for h in hits]) == (1, [a.id])
    hits, total = await notes.search(owner, "business")  # tags are searchable text
    assert (total, [h.note.id for h in hits]) == (1, [b.id])
    hits, total = await notes.search(owner, "clipper", limit=1, offset=2)
    assert total == 3 and len(hits) == 1


async def test_content_text_updates_reach_search_and_listing_is_recent_first(
    database: Database,
) -> None:
    (owner,) = await _users(database, "o")
    notes = NoteRepository(database)
    first = await notes.create(owner, title="First", folder="work")
    second = await notes.create(owner, title="Second")
    assert await notes.search(owner, "freshly") == ([], 0)
    assert await notes.set_content_text(first.id, "freshly typed words") is True
    hits, total = await notes.search(owner, "freshly typ")
    assert (total, [h.note.id for h in hits]) == (1, [first.id])
    hits, total = await notes.search(owner)
    assert total == 2 and [h.note.id for h in hits] == [first.id, second.id]
    hits, total = await notes.search(owner, folder="work")
    assert [h.note.id for h in hits] == [first.id]
    assert await notes.folders(owner) == ["work"]
    assert await notes.set_content_text(uuid.uuid4(), "x") is False


async def test_stop_words_only_note_query_does_not_fail(database: Database) -> None:
    (owner,) = await _users(database, "o")
    notes = NoteRepository(database)
    await notes.create(owner, title="The plan", content_text="the and of")
    hits, total = await notes.search(owner, "the")
    assert total == len(hits) and total <= 1


async def test_huge_text_is_truncated_for_the_index(database: Database) -> None:
    (owner,) = await _users(database, "o")
    notes = NoteRepository(database)
    note = await notes.create(owner, title="Big")
    words = " ".join(f"word{i}" for i in range(60_000))  # ~530k characters
    assert await notes.set_content_text(note.id, words + " needle") is True
    stored = await notes.get(note.id)
    assert stored is not None and len(stored.content_text) == MAX_CONTENT_TEXT
    assert (await notes.search(owner, "word5"))[1] == 1


@pytest.mark.parametrize("path", ["fast", "engine"])
async def test_content_text_on_the_fast_path_and_the_engine_path(
    database: Database, path: str
) -> None:
    """`set_content_text` runs on SQLite's fast path when there is one; both paths must store
    the same values (text, a fresh aware `updated_at`), keep deleted notes out, and reach the
    full-text index."""
    (owner,) = await _users(database, "o")
    db = database if path == "fast" else Database(database.engine)
    notes = NoteRepository(db)
    note = await notes.create(owner, title="Indexed")
    gone = await notes.create(owner, title="Gone")
    assert await notes.delete(gone.id)
    before = (await notes.get(note.id)).updated_at  # type: ignore[union-attr]
    assert await notes.set_content_text(note.id, "kumquat café 👩‍💻") is True
    assert await notes.set_content_text(gone.id, "never") is False
    stored = await NoteRepository(database).get(note.id)
    assert stored is not None and stored.content_text == "kumquat café 👩‍💻"
    assert stored.updated_at.tzinfo is not None and stored.updated_at >= before
    hits, total = await NoteRepository(database).search(owner, "kumqu")
    assert total == 1 and hits[0].note.id == note.id
    deleted = await NoteRepository(database).get(gone.id, include_deleted=True)
    assert deleted is not None and deleted.content_text == ""


async def test_a_question_finds_notes_ranked_by_words_matched(database: Database) -> None:
    (owner,) = await _users(database, "o")
    notes = NoteRepository(database)
    listing = await notes.create(owner, title="Reading list", content_text="notes on books")
    export = await notes.create(
        owner, title="Sharing work", content_text="Export the document, then open the PDF file."
    )
    await notes.create(owner, title="Garden", content_text="tomatoes and basil")
    hits, total = await notes.search(owner, "how do I export my notes to pdf")
    assert total == 2
    assert [h.note.id for h in hits] == [export.id, listing.id]
    snippet = hits[0].snippet
    assert snippet is not None and "<mark>" in snippet
    # Every word still narrows nothing away: the note matching all of them comes first.
    both = await notes.create(owner, title="Export notes as PDF", content_text="export")
    hits, _ = await notes.search(owner, "how do I export my notes to pdf")
    assert hits[0].note.id == both.id


def test_question_words_drop_function_words_but_keep_the_last() -> None:
    from storage.search import fts5_any, pg_tsquery_any, question_words

    words = question_words("How do I export my notes to PDF")
    assert words == ["export", "notes", "pdf"]
    assert question_words("the") == ["the"]
    assert question_words("export to") == ["export", "to"]
    assert fts5_any(words, prefix_last=True) == '"export" OR "notes" OR "pdf"*'
    assert pg_tsquery_any(words, prefix_last=True) == "'export' | 'notes' | 'pdf':*"

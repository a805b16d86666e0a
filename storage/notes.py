"""Notes metadata, shares, access decisions and ranked search with highlighted snippets.

A note's live content is a Yjs document (``notes/<id>``); ``content_text`` is its extracted
plain text, refreshed by :meth:`NoteRepository.set_content_text` for search. Deleting a note is
a soft delete (``deleted_at``) that also drops its shares, so a later connection can be told
"deleted" rather than "unknown"; :meth:`NoteRepository.purge` removes the row.

Search takes any word of the query (stop words left out, the last word as a prefix for
search-as-you-type) and ranks by how many of the words a note matches, then by text rank, so a
question in plain words finds its notes. Tag filters require every given tag. ``is_private``
is metadata only: visibility is ownership or a share, nothing else.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from storage import note_access
from storage.db import Database
from storage.errors import UnknownReference as UnknownReference  # re-exported
from storage.models import Note, NoteShare, Permission
from storage.note_access import Access as Access  # re-exported
from storage.search import (
    MARK_END,
    MARK_START,
    fts5_any,
    highlight,
    pg_tsquery_any,
    question_words,
    words_matched,
)
from storage.sql import Statement
from storage.types import utcnow

_NOTES: sa.Table = Note.__table__  # type: ignore[attr-defined]
_SHARES: sa.Table = NoteShare.__table__  # type: ignore[attr-defined]
_FTS = sa.table("notes_fts", sa.column("rowid"))
_SET_CONTENT_TEXT = Statement(  # every unload of an edited note, on ``Database.sql``
    sa.update(_NOTES)
    .where(_NOTES.c.id == sa.bindparam("note_id"), _NOTES.c.deleted_at.is_(None))
    .values(content_text=sa.bindparam("text"), updated_at=sa.bindparam("now"))
)
_BM25_WEIGHTS = (10.0, 4.0, 8.0)  # title, content_text, tags
_UPDATABLE = frozenset({"title", "tags", "is_private", "module_id", "folder"})
# Only this much extracted text is indexed: a PostgreSQL tsvector is limited to 1 MB.
MAX_CONTENT_TEXT = 100_000
_HEADLINE = (
    f"StartSel={MARK_START}, StopSel={MARK_END}, MaxWords=20, MinWords=8, MaxFragments=2, "
    'FragmentDelimiter=" … "'
)


class VersionConflict(Exception):
    """The note changed since the version the caller read."""

    def __init__(self, current: int) -> None:
        super().__init__(f"note is at version {current}")
        self.current = current


@dataclass(frozen=True, slots=True)
class NoteHit:
    note: Note
    access: Access
    snippet: str | None = None  # HTML-escaped text with <mark> around matches
    rank: float | None = None


class NoteRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def create(
        self,
        owner_id: uuid.UUID,
        *,
        title: str,
        tags: Sequence[str] = (),
        is_private: bool = True,
        module_id: uuid.UUID | None = None,
        folder: str | None = None,
        content_text: str = "",
        note_id: uuid.UUID | None = None,
        session_id: uuid.UUID | None = None,
    ) -> Note:
        note = Note(
            id=note_id or uuid.uuid4(),
            owner_id=owner_id,
            title=title,
            tags=list(tags),
            is_private=is_private,
            module_id=module_id,
            folder=folder,
            session_id=session_id,
            content_text=content_text[:MAX_CONTENT_TEXT],
        )
        try:
            async with self._db.write() as session:
                session.add(note)
        except IntegrityError as exc:
            raise UnknownReference("owner, module or session does not exist") from exc
        return note

    async def get(self, note_id: uuid.UUID, *, include_deleted: bool = False) -> Note | None:
        async with self._db.read() as session:
            note = await session.get(Note, note_id)
        if note is None or (note.deleted_at is not None and not include_deleted):
            return None
        return note

    async def update(
        self,
        note_id: uuid.UUID,
        changes: Mapping[str, object],
        *,
        expected_version: int | None = None,
    ) -> Note | None:
        """Apply metadata ``changes`` and bump ``version``; ``None`` if missing or deleted."""
        unknown = set(changes) - _UPDATABLE
        if unknown:
            raise ValueError(f"not updatable: {', '.join(sorted(unknown))}")
        try:
            async with self._db.write() as session:
                note = await session.get(Note, note_id)
                if note is None or note.deleted_at is not None:
                    return None
                if expected_version is not None and note.version != expected_version:
                    raise VersionConflict(note.version)
                for field, value in changes.items():
                    setattr(note, field, list(value) if field == "tags" else value)  # type: ignore[call-overload]
                note.version += 1
                note.updated_at = utcnow()
        except IntegrityError as exc:
            raise UnknownReference("module does not exist") from exc
        return note

    async def set_content_text(self, note_id: uuid.UUID, text: str) -> bool:
        """Store the extracted text (search input, first :data:`MAX_CONTENT_TEXT` characters).

        ``False`` if the note is missing or deleted. Every document unload of an edited note
        calls this.
        """
        values = {"note_id": note_id, "text": text[:MAX_CONTENT_TEXT], "now": utcnow()}
        return bool(await self._db.sql.execute(_SET_CONTENT_TEXT, values))

    async def delete(self, note_id: uuid.UUID) -> bool:
        """Soft-delete the note and drop its shares; ``False`` if missing or already deleted."""
        async with self._db.write() as session:
            result = await session.execute(
                sa.update(_NOTES)
                .where(_NOTES.c.id == note_id, _NOTES.c.deleted_at.is_(None))
                .values(deleted_at=utcnow())
            )
            if not getattr(result, "rowcount", 0):
                return False
            await session.execute(sa.delete(_SHARES).where(_SHARES.c.note_id == note_id))
        return True

    async def purge(self, note_id: uuid.UUID) -> bool:
        """Remove the row for good (shares cascade)."""
        async with self._db.write() as session:
            result = await session.execute(sa.delete(_NOTES).where(_NOTES.c.id == note_id))
        return bool(getattr(result, "rowcount", 0))

    async def share(
        self, note_id: uuid.UUID, user_id: uuid.UUID, permission: Permission
    ) -> NoteShare | None:
        """Add or change a share; ``None`` if the note is missing or deleted."""
        try:
            async with self._db.write() as session:
                note = await session.get(Note, note_id)
                if note is None or note.deleted_at is not None:
                    return None
                share = (
                    await session.scalars(
                        select(NoteShare).where(
                            col(NoteShare.note_id) == note_id, col(NoteShare.user_id) == user_id
                        )
                    )
                ).first()
                if share is None:
                    share = NoteShare(note_id=note_id, user_id=user_id, permission=permission)
                    session.add(share)
                else:
                    share.permission = permission
        except IntegrityError as exc:
            raise UnknownReference("user does not exist (or was shared concurrently)") from exc
        return share

    async def unshare(self, note_id: uuid.UUID, user_id: uuid.UUID) -> bool:
        async with self._db.write() as session:
            result = await session.execute(
                sa.delete(_SHARES).where(_SHARES.c.note_id == note_id, _SHARES.c.user_id == user_id)
            )
        return bool(getattr(result, "rowcount", 0))

    async def shares(self, note_id: uuid.UUID) -> list[NoteShare]:
        async with self._db.read() as session:
            result = await session.scalars(
                select(NoteShare)
                .where(col(NoteShare.note_id) == note_id)
                .order_by(col(NoteShare.created_at))
            )
            return list(result)

    async def access(self, note_id: uuid.UUID, user_id: uuid.UUID) -> Access | None:
        """What ``user_id`` may do with a live note: owner, write, read, or nothing."""
        pair = (note_id, user_id)
        return (await note_access.access_many(self._db, [pair]))[pair]

    async def access_many(
        self, pairs: Collection[tuple[uuid.UUID, uuid.UUID]]
    ) -> dict[tuple[uuid.UUID, uuid.UUID], Access | None]:
        """``access`` for many ``(note_id, user_id)`` pairs in one query (a connect storm)."""
        return await note_access.access_many(self._db, pairs)

    async def folders(self, owner_id: uuid.UUID) -> list[str]:
        async with self._db.read() as session:
            result = await session.execute(
                sa.select(_NOTES.c.folder)
                .where(
                    _NOTES.c.owner_id == owner_id,
                    _NOTES.c.deleted_at.is_(None),
                    _NOTES.c.folder.is_not(None),
                )
                .distinct()
                .order_by(_NOTES.c.folder)
            )
            return [str(row.folder) for row in result]

    async def search(
        self,
        user_id: uuid.UUID,
        query: str | None = None,
        tags: Sequence[str] = (),
        folder: str | None = None,
        limit: int = 20,
        offset: int = 0,
        session_id: uuid.UUID | None = None,
    ) -> tuple[list[NoteHit], int]:
        """Notes ``user_id`` owns or was shared, best match first (or most recent first).

        Returns the page and the total number of matches.
        """
        words = question_words(query)
        filters: list[Any] = [
            _NOTES.c.deleted_at.is_(None),
            sa.or_(_NOTES.c.owner_id == user_id, _SHARES.c.id.is_not(None)),
            *self._tag_filters(tags),
        ]
        if folder is not None:
            filters.append(_NOTES.c.folder == folder)
        if session_id is not None:
            filters.append(_NOTES.c.session_id == session_id)
        rank: Any = sa.null()
        base = _NOTES.outerjoin(_SHARES, _share_of(user_id))
        if words and self._db.dialect == "postgresql":
            tsquery = _pg_query(words)
            vector: sa.ColumnElement[Any] = sa.literal_column("notes.search_vector")
            filters.append(vector.op("@@")(tsquery))
            rank = sa.func.ts_rank(vector, tsquery)
            order = [words_matched(words, "notes", postgres=True).desc(), rank.desc()]
        elif words:
            base = base.join(_FTS, _FTS.c.rowid == sa.literal_column("notes.rowid"))
            filters.append(sa.literal_column("notes_fts").op("MATCH")(_fts_query(words)))
            rank = sa.func.bm25(sa.literal_column("notes_fts"), *_BM25_WEIGHTS)
            order = [words_matched(words, "notes", postgres=False).desc(), rank.asc()]
        else:
            order = []
        order += [_NOTES.c.updated_at.desc(), _NOTES.c.id]
        async with self._db.read() as session:
            total = int(
                await session.scalar(sa.select(sa.func.count()).select_from(base).where(*filters))
                or 0
            )
            rows = (
                await session.execute(
                    sa.select(Note, _SHARES.c.permission, rank.label("rank"))
                    .select_from(base)
                    .where(*filters)
                    .order_by(*order)
                    .limit(limit)
                    .offset(offset)
                )
            ).all()
            snippets = await self._snippets(session, words, [row[0].id for row in rows])
        hits = [
            NoteHit(
                note=note,
                access=Access.OWNER if note.owner_id == user_id else Access(str(permission)),
                snippet=snippets.get(note.id),
                rank=None if score is None else float(score),
            )
            for note, permission, score in rows
        ]
        return hits, total

    def _tag_filters(self, tags: Sequence[str]) -> list[Any]:
        if not tags:
            return []
        if self._db.dialect == "postgresql":
            wanted = sa.bindparam("wanted_tags", list(tags), type_=postgresql.JSONB)
            return [sa.literal_column("notes.tags").op("@>")(wanted)]
        filters = []
        for tag in tags:
            each = sa.func.json_each(sa.literal_column("notes.tags")).table_valued("value")
            filters.append(sa.exists(sa.select(1).select_from(each).where(each.c.value == tag)))
        return filters

    async def _snippets(
        self, session: Any, words: list[str], note_ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, str | None]:
        # Computed for the page only: highlighting every match before LIMIT is expensive.
        if not words or not note_ids:
            return {}
        if self._db.dialect == "postgresql":
            raw = sa.func.ts_headline(
                sa.literal_column("'english'::regconfig"),
                _NOTES.c.content_text,
                _pg_query(words),
                _HEADLINE,
            )
            stmt = sa.select(_NOTES.c.id, raw).where(_NOTES.c.id.in_(note_ids))
        else:
            raw = sa.func.snippet(sa.literal_column("notes_fts"), 1, MARK_START, MARK_END, "…", 16)
            stmt = (
                sa.select(_NOTES.c.id, raw)
                .select_from(_NOTES.join(_FTS, _FTS.c.rowid == sa.literal_column("notes.rowid")))
                .where(
                    _NOTES.c.id.in_(note_ids),
                    sa.literal_column("notes_fts").op("MATCH")(_fts_query(words)),
                )
            )
        result = await session.execute(stmt)
        return {row[0]: highlight(row[1]) for row in result}


def _share_of(user_id: uuid.UUID) -> sa.ColumnElement[bool]:
    return sa.and_(_SHARES.c.note_id == _NOTES.c.id, _SHARES.c.user_id == user_id)


def _pg_query(words: list[str]) -> Any:
    """Any of ``words``, the last as a prefix."""
    return sa.func.to_tsquery(
        sa.literal_column("'english'::regconfig"), pg_tsquery_any(words, prefix_last=True)
    )


def _fts_query(words: list[str]) -> str:
    """Any of ``words``, the last as a prefix."""
    return fts5_any(words, prefix_last=True)



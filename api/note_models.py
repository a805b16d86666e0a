"""The request and response bodies of `/api/workbook/notes` (`api.notes`): their validation,
the messages a page shows for it, and their OpenAPI components (named after the classes)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field
from pydantic_core import PydanticCustomError

from api.schema import WHITESPACE, CamelModel, NotNullSchema, Omittable
from api.transcripts import TranscriptHit
from storage.models import Note
from storage.notes import Access

__all__ = [
    "RECORDING_HITS",
    "AccessName",
    "NoteCreate",
    "NoteEnvelope",
    "NoteList",
    "NoteOut",
    "NoteQuery",
    "NoteUpdate",
    "Tag",
    "Title",
]

Tag = Annotated[str, Field(min_length=1, max_length=50)]
AccessName = Literal["owner", "write", "read"]
RECORDING_HITS = 5  # transcript moments beside a notes search (the audio search pages the rest)


class NoteQuery(CamelModel):
    search: str | None = Field(None, max_length=200)
    tags: list[Tag] = Field(default_factory=list, max_length=10)
    folder: str | None = Field(None, max_length=255)
    session_id: uuid.UUID | None = Field(None, description="only notes linked to this session")
    limit: int = Field(20, ge=1, le=100)
    offset: int = Field(0, ge=0, le=100_000)


def _title_not_blank(value: object) -> object:
    if isinstance(value, str) and not value.strip():
        raise PydanticCustomError("blank_title", "cannot be empty: a note needs a title")
    return value


def _title_not_null(value: str | None) -> str | None:
    if value is None:
        raise PydanticCustomError("blank_title", "cannot be empty: a note needs a title")
    return value


# Not blank (a message the page can show as is); the pattern tells API clients the same.
Title = Annotated[
    str,
    Field(min_length=1, max_length=255, pattern=f"[^{WHITESPACE}]"),
    BeforeValidator(_title_not_blank),
]


class NoteCreate(CamelModel):
    id: uuid.UUID | None = Field(
        None,
        description="the note's id, made by the client (a note created offline): a retry of a "
        "create you made answers 200 with the note; an id taken by anything else is a 409",
    )
    title: Title
    content: str = Field(
        "", max_length=10_000, description="initial content (Markdown or plain text)"
    )
    tags: list[Tag] = Field(default_factory=list, max_length=10)
    is_private: bool = True
    module_id: uuid.UUID | None = None
    folder: str | None = Field(None, max_length=255)
    session_id: uuid.UUID | None = Field(
        None, description="a live session the caller joined: the note is theirs for it"
    )


class NoteUpdate(CamelModel):
    title: Annotated[Title | None, AfterValidator(_title_not_null), NotNullSchema] = None
    tags: Omittable[list[Tag]] = Field(None, max_length=10)
    is_private: Omittable[bool] = None
    module_id: uuid.UUID | None = None
    folder: str | None = Field(None, max_length=255)
    version: int | None = Field(
        None, ge=1, le=2**31 - 1, description="expected version (409 when stale)"
    )


class NoteOut(CamelModel):
    id: str
    owner_id: str
    title: str
    tags: list[str]
    is_private: bool
    module_id: str | None
    folder: str | None
    session_id: str | None = None
    version: int
    access: AccessName
    document: str
    snippet: str | None = None
    content: str | None = Field(None, description="current plain text (single-note reads)")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, note: Note, access: Access, snippet: str | None = None) -> NoteOut:
        return cls(
            id=str(note.id),
            owner_id=str(note.owner_id),
            title=note.title,
            tags=list(note.tags),
            is_private=note.is_private,
            module_id=str(note.module_id) if note.module_id else None,
            folder=note.folder,
            session_id=str(note.session_id) if note.session_id else None,
            version=note.version,
            access=access.value,
            document=f"notes/{note.id}",
            snippet=snippet,
            created_at=note.created_at,
            updated_at=note.updated_at,
        )


class NoteEnvelope(CamelModel):
    success: bool = True
    note: NoteOut


class NoteList(CamelModel):
    notes: list[NoteOut]
    total: int
    has_more: bool
    recordings: list[TranscriptHit] = Field(
        default_factory=list,
        description="with `search` (first page, no tag, folder or session filter): the best "
        f"matching moments of my recordings' transcripts, at most {RECORDING_HITS}; each "
        "carries its time, so opening it plays the recording from there",
    )
    recordings_total: int = Field(0, description="how many transcript segments match")

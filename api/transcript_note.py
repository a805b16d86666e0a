"""`POST /api/workbook/audio/{id}/transcript/note`: copy a finished transcript into a note.

The text is built here from the segments as they read now (corrections included), one line a
segment with its time in the recording (``[1:05] what was said``), and written as plain text
paragraphs (no Markdown parsing: a corrected line may contain any characters and is never
read as markup). Without ``noteId`` a new private note is created (titled after the recording
unless a ``title`` is given), exactly as ``POST /api/workbook/notes`` would with that content;
with ``noteId`` the lines are appended to a note the caller may write. Either way the note goes
through the collab front door, so open editors see it at once. It counts against the notes
write budget.
"""

from __future__ import annotations

import uuid

from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response

from api.audio import own_recording
from api.errors import conflict, forbidden
from api.note_models import NoteEnvelope, NoteOut, Title
from api.notes import (
    announce,
    fill_new_note,
    live_server,
    notes_guard,
    visible_note,
)
from api.openapi import Operation
from api.schema import CamelModel, parse_body, path_uuid, respond
from notes.content import seed_note_content
from storage.documents import DocumentLog
from storage.models import TranscriptionStatus, TranscriptSegment
from storage.notes import Access, NoteRepository
from storage.transcripts import TranscriptRepository


class TranscriptToNote(CamelModel):
    note_id: uuid.UUID | None = Field(
        None, description="append to this note (write access needed); omitted: a new note"
    )
    title: Title | None = Field(
        None, description="the new note's title (default: `Transcript: <recording title>`)"
    )


def stamp(seconds: float) -> str:
    """`m:ss`, or `h:mm:ss` from an hour on (the player's clock)."""
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def transcript_lines(segments: list[TranscriptSegment]) -> str:
    """One line per non-empty segment, `[m:ss] text`, in the order they were said."""
    return "\n".join(f"[{stamp(s.start_seconds)}] {' '.join(s.text.split())}"
                     for s in segments if s.text.strip())


async def copy_to_note(request: Request) -> Response:
    svc, principal = await notes_guard(request, "workbook.write")
    recording = await own_recording(svc, principal, path_uuid(request, "id"))
    body = await parse_body(request, TranscriptToNote)
    repo = TranscriptRepository(svc.db)
    transcription = await repo.for_recording(recording.id)
    if transcription is None or transcription.status is not TranscriptionStatus.DONE:
        raise conflict("the recording has no finished transcript to copy")
    text = transcript_lines(await repo.segments(transcription.id))
    notes = NoteRepository(svc.db)
    if body.note_id is not None:
        note, access = await visible_note(svc, principal, body.note_id)
        if access is Access.READ:
            raise forbidden("you have read-only access to this note")
        await seed_note_content(live_server(svc), DocumentLog(svc.db), note.id, text,
                                fmt="text")
        await announce(svc, note.id, "updated")
        return respond(NoteEnvelope(note=NoteOut.of(note, access)))
    title = body.title or f"Transcript: {recording.title}"[:255]
    note = await notes.create(principal.user_id, title=title, content_text=text)
    await fill_new_note(svc, note, text, fmt="text")
    await announce(svc, note.id, "created", [principal.user_id])
    return respond(NoteEnvelope(note=NoteOut.of(note, Access.OWNER)), 201)


operations = [
    Operation(
        "POST",
        "/api/workbook/audio/{id}/transcript/note",
        copy_to_note,
        "Copy the transcript, with its times, into a new note (or append it to one of mine)",
        "audio",
        body=TranscriptToNote,
        response=NoteEnvelope,
        status=201,
        responses=((200, NoteEnvelope),),  # appended to an existing note
        permission="workbook.write",
        errors=(403, 404, 409, 429),
    ),
]

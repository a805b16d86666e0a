"""Everything an account owns, as one zip (`GET /api/workbook/me/export`).

Contents (README.txt in the zip says the same):

* ``account.json``: the profile (id, email, name, role, subscription, created).
* ``notes/<slug>-<id>.md`` and ``.json`` for every note the user owns (not deleted), from the
  live document when a node has it loaded, else from its durable log.
* ``recordings/recordings.json`` (metadata and transcripts) and each file as stored.
* ``progress.json``: module, lesson and sub-lesson progress.
* ``sessions.json``: every session the user hosted or joined, with their role, times and
  engagement, and what they contributed to its room: chat messages, questions (anonymous ones
  included: the ledger knows the author) and votes (the poll question and the options chosen).

Small accounts get the zip in the answer; past ``INLINE_MAX_BYTES`` of recordings (or with
``async=true``) the zip is built by ``export_account_job`` into the object store under
``account-exports/<user>/`` and the answer is 202 with a status URL (api/account_routes.py).
"""

from __future__ import annotations

import io
import json
import re
import uuid
import zipfile
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import anyio
import sqlalchemy as sa
from pycrdt import Doc

from collab import CollabServer
from collab.types import YDoc
from notes.content import read_note_tree
from notes.exports import ExportMeta, export_json, export_markdown
from rooms import document as d
from storage.db import Database
from storage.documents import DocumentLog
from storage.models import (
    AudioRecording,
    LessonProgress,
    LiveSession,
    ModuleProgress,
    Note,
    SessionParticipant,
    SubLessonProgress,
    Transcription,
    User,
)
from storage.objects import ObjectNotFound, ObjectStore

__all__ = ["INLINE_MAX_BYTES", "AccountExporter", "export_prefix"]

INLINE_MAX_BYTES = 25 * 2**20  # recordings in a zip built while the request waits

README = """Your Workbook data, exported {when}.

account.json            your profile
notes/                  every note you own, as Markdown and as JSON (the rich-text tree)
recordings/             your audio files as uploaded, and recordings.json with transcripts
progress.json           your progress through modules, lessons and sub-lessons
sessions.json           live sessions you hosted or joined: your role, times, engagement,
                        and your chat messages, questions and votes
"""


def export_prefix(user_id: uuid.UUID | str) -> str:
    return f"account-exports/{user_id}/"


def _table(model: type) -> sa.Table:
    table: sa.Table = sa.inspect(model).local_table
    return table


def _json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if hasattr(value, "value"):  # enums
        return value.value
    return value


def _rows(rows: Any) -> list[dict[str, Any]]:
    return [{key: _json(value) for key, value in row.items()} for row in rows]


def _slug(title: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", title).strip("-").lower()[:40] or "note"


@dataclass(frozen=True, slots=True)
class AccountExporter:
    """Builds the zip of one account."""

    db: Database
    objects: ObjectStore
    server: CollabServer | None

    async def recordings_size(self, user_id: uuid.UUID) -> int:
        table = _table(AudioRecording)
        async with self.db.read() as session:
            total = await session.scalar(
                sa.select(sa.func.coalesce(sa.func.sum(table.c.file_size), 0)).where(
                    table.c.user_id == user_id
                )
            )
        return int(total or 0)

    async def build(self, user_id: uuid.UUID) -> bytes:
        """The zip's bytes (LookupError: no such user)."""
        files: dict[str, bytes] = {}
        async with self.db.read() as session:
            user = await session.get(User, user_id)
            if user is None:
                raise LookupError("no such user")
            files["account.json"] = _dump({
                "id": str(user.id), "email": user.email, "name": user.name,
                "role": user.role.value, "subscriptionTier": user.subscription_tier.value,
                "createdAt": user.created_at.isoformat(),
            })
            notes = (await session.execute(sa.select(_table(Note)).where(
                _table(Note).c.owner_id == user_id, _table(Note).c.deleted_at.is_(None)
            ))).mappings().all()
            progress = {
                name: _rows((await session.execute(
                    sa.select(_table(model)).where(_table(model).c.user_id == user_id)
                )).mappings())
                for name, model in (("modules", ModuleProgress), ("lessons", LessonProgress),
                                    ("subLessons", SubLessonProgress))
            }
            recordings = _rows((await session.execute(sa.select(_table(AudioRecording)).where(
                _table(AudioRecording).c.user_id == user_id
            ))).mappings())
            transcripts = _rows((await session.execute(
                sa.select(_table(Transcription)).where(_table(Transcription).c.audio_recording_id.in_(
                    [uuid.UUID(r["id"]) for r in recordings]
                ))
            )).mappings()) if recordings else []
            members = _table(SessionParticipant)
            lives = _table(LiveSession)
            sessions = (await session.execute(
                sa.select(lives.c.title, lives.c.host_id, lives.c.status, members.c.session_id,
                          members.c.role, members.c.joined_at, members.c.left_at,
                          members.c.engagement_data)
                .join(members, members.c.session_id == lives.c.id)
                .where(members.c.user_id == user_id)
            )).mappings().all()
        files["progress.json"] = _dump(progress)
        await self._notes(files, notes, user.name)
        await self._recordings(files, recordings, transcripts)
        files["sessions.json"] = _dump(
            [await self._session(dict(row), str(user_id)) for row in sessions]
        )
        files["README.txt"] = README.format(when=datetime.now().astimezone().isoformat()).encode()
        return await anyio.to_thread.run_sync(_zip, files)

    async def _notes(self, files: dict[str, bytes], notes: Any, author: str) -> None:
        log = DocumentLog(self.db)
        for note in notes:
            meta = ExportMeta(
                note_id=str(note["id"]), title=note["title"], tags=tuple(note["tags"] or ()),
                created_at=note["created_at"], updated_at=note["updated_at"], author=author,
            )
            tree = await read_note_tree(self.server, log, note["id"])
            stem = f"notes/{_slug(note['title'])}-{note['id']}"
            files[f"{stem}.md"] = export_markdown(tree, meta)
            files[f"{stem}.json"] = export_json(tree, meta)

    async def _recordings(
        self, files: dict[str, bytes], recordings: list[dict[str, Any]],
        transcripts: list[dict[str, Any]],
    ) -> None:
        by_recording: dict[str, list[dict[str, Any]]] = {}
        for transcript in transcripts:
            by_recording.setdefault(str(transcript["audio_recording_id"]), []).append(transcript)
        for recording in recordings:
            recording["transcriptions"] = by_recording.get(recording["id"], [])
            extension = str(recording["object_key"]).rsplit(".", 1)[-1]
            try:
                data = await self.objects.get(recording["object_key"])
            except ObjectNotFound:
                recording["file"] = None
                continue
            recording["file"] = f"recordings/{recording['id']}.{extension}"
            files[recording["file"]] = data
        files["recordings/recordings.json"] = _dump(recordings)

    async def _session(self, row: dict[str, Any], user_id: str) -> dict[str, Any]:
        session_id = row["session_id"]
        room, ledger = await self._doc(d.room_name(session_id)), await self._doc(
            d.ledger_name(session_id)
        )
        polls = d.ymap(room, d.POLLS).to_py() or {}
        votes = []
        for poll_id, poll in polls.items():
            chosen = d.votes_map(ledger, poll_id).get(user_id)
            if chosen is not None:
                options = list(poll.get("options") or ())
                votes.append({"poll": poll.get("question"), "chose": [
                    options[int(i)] if 0 <= int(i) < len(options) else int(i) for i in chosen
                ]})
        authors = d.ymap(ledger, d.AUTHORS).to_py() or {}
        mine = {qid for qid, who in authors.items() if (who or {}).get("userId") == user_id}
        questions = d.ymap(room, d.QUESTIONS).to_py() or {}
        return {
            "sessionId": str(session_id), "title": row["title"], "status": _json(row["status"]),
            "hosted": str(row["host_id"]) == user_id, "role": _json(row["role"]),
            "joinedAt": _json(row["joined_at"]), "leftAt": _json(row["left_at"]),
            "engagement": row.get("engagement_data"),
            "chat": [
                {"text": m.get("text"), "at": m.get("at")}
                for m in d.yarray(room, d.CHAT).to_py() or []
                if m.get("userId") == user_id
            ],
            "questions": [
                {"text": q.get("text"), "anonymous": bool(q.get("anonymous")),
                 "status": q.get("status")}
                for qid, q in questions.items()
                if qid in mine or q.get("userId") == user_id
            ],
            "votes": votes,
        }

    async def _doc(self, name: str) -> YDoc:
        doc: YDoc = Doc()
        if self.server is not None and self.server.registry.is_live(name):
            async with self.server.open_direct(name, actor="export") as live:
                doc.apply_update(live.doc.get_update())
            return doc
        for update in await DocumentLog(self.db).load(name):
            doc.apply_update(update)
        return doc


def _dump(value: Any) -> bytes:
    return json.dumps(value, indent=2, ensure_ascii=False, default=_json).encode()


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            archive.writestr(name, files[name])
    return buffer.getvalue()


@dataclass(frozen=True, slots=True)
class AccountExportJobs:
    """The job side (``jobs.context.AccountOperations``): builds a pending export's zip."""

    exporter: AccountExporter

    async def run_account_export(self, user_id: str, export_id: str) -> str:
        objects, prefix = self.exporter.objects, export_prefix(user_id)
        try:
            manifest = json.loads(await objects.get(f"{prefix}{export_id}.json"))
        except ObjectNotFound:
            return "missing"
        if manifest.get("status") != "pending":
            return str(manifest.get("status"))
        try:
            data = await self.exporter.build(uuid.UUID(user_id))
            await objects.put(f"{prefix}{export_id}.zip", data, "application/zip")
        except LookupError:
            manifest["status"] = "failed"  # the account was deleted meanwhile
        else:
            manifest.update(status="done", size=len(data))
        manifest["finishedAt"] = datetime.now().astimezone().isoformat()
        await objects.put(f"{prefix}{export_id}.json", _dump(manifest), "application/json")
        return str(manifest["status"])

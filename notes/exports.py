"""Note exports: Markdown that keeps the structure, JSON with metadata and content, a real PDF.

The renderers are pure functions of a document (or its rich-text tree) and the note's metadata.
Small notes are exported inline by the REST handler; large ones are recorded (`start_export`)
and rendered by `run_export` in the job queue's `export_note_job` (through `NoteService`), which
writes the file and a small status manifest to the object store, which the client polls.

The PDF embeds DejaVu (Debian `fonts-dejavu-core`) so accents and most scripts render;
characters the font has no glyph for (emoji, CJK with DejaVu) are replaced by U+FFFD rather
than crashing or silently vanishing. Without any TrueType font it falls back to the PDF core
fonts (Latin-1). `notes.pdf` (fpdf2, fontTools, Pillow: ~20 MiB) is imported on the first PDF
export, not with this module: most processes never render one.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

import anyio
from pycrdt import Doc

from collab.server import CollabServer
from notes.content import UpdateLog, read_note_tree
from notes.markdown import to_markdown
from notes.richtext import Node, read_tree, to_json, to_plain_text
from storage.objects import ObjectNotFound

if TYPE_CHECKING:  # imported by `export_pdf` at run time (see the module docstring)
    from notes.pdf import PdfFonts

__all__ = [
    "EXPORT_FORMATS",
    "ExportFile",
    "ExportFormat",
    "ExportMeta",
    "ExportObjects",
    "export_json",
    "export_markdown",
    "export_note",
    "export_pdf",
    "read_export",
    "run_export",
    "start_export",
]

log = logging.getLogger(__name__)

ExportFormat = Literal["md", "json", "pdf"]
EXPORT_FORMATS: tuple[ExportFormat, ...] = ("md", "json", "pdf")
_MEDIA_TYPES = {
    "md": "text/markdown; charset=utf-8",
    "json": "application/json",
    "pdf": "application/pdf",
}


@dataclass(frozen=True, slots=True)
class ExportMeta:
    """The note metadata an export carries."""

    note_id: str
    title: str
    tags: tuple[str, ...] = ()
    created_at: datetime | None = None
    updated_at: datetime | None = None
    author: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ExportMeta:
        def when(value: Any) -> datetime | None:
            return datetime.fromisoformat(value) if isinstance(value, str) else None

        return cls(
            note_id=str(data["id"]),
            title=str(data["title"]),
            tags=tuple(str(tag) for tag in data.get("tags") or ()),
            created_at=when(data.get("createdAt")),
            updated_at=when(data.get("updatedAt")),
            author=data.get("author"),
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.note_id,
            "title": self.title,
            "tags": list(self.tags),
            "createdAt": self.created_at.isoformat() if self.created_at else None,
            "updatedAt": self.updated_at.isoformat() if self.updated_at else None,
            "author": self.author,
        }


@dataclass(frozen=True, slots=True)
class ExportFile:
    """A rendered export, ready to send or store."""

    data: bytes
    media_type: str
    filename: str


def _tree(source: Doc[Any] | Node) -> Node:
    return read_tree(source) if isinstance(source, Doc) else source


def export_markdown(source: Doc[Any] | Node, meta: ExportMeta) -> bytes:
    """Markdown with a front-matter block (title, tags, dates) followed by the note body."""
    header = ["---", f"title: {json.dumps(meta.title, ensure_ascii=False)}"]
    if meta.tags:
        header.append(f"tags: {json.dumps(list(meta.tags), ensure_ascii=False)}")
    if meta.author:
        header.append(f"author: {json.dumps(meta.author, ensure_ascii=False)}")
    for key, value in (("created", meta.created_at), ("updated", meta.updated_at)):
        if value is not None:
            header.append(f"{key}: {value.isoformat()}")
    header.append("---")
    body = to_markdown(_tree(source))
    return ("\n".join(header) + "\n\n" + body).encode("utf-8")


def export_json(source: Doc[Any] | Node, meta: ExportMeta) -> bytes:
    """`{"note": metadata, "content": ProseMirror JSON, "text": plain text, "markdown": ...}`."""
    tree = _tree(source)
    payload = {
        "format": "workbook-note",
        "version": 1,
        "note": meta.as_json(),
        "content": to_json(tree),
        "text": to_plain_text(tree),
        "markdown": to_markdown(tree),
    }
    return json.dumps(payload, ensure_ascii=False, indent=2).encode("utf-8")


def export_pdf(
    source: Doc[Any] | Node,
    meta: ExportMeta,
    *,
    fonts: PdfFonts | Literal["default"] | None = "default",
) -> bytes:
    """A PDF of the note: title, tags, then headings, lists, quotes, code and marked text.

    Args:
        fonts: TrueType faces to embed; "default" looks for DejaVu (`find_pdf_fonts`), None
            uses the PDF core fonts (Latin-1 only).
    """
    from notes.pdf import find_pdf_fonts, render_pdf  # fpdf2 is heavy: only when rendering

    chosen = find_pdf_fonts() if fonts == "default" else fonts
    return render_pdf(_tree(source), meta.title, meta.tags, fonts=chosen)


def export_note(source: Doc[Any] | Node, meta: ExportMeta, fmt: ExportFormat) -> ExportFile:
    """Render one export format, with its media type and a download file name."""
    tree = _tree(source)
    if fmt == "md":
        data = export_markdown(tree, meta)
    elif fmt == "json":
        data = export_json(tree, meta)
    else:
        data = export_pdf(tree, meta)
    return ExportFile(data, _MEDIA_TYPES[fmt], f"{_slug(meta.title)}.{fmt}")


def _slug(title: str) -> str:
    slug = re.sub(r"[^\w\-]+", "-", title, flags=re.UNICODE).strip("-_").lower()
    return slug[:80] or "note"


# -- large exports as jobs ------------------------------------------------------------------


class ExportObjects(Protocol):
    """Where export files and their manifests are kept (`storage.ObjectStore`)."""

    async def put(
        self, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> None: ...
    async def get(self, key: str) -> bytes: ...


def export_key(note_id: str, export_id: str, suffix: str) -> str:
    """The object key of an export's manifest (`.json`) or file (`.md`, `.pdf`, ...)."""
    return f"exports/{note_id}/{export_id}{suffix}"


async def start_export(objects: ExportObjects, meta: ExportMeta, fmt: ExportFormat) -> str:
    """Record a pending export (its manifest); return its id, for `run_export` and polling."""
    export_id = uuid.uuid4().hex
    manifest = {
        "exportId": export_id,
        "noteId": meta.note_id,
        "format": fmt,
        "status": "pending",
        "createdAt": datetime.now(UTC).isoformat(),
        "meta": meta.as_json(),
    }
    await _save(objects, manifest)
    return export_id


async def read_export(
    objects: ExportObjects, note_id: str, export_id: str
) -> dict[str, Any] | None:
    """The manifest of an export (`status`: pending, done or failed), None if unknown."""
    try:
        data = await objects.get(export_key(note_id, export_id, ".json"))
    except ObjectNotFound:
        return None
    manifest = json.loads(data)
    return manifest if isinstance(manifest, dict) else None


async def run_export(
    documents: UpdateLog,
    objects: ExportObjects,
    note_id: str,
    export_id: str,
    *,
    server: CollabServer | None = None,
) -> str:
    """Render a pending export, store the file, mark the manifest done (or failed).

    Reads the live document when `server` has it loaded, else the durable log. The rendering
    runs in a worker thread. Returns the final status ("missing" for an unknown export).
    """
    manifest = await read_export(objects, note_id, export_id)
    if manifest is None:
        return "missing"
    if manifest.get("status") != "pending":
        return str(manifest.get("status"))
    fmt: ExportFormat = manifest["format"]
    try:
        meta = ExportMeta.from_json(manifest["meta"])
        tree = await read_note_tree(server, documents, note_id)
        exported = await anyio.to_thread.run_sync(export_note, tree, meta, fmt)
        key = export_key(note_id, export_id, f".{fmt}")
        await objects.put(key, exported.data, exported.media_type)
    except Exception:
        log.exception("export %s of note %s failed", export_id, note_id)
        manifest["status"] = "failed"
    else:
        manifest.update(
            status="done",
            key=key,
            filename=exported.filename,
            mediaType=exported.media_type,
            size=len(exported.data),
        )
    manifest["finishedAt"] = datetime.now(UTC).isoformat()
    await _save(objects, manifest)
    return str(manifest["status"])


async def _save(objects: ExportObjects, manifest: dict[str, Any]) -> None:
    key = export_key(manifest["noteId"], manifest["exportId"], ".json")
    await objects.put(key, json.dumps(manifest).encode(), "application/json")

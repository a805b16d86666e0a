"""Exports: Markdown keeps the structure, JSON carries metadata and content, the PDF parses back."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pycrdt import Doc
from pypdf import PdfReader

from collab.extensions.persistence import MemoryStore
from notes.exports import (
    ExportMeta,
    export_json,
    export_markdown,
    export_note,
    export_pdf,
    read_export,
    run_export,
    start_export,
)
from notes.markdown import parse_markdown, write_markdown
from notes.pdf import find_pdf_fonts
from notes.richtext import to_json
from storage.objects import FileObjectStore

BODY = """# Workshop notes é

Some **bold** and _italic_ text with [a link](https://example.com) and `code`.
Emoji 👩‍💻 and CJK 漢字 and ü.

- first point
  - nested point
- second point

1. step one
2. step two

> a quoted thought

```
print("hi")
```
"""

META = ExportMeta(
    note_id="5b3c0f7e-0000-4000-8000-000000000001",
    title="Résumé: día 1 👩‍💻",
    tags=("workshop", "día"),
    created_at=datetime(2026, 11, 23, 9, 0, tzinfo=UTC),
    updated_at=datetime(2026, 11, 23, 10, 30, tzinfo=UTC),
    author="Ada",
)


@pytest.fixture
def doc() -> Doc[Any]:
    doc: Doc[Any] = Doc()
    write_markdown(doc, BODY)
    return doc


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


def test_markdown_has_front_matter_and_the_structure(doc: Doc[Any]) -> None:
    text = export_markdown(doc, META).decode("utf-8")
    header, body = text.split("\n---\n\n", 1)
    assert header.startswith('---\ntitle: "Résumé: día 1 👩‍💻"\ntags: ["workshop", "día"]')
    assert "created: 2026-11-23T09:00:00+00:00" in header
    assert parse_markdown(body) == parse_markdown(BODY)
    assert "- first point\n  - nested point\n- second point" in body
    assert "1. step one\n2. step two" in body


def test_json_has_metadata_content_and_text(doc: Doc[Any]) -> None:
    data = json.loads(export_json(doc, META))
    assert data["note"] == {
        "id": META.note_id,
        "title": META.title,
        "tags": ["workshop", "día"],
        "createdAt": "2026-11-23T09:00:00+00:00",
        "updatedAt": "2026-11-23T10:30:00+00:00",
        "author": "Ada",
    }
    assert data["content"] == to_json(doc)
    assert "Emoji 👩‍💻 and CJK 漢字 and ü." in data["text"]
    assert data["markdown"].startswith("# Workshop notes é")


def test_pdf_is_real_and_contains_the_text(doc: Doc[Any]) -> None:
    if find_pdf_fonts() is None:
        pytest.fail("DejaVu fonts are missing: install Debian's fonts-dejavu-core")
    data = export_pdf(doc, META)

    assert data.startswith(b"%PDF-")
    text = pdf_text(data)
    for expected in (
        "Workshop notes é",
        "bold",
        "italic",
        "a link",
        "first point",
        "nested point",
        "step two",
        "a quoted thought",
        'print("hi")',
        "and ü",
    ):
        assert expected in text, expected
    # Glyphs the font lacks are replaced, never dropped silently or fatal.
    assert "Emoji \ufffd and CJK \ufffd\ufffd" in text
    assert "Résumé: día 1" in text


def test_pdf_without_truetype_fonts_falls_back_to_core_fonts(doc: Doc[Any], tmp_path: Path) -> None:
    assert find_pdf_fonts([tmp_path]) is None
    text = pdf_text(export_pdf(doc, META, fonts=None))
    assert "Workshop notes é" in text
    assert "step one" in text


def test_long_notes_span_pages() -> None:
    tree = parse_markdown("\n\n".join(f"Paragraph {i} " + "words " * 60 for i in range(60)))
    reader = PdfReader(io.BytesIO(export_pdf(tree, META)))
    assert len(reader.pages) > 3
    assert "Paragraph 59" in reader.pages[-1].extract_text()


@pytest.mark.parametrize(
    ("fmt", "media_type"),
    [
        ("md", "text/markdown; charset=utf-8"),
        ("json", "application/json"),
        ("pdf", "application/pdf"),
    ],
)
def test_export_note_names_the_file(doc: Doc[Any], fmt: Any, media_type: str) -> None:
    exported = export_note(doc, META, fmt)
    assert exported.media_type == media_type
    assert exported.filename == f"résumé-día-1.{fmt}"
    assert exported.data


async def test_export_job_stores_the_file_and_marks_the_manifest(
    doc: Doc[Any], tmp_path: Path
) -> None:
    objects = FileObjectStore(tmp_path / "objects")
    log = MemoryStore()
    await log.append([(f"notes/{META.note_id}", doc.get_update())])

    export_id = await start_export(objects, META, "pdf")
    pending = await read_export(objects, META.note_id, export_id)
    assert pending is not None and pending["status"] == "pending"

    assert await run_export(log, objects, META.note_id, export_id) == "done"
    done = await read_export(objects, META.note_id, export_id)
    assert done is not None
    assert done["status"] == "done" and done["filename"] == "résumé-día-1.pdf"
    assert "step two" in pdf_text(await objects.get(done["key"]))
    # Running it again (a retried job) changes nothing.
    assert await run_export(log, objects, META.note_id, export_id) == "done"


async def test_export_job_failure_and_unknown_ids(tmp_path: Path) -> None:
    objects = FileObjectStore(tmp_path / "objects")
    log = MemoryStore()
    await log.append([(f"notes/{META.note_id}", b"not a yjs update")])

    export_id = await start_export(objects, META, "md")
    assert await run_export(log, objects, META.note_id, export_id) == "failed"
    failed = await read_export(objects, META.note_id, export_id)
    assert failed is not None and failed["status"] == "failed"
    assert await read_export(objects, META.note_id, "0" * 32) is None
    assert await run_export(log, objects, META.note_id, "0" * 32) == "missing"

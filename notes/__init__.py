"""Notes: the rich-text content of `notes/<id>` documents and what is built on it.

The ProseMirror-shaped rich-text tree of a note's Yjs document (``richtext``) with Markdown and
plain text (``markdown``), reading and editing a note's document through the collab front door
(``content``), the note's title, tags and folder in its document (``meta``), the collab
extensions that keep search (``search_index``), the notes row (``meta_mirror``) and automatic
versions (``autoversions``) in step with live edits, the per-user live feed (``feeds``),
exports to Markdown, JSON and PDF (``exports``, ``pdf``), and `NoteService`, the note work a
composition root hands to jobs (``service``). A middle-layer package beside `rooms` and `jobs`:
it uses `collab` and `storage` and imports no sibling; `jobs` declares the `NoteOperations` it
needs and `NoteService` satisfies it.
"""

from notes.autoversions import AutoVersions, VersionSink
from notes.content import (
    ContentFormat,
    NoteLog,
    UpdateLog,
    current_state,
    document_name,
    edit_note,
    note_text,
    read_note_tree,
    restore_state,
    seed_note_content,
)
from notes.exports import (
    EXPORT_FORMATS,
    ExportFile,
    ExportFormat,
    ExportMeta,
    ExportObjects,
    export_note,
    read_export,
    run_export,
    start_export,
)
from notes.feeds import FEED_KIND, FeedAuthorizer, NoteChange, NoteFeed, feed_document
from notes.markdown import parse_markdown, to_markdown, write_markdown
from notes.meta import META, fill_meta, read_meta, row_meta, write_meta
from notes.meta_mirror import MetaMirror
from notes.richtext import Node, read_tree, to_json, to_plain_text, write_plain_text
from notes.search_index import NoteTextSink, SearchIndexer, note_id_of
from notes.service import NoteService

__all__ = [
    "EXPORT_FORMATS",
    "FEED_KIND",
    "META",
    "AutoVersions",
    "ContentFormat",
    "ExportFile",
    "ExportFormat",
    "ExportMeta",
    "ExportObjects",
    "FeedAuthorizer",
    "MetaMirror",
    "Node",
    "NoteChange",
    "NoteFeed",
    "NoteLog",
    "NoteService",
    "NoteTextSink",
    "SearchIndexer",
    "UpdateLog",
    "VersionSink",
    "current_state",
    "document_name",
    "edit_note",
    "export_note",
    "feed_document",
    "fill_meta",
    "note_id_of",
    "note_text",
    "parse_markdown",
    "read_export",
    "read_meta",
    "read_note_tree",
    "read_tree",
    "restore_state",
    "row_meta",
    "run_export",
    "seed_note_content",
    "start_export",
    "to_json",
    "to_markdown",
    "to_plain_text",
    "write_markdown",
    "write_meta",
    "write_plain_text",
]

"""A note's title, tags and folder inside its document: the Y.Map ``meta`` of ``notes/<id>``.

They live with the document so that they work offline like the body: a client renames, tags or
moves a note by setting keys of ``meta`` and the change syncs when the network returns. The
notes row is a mirror for listing and search (`notes.meta_mirror`), and REST updates write
here too (``write_meta``), so both agree and open editors see a REST change live.

Keys and values (what a client writes; the server reads nothing else):

    title   string, not blank, at most 255 characters
    tags    a plain JSON array of strings (``map.set('tags', ['a', 'b'])``, not a Y.Array),
            each 1-50 characters after trimming, at most 10 (duplicates and blanks dropped)
    folder  string of at most 255 characters, or null (no folder; a blank string is null)

A value that breaks these rules is not mirrored: the row keeps its last valid value. No value
may contain NUL (U+0000).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from pycrdt import Doc, Map

__all__ = [
    "MAX_TAG",
    "MAX_TAGS",
    "MAX_TEXT",
    "META",
    "META_KEYS",
    "MetaRow",
    "clean_tags",
    "fill_meta",
    "has_full_meta",
    "read_meta",
    "row_meta",
    "write_meta",
]

META = "meta"
META_KEYS = ("title", "tags", "folder")
MAX_TEXT = 255  # title and folder
MAX_TAG = 50
MAX_TAGS = 10


class MetaRow(Protocol):
    """The mirrored columns of a notes row (`storage.models.Note` has them)."""

    title: str
    tags: list[str]
    folder: str | None


def _meta(doc: Doc[Any]) -> Map[Any]:
    meta: Map[Any] = doc.get(META, type=Map)
    return meta


def clean_tags(value: object) -> list[str] | None:
    """Trimmed, de-duplicated tags in order, or None when ``value`` is not a valid tag list."""
    if not isinstance(value, list) or not all(isinstance(tag, str) for tag in value):
        return None
    tags = list(dict.fromkeys(tag.strip() for tag in value if tag.strip()))
    if len(tags) > MAX_TAGS or any(len(tag) > MAX_TAG or "\x00" in tag for tag in tags):
        return None
    return tags


def _clean(key: str, value: object) -> tuple[bool, object]:
    """(valid, normalised value) of one ``meta`` entry."""
    if key == "title":
        ok = isinstance(value, str) and bool(value.strip()) and len(value) <= MAX_TEXT
        return ok and "\x00" not in str(value), value
    if key == "tags":
        tags = clean_tags(value)
        return tags is not None, tags
    if value is None or (isinstance(value, str) and not value.strip()):
        return True, None
    ok = isinstance(value, str) and len(value) <= MAX_TEXT and "\x00" not in value
    return ok, value


def read_meta(doc: Doc[Any]) -> dict[str, object]:
    """The valid entries of the document's ``meta`` (absent and invalid keys left out)."""
    meta = _meta(doc)
    found: dict[str, object] = {}
    for key in META_KEYS:
        if key in meta:
            ok, value = _clean(key, meta[key])
            if ok:
                found[key] = value
    return found


def has_full_meta(doc: Doc[Any]) -> bool:
    """Whether every key of ``meta`` is present (valid or not)."""
    meta = _meta(doc)
    return all(key in meta for key in META_KEYS)


def row_meta(row: MetaRow) -> dict[str, object]:
    """The mirrored values of a notes row, as ``meta`` holds them."""
    return {"title": row.title, "tags": list(row.tags), "folder": row.folder}


def write_meta(doc: Doc[Any], values: Mapping[str, object]) -> None:
    """Set the given ``meta`` keys (call inside a transaction; unchanged values are skipped so
    a repeated write makes no update)."""
    meta = _meta(doc)
    for key, value in values.items():
        if key not in META_KEYS:
            raise ValueError(f"not a meta key: {key}")
        stored = value if key != "tags" else list(value)  # type: ignore[call-overload]
        if key in meta and meta[key] == stored:
            continue
        meta[key] = stored


def fill_meta(doc: Doc[Any], row: MetaRow) -> None:
    """Set the keys ``meta`` lacks from the notes row (a note older than ``meta``); present
    keys, even invalid ones, are left to their writers."""
    meta = _meta(doc)
    write_meta(doc, {k: v for k, v in row_meta(row).items() if k not in meta})

"""The note's `meta` map: what counts as valid, writes that make no needless updates, filling
an old note from its row, and the same map as a stock Yjs client writes and reads it."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pycrdt import Doc, Map

from notes.meta import fill_meta, has_full_meta, read_meta, write_meta

SCRIPT = Path(__file__).with_name("yjs_meta.mjs")
ROOT = Path(__file__).resolve().parents[2]


class Row:
    def __init__(self, title: str, tags: list[str], folder: str | None) -> None:
        self.title, self.tags, self.folder = title, tags, folder


def doc_with(**values: Any) -> Doc[Any]:
    doc: Doc[Any] = Doc()
    meta = doc.get("meta", type=Map)
    with doc.transaction():
        for key, value in values.items():
            meta[key] = value
    return doc


def yjs(payload: dict[str, Any]) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules" / "yjs").is_dir():
        pytest.fail("node and the npm test clients are required (npm install at the repo root)")
    result = subprocess.run(
        [node, str(SCRIPT)], input=json.dumps(payload), capture_output=True, text=True,
        timeout=30, check=False, cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    decoded: dict[str, Any] = json.loads(result.stdout)
    return decoded


def test_valid_values_are_read_and_normalised() -> None:
    doc = doc_with(title="Trip", tags=[" a", "a", "", "b "], folder="  ")
    assert read_meta(doc) == {"title": "Trip", "tags": ["a", "b"], "folder": None}
    assert read_meta(doc_with(folder="Work")) == {"folder": "Work"}
    assert read_meta(Doc()) == {}


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("title", ""),
        ("title", "   "),
        ("title", None),
        ("title", 7),
        ("title", "x" * 256),
        ("title", "nul\x00"),
        ("tags", "a,b"),
        ("tags", ["ok", 3]),
        ("tags", [f"t{i}" for i in range(11)]),
        ("tags", ["x" * 51]),
        ("folder", ["not", "text"]),
        ("folder", "f" * 256),
    ],
)
def test_invalid_values_are_left_out(key: str, value: Any) -> None:
    assert read_meta(doc_with(**{key: value})) == {}


def test_writing_the_same_values_makes_no_update() -> None:
    doc: Doc[Any] = Doc()
    with doc.transaction():
        write_meta(doc, {"title": "T", "tags": ["a"], "folder": None})
    state = doc.get_state()
    with doc.transaction():
        write_meta(doc, {"title": "T", "tags": ["a"], "folder": None})
    assert doc.get_update(state) == b"\x00\x00"
    with pytest.raises(ValueError, match="not a meta key"):
        write_meta(doc, {"owner": "x"})


def test_fill_sets_only_missing_keys() -> None:
    doc = doc_with(title="   ")  # present, even if invalid: left to its writer
    assert not has_full_meta(doc)
    with doc.transaction():
        fill_meta(doc, Row("From row", ["r"], "attic"))
    assert has_full_meta(doc)
    assert doc.get("meta", type=Map).to_py() == {"title": "   ", "tags": ["r"], "folder": "attic"}


def test_a_stock_yjs_client_reads_and_writes_the_same_map() -> None:
    doc: Doc[Any] = Doc()
    with doc.transaction():
        write_meta(doc, {"title": "Été 👩‍💻", "tags": ["a", "b"], "folder": None})
    seen = yjs({"update": doc.get_update().hex()})
    assert seen["meta"] == {"title": "Été 👩‍💻", "tags": ["a", "b"], "folder": None}
    assert seen["kinds"]["tags"] == "array"  # a plain array, not a Y.Array
    written = yjs({"meta": {"title": "From the page", "tags": ["x"], "folder": "Work"}})
    page: Doc[Any] = Doc()
    page.apply_update(bytes.fromhex(written["update"]))
    assert read_meta(page) == {"title": "From the page", "tags": ["x"], "folder": "Work"}

"""Server-side edits: same hooks and origin SERVER; character positions are safe with emoji
and accents (pycrdt addresses text by UTF-8 byte offset)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import anyio
import pytest
from pycrdt import Doc, Text

from collab import Change, Extension, Origin
from collab.direct import byte_offset, delete_text, insert_text
from tests.collab._kit import SyncedClient, doc_name, pump, running, wait_for

ROOT = Path(__file__).resolve().parents[2]


def test_byte_offset() -> None:
    assert byte_offset("aé😀b", 0) == 0
    assert byte_offset("aé😀b", 2) == 3
    assert byte_offset("aé😀b", 3) == 7
    assert byte_offset("aé😀b", 99) == 8
    with pytest.raises(ValueError, match="index"):
        byte_offset("abc", -1)


@pytest.mark.parametrize("index", [0, 1, 2, 3, 4, 5])
def test_insert_and_delete_at_character_positions(index: int) -> None:
    doc: Doc = Doc()
    text = doc.get("t", type=Text)
    text += "aé😀bç"
    insert_text(text, index, "X🎉")
    expected = "aé😀bç"[:index] + "X🎉" + "aé😀bç"[index:]
    assert str(text) == expected
    delete_text(text, index, 2)
    assert str(text) == "aé😀bç"
    # the updates round-trip through a fresh pycrdt Doc
    other: Doc = Doc()
    other.apply_update(doc.get_update())
    assert str(other.get("t", type=Text)) == "aé😀bç"


@pytest.mark.interop
def test_server_side_edit_with_emoji_decodes_in_yjs() -> None:
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules" / "yjs").exists():
        pytest.skip("node and the npm yjs package are needed")
    doc: Doc = Doc()
    text = doc.get("t", type=Text)
    text += "héllo 😀 wörld"
    insert_text(text, 7, "🎉ü")  # right after the emoji
    insert_text(text, 2, "ñ")
    script = (
        "import * as Y from 'yjs';"
        "const d = new Y.Doc();"
        "Y.applyUpdate(d, Buffer.from(process.argv[1], 'hex'));"
        "process.stdout.write(d.getText('t').toString());"
    )
    result = subprocess.run(
        [node, "--input-type=module", "-e", script, doc.get_update().hex()],
        cwd=ROOT, capture_output=True, text=True, timeout=30, check=True,
    )
    assert result.stdout == str(text) == "héñllo 😀🎉ü wörld"


class Changes(Extension):
    def __init__(self) -> None:
        self.origins: list[Origin] = []

    async def on_change(self, event: Change) -> None:
        self.origins.append(event.origin)


async def test_direct_session_broadcasts_and_runs_on_change_with_server_origin() -> None:
    changes = Changes()
    async with running(extensions=[changes]) as h:
        name = doc_name()
        conn = await h.connect(name)
        client = SyncedClient(conn.send)
        async with anyio.create_task_group() as tg:
            tg.start_soon(pump, conn, client)
            await client.start()
            async with h.server.open_direct(name, actor="api") as session:
                session.transact(lambda doc: insert_text(doc.get("t", type=Text), 0, "😀 seed"))
                await wait_for(lambda: str(client.text) == "😀 seed")  # broadcast at once
                assert changes.origins == []
            assert changes.origins == [Origin.SERVER("api")]
            client.text += "!"
            await client.push()
            await wait_for(lambda: len(changes.origins) == 2)
            assert changes.origins[1].kind == "client"
            await conn.leave()


async def test_direct_session_on_unloaded_document_loads_and_unloads_it() -> None:
    async with running() as h:
        name = doc_name()
        async with h.server.open_direct(name, actor="job") as session:
            assert session.transact(lambda doc: 42) == 42
            assert h.server.is_loaded(name)
        await wait_for(lambda: not h.server.is_loaded(name))

"""Note content over REST: seeding on create, current text, versions and restore, exports."""

from __future__ import annotations

import asyncio
import base64
import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from pycrdt import Doc
from pypdf import PdfReader

from api.note_content import INLINE_EXPORT_MAX_CHARS
from jobs.enqueue import InProcessQueue
from notes.content import seed_note_content
from notes.markdown import to_markdown
from notes.search_index import SearchIndexer
from storage.documents import DocumentLog
from tests.api.conftest import bearer, register

SEED = "# Plan é 👩‍💻\n\nWe **meet** at the café.\n\n- first 漢字"
SEED_TEXT = "Plan é 👩‍💻\nWe meet at the café.\nfirst 漢字"


async def _user(client: httpx.AsyncClient, name: str) -> tuple[dict[str, str], dict[str, Any]]:
    body = await register(client, name=name)
    return bearer(body["token"]), body["user"]


async def _note(client: httpx.AsyncClient, headers: dict[str, str], **extra: Any) -> str:
    created = await client.post(
        "/api/workbook/notes",
        json={"title": "Día 1 plan", "content": SEED, **extra},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    note_id: str = created.json()["note"]["id"]
    return note_id


async def _append(client: httpx.AsyncClient, note_id: str, text: str) -> None:
    svc = client.app.state.services  # type: ignore[attr-defined]
    collab = svc.collab if hasattr(svc.collab, "open_direct") else None
    await seed_note_content(collab, DocumentLog(svc.db), note_id, text, fmt="text")


async def _share(
    client: httpx.AsyncClient, owner: dict[str, str], note_id: str, email: str, permission: str
) -> None:
    shared = await client.post(
        f"/api/workbook/notes/{note_id}/shares",
        json={"email": email, "permission": permission},
        headers=owner,
    )
    assert shared.status_code in (200, 201), shared.text


async def test_create_seeds_the_document_and_get_returns_its_text(
    client: httpx.AsyncClient,
) -> None:
    owner, _ = await _user(client, "Owner")
    note_id = await _note(client, owner)

    one = (await client.get(f"/api/workbook/notes/{note_id}", headers=owner)).json()
    assert one["note"]["content"] == SEED_TEXT
    content = (await client.get(f"/api/workbook/notes/{note_id}/content", headers=owner)).json()
    assert content["content"]["text"] == SEED_TEXT
    assert content["content"]["markdown"] == SEED + "\n"
    assert content["content"]["json"]["content"][0] == {
        "type": "heading",
        "attrs": {"level": 1},
        "content": [{"type": "text", "text": "Plan é 👩‍💻"}],
    }


async def test_named_version_read_and_restore(client: httpx.AsyncClient) -> None:
    owner, _ = await _user(client, "Owner")
    note_id = await _note(client, owner)
    base = f"/api/workbook/notes/{note_id}/versions"

    created = await client.post(base, json={"name": "Before the workshop"}, headers=owner)
    assert created.status_code == 201, created.text
    version = created.json()["version"]
    assert version["name"] == "Before the workshop" and version["auto"] is False

    await _append(client, note_id, "added later ü")
    text = (await client.get(f"/api/workbook/notes/{note_id}", headers=owner)).json()
    assert text["note"]["content"] == SEED_TEXT + "\nadded later ü"

    listed = (await client.get(base, headers=owner)).json()["versions"]
    assert [v["id"] for v in listed] == [version["id"]]
    assert set(listed[0]) >= {"id", "name", "auto", "createdAt", "createdBy"}

    detail = (await client.get(f"{base}/{version['id']}", headers=owner)).json()
    assert detail["content"]["text"] == SEED_TEXT
    assert detail["content"]["markdown"] == SEED + "\n"
    doc: Doc[Any] = Doc()
    doc.apply_update(base64.b64decode(detail["version"]["state"]))
    assert to_markdown(doc) == SEED + "\n"

    restored = await client.post(f"{base}/{version['id']}/restore", headers=owner)
    assert restored.status_code == 200, restored.text
    backup = restored.json()["backup"]
    assert backup["auto"] is True and backup["name"] == "Before restoring Before the workshop"
    text = (await client.get(f"/api/workbook/notes/{note_id}", headers=owner)).json()
    assert text["note"]["content"] == SEED_TEXT

    # Nothing is lost: the pre-restore content is a version of its own.
    kept = (await client.get(f"{base}/{backup['id']}", headers=owner)).json()
    assert kept["content"]["text"] == SEED_TEXT + "\nadded later ü"
    assert len((await client.get(base, headers=owner)).json()["versions"]) == 2


async def test_version_access_rules_and_validation(client: httpx.AsyncClient) -> None:
    owner, _ = await _user(client, "Owner")
    reader, reader_user = await _user(client, "Reader")
    stranger, _ = await _user(client, "Stranger")
    note_id = await _note(client, owner)
    base = f"/api/workbook/notes/{note_id}/versions"
    version = (await client.post(base, json={"name": "v1"}, headers=owner)).json()["version"]
    await _share(client, owner, note_id, reader_user["email"], "read")

    assert (await client.get(base, headers=reader)).status_code == 200
    assert (await client.get(f"{base}/{version['id']}", headers=reader)).status_code == 200
    denied = await client.post(base, json={"name": "mine"}, headers=reader)
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "forbidden"
    restore = await client.post(f"{base}/{version['id']}/restore", headers=reader)
    assert restore.status_code == 403

    for path in (base, f"{base}/{version['id']}", f"/api/workbook/notes/{note_id}/export"):
        hidden = await client.get(path, headers=stranger)
        assert hidden.status_code == 404 and hidden.json()["error"]["code"] == "not_found"
    missing = await client.get(f"{base}/00000000-0000-4000-8000-000000000000", headers=owner)
    assert missing.status_code == 404

    bad = await client.post(base, json={}, headers=owner)
    assert bad.status_code == 422
    assert [f["field"] for f in bad.json()["error"]["fields"]] == ["name"]


async def test_inline_exports_download_each_format(client: httpx.AsyncClient) -> None:
    owner, _ = await _user(client, "Owner")
    note_id = await _note(client, owner, tags=["workshop"])
    url = f"/api/workbook/notes/{note_id}/export"

    md = await client.get(url, params={"format": "md"}, headers=owner)
    assert md.status_code == 200
    assert md.headers["content-type"].startswith("text/markdown")
    assert "filename*=UTF-8''d%C3%ADa-1-plan.md" in md.headers["content-disposition"]
    assert md.text.endswith(SEED + "\n") and 'title: "Día 1 plan"' in md.text

    data = json.loads((await client.get(url, params={"format": "json"}, headers=owner)).content)
    assert data["note"]["title"] == "Día 1 plan" and data["note"]["tags"] == ["workshop"]
    assert data["note"]["author"] == "Owner" and data["text"] == SEED_TEXT

    pdf = await client.get(url, params={"format": "pdf"}, headers=owner)
    assert pdf.headers["content-type"] == "application/pdf"
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "We meet at the café." in text and "Día 1 plan" in text

    bad = await client.get(url, params={"format": "docx"}, headers=owner)
    assert bad.status_code == 422
    assert [f["field"] for f in bad.json()["error"]["fields"]] == ["format"]


async def finished_export(
    client: httpx.AsyncClient, status_url: str, headers: dict[str, str], timeout: float = 30
) -> dict[str, Any]:
    """Poll an export's status as a client does, until it is no longer pending."""
    async with asyncio.timeout(timeout):
        while True:
            status: dict[str, Any] = (await client.get(status_url, headers=headers)).json()
            if status["status"] != "pending":
                return status
            await asyncio.sleep(0.05)  # the REST contract is polling; no event to await


async def test_background_export_is_polled_then_downloaded(client: httpx.AsyncClient) -> None:
    owner, _ = await _user(client, "Owner")
    reader, reader_user = await _user(client, "Reader")
    note_id = await _note(client, owner)
    await _share(client, owner, note_id, reader_user["email"], "read")

    started = await client.get(
        f"/api/workbook/notes/{note_id}/export",
        params={"format": "pdf", "async": "true"},
        headers=owner,
    )
    assert started.status_code == 202, started.text
    job = started.json()
    assert job["status"] == "pending" and job["statusUrl"].endswith(job["exportId"])

    status = await finished_export(client, job["statusUrl"], reader)
    assert status["status"] == "done", status
    download = await client.get(status["downloadUrl"], headers=reader)
    assert download.status_code == 200 and download.headers["content-type"] == "application/pdf"
    assert "café" in PdfReader(io.BytesIO(download.content)).pages[0].extract_text()

    unknown = await client.get(f"/api/workbook/notes/{note_id}/exports/{'0' * 32}", headers=owner)
    assert unknown.status_code == 404
    bogus = await client.get(f"/api/workbook/notes/{note_id}/exports/..%2F..%2Fx", headers=owner)
    assert bogus.status_code == 404


async def test_a_note_above_the_size_threshold_is_exported_by_a_queued_job(
    client: httpx.AsyncClient,
) -> None:
    svc = client.app.state.services  # type: ignore[attr-defined]
    assert isinstance(svc.jobs, InProcessQueue)  # no Redis: the web process runs the jobs
    owner, _ = await _user(client, "Owner")
    note_id = await _note(client, owner)
    lines = [f"line {n}: the workshop notes grow long é" for n in range(1500)]
    await _append(client, note_id, "\n".join(lines))
    url = f"/api/workbook/notes/{note_id}/export"
    assert len(SEED_TEXT) + sum(len(line) + 1 for line in lines) > INLINE_EXPORT_MAX_CHARS
    completed = svc.jobs.completed

    started = await client.get(url, params={"format": "md"}, headers=owner)  # no async=true

    assert started.status_code == 202, started.text
    status = await finished_export(client, started.json()["statusUrl"], owner)
    assert status["status"] == "done", status
    # export_note_job ran on the queue (counted once the job returned, just after it stored
    # the export that the status reports)
    async with asyncio.timeout(10):
        while svc.jobs.completed < completed + 1:
            await asyncio.sleep(0.01)
    assert svc.jobs.completed == completed + 1
    download = await client.get(status["downloadUrl"], headers=owner)
    assert download.status_code == 200
    assert download.text.endswith(f"{lines[-1]}\n") and "We **meet** at the café." in download.text


async def test_a_background_export_without_a_job_queue_is_503(client: httpx.AsyncClient) -> None:
    svc = client.app.state.services  # type: ignore[attr-defined]
    owner, _ = await _user(client, "Owner")
    note_id = await _note(client, owner)
    queue, svc.jobs = svc.jobs, None  # as when Redis was unreachable at startup
    try:
        refused = await client.get(
            f"/api/workbook/notes/{note_id}/export", params={"async": "true"}, headers=owner
        )
    finally:
        svc.jobs = queue
    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "service_unavailable", refused.json()


class NoteEditor:
    """A stock yjs + y-websocket client (tests/api/ynote_client.mjs) editing one note."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.events: list[dict[str, Any]] = []

    @classmethod
    async def open(cls, ws_url: str, note_id: str, token: str) -> NoteEditor:
        proc = await asyncio.create_subprocess_exec(
            "node",
            str(Path(__file__).with_name("ynote_client.mjs")),
            ws_url,
            f"notes/{note_id}",
            token,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=Path(__file__).resolve().parents[2],
        )
        return cls(proc)

    async def wait_text(self, expected: str, timeout: float = 15) -> dict[str, Any]:
        assert self.proc.stdout is not None
        async with asyncio.timeout(timeout):
            while True:
                line = await self.proc.stdout.readline()
                assert line, f"the client exited; events: {self.events[-3:]}"
                event: dict[str, Any] = json.loads(line)
                self.events.append(event)
                if event.get("text") == expected:
                    return event

    async def append(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps({"cmd": "append", "text": text}) + "\n").encode())
        await self.proc.stdin.drain()

    async def close(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
        await self.proc.wait()


@pytest.fixture
def served(live_app: dict[str, Any]) -> dict[str, Any]:
    """`live_app` (with its live collab server and search indexer), socket URLs without /notes."""
    return {**live_app, "ws": live_app["ws"].removesuffix("/notes")}


@pytest.mark.interop
async def test_live_yjs_editor_sees_seed_and_restore_and_search_finds_typed_words(
    served: dict[str, Any],
) -> None:
    client: httpx.AsyncClient = served["client"]
    body = await register(client, name="Owner")
    owner = bearer(body["token"])
    note_id = await _note(client, owner)
    base = f"/api/workbook/notes/{note_id}"
    version = (await client.post(f"{base}/versions", json={"name": "seed"}, headers=owner)).json()
    indexer = next(
        ext
        for ext in served["app"].state.services.collab.extensions
        if isinstance(ext, SearchIndexer)
    )

    editor = await NoteEditor.open(served["ws"], note_id, body["token"])
    try:
        # The server-built seed (emoji, accents, CJK) syncs into a stock Yjs client intact.
        await editor.wait_text(SEED_TEXT)

        # A word typed in the client is found by search a moment later (debounced indexing).
        await editor.append("zebracrossing 👍 typed live")
        async with asyncio.timeout(20):
            while True:
                written = asyncio.ensure_future(indexer.next_write())
                found = (
                    await client.get(
                        "/api/workbook/notes", params={"search": "zebracrossing"}, headers=owner
                    )
                ).json()
                if found["total"] == 1:
                    written.cancel()
                    break
                await written
        assert found["notes"][0]["id"] == note_id

        # Restoring is a new edit that reaches the connected editor through normal sync.
        restored = await client.post(
            f"{base}/versions/{version['version']['id']}/restore", headers=owner
        )
        assert restored.status_code == 200, restored.text
        await editor.wait_text(SEED_TEXT)

        # The client keeps editing on top of server-built content; the server applies it.
        await editor.append("after restore ü")
        await editor.wait_text(SEED_TEXT + "\nafter restore ü")
        async with asyncio.timeout(20):
            while True:
                written = asyncio.ensure_future(indexer.next_write())
                note = (await client.get(base, headers=owner)).json()["note"]
                if note["content"] == SEED_TEXT + "\nafter restore ü":
                    written.cancel()
                    break
                await written
    finally:
        await editor.close()

    # The app wires automatic versions: once the edited document unloads (its last editor
    # left), an automatic version holds the text it was left with.
    async with asyncio.timeout(30):
        while True:
            listed = (await client.get(f"{base}/versions", headers=owner)).json()["versions"]
            autos = [v for v in listed if v["auto"] and not v["name"]]
            if autos:
                break
            await asyncio.sleep(0.1)  # polling a REST read under a deadline; no event to await
    shown = (await client.get(f"{base}/versions/{autos[0]['id']}", headers=owner)).json()
    assert shown["content"]["text"] == SEED_TEXT + "\nafter restore ü"

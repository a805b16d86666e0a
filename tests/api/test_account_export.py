"""`GET /api/workbook/me/export`: a zip of everything the account owns; large accounts get it
from a background job (202, status, download), and nobody else can fetch it."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from typing import Any

import httpx

from collab.client import CollabClient
from rooms import document as d
from tests.api.conftest import bearer, register, user_with_role
from tests.audio_samples import encoded, tone_pcm, wav

P = "/api/workbook/sessions"
MP3 = encoded(wav(tone_pcm(1.0)), "mp3")


async def account_with_everything(
    live_app: dict[str, Any], database_url: str
) -> tuple[dict[str, str], dict[str, Any], str]:
    """A user with a note, a recording, and a chat line in someone's live session."""
    client: httpx.AsyncClient = live_app["client"]
    me = await register(client, name="Exporting Erin")
    headers = bearer(me["token"])
    created = await client.post("/api/workbook/notes", headers=headers, json={
        "title": "Trip plan", "content": "Pack the **tent** and the stove."})
    assert created.status_code == 201, created.text
    uploaded = await client.post(
        "/api/workbook/audio", files={"audio": ("memo.mp3", MP3, "audio/mpeg")},
        data={"title": "Memo"}, headers=headers,
    )
    assert uploaded.status_code == 201, uploaded.text
    host, _ = await user_with_role(client, database_url, "host", name="Host")
    made = await client.post(P, headers=host, json={
        "title": "Workshop", "scheduledStart": "2030-01-01T10:00:00Z",
        "scheduledEnd": "2030-01-01T11:00:00Z"})
    sid = made.json()["session"]["id"]
    assert (await client.post(f"{P}/{sid}/join", headers=headers)).is_success
    assert (await client.post(f"{P}/{sid}/start", headers=host)).is_success
    base = live_app["ws"].removesuffix("/notes")
    room = CollabClient(base, f"sessions/{sid}", token=me["token"], stateless=True)
    async with room:
        async with asyncio.timeout(10):
            await room.synced()
        room.send_stateless(json.dumps({"id": "c1", "action": "chat.post", "text": "hello all"}))
        await room.wait_for(lambda doc: len(d.yarray(doc, d.CHAT)) == 1, 10)
    return headers, me, sid


def check_zip(data: bytes, email: str) -> None:
    archive = zipfile.ZipFile(io.BytesIO(data))
    names = archive.namelist()
    assert json.loads(archive.read("account.json"))["email"] == email
    markdown = [n for n in names if n.startswith("notes/trip-plan-") and n.endswith(".md")]
    assert len(markdown) == 1 and "**tent**" in archive.read(markdown[0]).decode()
    recordings = json.loads(archive.read("recordings/recordings.json"))
    assert [r["title"] for r in recordings] == ["Memo"]
    assert archive.read(recordings[0]["file"]) == MP3
    sessions = json.loads(archive.read("sessions.json"))
    assert [(s["title"], [m["text"] for m in s["chat"]]) for s in sessions] == [
        ("Workshop", ["hello all"])
    ]
    assert "progress.json" in names and "README.txt" in names


async def test_the_export_holds_what_the_account_owns(
    live_app: dict[str, Any], database_url: str
) -> None:
    client: httpx.AsyncClient = live_app["client"]
    headers, me, _ = await account_with_everything(live_app, database_url)
    response = await client.get("/api/workbook/me/export", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    check_zip(response.content, me["user"]["email"])


async def test_a_background_export_is_polled_then_downloaded_by_its_owner_only(
    live_app: dict[str, Any], database_url: str
) -> None:
    client: httpx.AsyncClient = live_app["client"]
    headers, me, _ = await account_with_everything(live_app, database_url)
    started = await client.get("/api/workbook/me/export?async=true", headers=headers)
    assert started.status_code == 202, started.text
    job = started.json()
    for _ in range(100):
        status = (await client.get(job["statusUrl"], headers=headers)).json()
        if status["status"] != "pending":
            break
        await asyncio.sleep(0.1)
    assert status["status"] == "done" and status["size"] > 0
    stranger = await register(client, name="Stranger")
    for url in (job["statusUrl"], status["downloadUrl"]):
        assert (await client.get(url, headers=bearer(stranger["token"]))).status_code == 404
    download = await client.get(status["downloadUrl"], headers=headers)
    assert download.status_code == 200
    check_zip(download.content, me["user"]["email"])

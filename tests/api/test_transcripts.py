"""Transcription over REST with the embedded offline engine, on SQLite and PostgreSQL: upload
spoken audio asking for a transcript, hear the status on the feed, search a spoken word and
land on its time, correct a line, delete it all."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from tests.api.conftest import bearer, register
from tests.audio_samples import encoded, spoken_wav, tone_pcm, wav
from tests.livepeer import LivePeer, socket_url

AUDIO = "/api/workbook/audio"
TEXT = "Please bring your notebook and a pencil. We will discuss pricing for haircuts."


def _changed(recording_id: str, transcription_id: str, status: str) -> dict[str, str]:
    return {"type": "recordings.changed", "recordingId": recording_id,
            "transcriptionId": transcription_id, "status": status}


@pytest.mark.slow
async def test_upload_transcribe_search_correct_delete(
    live_app: dict[str, Any], tmp_path: Path
) -> None:
    client: httpx.AsyncClient = live_app["client"]
    base = str(live_app["ws"]).removesuffix("/notes")
    body = await register(client)
    me, user_id = bearer(body["token"]), body["user"]["id"]
    audio = encoded(spoken_wav(TEXT), "webm")
    async with LivePeer(socket_url(base, f"users/{user_id}", body["token"],
                                   stateless=True)) as feed:
        await feed.synced()
        uploaded = await client.post(
            AUDIO, files={"audio": ("blob", audio, "audio/webm")},
            data={"title": "Workshop memo", "transcribe": "true"}, headers=me,
        )
        assert uploaded.status_code == 201, uploaded.text
        recording = uploaded.json()["recording"]
        transcription_id = uploaded.json()["transcriptionId"]
        assert recording["format"] == "webm" and recording["durationSeconds"] > 4
        rid = recording["id"]
        assert await feed.message() == _changed(rid, transcription_id, "processing")
        assert await feed.message(timeout=100) == _changed(rid, transcription_id, "done")

    # Asking again is idempotent: the same transcription, already done.
    again = await client.post(f"{AUDIO}/transcribe", json={"recordingId": rid}, headers=me)
    assert again.status_code == 202
    assert again.json() == {"success": True, "transcriptionId": transcription_id,
                            "status": "done"}
    got = (await client.get(f"{AUDIO}/{rid}", headers=me)).json()["recording"]
    assert got["status"] == "transcribed"

    transcript = (await client.get(f"{AUDIO}/{rid}/transcript", headers=me)).json()["transcript"]
    assert transcript["status"] == "done" and transcript["engine"] == "pocketsphinx"
    assert {"notebook", "pencil", "pricing"} <= set(transcript["content"].split())
    starts = [s["start"] for s in transcript["segments"]]
    assert starts == sorted(starts) and transcript["segments"][-1]["end"] <= got["durationSeconds"]

    found = (await client.get(f"{AUDIO}/search", params={"q": "pricing"}, headers=me)).json()
    assert found["total"] == 1
    hit = found["hits"][0]
    line = next(s for s in transcript["segments"] if "pricing" in s["text"].split())
    assert (hit["recordingId"], hit["start"], hit["position"]) == (rid, line["start"],
                                                                   line["position"])
    assert "<mark>pricing</mark>" in hit["snippet"] and hit["recordingTitle"] == "Workshop memo"
    assert line["start"] > 2.0  # said in the second sentence

    corrected = await client.patch(
        f"{AUDIO}/{rid}/transcript",
        json={"segments": [{"position": line["position"], "text": "We will discuss prices"}]},
        headers=me,
    )
    assert corrected.status_code == 200, corrected.text
    assert corrected.json()["transcript"]["edited"] is True
    prices = (await client.get(f"{AUDIO}/search", params={"q": "prices"}, headers=me)).json()
    assert [h["start"] for h in prices["hits"]] == [line["start"]]
    unknown = await client.patch(f"{AUDIO}/{rid}/transcript",
                                 json={"segments": [{"position": 999, "text": "x"}]}, headers=me)
    assert (unknown.status_code, unknown.json()["error"]["fields"][0]["field"]) == (
        422, "segments")

    other = bearer((await register(client))["token"])
    assert (await client.get(f"{AUDIO}/{rid}/transcript", headers=other)).status_code == 404
    assert (await client.get(f"{AUDIO}/search", params={"q": "notebook"},
                             headers=other)).json()["total"] == 0
    foreign = await client.post(f"{AUDIO}/transcribe", json={"recordingId": rid}, headers=other)
    assert foreign.status_code == 404

    def files() -> list[Path]:
        return [p for p in (tmp_path / "objects" / "audio").rglob("*") if p.is_file()]

    assert len(files()) == 1
    assert (await client.delete(f"{AUDIO}/{rid}", headers=me)).status_code == 200
    assert (await client.get(f"{AUDIO}/search", params={"q": "notebook"},
                             headers=me)).json()["total"] == 0
    assert (await client.get(f"{AUDIO}/{rid}/transcript", headers=me)).status_code == 404
    assert files() == []


async def test_without_an_engine_the_transcript_fails_with_a_reason(
    app_factory: Callable[..., Any],
) -> None:
    client = await app_factory(TRANSCRIPTION_ENGINE="none")
    me = bearer((await register(client))["token"])
    uploaded = await client.post(
        AUDIO, files={"audio": ("t.wav", wav(tone_pcm(0.5)), "audio/wav")},
        data={"title": "Tone"}, headers=me,
    )
    rid = uploaded.json()["recording"]["id"]
    assert uploaded.json()["transcriptionId"] is None
    assert (await client.get(f"{AUDIO}/{rid}/transcript", headers=me)).status_code == 404
    started = await client.post(f"{AUDIO}/transcribe", json={"recordingId": rid}, headers=me)
    assert started.status_code == 202, started.text
    assert started.json()["status"] == "processing"
    transcript: dict[str, Any] = {}
    with anyio.fail_after(20):
        while transcript.get("status") != "failed":
            await anyio.sleep(0.05)  # the in-process queue runs it right away
            got = await client.get(f"{AUDIO}/{rid}/transcript", headers=me)
            transcript = got.json()["transcript"]
    assert transcript["error"] == "no transcription engine is configured"
    assert (await client.get(f"{AUDIO}/{rid}", headers=me)).json()["recording"]["status"] == (
        "failed")
    refused = await client.patch(f"{AUDIO}/{rid}/transcript",
                                 json={"segments": [{"position": 0, "text": "x"}]}, headers=me)
    assert refused.status_code == 409
    # A failed transcription starts over under the same id.
    retried = await client.post(f"{AUDIO}/transcribe", json={"recordingId": rid}, headers=me)
    assert retried.json() == {"success": True, "transcriptionId": started.json()[
        "transcriptionId"], "status": "processing"}

    for body, field in (({"recordingId": "nope"}, "recordingId"), ({}, "recordingId")):
        bad = await client.post(f"{AUDIO}/transcribe", json=body, headers=me)
        assert (bad.status_code, bad.json()["error"]["fields"][0]["field"]) == (422, field)
    missing = await client.post(f"{AUDIO}/transcribe", json={"recordingId": str(uuid.uuid4())},
                                headers=me)
    assert missing.status_code == 404
    empty = await client.get(f"{AUDIO}/search", params={"q": ""}, headers=me)
    assert (empty.status_code, empty.json()["error"]["fields"][0]["field"]) == (422, "q")

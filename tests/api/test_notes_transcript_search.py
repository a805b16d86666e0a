"""The notes search also finds what was said in the user's recordings (on SQLite and
PostgreSQL): the transcript moments come beside the notes, ranked as the audio search ranks
them, each with its time and a highlighted snippet."""

from __future__ import annotations

import uuid

import httpx

from storage.db import connect
from storage.transcripts import NewSegment, TranscriptRepository
from tests.api.conftest import bearer, register
from tests.audio_samples import tone_pcm, wav

NOTES = "/api/workbook/notes"
AUDIO = "/api/workbook/audio"


async def _recording(client: httpx.AsyncClient, me: dict[str, str], title: str) -> str:
    uploaded = await client.post(
        AUDIO, files={"audio": ("t.wav", wav(tone_pcm(0.2)), "audio/wav")},
        data={"title": title}, headers=me,
    )
    assert uploaded.status_code == 201, uploaded.text
    return str(uploaded.json()["recording"]["id"])


async def _transcribed(database_url: str, recording_id: str,
                       lines: list[tuple[float, str]]) -> None:
    async with connect(database_url) as db:
        repo = TranscriptRepository(db)
        transcription, _ = await repo.start(uuid.UUID(recording_id))
        assert await repo.claim(transcription.id) is not None
        done = await repo.complete(
            transcription.id, [NewSegment(at, at + 2.0, text, 0.9) for at, text in lines],
            engine="test", language="en", confidence=0.9)
        assert done is not None


async def test_notes_search_returns_transcript_moments_with_their_time(
    client: httpx.AsyncClient, database_url: str
) -> None:
    me = bearer((await register(client))["token"])
    other = bearer((await register(client))["token"])
    note = await client.post(NOTES, json={"title": "Pricing plan", "tags": ["shop"]}, headers=me)
    assert note.status_code == 201, note.text
    older = await _recording(client, me, "Monday memo")
    newer = await _recording(client, me, "Tuesday memo")
    foreign = await _recording(client, other, "Someone else's")
    await _transcribed(database_url, older, [(0.0, "we talked about pricing"),
                                             (3.5, "pricing for haircuts and beards")])
    await _transcribed(database_url, newer, [(1.25, "bring a pencil"),
                                             (4.75, "the pricing of a haircut")])
    await _transcribed(database_url, foreign, [(0.0, "pricing haircuts everywhere")])

    found = await client.get(NOTES, params={"search": "pricing haircuts"}, headers=me)
    assert found.status_code == 200, found.text
    body = found.json()
    assert [n["title"] for n in body["notes"]] == ["Pricing plan"]
    # Both words first, then the newest recording, then the time: on both databases.
    assert [(h["recordingId"], h["start"]) for h in body["recordings"]] == [
        (newer, 4.75), (older, 3.5), (older, 0.0)]
    assert body["recordingsTotal"] == 3
    first = body["recordings"][0]
    assert first["recordingTitle"] == "Tuesday memo" and first["end"] == 6.75
    assert "<mark>pricing</mark>" in first["snippet"] and "<mark>haircut" in first["snippet"]

    # The last word is a prefix, as it is typed.
    typing = (await client.get(NOTES, params={"search": "penc"}, headers=me)).json()
    assert [(h["recordingId"], h["position"]) for h in typing["recordings"]] == [(newer, 0)]
    assert typing["notes"] == []

    # Not another user's recordings; not under filters that transcripts do not have.
    theirs = (await client.get(NOTES, params={"search": "pencil"}, headers=other)).json()
    assert (theirs["recordings"], theirs["recordingsTotal"]) == ([], 0)
    tagged = (await client.get(NOTES, params={"search": "pricing", "tags": "shop"},
                               headers=me)).json()
    assert [n["title"] for n in tagged["notes"]] == ["Pricing plan"]
    assert tagged["recordings"] == []
    unsearched = (await client.get(NOTES, headers=me)).json()
    assert unsearched["recordings"] == [] and unsearched["total"] == 1

    # At most five moments beside the notes; the total says how many there are.
    many = await _recording(client, me, "Long talk")
    await _transcribed(database_url, many, [(float(i * 3), f"pricing item {i}")
                                            for i in range(7)])
    crowded = (await client.get(NOTES, params={"search": "pricing"}, headers=me)).json()
    assert len(crowded["recordings"]) == 5 and crowded["recordingsTotal"] == 10

    # A deleted recording's moments go with it.
    assert (await client.delete(f"{AUDIO}/{newer}", headers=me)).status_code == 200
    gone = (await client.get(NOTES, params={"search": "pencil"}, headers=me)).json()
    assert gone["recordingsTotal"] == 0

"""Copying a transcript into a note (on SQLite and PostgreSQL): a new note, or appended to one
the caller may write; one line per segment with its time, corrections included."""

from __future__ import annotations

import httpx

from tests.api.conftest import bearer, register
from tests.api.test_notes_transcript_search import _recording, _transcribed

NOTES = "/api/workbook/notes"
AUDIO = "/api/workbook/audio"


async def test_copy_a_transcript_into_a_new_note_or_an_existing_one(
    client: httpx.AsyncClient, database_url: str
) -> None:
    body = await register(client)
    me = bearer(body["token"])
    rid = await _recording(client, me, "Monday memo")
    copy = f"{AUDIO}/{rid}/transcript/note"
    untranscribed = await client.post(copy, json={}, headers=me)
    assert untranscribed.status_code == 409, untranscribed.text

    await _transcribed(database_url, rid, [(0.0, "we talked about pricing"),
                                           (65.4, "bring a pencil"), (3725.0, "  ")])
    fixed = await client.patch(f"{AUDIO}/{rid}/transcript", headers=me,
                               json={"segments": [{"position": 1, "text": "bring a crayon ✏️ é"}]})
    assert fixed.status_code == 200, fixed.text

    created = await client.post(copy, json={}, headers=me)
    assert created.status_code == 201, created.text
    note = created.json()["note"]
    assert (note["title"], note["access"]) == ("Transcript: Monday memo", "owner")
    content = (await client.get(f"{NOTES}/{note['id']}", headers=me)).json()["note"]["content"]
    # The corrected text, each line with its time; an empty segment gives no line.
    assert content.splitlines() == ["[0:00] we talked about pricing",
                                    "[1:05] bring a crayon ✏️ é"]
    listed = (await client.get(NOTES, params={"search": "crayon"}, headers=me)).json()
    assert [n["id"] for n in listed["notes"]] == [note["id"]]  # searchable like any note

    titled = await client.post(copy, json={"title": "Memo lines"}, headers=me)
    assert (titled.status_code, titled.json()["note"]["title"]) == (201, "Memo lines")
    blank = await client.post(copy, json={"title": "  "}, headers=me)
    assert (blank.status_code, blank.json()["error"]["fields"][0]["field"]) == (422, "title")

    mine = (await client.post(NOTES, json={"title": "Week", "content": "Agenda"},
                              headers=me)).json()["note"]
    appended = await client.post(copy, json={"noteId": mine["id"]}, headers=me)
    assert appended.status_code == 200, appended.text
    week = (await client.get(f"{NOTES}/{mine['id']}", headers=me)).json()["note"]["content"]
    assert week.splitlines() == ["Agenda", "[0:00] we talked about pricing",
                                 "[1:05] bring a crayon ✏️ é"]

    # Someone else: not their recording, not their note; a read share cannot be appended to.
    other_body = await register(client)
    other = bearer(other_body["token"])
    assert (await client.post(copy, json={}, headers=other)).status_code == 404
    theirs = (await client.post(NOTES, json={"title": "Theirs"}, headers=other)).json()["note"]
    not_mine = await client.post(copy, json={"noteId": theirs["id"]}, headers=me)
    assert not_mine.status_code == 404
    shared = await client.post(f"{NOTES}/{theirs['id']}/shares", headers=other,
                               json={"email": body["user"]["email"], "permission": "read"})
    assert shared.status_code in (200, 201), shared.text
    read_only = await client.post(copy, json={"noteId": theirs["id"]}, headers=me)
    assert read_only.status_code == 403
    assert (await client.get(f"{NOTES}/{theirs['id']}", headers=other)).json()["note"][
        "content"] == ""
    assert (await client.get(NOTES, headers=me)).json()["total"] == 4  # 2 copies, Week, shared

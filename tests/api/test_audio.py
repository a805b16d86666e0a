"""Audio recordings over REST, on SQLite and PostgreSQL: upload, read back, delete, refuse."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage.errors import UnknownReference
from storage.recordings import RecordingRepository
from tests.api.conftest import bearer, register, user_with_role
from tests.audio_samples import encoded, tone_pcm, wav

AUDIO = "/api/workbook/audio"
MP3 = encoded(wav(tone_pcm(1.0)), "mp3")
WEBM = encoded(wav(tone_pcm(0.5)), "webm")


def stored_files(tmp_path: Path) -> list[Path]:
    root = tmp_path / "data" / "objects" / "audio"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


async def upload(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    *,
    data: bytes = MP3,
    name: str = "talk.mp3",
    ctype: str = "audio/mpeg",
    **fields: str,
) -> httpx.Response:
    form = {"title": "My talk", **fields}
    return await client.post(
        AUDIO, files={"audio": (name, data, ctype)}, data=form, headers=headers
    )


def field_of(response: httpx.Response) -> str:
    return str(response.json()["error"]["fields"][0]["field"])


async def test_upload_list_get_download_delete(
    client: httpx.AsyncClient, database_url: str, tmp_path: Path
) -> None:
    admin, _ = await user_with_role(client, database_url, "admin")
    module = await client.post("/api/workbook/modules", json={"title": "Audio"}, headers=admin)
    module_id = module.json()["module"]["id"]
    me = bearer((await register(client))["token"])

    created = await upload(client, me, moduleId=module_id)
    assert created.status_code == 201, created.text
    recording = created.json()["recording"]
    assert created.json()["success"] is True
    assert recording["title"] == "My talk"
    assert recording["fileName"] == "talk.mp3"
    assert recording["fileSize"] == len(MP3)
    assert recording["status"] == "uploaded"
    assert recording["moduleId"] == module_id
    assert "objectKey" not in recording and "createdAt" in recording

    blob = WEBM  # a MediaRecorder upload: no extension
    webm = await upload(client, me, data=blob, name="blob", ctype="audio/webm;codecs=opus")
    assert webm.status_code == 201, webm.text
    assert webm.json()["recording"]["contentType"] == "audio/webm"
    assert webm.json()["recording"]["fileName"] == "blob.webm"  # named by its bytes
    assert webm.json()["recording"]["format"] == "webm"
    assert webm.json()["recording"]["durationSeconds"] == pytest.approx(0.5, abs=0.05)

    listed = (await client.get(AUDIO, params={"limit": 1}, headers=me)).json()
    assert listed["total"] == 2 and listed["hasMore"] is True and len(listed["recordings"]) == 1
    one = await client.get(f"{AUDIO}/{recording['id']}", headers=me)
    assert one.status_code == 200 and one.json()["recording"] == recording

    file = await client.get(f"{AUDIO}/{recording['id']}/file", headers=me)
    assert file.status_code == 200
    assert file.content == MP3
    assert file.headers["content-type"] == "audio/mpeg"
    assert "talk.mp3" in file.headers["content-disposition"]
    webm_file = await client.get(f"{AUDIO}/{webm.json()['recording']['id']}/file", headers=me)
    assert webm_file.content == blob
    assert sorted(p.suffix for p in stored_files(tmp_path)) == [".mp3", ".webm"]

    deleted = await client.delete(f"{AUDIO}/{recording['id']}", headers=me)
    assert deleted.status_code == 200
    assert (await client.get(f"{AUDIO}/{recording['id']}", headers=me)).status_code == 404
    assert [p.suffix for p in stored_files(tmp_path)] == [".webm"]


async def test_validation_errors_name_the_field(client: httpx.AsyncClient, tmp_path: Path) -> None:
    me = bearer((await register(client))["token"])
    missing = await client.post(
        AUDIO, data={"title": "x"}, files={"other": ("a", b"1")}, headers=me
    )
    assert (missing.status_code, field_of(missing)) == (422, "audio")
    as_json = await client.post(AUDIO, json={"title": "x", "audio": "AAAA"}, headers=me)
    assert (as_json.status_code, field_of(as_json)) == (415, "audio")
    text = await upload(client, me, data=b"plain text, " * 50, name="notes.txt",
                        ctype="text/plain")
    assert (text.status_code, field_of(text)) == (415, "audio")
    # The refusal names the accepted formats as a user knows them, not PyAV's demuxer names.
    error = text.json()["error"]
    assert error["message"] == ("audio: not a recording in a supported format "
                                "(accepted: MP3, WAV, M4A, WebM or OGG)")
    assert error["fields"][0]["message"] == (
        "the file is not MP3, WAV, M4A, WebM or OGG audio (checked by its content)")
    assert "mov," not in text.text and "matroska" not in text.text
    # The name and the declared type do not make it audio: its bytes do.
    junk = b"ID3\x04\x00" + os.urandom(3000)  # an MP3 header, then noise
    disguised = await upload(client, me, data=junk, name="talk.mp3", ctype="audio/mpeg")
    assert (disguised.status_code, field_of(disguised)) == (415, "audio")
    empty = await upload(client, me, data=b"")
    assert (empty.status_code, field_of(empty)) == (422, "audio")
    for title in ("", "   ", "t" * 256):
        bad_title = await upload(client, me, title=title)
        assert (bad_title.status_code, field_of(bad_title)) == (422, "title"), title
    for module_id, status in (("not-a-uuid", 422), (str(uuid.uuid4()), 404)):
        bad_module = await upload(client, me, moduleId=module_id)
        assert (bad_module.status_code, field_of(bad_module)) == (status, "moduleId")
    assert stored_files(tmp_path) == []
    assert (await client.get(AUDIO, headers=me)).json()["total"] == 0


async def test_too_big_is_413_even_without_a_content_length(
    app_factory: Callable[..., Any], tmp_path: Path
) -> None:
    small = wav(tone_pcm(0.02))
    client = await app_factory(AUDIO_MAX_BYTES=len(small))
    me = bearer((await register(client))["token"])
    exact = await upload(client, me, data=small, name="tick.wav", ctype="audio/wav")
    assert exact.status_code == 201, exact.text
    over = await upload(client, me, data=small + b"\0\0", name="tick.wav", ctype="audio/wav")
    assert (over.status_code, field_of(over)) == (413, "audio")

    # A chunked body (no Content-Length) is refused while it arrives, not after spooling it all.
    boundary = "b0undary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="title"\r\n\r\nbig\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="audio"; filename="big.wav"\r\n'
        "Content-Type: audio/wav\r\n\r\n"
    ).encode()
    sent = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        yield head
        for _ in range(64):  # 4 MiB, far beyond the limit plus the form overhead
            sent += 1
            yield b"\0" * 65536
        yield f"\r\n--{boundary}--\r\n".encode()

    headers = {**me, "content-type": f"multipart/form-data; boundary={boundary}"}
    streamed = await client.post(AUDIO, content=body(), headers=headers)
    assert (streamed.status_code, field_of(streamed)) == (413, "audio")
    assert sent < 64
    assert len(stored_files(tmp_path)) == 1


async def test_a_non_audio_name_sent_as_audio_is_renamed(client: httpx.AsyncClient) -> None:
    """The bytes decide what a recording is, whatever its name and declared type; the stored
    name gets the extension of what it is: it is never served back as `run.exe`."""
    me = bearer((await register(client))["token"])
    wav_named_mp3 = await upload(client, me, data=wav(tone_pcm(0.3)), name="talk.mp3",
                                 ctype="audio/mpeg")
    assert wav_named_mp3.status_code == 201, wav_named_mp3.text
    stored = wav_named_mp3.json()["recording"]
    assert (stored["fileName"], stored["contentType"], stored["format"]) == (
        "talk.mp3.wav", "audio/wav", "wav")
    unnamed = await upload(client, me, name="upload", ctype="application/octet-stream")
    assert unnamed.json()["recording"]["fileName"] == "upload.mp3"
    bad_flag = await upload(client, me, transcribe="maybe")
    assert (bad_flag.status_code, field_of(bad_flag)) == (422, "transcribe")
    disguised = await upload(client, me, name="run.exe", ctype="audio/mpeg")
    assert disguised.status_code == 201, disguised.text
    recording = disguised.json()["recording"]
    assert (recording["fileName"], recording["contentType"]) == ("run.exe.mp3", "audio/mpeg")
    file = await client.get(f"{AUDIO}/{recording['id']}/file", headers=me)
    assert file.headers["content-type"] == "audio/mpeg"
    assert "run.exe.mp3" in file.headers["content-disposition"]


async def test_other_users_recordings_are_not_found(client: httpx.AsyncClient) -> None:
    owner = bearer((await register(client))["token"])
    other = bearer((await register(client))["token"])
    recording_id = (await upload(client, owner)).json()["recording"]["id"]
    for method, path in [
        ("GET", f"{AUDIO}/{recording_id}"),
        ("GET", f"{AUDIO}/{recording_id}/file"),
        ("DELETE", f"{AUDIO}/{recording_id}"),
    ]:
        response = await client.request(method, path, headers=other)
        assert response.status_code == 404, (method, path)
        assert (await client.request(method, path)).status_code == 401
    assert (await client.get(AUDIO, headers=other)).json() == {
        "recordings": [],
        "total": 0,
        "hasMore": False,
    }
    assert (await client.get(f"{AUDIO}/{recording_id}", headers=owner)).status_code == 200


async def _upload_until_limited(client: httpx.AsyncClient, me: dict[str, str]) -> httpx.Response:
    responses = [await upload(client, me) for _ in range(3)]
    assert [r.status_code for r in responses] == [201, 201, 429]
    limited = responses[-1]
    assert limited.json()["error"]["code"] == "rate_limited"
    assert 0 < int(limited.headers["retry-after"]) <= 3600
    return limited


async def test_upload_rate_limit_in_memory(app_factory: Callable[..., Any]) -> None:
    client = await app_factory(RATE_LIMIT_AUDIO="2/3600")
    me = bearer((await register(client))["token"])
    await _upload_until_limited(client, me)
    someone_else = bearer((await register(client))["token"])
    assert (await upload(client, someone_else)).status_code == 201  # the budget is per user
    assert (await client.get(AUDIO, headers=me)).status_code == 200  # reads are not limited


@pytest.mark.redis
async def test_upload_rate_limit_in_redis(
    app_factory: Callable[..., Any], redis_url: str, redis_prefix: str
) -> None:
    overrides = {"RATE_LIMIT_AUDIO": "2/3600", "REDIS_URL": redis_url, "REDIS_PREFIX": redis_prefix}
    client = await app_factory(**overrides)
    me = bearer((await register(client))["token"])
    await _upload_until_limited(client, me)
    other_node = await app_factory(**overrides)  # a second web process shares the budget
    assert (await upload(other_node, me)).status_code == 429


async def test_a_failed_row_write_leaves_no_object(
    client: httpx.AsyncClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    me = bearer((await register(client))["token"])

    async def module_gone(self: RecordingRepository, *args: Any, **kwargs: Any) -> Any:
        assert len(stored_files(tmp_path)) == 1  # the bytes were stored first
        raise UnknownReference("user or module does not exist")

    monkeypatch.setattr(RecordingRepository, "create", module_gone)
    refused = await upload(client, me)
    assert (refused.status_code, field_of(refused)) == (404, "moduleId")
    assert stored_files(tmp_path) == []

    async def database_down(self: RecordingRepository, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("database unavailable")

    monkeypatch.setattr(RecordingRepository, "create", database_down)
    with pytest.raises(RuntimeError, match="database unavailable"):
        await upload(client, me)  # the ASGI transport re-raises what became a 500
    assert stored_files(tmp_path) == []
    monkeypatch.undo()
    assert (await client.get(AUDIO, headers=me)).json()["total"] == 0


names = st.text(max_size=30) | st.sampled_from(["a.mp3", "x.WAV", "blob", "..", "a\x00.ogg", ""])
ctypes = st.text(max_size=30) | st.sampled_from(["audio/mpeg", "audio/webm;codecs=opus", ""])
field_values = st.text(max_size=300) | st.sampled_from(["", "not-a-uuid", str(uuid.uuid4())])


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    name=names,
    ctype=ctypes,
    payload=st.binary(max_size=64),
    fields=st.dictionaries(st.sampled_from(["title", "moduleId", "audio", "x"]), field_values),
    raw=st.none() | st.binary(max_size=200),
)
async def test_random_multipart_never_fails_the_server(
    client: httpx.AsyncClient,
    name: str,
    ctype: str,
    payload: bytes,
    fields: dict[str, str],
    raw: bytes | None,
) -> None:
    me = bearer((await register(client))["token"])
    if raw is not None:  # a body that is not valid multipart at all
        headers = {**me, "content-type": "multipart/form-data; boundary=xyz"}
        response = await client.post(AUDIO, content=raw, headers=headers)
    else:
        files = {"audio": (name, payload, ctype)} if ctype else {"audio": (name, payload)}
        response = await client.post(AUDIO, files=files, data=fields, headers=me)
    assert response.status_code < 500, response.text
    if response.status_code != 201:
        assert response.json()["error"]["code"]

"""Direct uploads to S3 (moto in server mode: boto3 and the "browser" really speak HTTP to it),
on SQLite and PostgreSQL: presign, upload to the bucket, complete; every refusal deletes what
was staged and creates nothing."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from storage.s3_uploads import S3DirectUploads
from tests.api.conftest import bearer, register
from tests.audio_samples import encoded, tone_pcm, wav
from tests.storage.test_object_store import moto_endpoint  # noqa: F401 - a fixture

AUDIO = "/api/workbook/audio"
UPLOADS = f"{AUDIO}/uploads"
MP3 = encoded(wav(tone_pcm(1.5)), "mp3")


@pytest.fixture
def s3_app(
    app_factory: Callable[..., Any], moto_endpoint: str, tmp_path: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[..., Any]:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1",
                        "AWS_CONFIG_FILE": str(tmp_path / "none"),
                        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}.items():
        monkeypatch.setenv(name, value)
    bucket = f"direct-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1").create_bucket(
        Bucket=bucket)

    async def start(**overrides: Any) -> httpx.AsyncClient:
        overrides.setdefault("S3_PUBLIC_ENDPOINT_URL", moto_endpoint)
        client: httpx.AsyncClient = await app_factory(
            STORAGE_URL=f"s3://{bucket}/media", S3_ENDPOINT_URL=moto_endpoint, **overrides)
        client.bucket = bucket  # type: ignore[attr-defined]
        return client

    return start


def _keys(client: httpx.AsyncClient) -> list[str]:
    s3 = client.app.state.services.objects.client  # type: ignore[attr-defined]
    listed = s3.list_objects_v2(Bucket=client.bucket)  # type: ignore[attr-defined]
    return sorted(o["Key"] for o in listed.get("Contents", []))


async def _send(started: dict[str, Any], data: bytes, ctype: str) -> httpx.Response:
    """What the page does: the policy's fields, then the file, straight to the bucket."""
    async with httpx.AsyncClient() as browser:
        return await browser.post(started["url"], data=started["fields"],
                                  files={"file": ("memo", data, ctype)})


async def _start(client: httpx.AsyncClient, me: dict[str, str], size: int,
                 ctype: str = "audio/mpeg") -> dict[str, Any]:
    response = await client.post(UPLOADS, json={"size": size, "contentType": ctype}, headers=me)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_direct_upload_becomes_a_recording(s3_app: Callable[..., Any]) -> None:
    client = await s3_app()
    me = bearer((await register(client))["token"])
    options = (await client.get(UPLOADS, headers=me)).json()
    assert options == {"direct": True, "maxBytes": 100 * 2**20,
                       "formats": ["mp3", "wav", "m4a", "webm", "ogg"]}

    started = await _start(client, me, len(MP3))
    assert started["maxBytes"] == 100 * 2**20 and started["fields"]["Content-Type"] == "audio/mpeg"
    sent = await _send(started, MP3, "audio/mpeg")
    assert sent.status_code in (200, 201, 204), sent.text
    upload_id = started["uploadId"]
    me_id = (await client.get("/api/workbook/auth/me", headers=me)).json()["user"]["id"]
    assert _keys(client) == [f"media/uploads/{me_id}/{upload_id}"]  # staged, not yet a recording

    done = await client.post(f"{UPLOADS}/{upload_id}/complete", headers=me,
                             json={"title": "Memo", "fileName": "memo", "transcribe": False})
    assert done.status_code == 201, done.text
    recording = done.json()["recording"]
    assert recording["id"] == upload_id  # the upload's id is the recording's
    assert (recording["format"], recording["fileName"], recording["fileSize"]) == (
        "mp3", "memo.mp3", len(MP3))
    assert recording["durationSeconds"] == pytest.approx(1.5, abs=0.1)
    assert _keys(client) == [f"media/audio/{me_id}/{upload_id}.mp3"]  # staged copy gone
    file = await client.get(f"{AUDIO}/{upload_id}/file", headers=me)
    assert (file.status_code, file.content) == (200, MP3)
    assert file.headers["content-type"] == "audio/mpeg"

    # The answer was lost, the page retries: the same recording, not a second one.
    again = await client.post(f"{UPLOADS}/{upload_id}/complete", headers=me,
                              json={"title": "Memo"})
    assert (again.status_code, again.json()["recording"]["id"]) == (200, upload_id)
    assert (await client.get(AUDIO, headers=me)).json()["total"] == 1
    # Someone else cannot complete (or see) my upload.
    other = bearer((await register(client))["token"])
    theirs = await client.post(f"{UPLOADS}/{upload_id}/complete", headers=other,
                               json={"title": "Mine now"})
    assert theirs.status_code == 404


async def test_refused_uploads_are_deleted_and_create_nothing(
    s3_app: Callable[..., Any],
) -> None:
    small = wav(tone_pcm(0.3))
    client = await s3_app(AUDIO_MAX_BYTES=len(small))
    me = bearer((await register(client))["token"])

    too_big = await client.post(UPLOADS, json={"size": len(small) + 1}, headers=me)
    assert (too_big.status_code, too_big.json()["error"]["fields"][0]["field"]) == (413, "size")
    for bad in ({"size": 0}, {"size": 10, "contentType": "audio/mpeg\r\nX: y"}):
        refused = await client.post(UPLOADS, json=bad, headers=me)
        assert refused.status_code == 422, refused.text
    nothing = await client.post(f"{UPLOADS}/{uuid.uuid4()}/complete", json={"title": "x"},
                                headers=me)
    assert nothing.status_code == 404

    async def staged(data: bytes) -> str:
        """An object under the staging key, put past the policy (as a client could try)."""
        started = await _start(client, me, len(small), "audio/wav")
        uploads: S3DirectUploads = client.app.state.services.direct_uploads  # type: ignore[attr-defined]
        key = uploads._key(f"uploads/{started['fields']['key'].split('/uploads/')[1]}")
        uploads._client.put_object(Bucket=client.bucket, Key=key, Body=data)  # type: ignore[attr-defined]
        return str(started["uploadId"])

    cases = [
        (small + b"\0" * 10, 413),  # larger than the limit
        (b"plain text, not audio " * 4, 415),  # no audio magic: refused after 16 bytes
        (b"ID3\x04\x00" + os.urandom(len(small) - 5), 415),  # an MP3 header, then noise
    ]
    for data, status in cases:
        upload_id = await staged(data)
        refused = await client.post(f"{UPLOADS}/{upload_id}/complete", json={"title": "x"},
                                    headers=me)
        assert refused.status_code == status, refused.text
        assert refused.json()["error"]["fields"][0]["field"] == "audio"
        assert _keys(client) == [], data[:8]
    assert (await client.get(AUDIO, headers=me)).json()["total"] == 0

    # S3 refuses a body over the policy's content-length-range; moto stores it anyway, and
    # then the server's own check refuses it.
    started = await _start(client, me, len(small), "audio/wav")
    await _send(started, small + b"\0" * 100, "audio/wav")
    over = await client.post(f"{UPLOADS}/{started['uploadId']}/complete", json={"title": "x"},
                             headers=me)
    assert over.status_code in (404, 413) and _keys(client) == []


async def test_an_object_swapped_during_the_checks_is_refused(
    s3_app: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = await s3_app()
    me = bearer((await register(client))["token"])
    started = await _start(client, me, len(MP3))
    assert (await _send(started, MP3, "audio/mpeg")).status_code in (200, 201, 204)
    original = S3DirectUploads.read_range

    async def then_swapped(self: S3DirectUploads, key: str, length: int, etag: str) -> bytes:
        head = await original(self, key, length, etag)
        self._client.put_object(Bucket=client.bucket, Key=self._key(key),  # type: ignore[attr-defined]
                                Body=wav(tone_pcm(0.2)))
        return head

    monkeypatch.setattr(S3DirectUploads, "read_range", then_swapped)
    swapped = await client.post(f"{UPLOADS}/{started['uploadId']}/complete",
                                json={"title": "x"}, headers=me)
    assert swapped.status_code == 409, swapped.text
    assert _keys(client) == [] and (await client.get(AUDIO, headers=me)).json()["total"] == 0


async def test_a_bucket_browsers_cannot_reach_gets_form_uploads(
    s3_app: Callable[..., Any], moto_endpoint: str,  # noqa: F811
) -> None:
    """A custom endpoint without its public address (compose's internal `http://s3:9000`),
    or direct uploads switched off: the page is told to send a form, which still works."""
    for overrides in ({"S3_PUBLIC_ENDPOINT_URL": None}, {"AUDIO_DIRECT_UPLOADS": False}):
        client = await s3_app(**overrides)
        me = bearer((await register(client))["token"])
        assert (await client.get(UPLOADS, headers=me)).json()["direct"] is False
        assert (await client.post(UPLOADS, json={"size": 10}, headers=me)).status_code == 409
        form = await client.post(AUDIO, files={"audio": ("m.mp3", MP3, "audio/mpeg")},
                                 data={"title": "Form"}, headers=me)
        assert form.status_code == 201, form.text
        assert (await client.get(f"{AUDIO}/{form.json()['recording']['id']}/file",
                                 headers=me)).content == MP3

    # Presigned for the public address even when the server talks to another one.
    client = await s3_app(S3_PUBLIC_ENDPOINT_URL="https://media.example.com")
    me = bearer((await register(client))["token"])
    started = await _start(client, me, 10)
    assert started["url"].startswith("https://media.example.com/")


async def test_without_s3_the_page_is_told_to_send_a_form(client: httpx.AsyncClient) -> None:
    me = bearer((await register(client))["token"])
    options = (await client.get(UPLOADS, headers=me)).json()
    assert options["direct"] is False and options["maxBytes"] == 100 * 2**20
    refused = await client.post(UPLOADS, json={"size": 10}, headers=me)
    assert refused.status_code == 409 and "multipart" in refused.json()["error"]["message"]
    assert (await client.get(UPLOADS)).status_code == 401

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from moto.server import ThreadedMotoServer

from storage.objects import (
    CHUNK,
    FileObjectStore,
    ObjectNotFound,
    S3ObjectStore,
    open_object_store,
    validate_key,
)


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(params=["file", "s3"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[FileObjectStore | S3ObjectStore]:
    if request.param == "file":
        opened = open_object_store((tmp_path / "objects").as_uri())
    else:
        endpoint: str = request.getfixturevalue("moto_endpoint")
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": str(tmp_path / "none"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        }.items():
            monkeypatch.setenv(name, value)
        opened = open_object_store(
            f"s3://bucket-{uuid.uuid4().hex[:8]}/audio", endpoint_url=endpoint
        )
        assert isinstance(opened, S3ObjectStore)
        await opened.ensure_bucket()
    try:
        yield opened
    finally:
        opened.close()


async def test_put_get_delete_round_trip(store: FileObjectStore | S3ObjectStore) -> None:
    await store.check()
    payload = bytes(range(256)) * 100
    await store.put("users/u1/rec.webm", payload, "audio/webm")
    assert await store.exists("users/u1/rec.webm")
    assert await store.get("users/u1/rec.webm") == payload
    await store.put("users/u1/rec.webm", b"replaced", "audio/webm")
    assert await store.get("users/u1/rec.webm") == b"replaced"
    await store.delete("users/u1/rec.webm")
    await store.delete("users/u1/rec.webm")
    assert not await store.exists("users/u1/rec.webm")
    with pytest.raises(ObjectNotFound):
        await store.get("users/u1/rec.webm")


async def test_files_are_stored_and_read_back_in_chunks(
    store: FileObjectStore | S3ObjectStore, tmp_path: Path
) -> None:
    payload = bytes(range(256)) * (CHUNK // 256) * 2 + b"tail"
    source = tmp_path / "upload.bin"
    source.write_bytes(payload)
    with source.open("rb") as file:
        await store.put_file("audio/u1/big.wav", file, "audio/wav")
    chunks = [chunk async for chunk in store.stream("audio/u1/big.wav")]
    assert b"".join(chunks) == payload
    assert len(chunks) >= 3 and max(map(len, chunks)) <= CHUNK
    with pytest.raises(ObjectNotFound):
        async for _ in store.stream("audio/u1/missing.wav"):
            pass
    assert await store.keys("audio/u1/") == ["audio/u1/big.wav"]  # no temporary file left


@pytest.mark.parametrize("key", ["", "/abs", "a/../b", "a//b", "a\\b", "./a", "x" * 2000, "a\x00"])
def test_unsafe_keys_are_refused(key: str) -> None:
    with pytest.raises(ValueError, match="invalid object key"):
        validate_key(key)


async def test_stores_validate_keys(store: FileObjectStore | S3ObjectStore) -> None:
    with pytest.raises(ValueError, match="invalid object key"):
        await store.put("../escape", b"x")
    with pytest.raises(ValueError, match="invalid object key"):
        await store.get("/etc/passwd")
    assert validate_key("users/u1/rec.webm") == "users/u1/rec.webm"


async def test_s3_objects_live_under_the_prefix_and_presign(
    store: FileObjectStore | S3ObjectStore,
) -> None:
    await store.put("exports/n.md", b"# hi", "text/markdown")
    url = await store.url("exports/n.md", expires_in=60)
    if isinstance(store, FileObjectStore):
        assert url is None
        assert (store.root / "exports" / "n.md").read_bytes() == b"# hi"
        return
    assert url is not None and "/audio/exports/n.md" in url
    async with httpx.AsyncClient() as client:
        response = await client.get(url)
    assert response.status_code == 200 and response.content == b"# hi"
    listed = store.client.list_objects_v2(Bucket=store.bucket)
    assert [o["Key"] for o in listed.get("Contents", [])] == ["audio/exports/n.md"]


def test_unsupported_urls_are_refused() -> None:
    with pytest.raises(ValueError, match="scheme"):
        open_object_store("ftp://x")
    with pytest.raises(ValueError, match="bucket"):
        open_object_store("s3:///nobucket")


async def test_check_fails_for_a_missing_bucket(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    store = open_object_store("s3://does-not-exist", endpoint_url=moto_endpoint)
    try:
        with pytest.raises(Exception, match=r"404|Not Found"):
            await store.check()
    finally:
        store.close()


async def test_keys_lists_a_folder_and_nothing_beside_it(
    store: FileObjectStore | S3ObjectStore,
) -> None:
    for key in ("audio/u1/a.webm", "audio/u1/sub/b.mp3", "audio/u10/c.wav", "exports/n/x.json"):
        await store.put(key, b"x")
    assert await store.keys("audio/u1/") == ["audio/u1/a.webm", "audio/u1/sub/b.mp3"]
    assert await store.keys("audio/u1") == ["audio/u1/a.webm", "audio/u1/sub/b.mp3"]
    assert await store.keys("audio/nobody/") == []
    await store.delete("audio/u1/a.webm")
    assert await store.keys("audio/u1/") == ["audio/u1/sub/b.mp3"]

"""Object storage for audio, exports and recordings: a local folder or an S3 bucket.

``open_object_store("file:///var/objects")`` or ``open_object_store("s3://bucket/prefix",
endpoint_url=...)``. boto3 is synchronous, so every S3 call runs in a worker thread; the client
itself is thread-safe. Keys are relative, ``/``-separated paths without ``..`` segments.

boto3 and botocore (~10 MiB resident, more once a client is built) are imported only when an S3
store is opened: the embedded default keeps its objects on local disk and never needs them.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol, TypeVar
from urllib.parse import unquote, urlsplit

import anyio.to_thread

if TYPE_CHECKING:
    from botocore.exceptions import ClientError
    from mypy_boto3_s3 import S3Client

_T = TypeVar("_T")
_MAX_KEY = 1024
CHUNK = 1 << 20
"""Bytes per read when an object is copied or streamed (bounded memory per transfer)."""


class ObjectNotFound(LookupError):
    """No object is stored under this key."""


class ObjectStore(Protocol):
    async def put(
        self, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> None: ...
    async def put_file(
        self, key: str, file: BinaryIO, content_type: str = "application/octet-stream"
    ) -> None:
        """Store what `file` holds from its current position on, read in chunks (never all
        in memory): large uploads go from their temporary file to the store this way."""
        ...

    async def get(self, key: str) -> bytes: ...
    def stream(self, key: str) -> AsyncIterator[bytes]:
        """The object's bytes in chunks of at most `CHUNK` (ObjectNotFound before the first)."""
        ...

    async def delete(self, key: str) -> None: ...
    async def exists(self, key: str) -> bool: ...
    async def keys(self, prefix: str) -> list[str]:
        """Every key under ``prefix`` (a folder: ``audio/<user>/``), sorted."""
        ...

    async def url(self, key: str, expires_in: int = 3600) -> str | None: ...
    async def check(self) -> None: ...
    def close(self) -> None: ...


def validate_key(key: str) -> str:
    """Return ``key`` if it is a safe relative object key, else raise ``ValueError``."""
    parts = key.split("/")
    if (
        not key
        or len(key) > _MAX_KEY
        or key.startswith("/")
        or "\\" in key
        or "\x00" in key
        or any(part in ("", ".", "..") for part in parts)
    ):
        raise ValueError(f"invalid object key {key!r}")
    return key


async def _in_thread(func: Callable[[], _T]) -> _T:
    return await anyio.to_thread.run_sync(func)


class FileObjectStore:
    """Objects as files under ``root`` (the embedded default)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*validate_key(key).split("/"))

    def _put(self, path: Path, write: Callable[[BinaryIO], object]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename, so a reader never sees half an object.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                write(handle)
                handle.flush()
                os.fsync(handle.fileno())
            Path(tmp).replace(path)
        except Exception:
            Path(tmp).unlink(missing_ok=True)
            raise

    async def put(
        self, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> None:
        await _in_thread(functools.partial(self._put, self._path(key), lambda out: out.write(data)))

    async def put_file(
        self, key: str, file: BinaryIO, content_type: str = "application/octet-stream"
    ) -> None:
        def copy(out: BinaryIO) -> None:
            shutil.copyfileobj(file, out, CHUNK)

        await _in_thread(functools.partial(self._put, self._path(key), copy))

    async def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return await _in_thread(path.read_bytes)
        except FileNotFoundError as exc:
            raise ObjectNotFound(key) from exc

    async def stream(self, key: str) -> AsyncIterator[bytes]:
        path = self._path(key)

        def opened() -> BinaryIO:
            return path.open("rb")

        try:
            handle = await _in_thread(opened)
        except FileNotFoundError as exc:
            raise ObjectNotFound(key) from exc
        try:
            while chunk := await _in_thread(functools.partial(handle.read, CHUNK)):
                yield chunk
        finally:
            handle.close()

    async def delete(self, key: str) -> None:
        path = self._path(key)
        await _in_thread(functools.partial(path.unlink, missing_ok=True))

    async def exists(self, key: str) -> bool:
        return await _in_thread(self._path(key).is_file)

    async def keys(self, prefix: str) -> list[str]:
        folder = self._path(prefix.rstrip("/"))

        def walk() -> list[str]:
            if not folder.is_dir():
                return []
            found = (p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".tmp-"))
            return sorted(p.relative_to(self.root).as_posix() for p in found)

        return await _in_thread(walk)

    async def url(self, key: str, expires_in: int = 3600) -> str | None:
        return None  # served through the API, not directly

    async def check(self) -> None:
        def probe() -> None:
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=self.root):
                pass

        await _in_thread(probe)

    def close(self) -> None:
        return None


class S3ObjectStore:
    """Objects in an S3 (or S3-compatible) bucket, optionally under a key prefix."""

    def __init__(self, client: S3Client, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""

    def _key(self, key: str) -> str:
        return self.prefix + validate_key(key)

    async def put(
        self, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> None:
        await _in_thread(
            functools.partial(
                self.client.put_object,
                Bucket=self.bucket,
                Key=self._key(key),
                Body=data,
                ContentType=content_type,
            )
        )

    async def put_file(
        self, key: str, file: BinaryIO, content_type: str = "application/octet-stream"
    ) -> None:
        # One PUT whose body botocore reads from the file in chunks (signing and checksums
        # stream too); a recording is at most AUDIO_MAX_BYTES, far under S3's 5 GB per PUT.
        await _in_thread(
            functools.partial(
                self.client.put_object,
                Bucket=self.bucket,
                Key=self._key(key),
                Body=file,
                ContentType=content_type,
            )
        )

    async def get(self, key: str) -> bytes:
        def read() -> bytes:
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
            with contextlib.closing(response["Body"]) as body:
                return body.read()

        from botocore.exceptions import ClientError  # `except` evaluates it: import first

        try:
            return await _in_thread(read)
        except ClientError as exc:
            if _code(exc) in {"NoSuchKey", "404"}:
                raise ObjectNotFound(key) from exc
            raise

    async def stream(self, key: str) -> AsyncIterator[bytes]:
        from botocore.exceptions import ClientError

        try:
            response = await _in_thread(
                functools.partial(self.client.get_object, Bucket=self.bucket, Key=self._key(key))
            )
        except ClientError as exc:
            if _code(exc) in {"NoSuchKey", "404"}:
                raise ObjectNotFound(key) from exc
            raise
        with contextlib.closing(response["Body"]) as body:
            while chunk := await _in_thread(functools.partial(body.read, CHUNK)):
                yield chunk

    async def delete(self, key: str) -> None:
        await _in_thread(
            functools.partial(self.client.delete_object, Bucket=self.bucket, Key=self._key(key))
        )

    async def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            await _in_thread(
                functools.partial(self.client.head_object, Bucket=self.bucket, Key=self._key(key))
            )
        except ClientError as exc:
            if _code(exc) in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise
        return True

    async def keys(self, prefix: str) -> list[str]:
        start = self._key(prefix.rstrip("/")) + "/"

        def walk() -> list[str]:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=start
            )
            return sorted(
                item["Key"][len(self.prefix):]
                for page in pages
                for item in page.get("Contents", [])
            )

        return await _in_thread(walk)

    async def url(self, key: str, expires_in: int = 3600) -> str | None:
        """A presigned GET URL valid for ``expires_in`` seconds."""
        return await _in_thread(
            functools.partial(
                self.client.generate_presigned_url,
                "get_object",
                Params={"Bucket": self.bucket, "Key": self._key(key)},
                ExpiresIn=expires_in,
            )
        )

    async def check(self) -> None:
        await _in_thread(functools.partial(self.client.head_bucket, Bucket=self.bucket))

    async def ensure_bucket(self) -> None:
        """Create the bucket if it does not exist (development and tests)."""
        from botocore.exceptions import ClientError

        try:
            await self.check()
        except ClientError as exc:
            if _code(exc) not in {"404", "NoSuchBucket", "NotFound"}:
                raise
            await _in_thread(functools.partial(self.client.create_bucket, Bucket=self.bucket))

    def close(self) -> None:
        self.client.close()


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def open_object_store(
    url: str, *, endpoint_url: str | None = None, region: str | None = None
) -> FileObjectStore | S3ObjectStore:
    """Build the store for ``file:///path`` or ``s3://bucket[/prefix]``.

    Credentials for S3 come from boto3's usual chain (environment, profile, instance role).
    A custom ``endpoint_url`` (MinIO, moto, ...) switches to path-style addressing.
    """
    parts = urlsplit(url)
    if parts.scheme == "file":
        return FileObjectStore(Path(unquote(parts.path)))
    if parts.scheme == "s3":
        if not parts.netloc:
            raise ValueError("s3 URL needs a bucket: s3://bucket[/prefix]")
        import boto3  # only now: boto3 is heavy (see the module docstring)
        from botocore.config import Config

        config = Config(
            signature_version="s3v4",
            retries={"max_attempts": 3, "mode": "standard"},
            s3={"addressing_style": "path"} if endpoint_url else None,
        )
        client: S3Client = boto3.session.Session().client(
            "s3", endpoint_url=endpoint_url, region_name=region or "us-east-1", config=config
        )
        return S3ObjectStore(client, parts.netloc, unquote(parts.path))
    raise ValueError(f"unsupported storage URL scheme {parts.scheme!r} (use file:// or s3://)")

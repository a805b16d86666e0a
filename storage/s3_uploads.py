"""Uploads that go from the browser straight to an S3 bucket, and the server's look at them.

The server presigns a POST policy for one key (`presign`): the bucket itself refuses a body
outside ``[1, max_bytes]`` bytes or with another Content-Type, and the policy expires. The
browser sends the file there; the server never carries its bytes. Then the server inspects the
staged object without trusting the client: its size and ETag (`head`), its first bytes (a
ranged GET, `read_range`), and, to read its duration, the whole object into a temporary file
(`download`). Every read after `head` is conditional on that ETag, and so is the server-side
copy to the object's final key (`promote`), so a client that overwrites the staged object
meanwhile (its policy is still valid) makes the check fail (`ObjectChanged`) instead of
slipping other bytes past it.
"""

from __future__ import annotations

import contextlib
import functools
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, BinaryIO, TypeVar

import anyio.to_thread

from storage.objects import CHUNK, ObjectNotFound, S3ObjectStore, validate_key

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["ObjectChanged", "PresignedPost", "S3DirectUploads", "StagedObject"]

_T = TypeVar("_T")


class ObjectChanged(RuntimeError):
    """The staged object is no longer the one that was inspected (its ETag changed)."""


@dataclass(frozen=True, slots=True)
class PresignedPost:
    url: str
    fields: dict[str, str]
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class StagedObject:
    size: int
    etag: str


def _status(exc: Exception) -> str:
    response = getattr(exc, "response", {}) or {}
    error = response.get("Error", {}) or {}
    return str(error.get("Code", "")) or str(response.get("ResponseMetadata", {}).get(
        "HTTPStatusCode", ""))


def _client_for(endpoint_url: str, region: str | None) -> S3Client:
    import boto3
    from botocore.config import Config

    config = Config(signature_version="s3v4", s3={"addressing_style": "path"})
    client: S3Client = boto3.session.Session().client(
        "s3", endpoint_url=endpoint_url, region_name=region or "us-east-1", config=config)
    return client


class S3DirectUploads:
    """Presigned uploads into `store`'s bucket (under its prefix), and reads of what arrived."""

    def __init__(self, store: S3ObjectStore, *, public_endpoint_url: str | None = None) -> None:
        self._store = store
        self._client = store.client
        self._bucket = store.bucket
        # A signature covers the host: a bucket the server reaches at an internal address is
        # presigned for the address browsers use, by a client of its own.
        self._presigner = self._client if public_endpoint_url is None else _client_for(
            public_endpoint_url, self._client.meta.region_name)

    def close(self) -> None:
        if self._presigner is not self._client:
            self._presigner.close()

    def _key(self, key: str) -> str:
        return self._store.prefix + validate_key(key)

    async def presign(
        self, key: str, *, max_bytes: int, content_type: str, expires_in: int = 3600
    ) -> PresignedPost:
        """A POST policy for exactly `key`, a body of 1 to `max_bytes` bytes, `content_type`."""
        post = await anyio.to_thread.run_sync(functools.partial(
            self._presigner.generate_presigned_post,
            self._bucket,
            self._key(key),
            Fields={"Content-Type": content_type},
            Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, max_bytes]],
            ExpiresIn=expires_in,
        ))
        return PresignedPost(url=str(post["url"]), fields={k: str(v) for k, v in
                                                          post["fields"].items()},
                             expires_at=datetime.now(UTC) + timedelta(seconds=expires_in))

    async def head(self, key: str) -> StagedObject | None:
        """Size and ETag of the object, None when nothing is stored under `key`."""
        from botocore.exceptions import ClientError

        try:
            found = await anyio.to_thread.run_sync(functools.partial(
                self._client.head_object, Bucket=self._bucket, Key=self._key(key)))
        except ClientError as exc:
            if _status(exc) in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise
        return StagedObject(size=int(found["ContentLength"]), etag=str(found["ETag"]))

    async def read_range(self, key: str, length: int, etag: str) -> bytes:
        """The first `length` bytes (fewer if the object is shorter)."""
        def read() -> bytes:
            response = self._client.get_object(Bucket=self._bucket, Key=self._key(key),
                                               Range=f"bytes=0-{length - 1}", IfMatch=etag)
            with contextlib.closing(response["Body"]) as body:
                return body.read(length)

        return await self._guarded(key, read)

    async def download(self, key: str, file: BinaryIO, etag: str) -> None:
        """The whole object into `file`, a chunk at a time."""
        def copy() -> None:
            response = self._client.get_object(Bucket=self._bucket, Key=self._key(key),
                                               IfMatch=etag)
            with contextlib.closing(response["Body"]) as body:
                shutil.copyfileobj(body, file, CHUNK)

        await self._guarded(key, copy)

    async def promote(self, source: str, target: str, *, content_type: str, etag: str) -> None:
        """Copy `source` to `target` inside the bucket (the server never holds the bytes),
        served from then on as `content_type`; `source` stays (the caller deletes it)."""
        def copy() -> None:
            self._client.copy_object(
                Bucket=self._bucket, Key=self._key(target),
                CopySource={"Bucket": self._bucket, "Key": self._key(source)},
                CopySourceIfMatch=etag, ContentType=content_type, MetadataDirective="REPLACE",
            )

        await self._guarded(source, copy)

    async def _guarded(self, key: str, call: Callable[[], _T]) -> _T:
        from botocore.exceptions import ClientError

        try:
            return await anyio.to_thread.run_sync(call)
        except ClientError as exc:
            code = _status(exc)
            if code in {"PreconditionFailed", "412"}:
                raise ObjectChanged(key) from exc
            if code in {"NoSuchKey", "404", "NotFound"}:
                raise ObjectNotFound(key) from exc
            raise

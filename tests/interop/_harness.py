"""TEMPORARY stand-in for `collab serve` until the api wires notes and collab together.

A Starlette app with `collab.asgi.routes(CollabServer(...))`, a test-only HS256 JWT auth
extension with the notes rules (owner/write edit, read is read-only, others 4403, unknown 4404,
deleted 4410), a file-backed DocumentStore, and the four REST routes the interop tests use
(register, create note, share, delete). Run as `python tests/interop/_harness.py --port N`
with COLLAB_DATA_DIR and JWT_SECRET in the environment. Delete once the real server has them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import struct
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import jwt
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from collab import CloseCode, CollabConfig, CollabServer, Extension, Principal, Reject
from collab.asgi import routes as collab_routes
from collab.extensions.persistence import Persistence
from collab.hooks import Authenticate


class FileStore:
    """DocumentStore: one append-only file of length-prefixed updates per document."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def _path(self, name: str) -> Path:
        return self.directory / hashlib.sha256(name.encode()).hexdigest()

    async def load(self, name: str) -> list[bytes]:
        try:
            data = self._path(name).read_bytes()
        except FileNotFoundError:
            return []
        out, pos = [], 0
        while pos + 4 <= len(data):
            (size,) = struct.unpack_from(">I", data, pos)
            if pos + 4 + size > len(data):
                break
            out.append(data[pos + 4 : pos + 4 + size])
            pos += 4 + size
        return out

    async def append(self, entries: Sequence[tuple[str, bytes]]) -> None:
        for name, update in entries:
            with self._path(name).open("ab") as f:
                f.write(struct.pack(">I", len(update)) + update)
                f.flush()
                os.fsync(f.fileno())

    async def delete(self, name: str) -> None:
        self._path(name).unlink(missing_ok=True)


class Acl:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, Any] = {"users": {}, "notes": {}}
        if path.exists():
            self.data = json.loads(path.read_text())

    def save(self) -> None:
        self.path.write_text(json.dumps(self.data))


class NotesAuth(Extension):
    def __init__(self, acl: Acl, secret: str) -> None:
        self.acl = acl
        self.secret = secret

    async def on_authenticate(self, event: Authenticate) -> None:
        try:
            claims = jwt.decode(event.token or "", self.secret, algorithms=["HS256"])
        except jwt.PyJWTError:
            raise Reject(CloseCode.UNAUTHORIZED, "unauthorized") from None
        note = self.acl.data["notes"].get(event.doc_id)
        if note is None:
            raise Reject(CloseCode.NOT_FOUND, "not found")
        if note["deleted"]:
            raise Reject(CloseCode.DOCUMENT_DELETED, "document deleted")
        user = claims["sub"]
        permission = "write" if note["owner"] == user else note["shares"].get(user)
        if permission is None:
            raise Reject(CloseCode.FORBIDDEN, "forbidden")
        event.principal = Principal(user_id=user, name=claims.get("name", ""))
        event.read_only = permission == "read"


def create_app(data_dir: Path, secret: str) -> Starlette:
    acl = Acl(data_dir / "harness-acl.json")
    collab = CollabServer(
        config=CollabConfig(),
        extensions=[NotesAuth(acl, secret), Persistence(FileStore(data_dir / "docs"))],
    )

    def user_of(request: Request) -> str:
        token = request.headers["authorization"].removeprefix("Bearer ")
        return str(jwt.decode(token, secret, algorithms=["HS256"])["sub"])

    async def register(request: Request) -> JSONResponse:
        body = await request.json()
        user_id = str(uuid.uuid4())
        acl.data["users"][body["email"]] = user_id
        acl.save()
        claims = {"sub": user_id, "name": body["name"], "email": body["email"], "type": "access"}
        token = jwt.encode(claims, secret, algorithm="HS256")
        user = {"id": user_id, "name": body["name"], "email": body["email"]}
        return JSONResponse({"success": True, "user": user, "token": token, "refreshToken": ""})

    async def create_note(request: Request) -> JSONResponse:
        note_id = str(uuid.uuid4())
        acl.data["notes"][note_id] = {"owner": user_of(request), "shares": {}, "deleted": False}
        acl.save()
        return JSONResponse({"success": True, "note": {"id": note_id}}, status_code=201)

    async def share(request: Request) -> JSONResponse:
        body = await request.json()
        note = acl.data["notes"][request.path_params["id"]]
        note["shares"][acl.data["users"][body["email"]]] = body["permission"]
        acl.save()
        return JSONResponse({"success": True}, status_code=201)

    async def delete(request: Request) -> JSONResponse:
        note_id = request.path_params["id"]
        acl.data["notes"][note_id]["deleted"] = True
        acl.save()
        await collab.close_document(f"notes/{note_id}", code=CloseCode.DOCUMENT_DELETED)
        return JSONResponse({"success": True})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with collab:
            yield

    return Starlette(
        routes=[
            Route("/api/workbook/auth/register", register, methods=["POST"]),
            Route("/api/workbook/notes", create_note, methods=["POST"]),
            Route("/api/workbook/notes/{id}/shares", share, methods=["POST"]),
            Route("/api/workbook/notes/{id}", delete, methods=["DELETE"]),
            *collab_routes(collab),
        ],
        lifespan=lifespan,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    data_dir = Path(os.environ["COLLAB_DATA_DIR"])
    app = create_app(data_dir, os.environ["JWT_SECRET"])
    uvicorn.run(
        app, host="127.0.0.1", port=args.port, ws="websockets-sansio", log_config=None,
        access_log=False,
    )


if __name__ == "__main__":
    main()

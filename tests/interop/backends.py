"""Users, notes and shares for the interop tests, made through the server's own REST API.

The tests only need: a user with an access token, a note owned by a user, a share with `read`
or `write` permission, deleting a note, and an expired token (minted with the test secret, as
the server's clock would have minted it earlier).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Literal, Protocol

import httpx
import jwt

JWT_SECRET = "interop-test-secret-0123456789abcdef0123456789"


@dataclass(frozen=True, slots=True)
class User:
    id: str
    name: str
    email: str
    token: str


@dataclass(frozen=True, slots=True)
class Note:
    """A fresh note and its owner; `name` is the collab document name `notes/<id>`."""

    owner: User
    id: str

    @property
    def name(self) -> str:
        return f"notes/{self.id}"


def mint_token(user: User, *, expires_in: int = 900, secret: str = JWT_SECRET) -> str:
    """An access JWT for `user` in the team's claim shape (negative `expires_in` = expired)."""
    now = int(time.time())
    claims = {
        "sub": user.id,
        "name": user.name,
        "email": user.email,
        "role": "user",
        "type": "access",
        "iat": now - max(0, -expires_in) - 60,
        "exp": now + expires_in,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


class Backend(Protocol):
    async def user(self, name: str) -> User: ...
    async def note(self, owner: User, content: str = "") -> str: ...
    async def share(
        self, note_id: str, owner: User, user: User, permission: Literal["read", "write"]
    ) -> None: ...
    async def delete_note(self, note_id: str, owner: User) -> None: ...


class RestBackend:
    """The real `/api/workbook` routes (registration open, rate limits off in the test env)."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def user(self, name: str) -> User:
        local = "".join(c for c in name.lower() if c.isalnum())[:20] or "user"
        email = f"{local}-{uuid.uuid4().hex[:8]}@example.com"
        response = await self.http.post(
            "/api/workbook/auth/register",
            json={"email": email, "password": "correct horse battery staple", "name": name},
        )
        assert response.status_code in (200, 201), response.text
        body = response.json()
        return User(id=str(body["user"]["id"]), name=name, email=email, token=body["token"])

    async def note(self, owner: User, content: str = "") -> str:
        response = await self.http.post(
            "/api/workbook/notes",
            json={"title": "interop", "content": content, "tags": [], "isPrivate": True},
            headers=_bearer(owner),
        )
        assert response.status_code in (200, 201), response.text
        return str(response.json()["note"]["id"])

    async def share(
        self, note_id: str, owner: User, user: User, permission: Literal["read", "write"]
    ) -> None:
        response = await self.http.post(
            f"/api/workbook/notes/{note_id}/shares",
            json={"email": user.email, "permission": permission},
            headers=_bearer(owner),
        )
        assert response.status_code in (200, 201), response.text

    async def note_text(self, note_id: str, user: User) -> str:
        response = await self.http.get(f"/api/workbook/notes/{note_id}", headers=_bearer(user))
        assert response.status_code == 200, response.text
        return str(response.json()["note"]["content"])

    async def delete_note(self, note_id: str, owner: User) -> None:
        response = await self.http.delete(
            f"/api/workbook/notes/{note_id}", headers=_bearer(owner)
        )
        assert response.status_code in (200, 204), response.text


def _bearer(user: User) -> dict[str, str]:
    return {"Authorization": f"Bearer {user.token}"}

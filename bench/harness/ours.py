"""Our server's REST API as the suite uses it: users registered, notes created and shared, and
real access tokens handed to the clients. Nothing here bypasses auth."""

from __future__ import annotations

import http.client
import json
import math
import os
import secrets
import threading
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from harness.pool import BenchError

#: Connections one user holds at most, across rooms (the server's default cap is 100).
CONNECTIONS_PER_USER = int(os.environ.get("BENCH_CONNECTIONS_PER_USER", "10"))
REST_THREADS = 8
#: BENCH_SAME_USER_ROOMS=1 puts all clients of a room on one user: reproduces the awareness
#: bug described in bench/NOTES.md (same user, several connections to one document).
SAME_USER_ROOMS = os.environ.get("BENCH_SAME_USER_ROOMS") == "1"


@dataclass
class User:
    id: str
    email: str
    token: str


@dataclass
class OurApi:
    base: str
    users: list[User] = field(default_factory=list)
    _local: threading.local = field(default_factory=threading.local)

    def _conn(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            parts = urlsplit(self.base)
            conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
            self._local.conn = conn
        return conn

    def request(self, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        payload = json.dumps(body).encode() if body is not None else None
        for attempt in range(2):
            conn = self._conn()
            try:
                conn.request(method, path, payload, headers)
                response = conn.getresponse()
                data = response.read()
                break
            except (OSError, http.client.HTTPException):
                conn.close()
                self._local.conn = None
                if attempt:
                    raise
        if response.status >= 400:
            raise BenchError(f"{method} {path}: {response.status} {data[:300]!r}")
        return json.loads(data) if data else None

    def documents_loaded(self) -> int:
        """The server's `collab_documents_loaded` gauge (from `/metrics`)."""
        with urllib.request.urlopen(f"{self.base}/metrics", timeout=10) as response:
            text = response.read().decode()
        for line in text.splitlines():
            if line.startswith("collab_documents_loaded "):
                return int(float(line.split()[1]))
        raise BenchError("/metrics has no collab_documents_loaded")

    def register(self) -> User:
        email = f"bench-{secrets.token_hex(6)}@example.com"
        body = {"email": email, "password": secrets.token_urlsafe(16), "name": "Bench user"}
        out = self.request("POST", "/api/workbook/auth/register", body)
        user = User(id=out["user"]["id"], email=email, token=out["token"])
        self.users.append(user)
        return user

    def login(self, email: str, password: str) -> User:
        body = {"email": email, "password": password}
        out = self.request("POST", "/api/workbook/auth/login", body)
        return User(id=out["user"]["id"], email=email, token=out["token"])

    def attendees(self, count: int) -> list[User]:
        """`count` distinct users (registered as needed)."""
        self._ensure_users(count)
        return self.users[:count]

    def create_note(self, owner: User) -> str:
        body = {"title": "Benchmark note", "content": "", "tags": [], "isPrivate": True}
        out = self.request("POST", "/api/workbook/notes", body, token=owner.token)
        return str(out["note"]["id"])

    def share(self, note_id: str, owner: User, user: User) -> None:
        body = {"email": user.email, "permission": "write"}
        self.request("POST", f"/api/workbook/notes/{note_id}/shares", body, token=owner.token)

    def _ensure_users(self, count: int) -> None:
        missing = count - len(self.users)
        if missing > 0:
            with ThreadPoolExecutor(min(REST_THREADS, missing)) as ex:
                list(ex.map(lambda _i: self.register(), range(missing)))

    def rooms(
        self, count: int, per_room: int, per_user: int | None = None
    ) -> list[list[dict[str, Any]]]:
        """`count` new notes with `per_room` client specs each. Every client of a room is a
        different user (as in a real room: no user has two connections to one document), and
        users are reused across rooms so none holds more than `per_user` connections (default
        CONNECTIONS_PER_USER). The owner (first member) shares the note (write) with the rest."""
        cap = per_user or CONNECTIONS_PER_USER
        total = count * per_room
        self._ensure_users(max(per_room, math.ceil(total / cap), 1))
        n = len(self.users)
        plan = [[self.users[(r * per_room + j) % n] for j in range(per_room)] for r in range(count)]
        if SAME_USER_ROOMS:  # every client of a room on the owner's token (tabs of one user)
            plan = [[members[0]] * per_room for members in plan]

        def make(members: list[User]) -> list[dict[str, Any]]:
            owner = members[0]
            note = self.create_note(owner)
            for other in {m.id: m for m in members[1:] if m.id != owner.id}.values():
                self.share(note, owner, other)
            return [{"room": f"notes/{note}", "token": m.token} for m in members]

        with ThreadPoolExecutor(REST_THREADS) as ex:
            return list(ex.map(make, plan))

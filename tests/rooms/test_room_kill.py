"""An accepted room action is durable: the reply waits for the group commit that stores it.
A real `collab serve` (embedded SQLite) with a 1 s group-commit window is killed with SIGKILL
right after the replies; the restarted server has every accepted action."""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from collab.client import CollabClient
from rooms import document as d
from tests.interop.backends import JWT_SECRET, RestBackend, User
from tests.interop.serverprocess import ServerProcess, free_port

pytestmark = pytest.mark.slow


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    port = free_port()
    env = {
        "COLLAB_ENV": "test", "COLLAB_DATA_DIR": str(tmp_path / "data"),
        "COLLAB_AUTO_MIGRATE": "true", "JWT_SECRET": JWT_SECRET, "RATE_LIMITS_ENABLED": "false",
        "COOKIE_SECURE": "false", "PASSWORD_HASH_TIME_COST": "1",
        "PASSWORD_HASH_MEMORY_KIB": "1024", "PASSWORD_HASH_PARALLELISM": "1",
        # Writes held back a whole second: only an action's own wait can have stored it.
        "COLLAB_PERSIST_INTERVAL": "1", "COLLAB_UNLOAD_DELAY": "600",
    }
    (tmp_path / "data").mkdir()
    collab = Path(sys.executable).with_name("collab")
    process = ServerProcess([str(collab), "serve", "--host", "127.0.0.1", "--port", str(port)],
                            env=env, port=port, log_path=tmp_path / "server.log")
    process.start()
    try:
        yield process
    finally:
        process.kill()


def _host_token(user: User) -> str:
    now = int(time.time())
    return jwt.encode({"sub": user.id, "name": user.name, "email": user.email, "role": "host",
                       "type": "access", "iat": now - 60, "exp": now + 900,
                       "jti": uuid.uuid4().hex}, JWT_SECRET, algorithm="HS256")


async def _ok(client: CollabClient, action: str, **fields: Any) -> dict[str, Any]:
    request_id = uuid.uuid4().hex
    client.send_stateless(json.dumps({"id": request_id, "action": action, **fields}))
    async with asyncio.timeout(10):
        while True:
            reply: dict[str, Any] = json.loads((await client.stateless.get())[0])
            if reply["id"] == request_id:
                assert reply["ok"] is True, reply
                return reply


async def test_accepted_actions_survive_a_kill(server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=server.http_url, timeout=20) as http:
        backend = RestBackend(http)
        host = await backend.user("Hannah")
        hosting = {"Authorization": f"Bearer {_host_token(host)}"}
        start = datetime.now(UTC) + timedelta(minutes=5)
        created = await http.post("/api/workbook/sessions", headers=hosting, json={
            "title": "Kill", "scheduledStart": start.isoformat(),
            "scheduledEnd": (start + timedelta(hours=1)).isoformat()})
        sid = created.json()["session"]["id"]
        await http.post(f"/api/workbook/sessions/{sid}/join", headers=hosting)
        assert (await http.post(f"/api/workbook/sessions/{sid}/start",
                                headers=hosting)).status_code == 200
    name = f"sessions/{sid}"
    room = CollabClient(f"{server.ws_url}/collab", name, token=host.token, stateless=True,
                        reconnect=False)
    async with room:
        async with asyncio.timeout(20):
            await room.synced()
        await _ok(room, "chat.post", text="accepted before the kill")
        poll = (await _ok(room, "poll.create", question="Q", options=["a", "b"]))["pollId"]
        await _ok(room, "poll.open", pollId=poll)
        await _ok(room, "poll.vote", pollId=poll, choices=[1])
        await asyncio.to_thread(server.kill)  # within the 1 s window: no flush, no close
    await asyncio.to_thread(server.start)
    again = CollabClient(f"{server.ws_url}/collab", name, token=host.token, stateless=True)
    async with again:
        async with asyncio.timeout(20):
            await again.synced()
        chat = d.yarray(again.doc, d.CHAT).to_py() or []
        assert [m["text"] for m in chat] == ["accepted before the kill"]
        assert d.ymap(again.doc, d.POLLS).to_py()[poll]["status"] == "open"
        assert (await _ok(again, "poll.results", pollId=poll))["results"] == [0, 1]

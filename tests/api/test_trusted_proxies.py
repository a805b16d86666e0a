"""`X-Forwarded-For` is believed only from TRUSTED_PROXIES: a client that sends the header
itself cannot pick a new address for every request and so escape the per-address limits."""

from __future__ import annotations

import asyncio
import socket
import uuid
from pathlib import Path

import httpx
import pytest
import uvicorn

from api.app import create_app
from api.cli import uvicorn_config
from api.settings import Settings
from tests.api.conftest import PASSWORD


async def sign_ups_from_two_claimed_addresses(tmp_path: Path, trusted: str) -> list[int]:
    settings = Settings(
        COLLAB_ENV="test",
        COLLAB_DATA_DIR=str(tmp_path),
        RATE_LIMIT_REGISTER="1/3600",
        TRUSTED_PROXIES=trusted,
        PASSWORD_HASH_TIME_COST=1,
        PASSWORD_HASH_MEMORY_KIB=1024,
        PASSWORD_HASH_PARALLELISM=1,
    )
    server = uvicorn.Server(uvicorn_config(settings, create_app(settings), "127.0.0.1", 0))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    statuses = []
    try:
        base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            for claimed in ("203.0.113.7", "198.51.100.9"):
                response = await client.post(
                    "/api/workbook/auth/register",
                    json={"email": f"{uuid.uuid4().hex[:8]}@example.com",
                          "password": PASSWORD, "name": "P"},
                    headers={"X-Forwarded-For": claimed},
                )
                statuses.append(response.status_code)
    finally:
        server.should_exit = True
        async with asyncio.timeout(30):
            await task
        sock.close()
    return statuses


async def test_a_forwarded_address_from_an_untrusted_peer_is_ignored(tmp_path: Path) -> None:
    # Both sign-ups count against 127.0.0.1, the real peer: the second is over the limit.
    assert await sign_ups_from_two_claimed_addresses(tmp_path, "") == [201, 429]


async def test_a_trusted_proxys_forwarded_address_is_the_client(tmp_path: Path) -> None:
    # The proxy (here 127.0.0.1) speaks for two different clients: each has its own budget.
    assert await sign_ups_from_two_claimed_addresses(tmp_path, "127.0.0.0/8") == [201, 201]


def test_a_host_name_is_not_a_trusted_proxy() -> None:
    with pytest.raises(ValueError, match="TRUSTED_PROXIES"):  # pydantic wraps SettingsError
        Settings(COLLAB_ENV="test", TRUSTED_PROXIES="10.0.0.2, nginx")

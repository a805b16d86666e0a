"""Fixtures shared by the collab tests: the socket transport, a migrated SQLite log for nodes."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest

from storage.db import migrate
from tests.collab._nodes import NodePair, two_nodes


@pytest.fixture(params=["direct", "asgi"])
def ws_impl(request: pytest.FixtureRequest) -> str:
    """Each socket test runs on both transports: ``"direct"`` is
    ``collab.transport.CollabWebSocketProtocol`` (what ``collab serve`` runs), ``"asgi"`` is
    stock uvicorn, where the endpoint falls back to a ``BufferedChannel`` over Starlette's
    ``WebSocket`` (what any other ASGI server gets)."""
    return str(request.param)


@pytest.fixture
async def sqlite_url(tmp_path: Path) -> str:
    """One migrated SQLite database, which several in-process nodes share as their log."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    await migrate(url)
    return url


@pytest.fixture
def node_pair(sqlite_url: str, redis_url: str, redis_prefix: str) -> NodePair:
    """`async with node_pair(kinds=None) as (a, b)`: two nodes on `sqlite_url` and one Redis."""
    return partial(two_nodes, sqlite_url, redis_url, redis_prefix)

"""Fixtures shared by the collab tests that run over a real socket."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["direct", "asgi"])
def ws_impl(request: pytest.FixtureRequest) -> str:
    """Each socket test runs on both transports: ``"direct"`` is
    ``collab.transport.CollabWebSocketProtocol`` (what ``collab serve`` runs), ``"asgi"`` is
    stock uvicorn, where the endpoint falls back to a ``BufferedChannel`` over Starlette's
    ``WebSocket`` (what any other ASGI server gets)."""
    return str(request.param)

"""Logs and metrics never carry note content, tokens or email addresses: a user's whole day
(sign-up, sign-in, a note typed live and shared by email, an export, a failed sign-in, a
refresh) runs with every logger at DEBUG, and no record, and no line of /metrics, holds any of
it."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import httpx
import pytest
from pycrdt import Text

from api.logredact import install_log_privacy
from collab.client import CollabClient
from tests.api.conftest import PASSWORD, bearer, register


async def test_nothing_personal_reaches_the_logs_or_metrics(
    live_app: dict[str, Any], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An in-process uvicorn of an earlier test in this worker may have set its loggers' level
    # (``log_level``) or stopped them propagating (its default logging config): every record
    # must reach the capture here, as with `collab serve`
    for name in ("uvicorn", "uvicorn.access", "uvicorn.error"):
        monkeypatch.setattr(logging.getLogger(name), "propagate", True)
        caplog.set_level(logging.DEBUG, logger=name)
    caplog.set_level(logging.DEBUG)
    install_log_privacy([caplog.handler])  # as `collab serve` sets up its handlers
    client: httpx.AsyncClient = live_app["client"]
    marker = f"quokka{uuid.uuid4().hex[:8]}"
    me = await register(client, email=f"{marker}-me@example.com", name="Private Person")
    friend = await register(client, email=f"{marker}-friend@example.com", name="Friend")
    headers = bearer(me["token"])
    failed = await client.post("/api/workbook/auth/login",
                               json={"email": me["user"]["email"], "password": "wrong " + marker})
    assert failed.status_code == 401
    note = await client.post("/api/workbook/notes", headers=headers,
                             json={"title": f"{marker} title", "content": f"{marker} body"})
    note_id = note.json()["note"]["id"]
    shared = await client.post(f"/api/workbook/notes/{note_id}/shares", headers=headers,
                               json={"email": friend["user"]["email"], "permission": "read"})
    assert shared.is_success
    editor = CollabClient(live_app["ws"].removesuffix("/notes"), f"notes/{note_id}",
                          token=me["token"])
    async with editor:
        async with asyncio.timeout(10):
            await editor.synced()
        editor.doc.get("t", type=Text).insert(0, f"typed {marker}")
        await asyncio.sleep(0.3)
    assert (await client.get(f"/api/workbook/notes/{note_id}/export?format=md",
                             headers=headers)).is_success
    assert (await client.get("/api/workbook/notes", headers=headers,
                             params={"q": marker})).is_success
    refreshed = await client.post("/api/workbook/auth/refresh",
                                  json={"refreshToken": me["refreshToken"]})
    assert refreshed.is_success
    metrics = (await client.get("/metrics")).text

    secrets = [marker, me["token"], me["refreshToken"], refreshed.json()["token"], PASSWORD]
    logged = [caplog.handler.format(record) for record in caplog.records]
    # The request lines are there, with the search words redacted (the check sees them).
    assert any("/api/workbook/notes?q=[redacted]" in line for line in logged), logged[-20:]
    for secret in secrets:
        assert not [line for line in logged if secret in line], secret[:12]
        assert secret not in metrics

"""Signing out everywhere, changing the password and a deleted account end every access token
at once (api/epochs.py): on every route, and on the collab sockets, not 15 minutes later."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import anyio
import httpx
import pytest

from api.epochs import TokenEpochs
from api.tokens import AccessTokens
from collab.client import CollabClient
from storage.db import connect
from storage.users import UserRepository
from tests.api.conftest import PASSWORD, bearer, register


async def sign_in(client: httpx.AsyncClient, email: str) -> dict[str, Any]:
    response = await client.post(
        "/api/workbook/auth/login", json={"email": email, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    client.cookies.clear()
    body: dict[str, Any] = response.json()
    return body


async def test_sign_out_everywhere_refuses_every_device_at_once(client: httpx.AsyncClient) -> None:
    user = await register(client)
    laptop, phone = user, await sign_in(client, user["user"]["email"])
    for device in (laptop, phone):  # both work (and the epoch is cached on this node)
        assert (await client.get("/api/workbook/notes", headers=bearer(device["token"]))).is_success

    response = await client.post("/api/workbook/auth/logout-all", headers=bearer(phone["token"]))
    assert response.status_code == 200, response.text

    for device in (laptop, phone):
        listed = await client.get("/api/workbook/notes", headers=bearer(device["token"]))
        assert listed.status_code == 401
        assert listed.json()["error"]["code"] == "token_revoked"
        created = await client.post(
            "/api/workbook/notes", json={"title": "x"}, headers=bearer(device["token"])
        )
        assert created.status_code == 401
        refreshed = await client.post(
            "/api/workbook/auth/refresh", json={"refreshToken": device["refreshToken"]}
        )
        assert refreshed.status_code == 401
    again = await sign_in(client, user["user"]["email"])  # a new sign-in works
    assert (await client.get("/api/workbook/notes", headers=bearer(again["token"]))).is_success


async def test_a_stale_cookie_does_not_block_signing_in_again(client: httpx.AsyncClient) -> None:
    user = await register(client)
    assert (await client.post(
        "/api/workbook/auth/logout-all", headers=bearer(user["token"])
    )).is_success
    client.cookies.set("collab_access", user["token"])  # the browser still sends the old one
    response = await client.post(
        "/api/workbook/auth/login",
        json={"email": user["user"]["email"], "password": PASSWORD},
    )
    assert response.status_code == 200, response.text


async def test_a_password_change_keeps_this_session_and_ends_the_others(
    client: httpx.AsyncClient,
) -> None:
    user = await register(client)
    other = await sign_in(client, user["user"]["email"])
    wrong = await client.post(
        "/api/workbook/auth/password",
        json={"currentPassword": "not-it-at-all", "newPassword": "a-new-password"},
        headers=bearer(user["token"]),
    )
    assert wrong.status_code == 403
    assert wrong.json()["error"]["fields"][0]["field"] == "currentPassword"
    # Nothing changed: the other device still works, the old password still signs in.
    assert (await client.get("/api/workbook/notes", headers=bearer(other["token"]))).is_success
    await sign_in(client, user["user"]["email"])

    changed = await client.post(
        "/api/workbook/auth/password",
        json={"currentPassword": PASSWORD, "newPassword": "a-new-password"},
        headers=bearer(user["token"]),
    )
    assert changed.status_code == 200, changed.text
    fresh = changed.json()
    assert (await client.get("/api/workbook/notes", headers=bearer(fresh["token"]))).is_success
    for stale in (user["token"], other["token"]):
        assert (await client.get("/api/workbook/notes", headers=bearer(stale))).status_code == 401
    old = await client.post(
        "/api/workbook/auth/login", json={"email": user["user"]["email"], "password": PASSWORD}
    )
    assert old.status_code == 401
    new = await client.post(
        "/api/workbook/auth/login",
        json={"email": user["user"]["email"], "password": "a-new-password"},
    )
    assert new.status_code == 200


async def test_a_deleted_accounts_token_stops_on_every_route(
    client: httpx.AsyncClient, database_url: str
) -> None:
    user = await register(client)
    headers = bearer(user["token"])
    assert (await client.get("/api/workbook/notes", headers=headers)).is_success
    async with connect(database_url) as db:
        assert await UserRepository(db).delete(uuid.UUID(user["user"]["id"]))
    # The node cached the epoch a moment ago; deleting through the repository (not the API)
    # tells it nothing, so this shows the bound without a notice: the cache's lifetime.
    app_epochs: TokenEpochs = client._transport.app.state.services.epochs  # type: ignore[attr-defined]
    app_epochs.forget(uuid.UUID(user["user"]["id"]))
    listed = await client.get("/api/workbook/notes", headers=headers)
    assert listed.status_code == 401
    assert listed.json()["error"]["message"] == "account no longer exists"
    created = await client.post("/api/workbook/notes", json={"title": "x"}, headers=headers)
    assert created.status_code == 401  # was a misleading 422 before the epoch check


async def test_open_sockets_close_with_4401(live_app: dict[str, Any]) -> None:
    http: httpx.AsyncClient = live_app["client"]
    user = await register(http)
    headers = bearer(user["token"])
    note = await http.post("/api/workbook/notes", json={"title": "n"}, headers=headers)
    assert note.status_code == 201, note.text
    base = live_app["ws"].removesuffix("/notes")
    editor = CollabClient(base, f"notes/{note.json()['note']['id']}", token=user["token"])
    async with editor:
        async with asyncio.timeout(10):
            await editor.synced()
        assert (await http.post(
            "/api/workbook/auth/logout-all", headers=bearer(user["token"])
        )).is_success
        async with asyncio.timeout(5):
            assert await editor.closed() == 4401
    late = CollabClient(base, editor.name, token=user["token"])
    async with late:  # the old token cannot open a socket either
        async with asyncio.timeout(5):
            assert await late.closed() == 4401


class CountingSource:
    def __init__(self) -> None:
        self.epochs: dict[uuid.UUID, int] = {}
        self.queries = 0
        self.gate: anyio.Event | None = None

    async def token_epochs(self, user_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
        self.queries += 1
        answer = {u: self.epochs[u] for u in user_ids if u in self.epochs}
        if self.gate is not None:
            await self.gate.wait()
        return answer


async def test_the_cache_shares_lookups_and_never_keeps_an_answer_older_than_a_forget() -> None:
    source, user = CountingSource(), uuid.uuid4()
    source.epochs[user] = 0
    epochs = TokenEpochs(source, ttl=60)
    source.gate = anyio.Event()
    results: list[int | None] = []

    async def look() -> None:
        results.append(await epochs.current(user))

    async with anyio.create_task_group() as tg:
        for _ in range(20):
            tg.start_soon(look)
        await anyio.sleep(0.01)
        source.epochs[user] = 1  # changed while the query (which read 0) is in flight
        epochs.forget(user)
        source.gate.set()
    assert results == [0] * 20 and source.queries == 1  # one query for the storm
    source.gate = None
    assert await epochs.current(user) == 1  # the in-flight answer was not cached
    assert await epochs.current(user) == 1 and source.queries == 2  # now it is


async def test_an_old_epoch_and_a_missing_user_are_refused() -> None:
    source, user = CountingSource(), uuid.uuid4()
    source.epochs[user] = 3
    epochs, tokens = TokenEpochs(source), AccessTokens("s" * 32)
    for epoch, refused in ((2, True), (3, False), (4, False)):
        token, _ = tokens.issue(user_id=user, name="n", email="e", role="user", epoch=epoch)
        if refused:
            with pytest.raises(Exception, match="revoked"):
                await epochs.check(tokens.decode(token))
        else:
            await epochs.check(tokens.decode(token))
    stranger, _ = tokens.issue(user_id=uuid.uuid4(), name="n", email="e", role="user")
    with pytest.raises(Exception, match="no longer exists"):
        await epochs.check(tokens.decode(stranger))

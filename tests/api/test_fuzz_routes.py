"""Property: random bodies, query strings and ids sent to EVERY operation never produce a 5xx,
and a request that fails leaves the database exactly as it was (no partial writes)."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import pytest_asyncio
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import SQLModel

from api.app import api_operations, create_app
from api.openapi import Operation
from api.playback import DevKey, generate_dev_key
from storage.db import Database
from tests.api.conftest import (
    BASE_URL,
    RunningApp,
    bearer,
    empty_database,
    make_settings,
    register,
    user_with_role,
)

OPERATIONS = api_operations()

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=300)
    | st.sampled_from(["a\x00b", "\ud800", "x" * 256, "2026-01-01T00:00:00Z", "not-a-uuid"]),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=12,
)


def _field_names(op: Operation) -> list[str]:
    names: list[str] = []
    for model in (op.body, op.query):
        if model is not None:
            names += [info.alias or name for name, info in model.model_fields.items()]
    return names or ["x"]


def body_strategy(op: Operation) -> st.SearchStrategy[Any]:
    keys = st.sampled_from(_field_names(op)) | st.text(max_size=10)
    shaped = st.dictionaries(keys, json_values, max_size=6)
    return shaped | json_values


def query_strategy(op: Operation) -> st.SearchStrategy[dict[str, str]]:
    keys = st.sampled_from(_field_names(op)) | st.text(min_size=1, max_size=8)
    values = (
        st.text(max_size=40)
        | st.integers(-5, 10**6).map(str)
        | st.sampled_from(["beginner", "advanced", "true", "", "-1", "1e309", "NaN", "a,b,c"])
    )
    return st.dictionaries(keys, values, max_size=4)


async def db_fingerprint(db: Database) -> str:
    digest = hashlib.sha256()
    async with db.engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            rows = (await conn.execute(sa.select(table))).all()
            digest.update(table.name.encode())
            for row in sorted(repr(tuple(r)) for r in rows):
                digest.update(row.encode())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def dev_key() -> DevKey:
    return generate_dev_key()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(
    database_url: str, dev_key: DevKey, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[dict[str, Any]]:
    """One running app per database for every operation's examples (setup is the slow part)."""
    await empty_database(database_url)
    settings_ = make_settings(
        database_url,
        MUX_SIGNING_KEY_ID=dev_key.key_id,
        MUX_SIGNING_PRIVATE_KEY=dev_key.private_key_b64,
        RATE_LIMITS_ENABLED=False,
        COLLAB_DATA_DIR=str(tmp_path_factory.mktemp("fuzz-data")),
    )
    app = create_app(settings_)
    runner = RunningApp(app)
    await runner.start()
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL)
    try:
        yield await _populate(client, database_url, app)
    finally:
        await client.aclose()
        await runner.stop()


async def _populate(client: httpx.AsyncClient, database_url: str, app: Any) -> dict[str, Any]:
    admin, _ = await user_with_role(client, database_url, "admin")
    user_body = await register(client)
    other = await register(client)
    module = await client.post("/api/workbook/modules", json={"title": "Fuzz"}, headers=admin)
    module_id = module.json()["module"]["id"]
    lesson = await client.post(
        f"/api/workbook/modules/{module_id}/lessons",
        json={"title": "L", "muxPlaybackId": "fuzzPlayback"},
        headers=admin,
    )
    lesson_id = lesson.json()["lesson"]["id"]
    sub = await client.post(
        f"/api/workbook/lessons/{lesson_id}/sub-lessons", json={"title": "S"}, headers=admin
    )
    note = await client.post(
        "/api/workbook/notes", json={"title": "N"}, headers=bearer(user_body["token"])
    )
    return {
        "client": client,
        "db": app.state.services.db,
        "auth": {"admin": admin, "user": bearer(user_body["token"]), "none": {}},
        "ids": {
            "moduleId": module_id,
            "lessonId": lesson_id,
            "subLessonId": sub.json()["subLesson"]["id"],
            "id": note.json()["note"]["id"],
            "userId": other["user"]["id"],
        },
    }


def _path(op: Operation, ids: dict[str, str], choice: list[Any]) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        kind = choice.pop(0) if choice else "real"
        if kind == "real" and name in ids:
            return ids[name]
        if kind in ("random", "real"):
            return str(uuid.uuid4())
        return quote(str(kind), safe="") or "x"

    return re.sub(r"{([^}]+)}", fill, op.path)


@pytest.mark.slow
@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: f"{op.method} {op.path}")
@settings(
    max_examples=10,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_no_5xx_and_failed_writes_change_nothing(
    world: dict[str, Any], op: Operation, data: st.DataObject
) -> None:
    client: httpx.AsyncClient = world["client"]
    who = data.draw(st.sampled_from(["admin", "user", "none"]), label="auth")
    path_choice = data.draw(
        st.lists(
            st.sampled_from(["real", "random"]) | st.text(min_size=1, max_size=20),
            min_size=len(op.path_params),
            max_size=len(op.path_params),
        ),
        label="path",
    )
    path = _path(op, world["ids"], list(path_choice))
    params = data.draw(query_strategy(op), label="query")
    headers = dict(world["auth"][who])
    content: bytes | None = None
    if op.method in {"POST", "PATCH", "PUT"}:
        raw = data.draw(st.booleans(), label="raw body")
        if raw:
            content = data.draw(
                st.binary(max_size=200)
                | st.sampled_from(
                    [b'{"title": "x", "content": {"a": NaN}}', b'{"title": 1e400}', b"[" * 5000]
                ),
                label="bytes",
            )
            headers["content-type"] = data.draw(
                st.sampled_from(
                    ["application/json", "text/plain", "application/x-www-form-urlencoded"]
                )
            )
        else:
            content = json.dumps(data.draw(body_strategy(op), label="body")).encode()
            headers["content-type"] = "application/json"
    before = await db_fingerprint(world["db"]) if op.method != "GET" else None
    response = await client.request(
        op.method, path, params=params, content=content, headers=headers
    )
    assert response.status_code < 500, (response.status_code, response.text)
    if response.status_code >= 400:
        assert "error" in response.json()
        assert response.json()["error"]["code"]
        if before is not None:
            assert await db_fingerprint(world["db"]) == before, "a failed request wrote"
    client.cookies.clear()

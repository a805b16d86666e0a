"""Modules: search on both databases, admin CRUD, locking by tier, 401 vs 403 vs 404."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.api.conftest import bearer, register, user_with_role


@pytest.fixture
async def admin(client: httpx.AsyncClient, database_url: str) -> dict[str, str]:
    headers, _ = await user_with_role(client, database_url, "admin", name="Admin")
    return headers


async def _create(client: httpx.AsyncClient, admin: dict[str, str], **fields: object) -> str:
    response = await client.post("/api/workbook/modules", json=fields, headers=admin)
    assert response.status_code == 201, response.text
    return str(response.json()["module"]["id"])


async def test_search_list_and_pagination(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    await _create(client, admin, title="Pricing your services", description="Raise prices", order=1)
    await _create(
        client,
        admin,
        title="Client retention",
        description="Keep clients coming back",
        order=2,
        difficulty="advanced",
    )
    await _create(
        client, admin, title="Marketing basics", description="Instagram for barbers", order=3
    )
    user = bearer((await register(client))["token"])

    listed = (await client.get("/api/workbook/modules?limit=2", headers=user)).json()
    assert listed["total"] == 3
    assert listed["hasMore"] is True
    assert [m["title"] for m in listed["modules"]] == ["Pricing your services", "Client retention"]

    found = (await client.get("/api/workbook/modules?search=clients", headers=user)).json()
    assert [m["title"] for m in found["modules"]] == ["Client retention"]
    assert found["hasMore"] is False

    hard = (await client.get("/api/workbook/modules?difficulty=advanced", headers=user)).json()
    assert [m["difficulty"] for m in hard["modules"]] == ["advanced"]

    odd = await client.get('/api/workbook/modules?search="(*:-^', headers=user)
    assert odd.status_code == 200


async def test_bad_query_names_the_field(client: httpx.AsyncClient) -> None:
    user = bearer((await register(client))["token"])
    response = await client.get("/api/workbook/modules?limit=0&difficulty=expert", headers=user)
    assert response.status_code == 422
    assert {f["field"] for f in response.json()["error"]["fields"]} == {"limit", "difficulty"}


async def test_401_403_404(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    assert (await client.get("/api/workbook/modules")).status_code == 401
    user = bearer((await register(client))["token"])
    denied = await client.post("/api/workbook/modules", json={"title": "x"}, headers=user)
    assert denied.status_code == 403
    missing = await client.get(f"/api/workbook/modules/{uuid.uuid4()}", headers=user)
    assert missing.status_code == 404
    bad_id = await client.get("/api/workbook/modules/not-a-uuid", headers=user)
    assert bad_id.status_code == 404  # a path that names no resource, the parameter named
    assert bad_id.json()["error"]["fields"][0]["field"] == "moduleId"


async def test_admin_update_and_delete(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    module_id = await _create(client, admin, title="Draft")
    url = f"/api/workbook/modules/{module_id}"
    patched = await client.patch(url, json={"title": "Final", "order": 7}, headers=admin)
    assert patched.status_code == 200
    assert patched.json()["module"]["title"] == "Final"
    assert patched.json()["module"]["order"] == 7
    for raw in (b'{"content": {"a": NaN}}', b'{"order": 1e400}', b'{"content": {"k\\u0000": 1}}'):
        bad = await client.patch(
            url, content=raw, headers={**admin, "content-type": "application/json"}
        )
        assert bad.status_code in (400, 422), raw  # was a 500 from the JSON column
    null = await client.patch(url, json={"title": None}, headers=admin)
    assert null.status_code == 422
    assert (await client.get(url, headers=admin)).json()["module"]["title"] == "Final"
    assert (await client.delete(url, headers=admin)).status_code == 200
    assert (await client.delete(url, headers=admin)).status_code == 404


async def test_premium_modules_are_locked_for_free_users(
    client: httpx.AsyncClient, admin: dict[str, str], database_url: str
) -> None:
    module_id = await _create(
        client, admin, title="Premium", required_tier="premium", content={"objectives": ["a"]}
    )
    free = bearer((await register(client))["token"])
    seen = (await client.get(f"/api/workbook/modules/{module_id}", headers=free)).json()["module"]
    assert seen["isLocked"] is True
    assert seen["content"] is None

    premium, _ = await user_with_role(client, database_url, "premium")
    seen = (await client.get(f"/api/workbook/modules/{module_id}", headers=premium)).json()
    assert seen["module"]["isLocked"] is False
    assert seen["module"]["content"] == {"objectives": ["a"]}

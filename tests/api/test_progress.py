"""Progress: module progress and out-of-order, duplicated, partial video saves."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.api.conftest import bearer, register, user_with_role


@pytest.fixture
async def course(client: httpx.AsyncClient, database_url: str) -> dict[str, str]:
    admin, _ = await user_with_role(client, database_url, "admin")
    module = await client.post("/api/workbook/modules", json={"title": "M"}, headers=admin)
    module_id = module.json()["module"]["id"]
    lesson = await client.post(
        f"/api/workbook/modules/{module_id}/lessons", json={"title": "L"}, headers=admin
    )
    lesson_id = lesson.json()["lesson"]["id"]
    sub = await client.post(
        f"/api/workbook/lessons/{lesson_id}/sub-lessons", json={"title": "S"}, headers=admin
    )
    premium = await client.post(
        "/api/workbook/modules", json={"title": "P", "requiredTier": "premium"}, headers=admin
    )
    return {
        "module": module_id,
        "lesson": lesson_id,
        "sub": sub.json()["subLesson"]["id"],
        "premium": premium.json()["module"]["id"],
    }


async def test_module_progress(client: httpx.AsyncClient, course: dict[str, str]) -> None:
    user = bearer((await register(client))["token"])
    url = f"/api/workbook/progress/{course['module']}"
    saved = await client.post(url, json={"progressPercent": 25}, headers=user)
    assert saved.status_code == 200, saved.text
    assert saved.json()["success"] is True
    assert saved.json()["progress"]["progressPercent"] == 25
    done = await client.post(
        url, json={"status": "completed", "timeSpentMinutes": 30}, headers=user
    )
    progress = done.json()["progress"]
    assert progress["status"] == "completed"
    assert progress["progressPercent"] == 25
    assert progress["completedAt"] is not None
    listed = (await client.get("/api/workbook/progress", headers=user)).json()["progress"]
    assert [p["moduleId"] for p in listed] == [course["module"]]

    bad = await client.post(url, json={"progressPercent": 101, "status": "done"}, headers=user)
    assert bad.status_code == 422
    assert {f["field"] for f in bad.json()["error"]["fields"]} == {"progressPercent", "status"}
    missing = await client.post(f"/api/workbook/progress/{uuid.uuid4()}", json={}, headers=user)
    assert missing.status_code == 404
    locked = await client.post(f"/api/workbook/progress/{course['premium']}", json={}, headers=user)
    assert locked.status_code == 403


@pytest.mark.parametrize("kind", ["lessons", "sub-lessons"])
async def test_out_of_order_saves_never_corrupt_progress(
    client: httpx.AsyncClient, course: dict[str, str], kind: str
) -> None:
    user = bearer((await register(client))["token"])
    item = course["lesson" if kind == "lessons" else "sub"]
    url = f"/api/progress/{kind}/{item}"
    newest = {
        "positionSeconds": 120,
        "watchTimeSeconds": 100,
        "clientTimestamp": "2026-01-01T10:02:00Z",
    }
    older = {
        "positionSeconds": 30,
        "watchTimeSeconds": 40,
        "clientTimestamp": "2026-01-01T10:00:00Z",
    }
    for body in (newest, older, newest, {"completed": True}, {"completed": False}, {}):
        response = await client.post(url, json=body, headers=user)
        assert response.status_code == 200, response.text
    progress = (await client.get(url, headers=user)).json()["progress"]
    assert progress["positionSeconds"] == 120  # the older save arrived later but lost
    assert progress["watchTimeSeconds"] == 100  # never goes down
    assert progress["completed"] is True  # sticky

    millis = await client.post(
        url, json={"positionSeconds": 5, "clientTimestamp": 1_900_000_000_000}, headers=user
    )
    assert millis.status_code == 200


async def test_video_progress_validation_and_access(
    client: httpx.AsyncClient, course: dict[str, str]
) -> None:
    user = bearer((await register(client))["token"])
    url = f"/api/progress/lessons/{course['lesson']}"
    bad = await client.post(
        url,
        json={"positionSeconds": -1, "completed": "yes", "clientTimestamp": "soon"},
        headers=user,
    )
    assert bad.status_code == 422
    fields = {f["field"].split(".")[0] for f in bad.json()["error"]["fields"]}
    assert fields == {"positionSeconds", "completed", "clientTimestamp"}
    text = await client.post(
        url, content=b"{", headers={**user, "content-type": "application/json"}
    )
    assert text.status_code == 400
    assert (
        await client.get(f"/api/progress/lessons/{uuid.uuid4()}", headers=user)
    ).status_code == 404
    assert (await client.get(url)).status_code == 401
    fresh = (await client.get(url, headers=user)).json()["progress"]
    assert fresh["watchTimeSeconds"] == 0 and fresh["completed"] is False

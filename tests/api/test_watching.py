"""Progress as the course pages read it: per module in one call, "continue watching", and
completion at 95 % watched."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.conftest import bearer, register, user_with_role

Client = httpx.AsyncClient


async def _module_with_lessons(
    client: Client, admin: dict[str, str], title: str, durations: list[int], tier: str = "free"
) -> tuple[str, list[str]]:
    made = await client.post(
        "/api/workbook/modules", json={"title": title, "requiredTier": tier}, headers=admin
    )
    module = str(made.json()["module"]["id"])
    lessons = []
    for i, seconds in enumerate(durations):
        lesson = await client.post(
            f"/api/workbook/modules/{module}/lessons",
            json={"title": f"{title} {i}", "order": i, "durationSeconds": seconds},
            headers=admin,
        )
        lessons.append(str(lesson.json()["lesson"]["id"]))
    return module, lessons


async def _save(client: Client, user: dict[str, str], lesson: str, **body: Any) -> Any:
    answer = await client.post(f"/api/progress/lessons/{lesson}", json=body, headers=user)
    assert answer.status_code == 200, answer.text
    return answer.json()["progress"]


async def test_ninety_five_percent_watched_completes_a_lesson(
    client: Client, database_url: str
) -> None:
    admin, _ = await user_with_role(client, database_url, "admin")
    _, (lesson,) = await _module_with_lessons(client, admin, "Course", [600])
    user = bearer((await register(client))["token"])
    assert (await _save(client, user, lesson, watchTimeSeconds=569))["completed"] is False
    assert (await _save(client, user, lesson, watchTimeSeconds=570))["completed"] is True
    # Sticky: a later save with less watched (another device) does not undo it.
    assert (await _save(client, user, lesson, watchTimeSeconds=10))["completed"] is True


async def test_module_progress_and_continue_watching(client: Client, database_url: str) -> None:
    admin, _ = await user_with_role(client, database_url, "admin")
    module, (first, second, third) = await _module_with_lessons(
        client, admin, "Basics", [600, 300, 300]
    )
    paid, _ = await _module_with_lessons(client, admin, "Paid", [100], "premium")
    user = bearer((await register(client))["token"])
    empty = await client.get("/api/progress/continue", headers=user)
    assert empty.status_code == 200 and empty.json() == {"items": []}

    await _save(client, user, first, positionSeconds=120, watchTimeSeconds=120)
    await _save(client, user, second, positionSeconds=30, watchTimeSeconds=30)
    await _save(client, user, third, positionSeconds=299, watchTimeSeconds=299)  # completes

    items = (await client.get("/api/progress/continue", headers=user)).json()["items"]
    assert [i["lessonId"] for i in items] == [second, first]  # most recent first, no finished
    assert items[1] | {"updatedAt": None} == {
        "lessonId": first,
        "lessonTitle": "Basics 0",
        "moduleId": module,
        "moduleTitle": "Basics",
        "positionSeconds": 120,
        "durationSeconds": 600,
        "updatedAt": None,
    }
    limited = await client.get("/api/progress/continue", params={"limit": 1}, headers=user)
    assert [i["lessonId"] for i in limited.json()["items"]] == [second]
    too_many = await client.get("/api/progress/continue", params={"limit": 500}, headers=user)
    assert too_many.status_code == 422

    listed = await client.get(f"/api/progress/modules/{module}/lessons", headers=user)
    assert listed.status_code == 200
    by_lesson = {p["lessonId"]: p for p in listed.json()["progress"]}
    assert set(by_lesson) == {first, second, third}
    assert by_lesson[third]["completed"] and not by_lesson[first]["completed"]
    assert by_lesson[second]["positionSeconds"] == 30

    # Someone else's progress is not mine; a locked module is refused.
    other = bearer((await register(client))["token"])
    mine = await client.get(f"/api/progress/modules/{module}/lessons", headers=other)
    assert mine.json() == {"progress": []}
    locked = await client.get(f"/api/progress/modules/{paid}/lessons", headers=user)
    assert locked.status_code == 403


async def test_continue_watching_leaves_out_modules_locked_for_the_user(
    client: Client, database_url: str
) -> None:
    admin, _ = await user_with_role(client, database_url, "admin")
    module, (lesson,) = await _module_with_lessons(client, admin, "Soon paid", [100])
    user = bearer((await register(client))["token"])
    await _save(client, user, lesson, positionSeconds=10)
    assert len((await client.get("/api/progress/continue", headers=user)).json()["items"]) == 1
    await client.patch(
        f"/api/workbook/modules/{module}", json={"requiredTier": "premium"}, headers=admin
    )
    assert (await client.get("/api/progress/continue", headers=user)).json()["items"] == []

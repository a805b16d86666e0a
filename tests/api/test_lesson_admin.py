"""The admin's lesson pages and Mux's asset webhooks: edit, reorder, a lesson's page data, and
the video state Mux reports landing on the lessons that play it."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from api.playback import generate_dev_key
from tests.api.conftest import bearer, register, user_with_role
from tests.api.test_lessons_mux import WEBHOOK_SECRET, _course, _sign

Client = httpx.AsyncClient


@pytest.fixture
async def client(app_factory: Any) -> Client:
    key = generate_dev_key()
    made = await app_factory(
        MUX_SIGNING_KEY_ID=key.key_id,
        MUX_SIGNING_PRIVATE_KEY=key.private_key_b64,
        MUX_WEBHOOK_SECRET=WEBHOOK_SECRET,
    )
    assert isinstance(made, httpx.AsyncClient)
    return made


async def _lessons(client: Client, admin: dict[str, str], module: str, n: int) -> list[str]:
    ids = []
    for i in range(n):
        made = await client.post(
            f"/api/workbook/modules/{module}/lessons",
            json={"title": f"Lesson {i}", "order": i, "muxPlaybackId": f"vid{i}x{module[:8]}"},
            headers=admin,
        )
        assert made.status_code == 201, made.text
        ids.append(made.json()["lesson"]["id"])
    return ids


async def _module(client: Client, admin: dict[str, str], tier: str = "free") -> str:
    made = await client.post(
        "/api/workbook/modules", json={"title": "Course", "requiredTier": tier}, headers=admin
    )
    assert made.status_code == 201, made.text
    return str(made.json()["module"]["id"])


async def test_a_lesson_page_knows_its_module_and_neighbours(
    client: Client, database_url: str
) -> None:
    admin, _ = await user_with_role(client, database_url, "admin")
    module = await _module(client, admin)
    first, second, third = await _lessons(client, admin, module, 3)
    user = bearer((await register(client))["token"])
    page = await client.get(f"/api/workbook/lessons/{second}", headers=user)
    assert page.status_code == 200, page.text
    body = page.json()
    assert body["lesson"]["id"] == second and body["moduleId"] == module
    assert body["moduleTitle"] == "Course"
    assert (body["previousLessonId"], body["nextLessonId"]) == (first, third)
    last = (await client.get(f"/api/workbook/lessons/{third}", headers=user)).json()
    assert last["nextLessonId"] is None
    missing = await client.get(f"/api/workbook/lessons/{module}", headers=user)
    assert missing.status_code == 404


async def test_a_premium_lesson_page_is_locked_for_a_free_user(
    client: Client, database_url: str
) -> None:
    admin, _ = await user_with_role(client, database_url, "admin")
    ids = await _course(client, admin, "premium")
    user = bearer((await register(client))["token"])
    locked = await client.get(f"/api/workbook/lessons/{ids['lesson']}", headers=user)
    assert locked.status_code == 403
    assert locked.json()["error"]["code"] == "module_locked"


async def test_admin_edits_and_reorders_lessons(client: Client, database_url: str) -> None:
    admin, _ = await user_with_role(client, database_url, "admin")
    module = await _module(client, admin)
    a, b, c = await _lessons(client, admin, module, 3)
    edited = await client.patch(
        f"/api/workbook/lessons/{a}",
        json={"title": "Welcome", "description": "Start here", "muxPlaybackId": "newVideo01"},
        headers=admin,
    )
    assert edited.status_code == 200, edited.text
    lesson = edited.json()["lesson"]
    assert (lesson["title"], lesson["description"], lesson["muxPlaybackId"]) == (
        "Welcome", "Start here", "newVideo01"
    )
    assert lesson["order"] == 0  # untouched fields stay
    cleared = await client.patch(
        f"/api/workbook/lessons/{a}", json={"muxPlaybackId": None}, headers=admin
    )
    assert cleared.json()["lesson"]["muxPlaybackId"] is None
    null_title = await client.patch(
        f"/api/workbook/lessons/{a}", json={"title": None}, headers=admin
    )
    assert null_title.status_code == 422
    assert null_title.json()["error"]["fields"][0]["field"] == "title"
    empty = await client.patch(f"/api/workbook/lessons/{a}", json={}, headers=admin)
    assert empty.status_code == 422

    url = f"/api/workbook/modules/{module}/lessons/order"
    reordered = await client.put(url, json={"lessonIds": [c, a, b]}, headers=admin)
    assert reordered.status_code == 200, reordered.text
    assert [x["id"] for x in reordered.json()["lessons"]] == [c, a, b]
    partial = await client.put(url, json={"lessonIds": [c, a]}, headers=admin)
    assert partial.status_code == 409  # well formed, but not this module's lessons
    assert partial.json()["error"]["fields"][0]["field"] == "lessonIds"
    listed = await client.get(f"/api/workbook/modules/{module}/lessons", headers=admin)
    assert [x["id"] for x in listed.json()["lessons"]] == [c, a, b]  # the refusal changed nothing

    user = bearer((await register(client))["token"])
    refused = await client.patch(
        f"/api/workbook/lessons/{a}", json={"title": "Mine"}, headers=user
    )
    assert refused.status_code == 403
    again = await client.put(url, json={"lessonIds": [a, b, c]}, headers=user)
    assert again.status_code == 403


async def test_admin_edits_a_sub_lesson(client: Client, database_url: str) -> None:
    admin, _ = await user_with_role(client, database_url, "admin")
    ids = await _course(client, admin, "free")
    edited = await client.patch(
        f"/api/workbook/sub-lessons/{ids['sub']}",
        json={"title": "Chapter two", "startTimeSeconds": 42},
        headers=admin,
    )
    assert edited.status_code == 200, edited.text
    sub = edited.json()["subLesson"]
    assert (sub["title"], sub["startTimeSeconds"], sub["order"]) == ("Chapter two", 42, 2)


async def _hook(client: Client, event: dict[str, Any]) -> httpx.Response:
    body = json.dumps(event).encode()
    return await client.post(
        "/api/mux/webhooks", content=body, headers={"mux-signature": _sign(body, int(time.time()))}
    )


async def test_asset_webhooks_set_a_lessons_video_state_and_duration(
    client: Client, database_url: str
) -> None:
    admin, _ = await user_with_role(client, database_url, "admin")
    ids = await _course(client, admin, "free")  # lesson plays freeLesson01, sub freeSub02

    async def state() -> tuple[dict[str, Any], dict[str, Any]]:
        page = (await client.get(f"/api/workbook/lessons/{ids['lesson']}", headers=admin))
        lesson = page.json()["lesson"]
        return lesson, lesson["subLessons"][0]

    lesson, sub = await state()
    assert lesson["videoStatus"] is None and lesson["durationSeconds"] == 600

    created = {"type": "video.asset.created", "data": {"playback_ids": [{"id": "freeLesson01"}]}}
    assert (await _hook(client, created)).status_code == 200
    assert (await state())[0]["videoStatus"] == "preparing"

    ready = {
        "type": "video.asset.ready",
        "data": {"duration": 734.6, "playback_ids": [{"id": "freeLesson01", "policy": "signed"}]},
    }
    assert (await _hook(client, ready)).status_code == 200
    lesson, sub = await state()
    assert (lesson["videoStatus"], lesson["durationSeconds"]) == ("ready", 735)
    assert sub["videoStatus"] is None  # another playback id: untouched

    errored = {
        "type": "video.asset.errored",
        "data": {
            "playback_ids": [{"id": "freeSub02"}],
            "errors": {"type": "invalid_input", "messages": ["The file is not a video"]},
        },
    }
    assert (await _hook(client, errored)).status_code == 200
    lesson, sub = await state()
    assert (sub["videoStatus"], sub["videoError"]) == ("errored", "The file is not a video")
    assert sub["durationSeconds"] == 120  # an error does not touch the duration
    assert lesson["videoStatus"] == "ready"

    # Events for assets no lesson plays, other event types and odd data change nothing.
    for event in (
        {"type": "video.asset.ready", "data": {"playback_ids": [{"id": "someoneElse"}]}},
        {"type": "video.upload.created", "data": {"playback_ids": [{"id": "freeLesson01"}]}},
        {"type": "video.asset.ready", "data": {"playback_ids": "freeLesson01", "duration": -1}},
        {"type": "video.asset.ready", "data": []},
    ):
        assert (await _hook(client, event)).status_code == 200
    assert (await state())[0]["durationSeconds"] == 735

    # A new playback id forgets the old asset's state.
    await client.patch(
        f"/api/workbook/lessons/{ids['lesson']}", json={"muxPlaybackId": "fresh01"}, headers=admin
    )
    assert (await state())[0]["videoStatus"] is None


async def test_a_token_outlives_a_lesson_longer_than_the_configured_lifetime(
    app_factory: Any, database_url: str
) -> None:
    key = generate_dev_key()
    client = await app_factory(
        MUX_SIGNING_KEY_ID=key.key_id,
        MUX_SIGNING_PRIVATE_KEY=key.private_key_b64,
        MUX_TOKEN_TTL_SECONDS=3 * 3600,
    )
    admin, _ = await user_with_role(client, database_url, "admin")
    module = await _module(client, admin)
    for playback_id, seconds in (("shortTalk", 600), ("allDayWorkshop", 8 * 3600)):
        made = await client.post(
            f"/api/workbook/modules/{module}/lessons",
            json={"title": playback_id, "muxPlaybackId": playback_id, "durationSeconds": seconds},
            headers=admin,
        )
        assert made.status_code == 201
    now = time.time()

    async def lifetime(playback_id: str) -> float:
        answer = await client.post(
            "/api/mux/playback-token", json={"playbackId": playback_id}, headers=admin
        )
        return float(answer.json()["expiresAt"]) - now

    assert 3 * 3600 - 100 < await lifetime("shortTalk") <= 3 * 3600 + 1  # the configured 3 h
    assert 9 * 3600 - 100 < await lifetime("allDayWorkshop") <= 9 * 3600 + 1  # 8 h + 1 h slack

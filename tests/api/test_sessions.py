"""`/api/workbook/sessions`: scheduling, permissions, transitions, join rules, export."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.conftest import bearer, register, user_with_role

START = "2030-01-01T10:00:00Z"
END = "2030-01-01T11:00:00Z"
P = "/api/workbook/sessions"


async def _host(client: httpx.AsyncClient, database_url: str) -> dict[str, str]:
    headers, _ = await user_with_role(client, database_url, "host", name="Hannah Host")
    return headers


async def _create(client: httpx.AsyncClient, headers: dict[str, str], **extra: Any) -> Any:
    body = {"title": "Workshop", "scheduledStart": START, "scheduledEnd": END, **extra}
    response = await client.post(P, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def test_create_needs_the_host_permission(
    client: httpx.AsyncClient, database_url: str
) -> None:
    user = await register(client)
    body = {"title": "W", "scheduledStart": START, "scheduledEnd": END}
    refused = await client.post(P, json=body, headers=bearer(user["token"]))
    assert refused.status_code == 403
    for role in ("host", "admin", "premium"):
        headers, _ = await user_with_role(client, database_url, role)
        assert (await client.post(P, json=body, headers=headers)).status_code == 201
    host, _ = await user_with_role(client, database_url, "host")
    me = await client.get("/api/workbook/auth/me", headers=host)
    assert me.status_code == 200 and me.json()["user"]["role"] == "host", me.text


async def test_create_returns_session_and_join_url(
    client: httpx.AsyncClient, database_url: str
) -> None:
    host = await _host(client, database_url)
    created = await _create(client, host, description="Intro", settings={"chat": False})
    session = created["session"]
    assert created["success"] is True
    assert created["joinUrl"] == f"/sessions/{session['id']}" == session["joinUrl"]
    assert session["status"] == "scheduled" and session["document"] == f"sessions/{session['id']}"
    assert session["settings"] == {
        "chat": False, "questions": True, "anonymousQuestions": True,
        "whoMayUnmute": "everyone", "whoMayShare": "hosts", "maxParticipants": 500,
    }


async def test_invalid_bodies_name_the_field(client: httpx.AsyncClient, database_url: str) -> None:
    host = await _host(client, database_url)
    cases = [
        ({"title": "", "scheduledStart": START, "scheduledEnd": END}, "title"),
        ({"title": "x", "scheduledStart": "2030-01-01T10:00:00", "scheduledEnd": END},
         "scheduledStart"),
        ({"title": "x", "scheduledStart": START, "scheduledEnd": END,
          "settings": {"maxParticipants": 1}}, "settings.maxParticipants"),
        ({"title": "x", "scheduledStart": START, "scheduledEnd": END,
          "settings": {"whoMayShare": "anyone"}}, "settings.whoMayShare"),
    ]
    for body, field in cases:
        response = await client.post(P, json=body, headers=host)
        assert response.status_code == 422, (body, response.text)
        assert field in [f["field"] for f in response.json()["error"]["fields"]], response.text
    reversed_times = {"title": "x", "scheduledStart": END, "scheduledEnd": START}
    response = await client.post(P, json=reversed_times, headers=host)
    assert response.status_code == 409  # schema-valid fields that disagree with each other
    assert response.json()["error"]["fields"][0]["field"] == "scheduledEnd"


async def test_lifecycle_and_invalid_transitions(
    client: httpx.AsyncClient, database_url: str
) -> None:
    host = await _host(client, database_url)
    sid = (await _create(client, host))["session"]["id"]
    ended = await client.post(f"{P}/{sid}/end", headers=host)
    assert ended.status_code == 409 and ended.json()["error"]["fields"][0]["field"] == "status"
    started = await client.post(f"{P}/{sid}/start", headers=host)
    assert started.status_code == 200 and started.json()["session"]["status"] == "live"
    assert started.json()["session"]["actualStart"] is not None
    assert (await client.post(f"{P}/{sid}/start", headers=host)).status_code == 409
    assert (await client.post(f"{P}/{sid}/cancel", headers=host)).status_code == 409
    done = await client.post(f"{P}/{sid}/end", headers=host)
    assert done.json()["session"]["status"] == "ended"
    assert done.json()["session"]["actualEnd"] is not None
    patch = await client.patch(f"{P}/{sid}", json={"title": "Late"}, headers=host)
    assert patch.status_code == 409
    other = (await _create(client, host))["session"]["id"]
    cancelled = await client.post(f"{P}/{other}/cancel", headers=host)
    assert cancelled.json()["session"]["status"] == "cancelled"


async def test_only_the_host_manages(client: httpx.AsyncClient, database_url: str) -> None:
    host = await _host(client, database_url)
    other_host, _ = await user_with_role(client, database_url, "host")
    admin, _ = await user_with_role(client, database_url, "admin")
    sid = (await _create(client, host))["session"]["id"]
    assert (await client.post(f"{P}/{sid}/start", headers=other_host)).status_code == 403
    patched = await client.patch(
        f"{P}/{sid}", json={"title": "New", "settings": {"chat": False}}, headers=admin
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["session"]["title"] == "New"
    assert patched.json()["session"]["settings"]["chat"] is False
    assert patched.json()["session"]["settings"]["questions"] is True  # merged, not replaced
    null = await client.patch(f"{P}/{sid}", json={"title": None}, headers=host)
    assert null.status_code == 422
    early = await client.patch(f"{P}/{sid}", json={"scheduledEnd": "2029-01-01T00:00:00Z"},
                               headers=host)
    assert early.status_code == 409  # schema-valid fields that disagree
    assert early.json()["error"]["fields"][0]["field"] == "scheduledEnd"
    missing = "00000000-0000-4000-8000-000000000000"
    assert (await client.get(f"{P}/{missing}", headers=host)).status_code == 404
    assert (await client.post(f"{P}/{missing}/start", headers=host)).status_code == 404


async def test_join_roles_limits_and_filters(
    client: httpx.AsyncClient, database_url: str
) -> None:
    host = await _host(client, database_url)
    sid = (await _create(client, host, settings={"maxParticipants": 2}))["session"]["id"]
    a, b = await register(client, name="A"), await register(client, name="B")
    c = await register(client, name="C")
    joined = await client.post(f"{P}/{sid}/join", headers=bearer(a["token"]))
    assert joined.status_code == 200, joined.text
    body = joined.json()
    assert body["participant"]["role"] == "participant" and body["participant"]["joinedAt"]
    assert body["permissions"] == {
        "canChat": True, "canAsk": True, "canVote": True, "canRaiseHand": True,
        "canUnmute": True, "canShare": False, "canModerate": False,
    }
    assert (await client.post(f"{P}/{sid}/join", headers=bearer(b["token"]))).status_code == 200
    full = await client.post(f"{P}/{sid}/join", headers=bearer(c["token"]))
    assert full.status_code == 409 and full.json()["error"]["code"] == "session_full"
    host_join = await client.post(f"{P}/{sid}/join", headers=host)  # hosts are never counted out
    assert host_join.json()["permissions"]["canModerate"] is True
    again = await client.post(f"{P}/{sid}/join", headers=bearer(a["token"]))
    assert again.status_code == 200  # already present: not a new seat
    left = await client.post(f"{P}/{sid}/leave", headers=bearer(a["token"]))
    assert left.status_code == 200
    assert (await client.post(f"{P}/{sid}/join", headers=bearer(c["token"]))).status_code == 200
    mine = await client.get(P, params={"filter": "mine"}, headers=bearer(b["token"]))
    assert [s["id"] for s in mine.json()["sessions"]] == [sid]
    upcoming = await client.get(P, params={"filter": "upcoming"}, headers=host)
    assert sid in [s["id"] for s in upcoming.json()["sessions"]]
    assert (await client.get(P, params={"filter": "live"}, headers=host)).json()["total"] == 0
    await client.post(f"{P}/{sid}/start", headers=host)
    assert (await client.get(P, params={"filter": "live"}, headers=host)).json()["total"] == 1
    await client.post(f"{P}/{sid}/end", headers=host)
    late = await client.post(f"{P}/{sid}/join", headers=bearer(a["token"]))
    assert late.status_code == 409 and late.json()["error"]["fields"][0]["field"] == "status"
    past = await client.get(P, params={"filter": "past"}, headers=host)
    assert [s["id"] for s in past.json()["sessions"]] == [sid]


async def test_export_formats_and_host_only_attendance(
    client: httpx.AsyncClient, database_url: str
) -> None:
    host = await _host(client, database_url)
    sid = (await _create(client, host))["session"]["id"]
    a, stranger = await register(client, name="A"), await register(client, name="S")
    await client.post(f"{P}/{sid}/join", headers=bearer(a["token"]))
    attendee = await client.get(f"{P}/{sid}/export", headers=bearer(a["token"]))
    assert attendee.status_code == 200, attendee.text
    assert set(attendee.json()) == {"session", "chat", "polls", "questions", "notes"}
    hosted = (await client.get(f"{P}/{sid}/export", headers=host)).json()
    names = sorted(row["name"] for row in hosted["attendance"])
    assert names == ["A", "Hannah Host"]
    md = await client.get(f"{P}/{sid}/export", params={"format": "md"}, headers=host)
    assert md.headers["content-type"].startswith("text/markdown")
    assert md.text.startswith("# Workshop") and "## Attendance" in md.text
    assert "## Shared notes" in md.text
    refused = await client.get(f"{P}/{sid}/export", headers=bearer(stranger["token"]))
    assert refused.status_code == 403


async def test_sessions_are_rate_limited_per_user(
    app_factory: Any, database_url: str
) -> None:
    client = await app_factory(RATE_LIMITS_ENABLED=True, RATE_LIMIT_SESSIONS="2/900")
    user = await register(client)
    codes = [(await client.get(P, headers=bearer(user["token"]))).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    other = await register(client)
    assert (await client.get(P, headers=bearer(other["token"]))).status_code == 200

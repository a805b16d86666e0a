"""Notes metadata and shares: visibility (404), read-only (403), owner-only actions, live hooks."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from collab.control import Control
from collab.errors import CloseCode
from tests.api.conftest import bearer, register


class RecordingCollab:
    """Records the control commands the REST layer gives the live collab server (the server's
    own handling of them is tested in tests/collab/test_control.py and tests/multinode)."""

    def __init__(self) -> None:
        self.calls: list[Control] = []

    async def control(self, command: Control, *, wait: bool = True) -> int:
        self.calls.append(command)
        return 0


@pytest.fixture
def live(client: httpx.AsyncClient) -> RecordingCollab:
    fake = RecordingCollab()
    client.app.state.services.collab = fake  # type: ignore[attr-defined]
    return fake


async def _user(client: httpx.AsyncClient, name: str) -> tuple[dict[str, str], dict[str, Any]]:
    body = await register(client, name=name)
    return bearer(body["token"]), body["user"]


async def test_create_list_search_and_get(client: httpx.AsyncClient) -> None:
    owner, _ = await _user(client, "Owner")
    created = await client.post(
        "/api/workbook/notes",
        json={
            "title": "Pricing ideas",
            "content": "raise the fade price",
            "tags": ["money", "money"],
            "isPrivate": True,
        },
        headers=owner,
    )
    assert created.status_code == 201, created.text
    note = created.json()["note"]
    assert note["tags"] == ["money"]
    assert note["access"] == "owner"
    assert note["document"] == f"notes/{note['id']}"
    await client.post(
        "/api/workbook/notes", json={"title": "Other", "tags": ["misc"]}, headers=owner
    )

    listed = (await client.get("/api/workbook/notes", headers=owner)).json()
    assert listed["total"] == 2
    tagged = (await client.get("/api/workbook/notes?tags=money", headers=owner)).json()
    assert [n["title"] for n in tagged["notes"]] == ["Pricing ideas"]
    found = (await client.get("/api/workbook/notes?search=fade", headers=owner)).json()
    assert [n["id"] for n in found["notes"]] == [note["id"]]
    one = await client.get(f"/api/workbook/notes/{note['id']}", headers=owner)
    assert one.json()["note"]["title"] == "Pricing ideas"


async def test_validation_names_fields(client: httpx.AsyncClient) -> None:
    owner, _ = await _user(client, "Owner")
    bad = await client.post(
        "/api/workbook/notes",
        json={"title": "", "tags": ["x" * 51] + ["t"] * 10, "isPrivate": "no", "moduleId": "nope"},
        headers=owner,
    )
    assert bad.status_code == 422
    fields = {f["field"].split(".")[0] for f in bad.json()["error"]["fields"]}
    assert fields == {"title", "tags", "isPrivate", "moduleId"}
    unknown_module = await client.post(
        "/api/workbook/notes", json={"title": "x", "moduleId": str(uuid.uuid4())}, headers=owner
    )
    # A well-formed id naming nothing is a 404 naming the field (as for an id in the path).
    assert unknown_module.status_code == 404
    assert unknown_module.json()["error"]["fields"][0]["field"] == "moduleId"
    nul = await client.post(
        "/api/workbook/notes", json={"title": "a\x00b", "tags": ["ok", "b\x00"]}, headers=owner
    )
    assert nul.status_code == 422  # PostgreSQL text cannot hold U+0000: refused up front
    assert {f["field"] for f in nul.json()["error"]["fields"]} == {"title", "tags.1"}
    assert (await client.get("/api/workbook/notes", headers=owner)).json()["total"] == 0
    not_json = await client.post(
        "/api/workbook/notes",
        content=b"title=x",
        headers={**owner, "content-type": "application/x-www-form-urlencoded"},
    )
    assert not_json.status_code == 415


async def test_shares_visibility_and_permissions(
    client: httpx.AsyncClient, live: RecordingCollab
) -> None:
    owner, _ = await _user(client, "Owner")
    reader, reader_user = await _user(client, "Reader")
    writer, writer_user = await _user(client, "Writer")
    stranger, _ = await _user(client, "Stranger")
    note_id = (
        await client.post("/api/workbook/notes", json={"title": "Shared"}, headers=owner)
    ).json()["note"]["id"]
    url = f"/api/workbook/notes/{note_id}"

    assert (await client.get(url, headers=reader)).status_code == 404
    for email, permission in ((reader_user["email"], "read"), (writer_user["email"], "write")):
        shared = await client.post(
            f"{url}/shares", json={"email": email, "permission": permission}, headers=owner
        )
        assert shared.status_code == 201, shared.text
        assert shared.json()["share"]["permission"] == permission
    assert live.calls == [
        Control.access(f"notes/{note_id}", reader_user["id"], read_only=True, role="read"),
        Control.access(f"notes/{note_id}", writer_user["id"], read_only=False, role="write"),
    ]

    assert (await client.get(url, headers=reader)).json()["note"]["access"] == "read"
    read_write = await client.patch(url, json={"title": "Hijack"}, headers=reader)
    assert read_write.status_code == 403
    renamed = await client.patch(url, json={"title": "Renamed"}, headers=writer)
    assert renamed.status_code == 200
    assert renamed.json()["note"]["version"] == 2
    private = await client.patch(url, json={"isPrivate": False}, headers=writer)
    assert private.status_code == 403
    stale = await client.patch(url, json={"title": "x", "version": 1}, headers=owner)
    assert stale.status_code == 409
    assert (await client.delete(url, headers=writer)).status_code == 403

    # Strangers learn nothing: same 404 as for a note that does not exist.
    assert (await client.get(url, headers=stranger)).status_code == 404
    assert (await client.patch(url, json={"title": "x"}, headers=stranger)).status_code == 404
    assert (
        await client.get(f"/api/workbook/notes/{uuid.uuid4()}", headers=stranger)
    ).status_code == 404
    assert (await client.get(f"{url}/shares", headers=reader)).status_code == 403
    shares = (await client.get(f"{url}/shares", headers=owner)).json()["shares"]
    assert {s["userId"] for s in shares} == {reader_user["id"], writer_user["id"]}

    nobody = await client.post(f"{url}/shares", json={"email": "nobody@example.com"}, headers=owner)
    assert nobody.status_code == 404
    revoked = await client.delete(f"{url}/shares/{reader_user['id']}", headers=owner)
    assert revoked.status_code == 200
    assert live.calls[-1] == Control.close(
        f"notes/{note_id}", CloseCode.FORBIDDEN, "access revoked", user_id=reader_user["id"]
    )
    assert (await client.get(url, headers=reader)).status_code == 404
    assert (
        await client.delete(f"{url}/shares/{reader_user['id']}", headers=owner)
    ).status_code == 404

    assert (await client.delete(url, headers=owner)).status_code == 200
    assert live.calls[-1] == Control.close(
        f"notes/{note_id}", CloseCode.DOCUMENT_DELETED, "note deleted"
    )
    assert (await client.get(url, headers=owner)).status_code == 404
    assert (await client.get(url, headers=writer)).status_code == 404


async def test_notes_rate_limit_per_user(app_factory: Any) -> None:
    client = await app_factory(RATE_LIMIT_NOTES_READ="3/900", RATE_LIMIT_NOTES_WRITE="2/900")
    first, _ = await _user(client, "A")
    second, _ = await _user(client, "B")
    statuses = [
        (await client.get("/api/workbook/notes", headers=first)).status_code for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 429]
    assert (await client.get("/api/workbook/notes", headers=second)).status_code == 200
    # Writes have their own budget: spent reads do not stop a save.
    created = [
        (await client.post("/api/workbook/notes", json={"title": "t"}, headers=first)).status_code
        for _ in range(3)
    ]
    assert created == [201, 201, 429]


async def test_shipped_notes_limits_stop_a_hammering_script(app_factory: Any) -> None:
    """The shipped budgets (600 reads, 300 writes per 15 min; README "Rate limits" sizes
    them) are far above a heavy user's day, yet a script firing requests meets them."""
    from api.settings import Settings

    reads = Settings.model_fields["rate_limit_notes_read"].default
    writes = Settings.model_fields["rate_limit_notes_write"].default
    assert (reads, writes) == ("600/900", "300/900")
    client = await app_factory(RATE_LIMIT_NOTES_READ=reads, RATE_LIMIT_NOTES_WRITE=writes)
    headers, _ = await _user(client, "Script")
    statuses = [
        (await client.get("/api/workbook/notes?limit=1", headers=headers)).status_code
        for _ in range(601)
    ]
    assert statuses.count(200) == 600 and statuses[-1] == 429

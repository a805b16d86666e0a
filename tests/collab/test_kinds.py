"""Authorization is routed by document kind; the principal carries roles and claims."""

from __future__ import annotations

import uuid

from collab import Authenticate, Extension, Principal
from collab.errors import CloseCode, Reject
from collab.kinds import Authorize, DocumentKind
from collab.protocol import SyncStep1
from tests.collab._kit import running


class ClaimsAuth(Extension):
    """Token "<id>:<role>" authenticates user <id> with a deployment role."""

    async def on_authenticate(self, event: Authenticate) -> None:
        user, _, role = (event.token or "").partition(":")
        event.principal = Principal(user, user.title(), frozenset({role}), {"tier": "pro"})


class NotesOnlyForOwners:
    def __init__(self) -> None:
        self.asked: list[Authorize] = []

    async def authorize(self, event: Authorize) -> None:
        self.asked.append(event)
        if event.principal.user_id != "owner":
            raise Reject(CloseCode.FORBIDDEN, "not yours")


class SessionsByRole:
    def __init__(self) -> None:
        self.asked: list[Authorize] = []

    async def authorize(self, event: Authorize) -> None:
        self.asked.append(event)
        if "admin" in event.principal.roles:
            event.role = "host"
        else:
            event.role, event.read_only = "attendee", True


async def test_each_kind_asks_its_own_authorizer() -> None:
    notes, sessions = NotesOnlyForOwners(), SessionsByRole()
    kinds = [DocumentKind("notes", notes), DocumentKind("sessions", sessions)]
    async with running(extensions=[ClaimsAuth()], auth=False, kinds=kinds) as h:
        refused = await h.connect(f"notes/{uuid.uuid4().hex}", "stranger:user")
        assert await refused.wait_closed() == CloseCode.FORBIDDEN
        owner = await h.connect(f"notes/{uuid.uuid4().hex}", "owner:user")
        assert isinstance(await owner.recv_message(), SyncStep1)
        assert [e.principal.user_id for e in notes.asked] == ["stranger", "owner"]
        assert sessions.asked == []

        room = f"sessions/{uuid.uuid4().hex}"
        host = await h.connect(room, "ada:admin")
        attendee = await h.connect(room, "bob:user")
        assert isinstance(await host.recv_message(), SyncStep1)
        assert isinstance(await attendee.recv_message(), SyncStep1)
        assert len(notes.asked) == 2  # the notes authorizer never saw a session
        asked = {e.principal.user_id: e for e in sessions.asked}
        assert asked["ada"].principal.claims == {"tier": "pro"}
        live = {c.user_id: c for c in h.server.connections.values()}
        assert (live["ada"].role, live["ada"].read_only) == ("host", False)
        assert (live["bob"].role, live["bob"].read_only) == ("attendee", True)
        for client in (owner, host, attendee):
            await client.leave()


async def test_an_unregistered_kind_is_not_found() -> None:
    kinds = [DocumentKind("notes", NotesOnlyForOwners())]
    async with running(extensions=[ClaimsAuth()], auth=False, kinds=kinds) as h:
        client = await h.connect(f"sessions/{uuid.uuid4().hex}", "owner:user")
        assert await client.wait_closed() == CloseCode.NOT_FOUND

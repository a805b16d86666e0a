"""A session's shared notes (``sessions-notes/{id}``) in a real collab server: who opens them,
who edits them, how access follows removal, promotion, the end and a cancel on open
connections, and the export that carries them; and ``qa.mine`` (a page's upvotes after a
reload), pure."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import anyio
import pytest
from pycrdt import Doc

from collab.protocol import encode_sync_step1, encode_update
from notes.markdown import to_markdown
from notes.richtext import to_plain_text, write_plain_text
from rooms import document as d
from rooms.actions import apply_action
from rooms.export import to_markdown as export_markdown
from rooms.rules import Actor, Rejected
from storage.db import migrate
from storage.models import LiveSession, ParticipantRole, Role
from tests.collab._nodes import cleanup
from tests.rooms._room import Attendee, RoomEnv, User, room_env


@pytest.fixture
async def url(tmp_path: Path) -> str:
    database = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    await migrate(database)
    return database


class Writer:
    """A connection to the shared notes that types lines into its own copy and sends them."""

    def __init__(self, attendee: Attendee) -> None:
        self.a = attendee

    async def write(self, text: str) -> None:
        before = self.a.doc.get_state()
        with self.a.doc.transaction():
            write_plain_text(self.a.doc, text)
        await self.a.client.send(encode_update(self.a.doc.get_update(before)))


async def _notes(env: RoomEnv, live: LiveSession, user: User) -> Writer:
    name = d.notes_name(live.id)
    client = await env.h.connect(name, user.token)
    attendee = Attendee(client)
    env.h.tg.start_soon(attendee.pump)
    await client.send(encode_sync_step1(attendee.doc.get_state()))
    return Writer(attendee)


async def _synced(env: RoomEnv, live: LiveSession, user: User) -> Writer:
    writer = await _notes(env, live, user)
    with anyio.fail_after(10):
        await writer.a.synced.wait()
    return writer


async def _server_text(env: RoomEnv, live: LiveSession) -> str:
    async with env.h.server.open_direct(d.notes_name(live.id)) as notes:
        return to_plain_text(notes.doc)


async def _until_text(env: RoomEnv, live: LiveSession, wanted: str) -> None:
    with anyio.fail_after(5):
        while wanted not in await _server_text(env, live):
            await anyio.sleep(0.02)


async def _cast(env: RoomEnv) -> tuple[LiveSession, User, User, User]:
    host, ann, vic = (await env.user("Hannah", Role.HOST), await env.user("Ann"),
                      await env.user("Vic"))
    live = await env.session(host)
    for user in (host, ann, vic):
        await env.join(live, user)
    await env.service.sessions.set_role(live.id, uuid.UUID(vic.id), ParticipantRole.VIEWER)
    return live, host, ann, vic


async def test_who_may_open_and_edit_the_shared_notes(url: str) -> None:
    async with room_env(url) as env:
        live, host, ann, vic = await _cast(env)
        stranger = await env.user("S")
        unknown = await env.h.connect(d.notes_name(uuid.uuid4()), ann.token)
        assert await unknown.wait_closed() == 4404
        malformed = await env.h.connect(f"{d.NOTES_KIND}/not-a-uuid", ann.token)
        assert await malformed.wait_closed() == 4404
        outsider = await _notes(env, live, stranger)
        assert await outsider.a.client.wait_closed() == 4403
        # before the start (the lobby) host and participants already write; viewers read
        hannah, ann_w, vic_w = [await _synced(env, live, u) for u in (host, ann, vic)]
        await hannah.write("Agenda for today")
        await _until_text(env, live, "Agenda for today")
        await vic_w.write("viewer was here")
        await anyio.sleep(0.2)
        await ann_w.write("Ann's point")
        await _until_text(env, live, "Ann's point")
        assert "viewer was here" not in await _server_text(env, live)
        await ann_w.a.until(lambda a: "Agenda for today" in to_plain_text(a.doc))  # synced live
        cancelled = await env.session(host)
        await env.join(cancelled, ann)
        open_one = await _synced(env, cancelled, ann)
        await env.service.transition(cancelled, "cancel")
        assert await open_one.a.client.wait_closed() == 4410
        assert await (await _notes(env, cancelled, ann)).a.client.wait_closed() == 4410


async def test_access_follows_removal_promotion_and_the_end(url: str) -> None:
    async with room_env(url) as env:
        live, host, ann, vic = await _cast(env)
        bob = await env.user("Bob")
        await env.join(live, bob)
        live = await env.start(live)
        room = await env.attend(live, host)
        ann_w, vic_w, bob_w = [await _synced(env, live, u) for u in (ann, vic, bob)]
        await room.ok("participant.setRole", userId=vic.id, role="participant")
        await vic_w.write("promoted, now writing")  # the same connection, now writable
        await _until_text(env, live, "promoted, now writing")
        await room.ok("participant.setRole", userId=ann.id, role="viewer")
        await ann_w.write("demoted text")
        await room.ok("participant.remove", userId=bob.id)
        assert await bob_w.a.client.wait_closed() == 4403
        assert await (await _notes(env, live, bob)).a.client.wait_closed() == 4403
        await room.ok("session.end")
        await vic_w.write("after the end")
        await anyio.sleep(0.3)
        text = await _server_text(env, live)
        assert "demoted text" not in text and "after the end" not in text
        # a new connection after the end reads, the host's included
        late = await _synced(env, live, host)
        await late.write("host after the end")
        await anyio.sleep(0.3)
        assert "host after the end" not in await _server_text(env, live)
        assert "promoted, now writing" in to_plain_text(late.a.doc)


async def test_the_shared_notes_survive_a_restart(url: str) -> None:
    async with room_env(url) as env:
        live, _, ann, _ = await _cast(env)
        ann_w = await _synced(env, live, ann)
        await ann_w.write("kept across the restart")
        await _until_text(env, live, "kept across the restart")
    async with room_env(url) as env:  # a new server on the same database
        again = await _synced(env, live, ann)
        assert "kept across the restart" in to_plain_text(again.a.doc)


async def test_the_export_carries_the_shared_notes(url: str) -> None:
    async with room_env(url) as env:
        live, host, ann, _ = await _cast(env)
        ann_w = await _synced(env, live, ann)
        await ann_w.write("Decision: ship on Friday")
        await _until_text(env, live, "ship on Friday")
        stored = await env.service.get(live.id)
        export = await env.service.export(stored, host_view=False, notes=to_markdown)
        assert export["notes"] == "Decision: ship on Friday"
        markdown = export_markdown(export)
        assert "## Shared notes\n\nDecision: ship on Friday" in markdown
        fresh = await env.session(host)
        empty = await env.service.export(await env.service.get(fresh.id), host_view=True,
                                         notes=to_markdown)
        assert empty["notes"] == ""
        assert "## Shared notes\n\n(none)" in export_markdown(empty)


@pytest.mark.redis
async def test_two_nodes_share_the_notes_and_the_end_reaches_both(
    tmp_path: Path, redis_url: str
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'two.db'}"
    await migrate(url)
    prefix = f"test:{uuid.uuid4().hex[:8]}:"
    try:
        async with room_env(url, redis_url=redis_url, prefix=prefix) as one, \
                room_env(url, redis_url=redis_url, prefix=prefix) as two:
            host, ann, bob = (await one.user("Hannah", Role.HOST), await one.user("Ann"),
                              await one.user("Bob"))
            live = await one.session(host)
            for user in (host, ann, bob):
                await one.join(live, user)
            live = await one.start(live)
            room = await one.attend(live, host)
            hannah = await _synced(one, live, host)
            ann_w, bob_w = await _synced(two, live, ann), await _synced(two, live, bob)
            await ann_w.write("written on node two")
            await hannah.a.until(lambda a: "written on node two" in to_plain_text(a.doc))
            await room.ok("participant.remove", userId=bob.id)  # on node one
            assert await bob_w.a.client.wait_closed() == 4403  # closed on node two
            await room.ok("session.end")
            await anyio.sleep(0.3)  # the control command crosses to node two
            await ann_w.write("after the end, on node two")
            await anyio.sleep(0.3)
            assert "after the end" not in await _server_text(two, live)
            assert "after the end" not in to_plain_text(hannah.a.doc)
    finally:
        await cleanup(redis_url, prefix)


# -- qa.mine (pure) ----------------------------------------------------------------------------

HOST = Actor("h", "Hannah", "host")
ANN = Actor("a", "Ann", "participant")
VIC = Actor("v", "Vic", "viewer")


def _do(room: Doc[Any], ledger: Doc[Any], actor: Actor, action: str, **f: Any) -> Any:
    with room.transaction(), ledger.transaction():
        return apply_action(action, f, actor, room, ledger, now=5).data


def test_qa_mine_lists_my_upvotes_also_after_the_end() -> None:
    room: Doc[Any] = Doc()
    ledger: Doc[Any] = Doc()
    with room.transaction():
        d.init_room(room, title="T", status="live", settings={})
    first = _do(room, ledger, ANN, "qa.ask", text="Why?")["questionId"]
    second = _do(room, ledger, ANN, "qa.ask", text="How?")["questionId"]
    assert _do(room, ledger, VIC, "qa.mine") == {"upvoted": []}
    _do(room, ledger, VIC, "qa.upvote", questionId=second)
    _do(room, ledger, HOST, "qa.upvote", questionId=first)
    assert _do(room, ledger, VIC, "qa.mine") == {"upvoted": [second]}
    _do(room, ledger, HOST, "session.end")
    before = (room.get_update(), ledger.get_update())
    assert _do(room, ledger, VIC, "qa.mine") == {"upvoted": [second]}  # read after the end
    assert _do(room, ledger, ANN, "poll.mine") == {"votes": {}}
    assert (room.get_update(), ledger.get_update()) == before
    with pytest.raises(Rejected) as refused, room.transaction(), ledger.transaction():
        apply_action("qa.upvote", {"questionId": first}, VIC, room, ledger, now=6)
    assert refused.value.reason == "session_ended"

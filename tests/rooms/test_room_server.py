"""The sessions kind in a real collab server (in-process channels, a migrated SQLite database):
who may open a room, actions and their replies over the socket, removal, promotion, the end of
a session, presence, 200 simultaneous voters, and a restart that loses no accepted action."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import anyio
import pytest

from collab.awareness import stamp_for
from collab.protocol import (
    AwarenessEntry,
    decode_awareness,
    encode_awareness,
    encode_awareness_entries,
    encode_stateless,
    encode_update,
)
from rooms import document as d
from rooms.service import SessionError
from storage.db import migrate
from storage.models import LiveSession, ParticipantRole, Role, SessionStatus
from tests.rooms._room import Attendee, RoomEnv, User, room_env


@pytest.fixture
async def url(tmp_path: Path) -> str:
    database = f"sqlite+aiosqlite:///{tmp_path / 'rooms.db'}"
    await migrate(database)
    return database


async def _live_room(
    env: RoomEnv, **settings: object
) -> tuple[LiveSession, Attendee, Attendee, Attendee]:
    """A started session: the host, Ann and Bob (participants) connected and synced."""
    host, ann, bob = (await env.user("Hannah", Role.HOST), await env.user("Ann"),
                      await env.user("Bob"))
    live = await env.session(host, **settings)
    for user in (host, ann, bob):
        await env.join(live, user)
    live = await env.start(live)
    rooms = [await env.attend(live, user) for user in (host, ann, bob)]
    return live, rooms[0], rooms[1], rooms[2]


async def test_who_may_open_a_room(url: str) -> None:
    async with room_env(url) as env:
        host, ann, stranger = (await env.user("H", Role.HOST), await env.user("Ann"),
                               await env.user("S"))
        live = await env.session(host)
        await env.join(live, ann)
        unknown = await env.connect(f"sessions/{uuid.uuid4()}", ann)
        assert await unknown.client.wait_closed() == 4404
        malformed = await env.connect("sessions/not-a-uuid", ann)
        assert await malformed.client.wait_closed() == 4404
        outsider = await env.connect(live, stranger)
        assert await outsider.client.wait_closed() == 4403
        ledger = await env.connect(d.ledger_name(live.id), ann)  # votes and authors: never served
        assert await ledger.client.wait_closed() == 4404
        attendee = await env.attend(live, ann)
        assert attendee.map(d.STATE)["status"] == "scheduled"  # the lobby: waiting to start
        assert attendee.map(d.PARTICIPANTS)[ann.id]["role"] == "participant"
        # Read-only: a raw document update from an attendee is dropped.
        forged = attendee.doc
        with forged.transaction():
            d.ymap(forged, d.STATE)["status"] = "ended"
        await attendee.client.send(encode_update(forged.get_update()))
        await attendee.ok("poll.mine")  # processed after the update
        async with env.h.server.open_direct(d.room_name(live.id)) as room:
            assert d.status(room.doc) == "scheduled"
        cancelled = await env.session(host)
        await env.join(cancelled, ann)
        await env.service.transition(cancelled, "cancel")
        assert await (await env.connect(cancelled, ann)).client.wait_closed() == 4410


async def test_actions_apply_for_everyone_and_replies_reach_the_sender(url: str) -> None:
    async with room_env(url) as env:
        _, host, ann, bob = await _live_room(env)
        posted = await ann.ok("chat.post", text="hello 👋")
        await bob.until(lambda b: [m["text"] for m in b.array(d.CHAT)] == ["hello 👋"])
        assert bob.array(d.CHAT)[0]["id"] == posted["messageId"]
        assert await bob.act("poll.create", question="q", options=["a", "b"]) == {
            "id": "1", "ok": False, "reason": "not_allowed"}
        await ann.client.send(encode_stateless("{not json"))
        await ann.until(lambda a: "None" in a.replies)
        assert ann.replies["None"] == {"id": None, "ok": False, "reason": "invalid"}
        poll = (await host.ok("poll.create", question="Q", options=["a", "b"]))["pollId"]
        await host.ok("poll.open", pollId=poll)
        await bob.until(lambda b: b.map(d.POLLS).get(poll, {}).get("status") == "open")
        assert (await bob.ok("poll.vote", pollId=poll, choices=[1]))["changed"] is False
        assert (await bob.ok("poll.vote", pollId=poll, choices=[0]))["changed"] is True
        await host.ok("poll.close", pollId=poll)
        assert await bob.refused("poll.vote", pollId=poll, choices=[1]) == "poll_closed"
        await host.ok("poll.publish", pollId=poll)
        await ann.until(lambda a: a.map(d.TALLIES)[poll] == {"voters": 1, "results": [1, 0]})


async def test_limits_over_the_socket(url: str) -> None:
    async with room_env(url) as env:
        _, _, ann, _ = await _live_room(env)
        replies = [await ann.act("chat.post", text=f"m{i}") for i in range(6)]
        assert [r["ok"] for r in replies] == [True] * 5 + [False]
        assert replies[-1]["reason"] == "rate_limited"
        assert len(ann.array(d.CHAT)) == 5
        assert await ann.refused("chat.post", text="x" * 9000) == "too_large"
        await ann.client.send(encode_stateless(json.dumps({"id": 1, "pad": "x" * 70_000})))
        assert await ann.client.wait_closed() == 1009  # over the core's stateless frame limit


async def test_two_hundred_attendees_vote_at_once(url: str) -> None:
    async with room_env(url) as env:
        host_user = await env.user("Hannah", Role.HOST)
        live = await env.session(host_user, maxParticipants=1000)
        users = [await env.user(f"U{i}") for i in range(200)]
        await env.join(live, host_user)
        for user in users:
            await env.join(live, user)
        live = await env.start(live)
        host = await env.attend(live, host_user)
        attendees = [await env.attend(live, user) for user in users]
        poll = (await host.ok("poll.create", question="Q", options=["a", "b", "c"],
                              multiple=True))["pollId"]
        await host.ok("poll.open", pollId=poll)
        await host.ok("poll.publish", pollId=poll)
        expected = [0, 0, 0]
        updates_before = host.updates
        sent: list[tuple[Attendee, str]] = []
        for i, attendee in enumerate(attendees):  # every vote is on the wire before any reply
            choices = [i % 3] if i % 4 else [0, 2]
            for choice in choices:
                expected[choice] += 1
            sent.append((attendee, await attendee.send("poll.vote", pollId=poll,
                                                       choices=choices)))
        for attendee, client_id in sent:
            assert (await attendee.reply(client_id))["ok"] is True
        await host.until(lambda h: h.map(d.TALLIES)[poll]["voters"] == 200, 20)
        assert host.map(d.TALLIES)[poll]["results"] == expected
        assert (await host.ok("poll.results", pollId=poll))["results"] == expected
        await attendees[-1].until(lambda a: a.map(d.TALLIES)[poll]["results"] == expected, 20)
        # The burst's votes share room updates (rooms.recount: one per 50 ms at most), not
        # one each: 200 votes to 201 connections would be 40,000 frames.
        assert host.updates - updates_before < 50, host.updates - updates_before


async def test_removed_participant_is_closed_and_kept_out(url: str) -> None:
    async with room_env(url) as env:
        live, host, ann, bob = await _live_room(env)
        ann_id = next(k for k, v in host.map(d.PARTICIPANTS).items() if v["name"] == "Ann")
        await ann.ok("hand.raise")
        assert await bob.refused("participant.remove", userId=ann_id) == "not_allowed"
        await host.ok("participant.remove", userId=ann_id)
        assert await ann.client.wait_closed() == 4403
        await bob.until(lambda b: b.map(d.PARTICIPANTS)[ann_id]["removed"] is True)
        assert bob.array(d.HANDS) == []
        member = await env.service.sessions.member(live.id, uuid.UUID(ann_id))
        assert member is not None and member.removed_at is not None
        again = await env.connect(live, User(ann_id, "Ann"))
        assert await again.client.wait_closed() == 4403
        with pytest.raises(SessionError) as refused:
            await env.service.join(await env.service.get(live.id), uuid.UUID(ann_id), "Ann")
        assert refused.value.kind == "removed"


async def test_promotion_applies_to_the_open_connection(url: str) -> None:
    async with room_env(url) as env:
        live, host, ann, bob = await _live_room(env)
        bob_id = next(k for k, v in host.map(d.PARTICIPANTS).items() if v["name"] == "Bob")
        assert await bob.refused("chat.lock", locked=True) == "not_allowed"
        await host.ok("participant.setRole", userId=bob_id, role="co-host")
        await bob.ok("chat.lock", locked=True)  # the same connection, now a co-host
        assert await ann.refused("chat.post", text="hi") == "chat_locked"
        role = await env.service.sessions.role_of(live.id, uuid.UUID(bob_id))
        assert role is ParticipantRole.CO_HOST


async def test_ending_the_session_freezes_the_room(url: str) -> None:
    async with room_env(url) as env:
        live, host, ann, _ = await _live_room(env)
        await ann.ok("chat.post", text="bye")
        assert await ann.refused("session.end") == "not_allowed"
        await host.ok("session.end")
        await ann.until(lambda a: a.map(d.STATE)["status"] == "ended")
        assert await ann.refused("chat.post", text="late") == "session_ended"
        assert await host.refused("poll.create", question="q", options=["a", "b"]) == (
            "session_ended")
        stored = await env.service.get(live.id)
        assert stored.status is SessionStatus.ENDED and stored.actual_end is not None
        export = await env.service.export(stored, host_view=True)
        ann_row = next(r for r in export["attendance"] if r["name"] == "Ann")
        assert ann_row["engagement"]["messages"] == 1
        member = await env.service.sessions.member(live.id, uuid.UUID(ann_row["userId"]))
        assert member is not None and member.engagement_data["messages"] == 1


async def test_presence_is_stamped_with_identity_and_role(url: str) -> None:
    async with room_env(url) as env:
        _, host, ann, bob = await _live_room(env)
        ann_id = next(k for k, v in host.map(d.PARTICIPANTS).items() if v["name"] == "Ann")
        state = {"user": {"id": "someone-else", "role": "host"},
                 "media": {"mic": True, "camera": False, "screen": False}}
        await ann.client.send(encode_awareness(encode_awareness_entries(
            [AwarenessEntry(4242, 1, state)])))

        def seen(attendee: Attendee) -> dict[str, object] | None:
            for payload in attendee.awareness:
                for entry in decode_awareness(payload):
                    if entry.client_id == 4242 and entry.state is not None:
                        return entry.state
            return None

        await bob.until(lambda b: seen(b) is not None)
        # (the kit's token authentication names every user "User <id>")
        assert seen(bob) == {"user": stamp_for(ann_id, f"User {ann_id}", "participant"),
                             "media": {"mic": True, "camera": False, "screen": False}}
        await host.ok("participant.setRole", userId=ann_id, role="co-host")
        state["media"] = {"mic": False, "camera": False, "screen": False}
        bob.awareness.clear()
        await ann.client.send(encode_awareness(encode_awareness_entries(
            [AwarenessEntry(4242, 2, state)])))
        await bob.until(lambda b: seen(b) is not None)
        assert (seen(bob) or {})["user"] == stamp_for(ann_id, f"User {ann_id}", "co-host")


async def test_restart_keeps_every_accepted_action(url: str) -> None:
    async with room_env(url) as env:
        live, host, ann, bob = await _live_room(env)
        await ann.ok("chat.post", text="before the restart")
        poll = (await host.ok("poll.create", question="Q", options=["a", "b"]))["pollId"]
        await host.ok("poll.open", pollId=poll)
        await ann.ok("poll.vote", pollId=poll, choices=[1])
        await bob.ok("poll.vote", pollId=poll, choices=[1])
        asked = (await bob.ok("qa.ask", text="anon?", anonymous=True))["questionId"]
        await ann.ok("qa.upvote", questionId=asked)
        users = {v["name"]: k for k, v in host.map(d.PARTICIPANTS).items()}
    async with room_env(url) as env:  # a new server on the same database
        host = await env.attend(live, User(users["Hannah"], "Hannah"))
        ann = await env.attend(live, User(users["Ann"], "Ann"))
        assert [m["text"] for m in host.array(d.CHAT)] == ["before the restart"]
        assert host.map(d.UPVOTE_COUNTS)[asked] == 1
        assert (await host.ok("poll.results", pollId=poll))["results"] == [0, 2]
        assert (await host.ok("qa.authors"))["authors"][asked]["userId"] == users["Bob"]
        assert await ann.refused("qa.upvote", questionId=asked) == "already_voted"
        assert (await ann.ok("poll.mine"))["votes"] == {poll: [1]}
        await anyio.sleep(0)


async def test_time_present_and_left_follow_the_connections(url: str) -> None:
    async with room_env(url) as env:
        live, host, ann, _ = await _live_room(env)
        ann_id = uuid.UUID(next(
            k for k, v in host.map(d.PARTICIPANTS).items() if v["name"] == "Ann"))
        second = await env.attend(live, User(str(ann_id), "Ann"))  # a second tab
        await ann.client.leave()

        async def member() -> tuple[object, dict[str, object]]:
            row = await env.service.sessions.member(live.id, ann_id)
            assert row is not None
            return row.left_at, dict(row.engagement_data)

        with anyio.fail_after(5):
            while "secondsPresent" not in (await member())[1]:
                await anyio.sleep(0.01)
        assert (await member())[0] is None  # the other tab is still in the room
        await second.client.leave()
        with anyio.fail_after(5):
            while (await member())[0] is None:
                await anyio.sleep(0.01)
        assert float((await member())[1]["secondsPresent"]) > 0  # type: ignore[arg-type]
        await env.attend(live, User(str(ann_id), "Ann"))  # back: present again
        assert (await member())[0] is None


async def test_a_failing_effect_is_answered_and_the_connection_stays(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with room_env(url) as env:
        _, host, ann, _ = await _live_room(env)
        ann_id = next(k for k, v in host.map(d.PARTICIPANTS).items() if v["name"] == "Ann")

        async def down(*args: object) -> bool:
            raise OSError("database unreachable")

        with monkeypatch.context() as patch:
            patch.setattr(env.kind._sessions, "remove", down)
            assert await host.refused("participant.remove", userId=ann_id) == "internal"
            await host.ok("chat.post", text="still here")
            await ann.until(lambda a: len(a.array(d.CHAT)) == 1)
            assert not ann.client.closed.is_set()  # not removed yet
        await host.ok("participant.remove", userId=ann_id)  # the retry completes it
        assert await ann.client.wait_closed() == 4403


async def test_a_socket_does_not_take_back_a_seat_given_away(url: str) -> None:
    """Someone who left comes back by opening the room again (no REST join): admitted only
    while a seat is free, through the same admission as a join (maxParticipants holds)."""
    async with room_env(url) as env:
        host, ann, bob, cara = (await env.user("H", Role.HOST), await env.user("Ann"),
                                await env.user("Bob"), await env.user("Cara"))
        live = await env.session(host, maxParticipants=2)
        await env.join(live, ann)
        await env.service.leave(live, uuid.UUID(ann.id))
        await env.join(live, bob)
        await env.join(live, cara)
        with pytest.raises(SessionError) as full:
            await env.join(live, ann)
        assert full.value.kind == "full"
        back = await env.connect(live, ann)
        assert await back.client.wait_closed() == 4403
        assert await env.service.sessions.present_count(live.id) == 2
        await env.service.leave(live, uuid.UUID(bob.id))
        await env.attend(live, ann)  # a free seat: admitted, present again
        member = await env.service.sessions.member(live.id, uuid.UUID(ann.id))
        assert member is not None and member.left_at is None
        assert await env.service.sessions.present_count(live.id) == 2

"""Two in-process nodes (one SQLite log, one Redis): votes taken on both nodes at the same
moment. Each node writes the poll's counts from its own ledger, the room keeps one write, and
the recount on the other node's ledger change brings every attendee to the exact tally."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from pycrdt import Doc

from rooms import document as d
from rooms.recount import recount
from storage.db import migrate
from storage.models import Role
from tests.collab._nodes import cleanup
from tests.rooms._room import Attendee, room_env


def test_recount_rewrites_only_what_differs() -> None:
    room, ledger = Doc(), Doc()
    with room.transaction(), ledger.transaction():
        d.ymap(room, d.POLLS)["p"] = {"id": "p", "options": ["a", "b"], "status": "open",
                                      "published": True}
        d.ymap(room, d.TALLIES)["p"] = {"voters": 1, "results": [1, 0]}
        d.ymap(room, d.QUESTIONS)["q"] = {"id": "q"}
        d.ymap(room, d.UPVOTE_COUNTS)["q"] = 0
        votes = d.votes_map(ledger, "p")
        votes["u1"], votes["u2"] = [0], [1]
        d.upvotes_map(ledger, "q")["u1"] = True
    with room.transaction(), ledger.transaction():
        assert recount(room, ledger) == 2
    assert d.ymap(room, d.TALLIES).to_py()["p"] == {"voters": 2, "results": [1, 1]}
    assert d.ymap(room, d.UPVOTE_COUNTS)["q"] == 1
    before = (room.get_update(), ledger.get_update())
    with room.transaction(), ledger.transaction():
        assert recount(room, ledger) == 0
    assert (room.get_update(), ledger.get_update()) == before  # nothing for peers to recount


@pytest.mark.redis
async def test_votes_on_two_nodes_converge_to_the_exact_tally(
    tmp_path: Path, redis_url: str
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'rooms.db'}"
    await migrate(url)
    prefix = f"test:{uuid.uuid4().hex[:8]}:"
    try:
        async with room_env(url, redis_url=redis_url, prefix=prefix) as one, \
                room_env(url, redis_url=redis_url, prefix=prefix) as two:
            host_user = await one.user("Hannah", Role.HOST)
            live = await one.session(host_user)
            users = [await one.user(f"U{i}") for i in range(60)]
            for user in (host_user, *users):
                await one.join(live, user)
            live = await one.start(live)
            host = await one.attend(live, host_user)
            attendees: list[Attendee] = [
                await (one if i % 2 else two).attend(live, user) for i, user in enumerate(users)
            ]
            poll = (await host.ok("poll.create", question="Q", options=["a", "b"]))["pollId"]
            await host.ok("poll.open", pollId=poll)
            await host.ok("poll.publish", pollId=poll)
            for attendee in attendees:  # the poll is open on the attendee's node too
                await attendee.until(
                    lambda a: a.map(d.POLLS).get(poll, {}).get("status") == "open")
            sent = [(a, await a.send("poll.vote", pollId=poll, choices=[i % 2]))
                    for i, a in enumerate(attendees)]
            for attendee, client_id in sent:
                reply = await attendee.reply(client_id)
                assert reply["ok"] is True, reply
            exact = [30, 30]
            for attendee in (host, *attendees):
                await attendee.until(
                    lambda a: a.map(d.TALLIES).get(poll) == {"voters": 60, "results": exact}, 20)
    finally:
        await cleanup(redis_url, prefix)

"""A deleted account in someone else's room (rooms/forget.py): the session's record stays,
with exact counts, but nothing in the room's state says who the user was."""

from __future__ import annotations

import json
from typing import Any

from pycrdt import Doc

from rooms import document as d
from rooms.forget import DELETED_NAME, forget_in_ledger, forget_in_room, pseudonym

GONE, STAYS = "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"


def room_and_ledger() -> tuple[Doc[Any], Doc[Any]]:
    room, ledger = Doc(), Doc()
    with room.transaction():
        for n, (uid, name) in enumerate(((GONE, "Gone Person"), (STAYS, "Stays"))):
            d.ymap(room, d.PARTICIPANTS)[uid] = {"userId": uid, "name": name, "role": "participant"}
            message = {"id": f"m{n}", "userId": uid, "name": name, "text": "hi"}
            d.yarray(room, d.CHAT).append(message)
            d.yarray(room, d.HANDS).append({"userId": uid, "name": name, "at": 1})
            d.ymap(room, d.REACTIONS)[f"m1|+1|{uid}"] = True
        d.ymap(room, d.POLLS)["p1"] = {"id": "p1", "options": ["a", "b"]}
        d.ymap(room, d.QUESTIONS)["q1"] = {"id": "q1", "userId": GONE, "name": "Gone Person"}
    with ledger.transaction():
        d.votes_map(ledger, "p1")[GONE] = [0]
        d.votes_map(ledger, "p1")[STAYS] = [1]
        d.ymap(ledger, d.UPVOTES.format(question="q1"))[GONE] = True
        d.ymap(ledger, d.AUTHORS)["q1"] = {"userId": GONE, "name": "Gone Person"}
        d.ymap(ledger, d.MESSAGES)["m0"] = GONE
        d.ymap(ledger, d.ENGAGEMENT)[GONE] = {"messages": 1}
    return room, ledger


def test_the_room_keeps_the_session_and_forgets_the_user() -> None:
    room, ledger = room_and_ledger()
    before = d.tally(ledger, "p1", 2)
    alias = pseudonym()
    with room.transaction():
        forget_in_room(room, GONE, alias)
    with ledger.transaction():
        forget_in_ledger(ledger, room, GONE, alias)

    state = json.dumps({**{
        name: d.ymap(room, name).to_py() for name in (d.PARTICIPANTS, d.REACTIONS, d.QUESTIONS)
    }, "chat": d.yarray(room, d.CHAT).to_py(), "hands": d.yarray(room, d.HANDS).to_py()})
    ledger_state = json.dumps({name: d.ymap(ledger, name).to_py() for name in (
        "votes:p1", "upvotes:q1", d.AUTHORS, d.MESSAGES, d.ENGAGEMENT)})
    for text in (state, ledger_state):
        assert GONE not in text and "Gone Person" not in text
    assert list(d.ymap(room, d.PARTICIPANTS).keys()) == [STAYS]
    assert [h["userId"] for h in d.yarray(room, d.HANDS).to_py()] == [STAYS]
    chat = d.yarray(room, d.CHAT).to_py()
    assert [(m["name"], m["text"]) for m in chat] == [(DELETED_NAME, "hi"), ("Stays", "hi")]
    assert d.tally(ledger, "p1", 2) == before == ([1, 1], 2)  # the vote still counts
    assert len(d.ymap(room, d.REACTIONS)) == 2  # the reaction too, under the pseudonym
    assert d.ymap(room, d.QUESTIONS)["q1"]["name"] == DELETED_NAME
    assert GONE not in str(d.ymap(ledger, d.ENGAGEMENT).to_py())

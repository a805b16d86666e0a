"""Agenda and timer actions, pure: who may do what, in which session state, and every
rejection (each leaves both documents unchanged)."""

from __future__ import annotations

from typing import Any

import pytest
from pycrdt import Doc

from rooms import document as d
from rooms.actions import apply_action
from rooms.rules import Actor, Outcome, Rejected

HOST = Actor("h", "Hannah", "host")
CO = Actor("c", "Chris", "co-host")
ANN = Actor("a", "Ann", "participant")
VIC = Actor("v", "Vic", "viewer")


class Room:
    def __init__(self, status: str = "live") -> None:
        self.room: Doc[Any] = Doc()
        self.ledger: Doc[Any] = Doc()
        self.now = 10_000
        with self.room.transaction():
            d.init_room(self.room, title="T", status=status, settings={})

    def do(self, actor: Actor, action: str, **fields: Any) -> Outcome:
        self.now += 1
        with self.room.transaction(), self.ledger.transaction():
            return apply_action(action, fields, actor, self.room, self.ledger, now=self.now)

    def refuse(self, actor: Actor, action: str, **fields: Any) -> str:
        before = (self.room.get_update(), self.ledger.get_update())
        with pytest.raises(Rejected) as refused:
            self.do(actor, action, **fields)
        assert (self.room.get_update(), self.ledger.get_update()) == before, "changed something"
        return refused.value.reason

    @property
    def agenda(self) -> list[Any]:
        return list(d.yarray(self.room, d.AGENDA).to_py() or [])

    @property
    def state(self) -> dict[str, Any]:
        return d.state(self.room)


ITEMS = [{"title": "Intro", "minutes": 5}, {"title": "Risks", "minutes": 10}]


def test_the_agenda_is_prepared_in_the_lobby_by_hosts_only() -> None:
    lobby = Room(status="scheduled")
    lobby.do(HOST, "agenda.set", items=ITEMS)
    assert lobby.agenda == [{"title": "Intro", "minutes": 5.0}, {"title": "Risks", "minutes": 10.0}]
    for actor in (ANN, VIC):
        assert lobby.refuse(actor, "agenda.set", items=ITEMS) == "not_allowed"
    assert lobby.refuse(HOST, "agenda.current", index=0) == "not_started"
    assert lobby.refuse(HOST, "timer.start", seconds=60) == "not_started"
    lobby.do(CO, "agenda.set", items=[{"title": "Only item"}])  # minutes default to 0
    assert lobby.agenda == [{"title": "Only item", "minutes": 0.0}]


def test_agenda_set_refuses_malformed_items() -> None:
    room = Room()
    room.do(HOST, "agenda.set", items=ITEMS)
    cases: list[tuple[object, str]] = [
        ("not a list", "invalid"),
        ([{"title": f"t{i}"} for i in range(51)], "invalid"),
        (["Intro"], "invalid"),
        ([{"title": ""}], "invalid"),
        ([{"title": "x" * 201}], "too_long"),
        ([{"title": "x", "minutes": 601}], "invalid"),
        ([{"title": "x", "minutes": 1.5}], "invalid"),
        ([{"title": "x", "minutes": True}], "invalid"),
    ]
    for items, reason in cases:
        assert room.refuse(HOST, "agenda.set", items=items) == reason, items
    assert [item["title"] for item in room.agenda] == ["Intro", "Risks"]


def test_the_current_item_and_a_new_agenda() -> None:
    room = Room()
    room.do(HOST, "agenda.set", items=ITEMS)
    room.do(CO, "agenda.current", index=1)
    assert room.state["agendaIndex"] == 1
    assert room.refuse(ANN, "agenda.current", index=0) == "not_allowed"
    for index in (2, -1, "0", True):
        assert room.refuse(HOST, "agenda.current", index=index) == "invalid"
    room.do(HOST, "agenda.current", index=None)
    assert room.state["agendaIndex"] is None
    room.do(HOST, "agenda.current", index=0)
    room.do(HOST, "agenda.set", items=ITEMS[:1])  # a new agenda: no current item
    assert room.state["agendaIndex"] is None


def test_the_timer_starts_restarts_stops_and_ends_with_the_session() -> None:
    room = Room()
    room.do(HOST, "timer.start", seconds=300, label="Break")
    assert room.state["timer"] == {"startedAt": room.now, "seconds": 300.0, "label": "Break"}
    room.do(CO, "timer.start", seconds=60, label="  ")  # a blank label is no label
    assert room.state["timer"] == {"startedAt": room.now, "seconds": 60.0, "label": ""}
    room.do(CO, "timer.start", seconds=90)
    assert room.state["timer"]["label"] == ""
    for actor in (ANN, VIC):
        assert room.refuse(actor, "timer.start", seconds=60) == "not_allowed"
        assert room.refuse(actor, "timer.stop") == "not_allowed"
    for seconds in (0, 86_401, 1.5, "60", None):
        assert room.refuse(HOST, "timer.start", seconds=seconds) == "invalid"
    assert room.refuse(HOST, "timer.start", seconds=60, label="x" * 101) == "too_long"
    assert room.refuse(HOST, "timer.start", seconds=60, label=7) == "invalid"
    room.do(HOST, "timer.stop")
    assert room.state["timer"] is None
    room.do(HOST, "timer.start", seconds=60)
    room.do(HOST, "session.end")
    assert room.state["timer"] is None
    assert room.refuse(HOST, "timer.start", seconds=60) == "session_ended"
    assert room.refuse(HOST, "agenda.set", items=ITEMS) == "session_ended"

"""Room actions, pure: every action and every rejection against plain pycrdt documents. Each
rejection is checked to leave both documents byte-for-byte unchanged."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from pycrdt import Doc

from rooms import document as d
from rooms.actions import ACTIONS, apply_action, parse
from rooms.rules import MAX_ACTION_BYTES, MAX_CHAT, REASONS, Actor, Outcome, Rejected
from rooms.throttle import Rate, Throttle

HOST = Actor("h", "Hannah", "host")
CO = Actor("c", "Chris", "co-host")
ANN = Actor("a", "Ann", "participant")
BOB = Actor("b", "Bob", "participant")
VIC = Actor("v", "Vic", "viewer")


class Room:
    def __init__(self, status: str = "live", **settings: Any) -> None:
        self.room: Doc[Any] = Doc()
        self.ledger: Doc[Any] = Doc()
        self.now = 1_000
        with self.room.transaction():
            d.init_room(self.room, title="T", status=status, settings=settings)
            for actor in (HOST, CO, ANN, BOB, VIC):
                d.put_participant(self.room, actor.user_id, actor.name, actor.role, 1)

    def do(self, actor: Actor, action: str, **fields: Any) -> Outcome:
        self.now += 1
        with self.room.transaction() as r, self.ledger.transaction():
            del r
            return apply_action(action, fields, actor, self.room, self.ledger, now=self.now)

    def refuse(self, actor: Actor, action: str, **fields: Any) -> str:
        before = (self.room.get_update(), self.ledger.get_update())
        with pytest.raises(Rejected) as refused:
            self.do(actor, action, **fields)
        assert (self.room.get_update(), self.ledger.get_update()) == before, "changed something"
        return refused.value.reason

    def refuse_nothing(self, actor: Actor, action: str, **fields: Any) -> Outcome:
        """Accepted without changing the documents."""
        before = (self.room.get_update(), self.ledger.get_update())
        outcome = self.do(actor, action, **fields)
        assert (self.room.get_update(), self.ledger.get_update()) == before
        return outcome

    def poll(self, **fields: Any) -> str:
        fields.setdefault("question", "Which?")
        fields.setdefault("options", ["x", "y", "z"])
        poll_id: str = self.do(HOST, "poll.create", **fields).data["pollId"]
        return poll_id

    @property
    def polls(self) -> dict[str, Any]:
        return dict(d.ymap(self.room, d.POLLS).to_py() or {})

    @property
    def tallies(self) -> dict[str, Any]:
        return dict(d.ymap(self.room, d.TALLIES).to_py() or {})

    @property
    def chat(self) -> list[dict[str, Any]]:
        return list(d.yarray(self.room, d.CHAT).to_py() or [])


def test_parse_rejects_malformed_payloads() -> None:
    parsed = parse(json.dumps({"id": 7, "action": "chat.post", "text": "x"}))
    assert parsed[:2] == ("7", "chat.post")
    for payload, reason in [
        ("not json", "invalid"),
        ("[1, 2]", "invalid"),
        (json.dumps({"action": "chat.post"}), "invalid"),
        (json.dumps({"id": True, "action": "chat.post"}), "invalid"),
        (json.dumps({"id": "1"}), "invalid"),
        (json.dumps({"id": "1", "action": "poll.hack"}), "unknown_action"),
        (json.dumps({"id": "1", "action": "chat.post", "text": "x" * MAX_ACTION_BYTES}),
         "too_large"),
    ]:
        with pytest.raises(Rejected) as refused:
            parse(payload)
        assert refused.value.reason == reason, payload


def test_every_reason_is_documented() -> None:
    text = (Path(__file__).parents[2] / "docs" / "rooms.md").read_text(encoding="utf-8")
    for reason in REASONS:
        assert f"`{reason}`" in text, reason
    for action in ACTIONS:
        assert f"`{action}`" in text, action


def test_chat_post_delete_react() -> None:
    room = Room()
    message_id = room.do(ANN, "chat.post", text="  héllo 👋  ").data["messageId"]
    assert room.chat == [{"id": message_id, "userId": "a", "name": "Ann", "text": "héllo 👋",
                          "at": 1001}]
    assert room.refuse(ANN, "chat.post", text="x" * (MAX_CHAT + 1)) == "too_long"
    assert room.refuse(ANN, "chat.post", text="   ") == "invalid"
    assert room.refuse(ANN, "chat.post", text=5) == "invalid"
    assert room.refuse(VIC, "chat.post", text="hi") == "not_allowed"
    room.do(BOB, "chat.react", messageId=message_id, emoji="👍")
    room.do(VIC, "chat.react", messageId=message_id, emoji="👍")
    room.do(VIC, "chat.react", messageId=message_id, emoji="👍")  # idempotent
    assert sorted(d.ymap(room.room, d.REACTIONS).to_py() or {}) == [
        f"{message_id}|👍|b", f"{message_id}|👍|v"]
    room.do(VIC, "chat.react", messageId=message_id, emoji="👍", on=False)
    assert room.refuse(BOB, "chat.react", messageId="nope", emoji="👍") == "not_found"
    assert room.refuse(BOB, "chat.react", messageId=message_id, emoji="a|b") == "invalid"
    assert room.refuse(BOB, "chat.delete", messageId=message_id) == "not_allowed"
    assert room.refuse(BOB, "chat.delete", messageId="nope") == "not_found"
    room.do(ANN, "chat.delete", messageId=message_id)
    assert room.chat == [] and not d.ymap(room.room, d.REACTIONS).to_py()
    other = room.do(BOB, "chat.post", text="x").data["messageId"]
    room.do(CO, "chat.delete", messageId=other)  # hosts moderate
    assert room.chat == []
    assert d.engagement(room.ledger)["a"]["messages"] == 1


def test_chat_lock_and_settings() -> None:
    room = Room()
    assert room.refuse(ANN, "chat.lock", locked=True) == "not_allowed"
    room.do(CO, "chat.lock", locked=True)
    assert room.refuse(ANN, "chat.post", text="hi") == "chat_locked"
    room.do(HOST, "chat.post", text="hosts still talk")
    room.do(HOST, "chat.lock", locked=False)
    room.do(ANN, "chat.post", text="hi")
    off = Room(chat=False)
    assert off.refuse(ANN, "chat.post", text="hi") == "chat_disabled"


def test_status_gates_actions() -> None:
    waiting = Room(status="scheduled")
    assert waiting.refuse(ANN, "chat.post", text="hi") == "not_started"
    poll_id = waiting.poll()  # hosts prepare polls in the lobby
    assert waiting.refuse(HOST, "poll.open", pollId=poll_id) == "not_started"
    room = Room()
    room.do(HOST, "session.end")
    assert d.status(room.room) == "ended"
    for actor, action, fields in [
        (ANN, "chat.post", {"text": "hi"}), (HOST, "poll.create", {"question": "q"}),
        (ANN, "hand.raise", {}), (HOST, "session.end", {}),
    ]:
        assert room.refuse(actor, action, **fields) == "session_ended"
    assert room.refuse(CO, "session.end") == "session_ended"
    assert Room().refuse(CO, "session.end") == "not_allowed"


def test_poll_lifecycle_votes_and_published_results() -> None:
    room = Room()
    assert room.refuse(ANN, "poll.create", question="q", options=["a", "b"]) == "not_allowed"
    for bad in ([], ["only"], ["a"] * 11, ["a", ""], ["a", 3]):
        assert room.refuse(HOST, "poll.create", question="q", options=bad) == "invalid"
    poll_id = room.poll()
    assert room.refuse(ANN, "poll.vote", pollId=poll_id, choices=[0]) == "poll_not_open"
    assert room.refuse(ANN, "poll.open", pollId=poll_id) == "not_allowed"
    room.do(CO, "poll.open", pollId=poll_id)
    for bad in ([], [3], [-1], [0, 1], [True], ["0"], None):
        assert room.refuse(ANN, "poll.vote", pollId=poll_id, choices=bad) == "invalid"
    assert room.refuse(ANN, "poll.vote", pollId="nope", choices=[0]) == "not_found"
    assert room.do(ANN, "poll.vote", pollId=poll_id, choices=[0]).data == {
        "changed": False, "choices": [0]}
    room.do(VIC, "poll.vote", pollId=poll_id, choices=[2])
    assert room.tallies[poll_id] == {"voters": 2, "results": None}
    # One vote per user, changeable until the poll closes: a second vote replaces the first.
    assert room.do(ANN, "poll.vote", pollId=poll_id, choices=[1]).data["changed"] is True
    assert room.do(HOST, "poll.results", pollId=poll_id).data == {
        "pollId": poll_id, "results": [0, 1, 1], "voters": 2}
    assert room.refuse(ANN, "poll.results", pollId=poll_id) == "not_allowed"
    room.do(HOST, "poll.publish", pollId=poll_id)
    assert room.tallies[poll_id]["results"] == [0, 1, 1]
    room.do(BOB, "poll.vote", pollId=poll_id, choices=[1])  # published: results follow live
    assert room.tallies[poll_id] == {"voters": 3, "results": [0, 2, 1]}
    room.do(HOST, "poll.close", pollId=poll_id)
    assert room.polls[poll_id]["status"] == "closed"
    assert room.refuse(BOB, "poll.vote", pollId=poll_id, choices=[0]) == "poll_closed"
    assert room.refuse(HOST, "poll.open", pollId=poll_id) == "poll_closed"
    assert room.do(ANN, "poll.mine").data == {"votes": {poll_id: [1]}}
    assert d.engagement(room.ledger)["a"]["votes"] == 1  # a changed vote is one vote


def test_the_running_tally_matches_the_votes() -> None:
    room = Room()
    poll_id = room.poll(multiple=True)
    room.do(HOST, "poll.open", pollId=poll_id)
    rng = random.Random(7)
    voters = [Actor(f"u{i}", "U", "participant") for i in range(40)]
    for _ in range(200):  # first votes and changed votes, in any order
        choices = sorted(rng.sample(range(3), rng.randint(1, 3)))
        room.do(rng.choice(voters), "poll.vote", pollId=poll_id, choices=choices)
    counts, total = d.tally(room.ledger, poll_id, 3)
    assert d.ymap(room.ledger, d.COUNTS).to_py()[poll_id] == {"voters": total, "counts": counts}
    # A kept tally that does not match the votes (another node's votes merged) is recounted.
    with room.ledger.transaction():
        d.ymap(room.ledger, d.COUNTS)[poll_id] = {"voters": 1, "counts": [1, 0, 0]}
    room.do(ANN, "poll.vote", pollId=poll_id, choices=[0])
    assert d.running_tally(room.ledger, poll_id, 3) == d.tally(room.ledger, poll_id, 3)


def test_multiple_choice_poll() -> None:
    room = Room()
    poll_id = room.poll(multiple=True)
    room.do(HOST, "poll.open", pollId=poll_id)
    room.do(ANN, "poll.vote", pollId=poll_id, choices=[2, 0])
    room.do(BOB, "poll.vote", pollId=poll_id, choices=[0])
    assert room.refuse(BOB, "poll.vote", pollId=poll_id, choices=[1, 1]) == "invalid"
    assert d.tally(room.ledger, poll_id, 3) == ([2, 0, 1], 2)
    assert room.refuse(HOST, "poll.close", pollId=room.poll()) == "poll_not_open"


def test_questions_anonymity_upvotes_and_moderation() -> None:
    room = Room()
    asked = room.do(ANN, "qa.ask", text="Why?", anonymous=True).data["questionId"]
    question = d.ymap(room.room, d.QUESTIONS).to_py()[asked]
    assert question["userId"] is None and question["name"] is None and question["anonymous"]
    assert "Ann" not in json.dumps(d.ymap(room.room, d.QUESTIONS).to_py())
    assert room.do(HOST, "qa.authors").data["authors"][asked] == {"userId": "a", "name": "Ann"}
    assert room.refuse(BOB, "qa.authors") == "not_allowed"
    assert room.do(BOB, "qa.upvote", questionId=asked).data == {"upvotes": 1}
    assert d.ymap(room.room, d.UPVOTE_COUNTS).to_py() == {asked: 1}
    assert room.refuse(BOB, "qa.upvote", questionId=asked) == "already_voted"
    assert room.do(VIC, "qa.upvote", questionId=asked).data == {"upvotes": 2}
    assert room.refuse(VIC, "qa.ask", text="me?") == "not_allowed"
    assert room.refuse(BOB, "qa.answer", questionId=asked) == "not_allowed"
    room.do(CO, "qa.answer", questionId=asked)
    assert d.ymap(room.room, d.QUESTIONS).to_py()[asked]["status"] == "answered"
    named = room.do(BOB, "qa.ask", text="Where?").data["questionId"]
    room.do(HOST, "qa.dismiss", questionId=named)
    assert d.ymap(room.room, d.QUESTIONS).to_py()[named]["name"] == "Bob"
    assert room.refuse(HOST, "qa.dismiss", questionId="nope") == "not_found"
    assert Room(questions=False).refuse(ANN, "qa.ask", text="q") == "questions_disabled"
    no_anon = Room(anonymousQuestions=False)
    assert no_anon.refuse(ANN, "qa.ask", text="q", anonymous=True) == "anonymous_disabled"


def test_hands_queue() -> None:
    room = Room()
    for actor in (BOB, ANN, BOB):
        room.do(actor, "hand.raise")
    assert [h["userId"] for h in d.yarray(room.room, d.HANDS).to_py()] == ["b", "a"]
    assert room.refuse(VIC, "hand.raise") == "not_allowed"
    assert room.refuse(ANN, "hand.lower", userId="b") == "not_allowed"
    room.do(ANN, "hand.lower")
    room.do(ANN, "hand.raise")
    room.do(CO, "hand.lower", userId="b")
    assert [h["userId"] for h in d.yarray(room.room, d.HANDS).to_py()] == ["a"]
    assert room.refuse(ANN, "hand.lowerAll") == "not_allowed"
    room.do(HOST, "hand.lowerAll")
    assert d.yarray(room.room, d.HANDS).to_py() == []


def test_host_controls() -> None:
    room = Room()
    room.do(ANN, "hand.raise")
    assert room.refuse(CO, "participant.remove", userId="h") == "not_allowed"
    assert room.refuse(ANN, "participant.remove", userId="b") == "not_allowed"
    assert room.refuse(HOST, "participant.remove", userId="ghost") == "not_found"
    removed = room.do(CO, "participant.remove", userId="a")
    assert [(e.kind, e.user_id) for e in removed.effects] == [("remove", "a")]
    assert d.ymap(room.room, d.PARTICIPANTS).to_py()["a"]["removed"] is True
    assert d.yarray(room.room, d.HANDS).to_py() == []
    again = room.refuse_nothing(HOST, "participant.remove", userId="a")  # idempotent
    assert [(e.kind, e.user_id) for e in again.effects] == [("remove", "a")]
    assert room.refuse(CO, "participant.setRole", userId="b", role="co-host") == "not_allowed"
    assert room.refuse(HOST, "participant.setRole", userId="b", role="host") == "invalid"
    assert room.refuse(HOST, "participant.setRole", userId="h", role="viewer") == "not_allowed"
    promoted = room.do(HOST, "participant.setRole", userId="b", role="co-host")
    assert [(e.kind, e.user_id, e.role) for e in promoted.effects] == [("role", "b", "co-host")]
    assert d.ymap(room.room, d.PARTICIPANTS).to_py()["b"]["role"] == "co-host"
    assert room.refuse(CO, "participant.remove", userId="b") == "not_allowed"
    assert [e.kind for e in room.do(HOST, "session.end").effects] == ["end"]


def test_agenda_and_timer() -> None:
    room = Room()
    room.do(HOST, "agenda.set", items=[{"title": "Intro", "minutes": 5}, {"title": "Q&A"}])
    assert d.yarray(room.room, d.AGENDA).to_py() == [
        {"title": "Intro", "minutes": 5}, {"title": "Q&A", "minutes": 0}]
    assert room.refuse(HOST, "agenda.set", items=[{"title": "x", "minutes": -1}]) == "invalid"
    room.do(CO, "agenda.current", index=1)
    assert room.refuse(CO, "agenda.current", index=2) == "invalid"
    room.do(HOST, "timer.start", seconds=300, label="Break")
    assert d.state(room.room)["timer"] == {"startedAt": room.now, "seconds": 300, "label": "Break"}
    assert room.refuse(ANN, "timer.start", seconds=3) == "not_allowed"
    assert room.refuse(HOST, "timer.start", seconds=0) == "invalid"
    room.do(HOST, "timer.stop")
    assert d.state(room.room)["timer"] is None


def test_throttle_limits_per_user_and_refills() -> None:
    throttle = Throttle({"chat.post": Rate(1.0, 2)})
    throttle.check("r", "a", "chat.post", 0.0)
    throttle.check("r", "a", "chat.post", 0.0)
    with pytest.raises(Rejected) as refused:
        throttle.check("r", "a", "chat.post", 0.5)
    assert refused.value.reason == "rate_limited"
    throttle.check("r", "b", "chat.post", 0.5)  # another user has a bucket of their own
    throttle.check("r", "a", "poll.vote", 0.5)  # unthrottled action
    throttle.check("r", "a", "chat.post", 1.6)  # refilled

"""The layout of a room's documents (docs/rooms.md, "Document layout").

A session has two Yjs documents, both written by the server only:

* ``sessions/{id}``, the **room**, which every joined participant syncs (read-only). Its
  top-level types are named by the constants below; every entry is a JSON value (a pycrdt
  ``Map``/``Array`` item holding a dict), replaced whole when it changes. What hosts decide
  (a poll's status) and what every vote changes (its counts) are separate entries, so two
  nodes writing at once never put back a stale copy of the other's field.
* ``sessions-private/{id}``, the **ledger**: who voted what, who upvoted which question, who
  asked an anonymous question, engagement counts. No socket can open it (the kind is not
  served); the room's actions read and write it beside the room, and it is stored and fanned
  out like any document.
* ``sessions-notes/{id}``, the **shared notes**: a rich-text document like a note's (the
  XmlFragment ``default``), edited by the participants themselves over normal Yjs sync
  (``rooms.shared_notes`` authorizes it).

Numbers read back from a document are floats (Yjs numbers); the helpers here return ints.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pycrdt import Array, Map

from collab.types import YDoc

ROOM_KIND = "sessions"
LEDGER_KIND = "sessions-private"
NOTES_KIND = "sessions-notes"

# room
STATE = "state"  # Map: status, chatLocked, title, settings, startedAt, endedAt, timer, agendaIndex
PARTICIPANTS = "participants"  # Map userId -> {userId, name, role, joinedAt, removed}
CHAT = "chat"  # Array of {id, userId, name, text, at}
REACTIONS = "reactions"  # Map "messageId|emoji|userId" -> true
POLLS = "polls"  # Map pollId -> {id, question, options, multiple, status, published, ...}
TALLIES = "tallies"  # Map pollId -> {voters, results}: the server's counts, apart from the poll
QUESTIONS = "questions"  # Map questionId -> {id, text, anonymous, userId, name, status, at}
UPVOTE_COUNTS = "upvoteCounts"  # Map questionId -> number of upvotes
HANDS = "hands"  # Array of {userId, name, at}, oldest first (the queue order)
AGENDA = "agenda"  # Array of {title, minutes}

# ledger
VOTES = "votes:{poll}"  # one Map per poll: userId -> [option index, ...]
COUNTS = "counts"  # Map pollId -> {voters, counts}: the running tally of the votes
UPVOTES = "upvotes:{question}"  # one Map per question: userId -> true
AUTHORS = "authors"  # Map questionId -> {userId, name} (every question, anonymous or not)
MESSAGES = "messages"  # Map messageId -> author's userId (chat messages still in the room)
ENGAGEMENT = "engagement"  # Map userId -> {messages, votes, questions, hands, upvotes}

ENGAGEMENT_KEYS = ("messages", "votes", "questions", "hands", "upvotes")


def room_name(session_id: object) -> str:
    return f"{ROOM_KIND}/{session_id}"


def ledger_name(session_id: object) -> str:
    return f"{LEDGER_KIND}/{session_id}"


def notes_name(session_id: object) -> str:
    return f"{NOTES_KIND}/{session_id}"


def ymap(doc: YDoc, name: str) -> Map[Any]:
    root: Map[Any] = doc.get(name, type=Map)
    return root


def yarray(doc: YDoc, name: str) -> Array[Any]:
    root: Array[Any] = doc.get(name, type=Array)
    return root


def keys(container: Map[Any]) -> list[str]:
    """The keys of a map (pycrdt's ``Map.__iter__`` is typed as a plain iterable)."""
    return list(container.keys())


def votes_map(ledger: YDoc, poll_id: str) -> Map[Any]:
    return ymap(ledger, VOTES.format(poll=poll_id))


def entry(container: Map[Any], key: str) -> dict[str, Any] | None:
    """A JSON entry of a map as a fresh dict (safe to modify and write back), or None."""
    value = container.get(key)
    return dict(value) if isinstance(value, Mapping) else None


def find(array: Array[Any], key: str, value: object) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(index, entry)`` of every dict entry of ``array`` whose ``key`` equals ``value``."""
    for index, item in enumerate(array):
        if isinstance(item, Mapping) and item.get(key) == value:
            yield index, dict(item)


def state(doc: YDoc) -> dict[str, Any]:
    return dict(ymap(doc, STATE).to_py() or {})


def settings(doc: YDoc) -> dict[str, Any]:
    value = ymap(doc, STATE).get("settings")
    return dict(value) if isinstance(value, Mapping) else {}


def status(doc: YDoc) -> str:
    return str(ymap(doc, STATE).get("status") or "scheduled")


def tally(ledger: YDoc, poll_id: str, options: int) -> tuple[list[int], int]:
    """The exact per-option counts and the number of voters, from the votes themselves."""
    counts = [0] * options
    voters = 0
    for choices in votes_map(ledger, poll_id).values():
        voters += 1
        for index in choices or ():
            i = int(index)
            if 0 <= i < options:
                counts[i] += 1
    return counts, voters


def running_tally(ledger: YDoc, poll_id: str, options: int) -> tuple[list[int], int]:
    """The poll's tally as kept in ``counts`` (one entry read, not every vote), recounted from
    the votes when it does not match them (no entry yet, or another node's votes merged in:
    the number of voters differs). Call inside a ledger transaction."""
    kept = entry(ymap(ledger, COUNTS), poll_id)
    if kept is not None and int(kept.get("voters", -1)) == len(votes_map(ledger, poll_id)):
        return [int(v) for v in kept["counts"]], int(kept["voters"])
    counts, voters = tally(ledger, poll_id, options)
    ymap(ledger, COUNTS)[poll_id] = {"voters": voters, "counts": counts}
    return counts, voters


def keep_tally(ledger: YDoc, poll_id: str, counts: list[int], voters: int) -> None:
    """Store the running tally; nothing is written when it is already that (a recount that
    changes nothing must not make an update other nodes would recount again)."""
    kept = entry(ymap(ledger, COUNTS), poll_id)
    if kept is not None and int(kept.get("voters", -1)) == voters and [
        int(v) for v in kept.get("counts", ())
    ] == counts:
        return
    ymap(ledger, COUNTS)[poll_id] = {"voters": voters, "counts": counts}


def write_tally(
    room: YDoc, poll: Mapping[str, Any], counts: list[int], voters: int
) -> bool:
    """Set the poll's ``tallies`` entry (``results`` only once published); write only when
    it differs. Returns whether it wrote."""
    wanted = {"voters": voters, "results": counts if poll.get("published") else None}
    tallies = ymap(room, TALLIES)
    shown = entry(tallies, str(poll["id"])) or {}
    results = shown.get("results")
    current = {
        "voters": int(shown.get("voters") or 0),
        "results": None if results is None else [int(v) for v in results],
    }
    if str(poll["id"]) in tallies and current == wanted:
        return False
    tallies[str(poll["id"])] = wanted
    return True


def upvotes_map(ledger: YDoc, question_id: str) -> Map[Any]:
    return ymap(ledger, UPVOTES.format(question=question_id))


def upvotes_of(ledger: YDoc, question_id: str) -> int:
    return len(upvotes_map(ledger, question_id))


def engagement(ledger: YDoc) -> dict[str, dict[str, int]]:
    """Engagement counts by user id."""
    out: dict[str, dict[str, int]] = {}
    for user_id, counts in ymap(ledger, ENGAGEMENT).items():
        if isinstance(counts, Mapping):
            out[str(user_id)] = {k: int(counts.get(k, 0)) for k in ENGAGEMENT_KEYS}
    return out


def count(ledger: YDoc, user_id: str, key: str) -> None:
    """Add one to ``user_id``'s ``key`` engagement count (inside a transaction)."""
    counts = ymap(ledger, ENGAGEMENT)
    current = entry(counts, user_id) or {}
    current[key] = int(current.get(key, 0)) + 1
    counts[user_id] = current


def init_room(
    doc: YDoc, *, title: str, status: str, settings: Mapping[str, object]
) -> None:
    """Write the room's initial state (inside a transaction); idempotent."""
    st = ymap(doc, STATE)
    if st.get("status") is None:
        st["status"] = status
        st["chatLocked"] = False
        st["timer"] = None
        st["agendaIndex"] = None
    st["title"] = title
    st["settings"] = dict(settings)


def put_participant(doc: YDoc, user_id: str, name: str, role: str, joined_at: int) -> None:
    """Add or refresh a participant entry (inside a transaction)."""
    ymap(doc, PARTICIPANTS)[user_id] = {
        "userId": user_id, "name": name, "role": role, "joinedAt": joined_at, "removed": False,
    }

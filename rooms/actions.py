"""Room actions: parse, check and apply one typed action to a room (pure: no I/O, no clock).

An action is a JSON object ``{"id": <client id>, "action": "<name>", ...fields}`` sent as a
stateless message (docs/rooms.md has the table). ``apply_action`` checks the actor's role, the
session's status and settings and the action's own rules against the current documents, and
only then writes: a rejected action changes nothing. It runs inside one transaction of the
room and one of the ledger (``rooms.document``), with no await in between, so an action is
atomic on its node.

What needs the outside world (closing a removed participant on every node, a role change, the
database) is returned as ``Effect`` values for the caller (``rooms.service``) to carry out.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from collab.types import YDoc
from media.signaling import ACTIONS as MEDIA_ACTIONS
from rooms import document as d
from rooms import polls
from rooms.rules import (
    EVERYONE,
    HOSTS,
    MAX_ACTION_BYTES,
    MAX_CHAT,
    MAX_CHAT_MESSAGES,
    MAX_MEDIA_ACTION_BYTES,
    SPEAKERS,
    Actor,
    Ctx,
    Effect,
    Outcome,
    Rejected,
    opt_bool,
    text,
    want_str,
)

__all__ = [
    "ACTIONS",
    "Actor",
    "Effect",
    "Outcome",
    "Rejected",
    "apply_action",
    "parse",
]


Handler = Callable[[Ctx, Mapping[str, Any]], Outcome]


@dataclass(frozen=True, slots=True)
class Spec:
    handler: Handler
    roles: frozenset[str]
    before_start: bool = False  # allowed while the session is scheduled/waiting
    after_end: bool = False  # a question that changes nothing: answered after the end too


def parse(payload: str) -> tuple[str, str, dict[str, Any]]:
    """``(client id, action name, fields)`` of a payload (at most the core's stateless frame
    limit, so parsing it whole is bounded). ``media.*`` actions (``rooms.media``) are known
    here too, with their own size limit.

    Raises:
        Rejected: invalid (not a JSON object, no id or action), too_large, unknown_action;
            ``client_id`` is set when the payload had one.
    """
    try:
        data = json.loads(payload)
    except (ValueError, RecursionError):
        raise Rejected("invalid") from None
    if not isinstance(data, dict):
        raise Rejected("invalid")
    raw_id = data.get("id")
    if not isinstance(raw_id, str | int) or isinstance(raw_id, bool):
        raise Rejected("invalid")
    client_id = str(raw_id)[:64]
    action = data.get("action")
    media = isinstance(action, str) and action in MEDIA_ACTIONS
    if len(payload.encode()) > (MAX_MEDIA_ACTION_BYTES if media else MAX_ACTION_BYTES):
        raise Rejected("too_large", client_id)
    if not isinstance(action, str):
        raise Rejected("invalid", client_id)
    if action not in ACTIONS and not media:
        raise Rejected("unknown_action", client_id)
    return client_id, action, data


def apply_action(
    action: str,
    fields: Mapping[str, Any],
    actor: Actor,
    room: YDoc,
    ledger: YDoc,
    *,
    now: int,
    new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
    defer_tallies: bool = False,
) -> Outcome:
    """Check and apply one parsed action (call inside transactions of both documents).
    With ``defer_tallies`` a vote leaves the room's count to the caller
    (``Outcome.tallies_deferred``).

    Raises:
        Rejected: with the reason code; nothing was written.
    """
    spec = ACTIONS.get(action)
    if spec is None:
        raise Rejected("unknown_action")
    status = d.status(room)
    if status in ("ended", "cancelled") and not (spec.after_end and status == "ended"):
        raise Rejected("session_ended")
    if actor.role not in spec.roles:
        raise Rejected("not_allowed")
    if status not in ("live", "ended") and not spec.before_start:
        raise Rejected("not_started")
    return spec.handler(Ctx(actor, room, ledger, now, new_id, defer_tallies), fields)


# -- chat --------------------------------------------------------------------------------------


def chat_post(c: Ctx, f: Mapping[str, Any]) -> Outcome:
    body = text(f, "text", MAX_CHAT)
    settings = d.settings(c.room)
    if not settings.get("chat", True):
        raise Rejected("chat_disabled")
    if d.ymap(c.room, d.STATE).get("chatLocked") and c.actor.role not in HOSTS:
        raise Rejected("chat_locked")
    chat = d.yarray(c.room, d.CHAT)
    if len(chat) >= MAX_CHAT_MESSAGES:
        raise Rejected("limit_reached")
    message_id = c.new_id()
    chat.append({"id": message_id, "userId": c.actor.user_id, "name": c.actor.name,
                 "text": body, "at": c.now})
    d.ymap(c.ledger, d.MESSAGES)[message_id] = c.actor.user_id
    d.count(c.ledger, c.actor.user_id, "messages")
    return Outcome({"messageId": message_id})


def chat_delete(c: Ctx, f: Mapping[str, Any]) -> Outcome:
    message_id = want_str(f, "messageId")
    chat = d.yarray(c.room, d.CHAT)
    found = next(d.find(chat, "id", message_id), None)
    if found is None:
        raise Rejected("not_found")
    index, message = found
    if message.get("userId") != c.actor.user_id and c.actor.role not in HOSTS:
        raise Rejected("not_allowed")
    del chat[index]
    messages = d.ymap(c.ledger, d.MESSAGES)
    if message_id in messages:
        del messages[message_id]
    reactions = d.ymap(c.room, d.REACTIONS)
    for key in [k for k in d.keys(reactions) if k.startswith(f"{message_id}|")]:
        del reactions[key]
    return Outcome()


def chat_react(c: Ctx, f: Mapping[str, Any]) -> Outcome:
    message_id = want_str(f, "messageId")
    emoji = text(f, "emoji", 8)
    if "|" in emoji:
        raise Rejected("invalid")
    on = opt_bool(f, "on", True)
    if message_id not in d.ymap(c.ledger, d.MESSAGES):  # (one lookup, not a scan of the chat)
        raise Rejected("not_found")
    reactions = d.ymap(c.room, d.REACTIONS)
    key = f"{message_id}|{emoji}|{c.actor.user_id}"
    if on and key not in reactions:
        reactions[key] = True
    elif not on and key in reactions:
        del reactions[key]
    return Outcome()


def chat_lock(c: Ctx, f: Mapping[str, Any]) -> Outcome:
    d.ymap(c.room, d.STATE)["chatLocked"] = opt_bool(f, "locked", True)
    return Outcome()


# -- hands -------------------------------------------------------------------------------------


def hand_raise(c: Ctx, f: Mapping[str, Any]) -> Outcome:
    hands = d.yarray(c.room, d.HANDS)
    if next(d.find(hands, "userId", c.actor.user_id), None) is None:
        hands.append({"userId": c.actor.user_id, "name": c.actor.name, "at": c.now})
        d.count(c.ledger, c.actor.user_id, "hands")
    return Outcome()


def hand_lower(c: Ctx, f: Mapping[str, Any]) -> Outcome:
    user_id = f.get("userId", c.actor.user_id)
    if not isinstance(user_id, str):
        raise Rejected("invalid")
    if user_id != c.actor.user_id and c.actor.role not in HOSTS:
        raise Rejected("not_allowed")
    _lower(c.room, user_id)
    return Outcome()


def hand_lower_all(c: Ctx, f: Mapping[str, Any]) -> Outcome:
    hands = d.yarray(c.room, d.HANDS)
    if len(hands):
        del hands[0:len(hands)]
    return Outcome()


def _lower(room: YDoc, user_id: str) -> None:
    hands = d.yarray(room, d.HANDS)
    for index, _ in reversed(list(d.find(hands, "userId", user_id))):
        del hands[index]


# -- host controls -----------------------------------------------------------------------------


def participant_remove(c: Ctx, f: Mapping[str, Any]) -> Outcome:
    user_id = want_str(f, "userId")
    participants = d.ymap(c.room, d.PARTICIPANTS)
    target = d.entry(participants, user_id)
    if target is None:
        raise Rejected("not_found")
    if target.get("removed"):  # again: carry out the effect again (after an `internal`)
        return Outcome(effects=[Effect("remove", user_id)])
    role = target.get("role")
    # The host cannot be removed; a co-host removes participants and viewers only.
    if role == "host" or (role == "co-host" and c.actor.role != "host"):
        raise Rejected("not_allowed")
    target["removed"] = True
    participants[user_id] = target
    _lower(c.room, user_id)
    return Outcome(effects=[Effect("remove", user_id)])


def participant_role(c: Ctx, f: Mapping[str, Any]) -> Outcome:
    user_id = want_str(f, "userId")
    role = f.get("role")
    if role not in ("co-host", "participant", "viewer"):
        raise Rejected("invalid")
    participants = d.ymap(c.room, d.PARTICIPANTS)
    target = d.entry(participants, user_id)
    if target is None or target.get("removed"):
        raise Rejected("not_found")
    if target.get("role") == "host":
        raise Rejected("not_allowed")
    target["role"] = role
    participants[user_id] = target
    return Outcome(effects=[Effect("role", user_id, str(role))])


def session_end(c: Ctx, f: Mapping[str, Any]) -> Outcome:
    st = d.ymap(c.room, d.STATE)
    st["status"] = "ended"
    st["endedAt"] = c.now
    st["timer"] = None
    return Outcome(effects=[Effect("end")])


def agenda_set(c: Ctx, f: Mapping[str, Any]) -> Outcome:
    items = f.get("items")
    if not isinstance(items, list) or len(items) > 50:
        raise Rejected("invalid")
    clean = []
    for item in items:
        if not isinstance(item, dict):
            raise Rejected("invalid")
        minutes = item.get("minutes", 0)
        if not isinstance(minutes, int) or isinstance(minutes, bool) or not 0 <= minutes <= 600:
            raise Rejected("invalid")
        clean.append({"title": text(item, "title", 200), "minutes": minutes})
    agenda = d.yarray(c.room, d.AGENDA)
    if len(agenda):
        del agenda[0:len(agenda)]
    agenda.extend(clean)
    d.ymap(c.room, d.STATE)["agendaIndex"] = None
    return Outcome()


def agenda_current(c: Ctx, f: Mapping[str, Any]) -> Outcome:
    index = f.get("index")
    length = len(d.yarray(c.room, d.AGENDA))
    if index is not None and (
        not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < length
    ):
        raise Rejected("invalid")
    d.ymap(c.room, d.STATE)["agendaIndex"] = index
    return Outcome()


def timer_start(c: Ctx, f: Mapping[str, Any]) -> Outcome:
    seconds = f.get("seconds")
    if not isinstance(seconds, int) or isinstance(seconds, bool) or not 1 <= seconds <= 86_400:
        raise Rejected("invalid")
    raw = f.get("label")
    blank = raw is None or (isinstance(raw, str) and not raw.strip())
    label = "" if blank else text(f, "label", 100)
    d.ymap(c.room, d.STATE)["timer"] = {"startedAt": c.now, "seconds": seconds, "label": label}
    return Outcome()


def timer_stop(c: Ctx, f: Mapping[str, Any]) -> Outcome:
    d.ymap(c.room, d.STATE)["timer"] = None
    return Outcome()


def _actions() -> dict[str, Spec]:
    everyone = EVERYONE
    host = frozenset({"host"})
    return {
        "chat.post": Spec(chat_post, SPEAKERS),
        "chat.delete": Spec(chat_delete, SPEAKERS),
        "chat.react": Spec(chat_react, everyone),
        "chat.lock": Spec(chat_lock, HOSTS),
        "hand.raise": Spec(hand_raise, SPEAKERS),
        "hand.lower": Spec(hand_lower, SPEAKERS),
        "hand.lowerAll": Spec(hand_lower_all, HOSTS),
        "participant.remove": Spec(participant_remove, HOSTS, before_start=True),
        "participant.setRole": Spec(participant_role, host, before_start=True),
        "session.end": Spec(session_end, host),
        "agenda.set": Spec(agenda_set, HOSTS, before_start=True),
        "agenda.current": Spec(agenda_current, HOSTS),
        "timer.start": Spec(timer_start, HOSTS),
        "timer.stop": Spec(timer_stop, HOSTS),
        "poll.create": Spec(polls.poll_create, HOSTS, before_start=True),
        "poll.open": Spec(polls.poll_open, HOSTS),
        "poll.close": Spec(polls.poll_close, HOSTS),
        "poll.publish": Spec(polls.poll_publish, HOSTS),
        "poll.vote": Spec(polls.poll_vote, everyone),
        "poll.results": Spec(polls.poll_results, HOSTS, before_start=True),
        "poll.mine": Spec(polls.poll_mine, everyone, before_start=True, after_end=True),
        "qa.ask": Spec(polls.qa_ask, SPEAKERS),
        "qa.upvote": Spec(polls.qa_upvote, everyone),
        "qa.answer": Spec(polls.qa_mark("answered"), HOSTS),
        "qa.dismiss": Spec(polls.qa_mark("dismissed"), HOSTS),
        "qa.authors": Spec(polls.qa_authors, HOSTS),
        "qa.mine": Spec(polls.qa_mine, everyone, before_start=True, after_end=True),
    }


ACTIONS: dict[str, Spec] = _actions()

"""What every room action shares: the actor, the context, the outcome, reason codes, limits and
field checks (docs/rooms.md, "Actions" and "Limits")."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from collab.types import YDoc

MAX_ACTION_BYTES = 8 * 1024  # one action's JSON (the core closes above 64 KiB: 1009)
MAX_MEDIA_ACTION_BYTES = 32 * 1024  # a media.* action carries an SDP offer (docs/media.md)
MAX_CHAT = 1000  # characters of a chat message
MAX_QUESTION = 500
MAX_POLL_QUESTION = 300
MAX_POLL_OPTION = 100
MAX_POLL_OPTIONS = 10
MAX_CHAT_MESSAGES = 5000  # per session
MAX_POLLS = 100
MAX_QUESTIONS = 1000
DEFAULT_MAX_PARTICIPANTS = 500  # a session's maxParticipants when its settings name none

HOSTS = frozenset({"host", "co-host"})
SPEAKERS = frozenset({"host", "co-host", "presenter", "participant"})
EVERYONE = SPEAKERS | {"viewer"}  # viewers watch, vote, react and upvote

REASONS = {
    "invalid": "the payload or a field is malformed",
    "unknown_action": "no such action",
    "too_large": f"the action's JSON is over {MAX_ACTION_BYTES} bytes",
    "too_long": "a text field is over its limit",
    "not_allowed": "the sender's role may not do this",
    "not_started": "the session is not live yet",
    "session_ended": "the session has ended (or was cancelled)",
    "chat_disabled": "the session's settings turn chat off",
    "chat_locked": "the host locked the chat",
    "questions_disabled": "the session's settings turn Q&A off",
    "anonymous_disabled": "the session's settings do not allow anonymous questions",
    "rate_limited": "too many messages or questions in a short time",
    "not_found": "no such message, poll, question or participant",
    "poll_not_open": "the poll has not been opened",
    "poll_closed": "the poll is closed",
    "already_voted": "an upvote counts once per user",
    "limit_reached": "the session holds as many of these as it may",
    "media_limit": "a media limit of the room or the server is reached (docs/media.md)",
    "media_unavailable": "no media relay runs here, or the offer could not be answered",
    "media_mode": "the room's media runs through the relay now, not peer to peer (docs/media.md)",
    "recording_active": "the room is already being recorded",
    "internal": "the server failed; the action was not applied, or only partly (logged)",
}


class Rejected(Exception):
    """An action refused with a reason code from ``REASONS``; nothing was written."""

    def __init__(self, reason: str, client_id: str | None = None) -> None:
        assert reason in REASONS, reason
        super().__init__(reason)
        self.reason = reason
        self.client_id = client_id  # set by ``parse`` once the payload's id is known


@dataclass(frozen=True, slots=True)
class Actor:
    user_id: str
    name: str
    role: str  # host, co-host, participant, viewer


@dataclass(frozen=True, slots=True)
class Effect:
    """Something the service does after the documents changed: ``remove`` (close the user
    everywhere, mark the row), ``role`` (store and push the new role), ``end`` (the session
    ended: status and engagement to the database)."""

    kind: str
    user_id: str = ""
    role: str = ""


@dataclass(slots=True)
class Outcome:
    data: dict[str, Any] = field(default_factory=dict)  # extra reply fields
    effects: list[Effect] = field(default_factory=list)
    #: the room's counts are left to the caller's coalesced writer (``Ctx.defer_tallies``)
    tallies_deferred: bool = False


@dataclass(frozen=True, slots=True)
class Ctx:
    actor: Actor
    room: YDoc
    ledger: YDoc
    now: int  # ms since the epoch
    new_id: Callable[[], str]
    #: a vote updates the ledger only and leaves the room's ``tallies`` entry to the caller,
    #: which writes it for a burst of votes at once (``rooms.recount.Recounter.settle``)
    defer_tallies: bool = False


def want_str(fields: Mapping[str, Any], name: str, limit: int = 64) -> str:
    """An identifier field: a non-empty string of at most ``limit`` characters."""
    value = fields.get(name)
    if not isinstance(value, str) or not value or len(value) > limit:
        raise Rejected("invalid")
    return value


def text(fields: Mapping[str, Any], name: str, limit: int) -> str:
    """A text field, stripped: non-empty, no NUL, at most ``limit`` characters (too_long)."""
    value = fields.get(name)
    if not isinstance(value, str) or "\x00" in value:
        raise Rejected("invalid")
    value = value.strip()
    if not value:
        raise Rejected("invalid")
    if len(value) > limit:
        raise Rejected("too_long")
    return value


def opt_bool(fields: Mapping[str, Any], name: str, default: bool) -> bool:
    value = fields.get(name, default)
    if not isinstance(value, bool):
        raise Rejected("invalid")
    return value

"""A deleted account in other hosts' rooms: what stays is no longer theirs.

The room keeps what the session was (chat lines, questions, poll results, reactions) but not
who the deleted user was: their participant entry and raised hand go, their chat lines and
questions read "Deleted user", and everywhere the room or its ledger kept their id (votes,
upvotes, reactions, authors of messages and questions) a pseudonym takes its place, so tallies
and counts stay exact. Their engagement entry goes. Pure functions over the two documents,
called inside one transaction each (the caller opens them: ``api/erase.py``).
"""

from __future__ import annotations

import secrets
from typing import Any

from pycrdt import Array, Map

from collab.types import YDoc
from rooms import document as d

__all__ = ["DELETED_NAME", "forget_in_ledger", "forget_in_room", "pseudonym"]

DELETED_NAME = "Deleted user"


def pseudonym() -> str:
    """A fresh stand-in id, one per deleted user and session (never a real user's UUID)."""
    return f"deleted-{secrets.token_hex(8)}"


def _rewrite(array: Array[Any], user_id: str, alias: str) -> None:
    for index, item in list(d.find(array, "userId", user_id)):
        del array[index]
        array.insert(index, {**item, "userId": alias, "name": DELETED_NAME})


def _rekey(container: Map[Any], user_id: str, alias: str) -> None:
    if user_id in container:
        value = container[user_id]
        del container[user_id]
        container[alias] = value


def forget_in_room(room: YDoc, user_id: str, alias: str) -> None:
    participants = d.ymap(room, d.PARTICIPANTS)
    if user_id in participants:
        del participants[user_id]
    hands = d.yarray(room, d.HANDS)
    for index, _ in reversed(list(d.find(hands, "userId", user_id))):
        del hands[index]
    _rewrite(d.yarray(room, d.CHAT), user_id, alias)
    questions = d.ymap(room, d.QUESTIONS)
    for key in d.keys(questions):
        item = d.entry(questions, key)
        if item is not None and item.get("userId") == user_id:
            questions[key] = {**item, "userId": alias, "name": DELETED_NAME}
    reactions = d.ymap(room, d.REACTIONS)
    for key in d.keys(reactions):
        message, emoji, who = key.rsplit("|", 2) if key.count("|") >= 2 else (key, "", "")
        if who == user_id:
            del reactions[key]
            reactions[f"{message}|{emoji}|{alias}"] = True


def forget_in_ledger(ledger: YDoc, room: YDoc, user_id: str, alias: str) -> None:
    for poll_id in d.keys(d.ymap(room, d.POLLS)):
        _rekey(d.votes_map(ledger, poll_id), user_id, alias)
    for question_id in d.keys(d.ymap(room, d.QUESTIONS)):
        _rekey(d.ymap(ledger, d.UPVOTES.format(question=question_id)), user_id, alias)
    authors = d.ymap(ledger, d.AUTHORS)
    for key in d.keys(authors):
        item = d.entry(authors, key)
        if item is not None and item.get("userId") == user_id:
            authors[key] = {"userId": alias, "name": DELETED_NAME}
    messages = d.ymap(ledger, d.MESSAGES)
    for key in d.keys(messages):
        if messages.get(key) == user_id:
            messages[key] = alias
    engagement = d.ymap(ledger, d.ENGAGEMENT)
    if user_id in engagement:
        del engagement[user_id]

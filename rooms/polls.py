"""Poll and Q&A actions (the table in docs/rooms.md). Votes, upvotes and authors live in the
ledger, keyed by user (one map per poll, one per question), so a tally is exact however many
arrive at once and can always be recounted from the votes; the room shows the counts the
server computed."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from rooms import document as d
from rooms.rules import (
    HOSTS,
    MAX_POLL_OPTION,
    MAX_POLL_OPTIONS,
    MAX_POLL_QUESTION,
    MAX_POLLS,
    MAX_QUESTION,
    MAX_QUESTIONS,
    Ctx,
    Outcome,
    Rejected,
    opt_bool,
    text,
    want_str,
)


def _poll(c: Ctx, f: Mapping[str, Any]) -> dict[str, Any]:
    poll = d.entry(d.ymap(c.room, d.POLLS), want_str(f, "pollId"))
    if poll is None:
        raise Rejected("not_found")
    return poll


def _save(c: Ctx, poll: dict[str, Any]) -> None:
    d.ymap(c.room, d.POLLS)[poll["id"]] = poll


def _show(c: Ctx, poll: dict[str, Any]) -> None:
    counts, voters = d.running_tally(c.ledger, poll["id"], len(poll["options"]))
    d.write_tally(c.room, poll, counts, voters)


def poll_create(c: Ctx, f: Mapping[str, Any]) -> Outcome:
    question = text(f, "question", MAX_POLL_QUESTION)
    options = f.get("options")
    if not isinstance(options, list) or not 2 <= len(options) <= MAX_POLL_OPTIONS:
        raise Rejected("invalid")
    labels = [text({"o": option}, "o", MAX_POLL_OPTION) for option in options]
    multiple = opt_bool(f, "multiple", False)
    polls = d.ymap(c.room, d.POLLS)
    if len(polls) >= MAX_POLLS:
        raise Rejected("limit_reached")
    poll_id = c.new_id()
    polls[poll_id] = {
        "id": poll_id, "question": question, "options": labels, "multiple": multiple,
        "status": "draft", "published": False,
        "createdBy": c.actor.user_id, "createdAt": c.now, "openedAt": None, "closedAt": None,
    }
    d.ymap(c.room, d.TALLIES)[poll_id] = {"voters": 0, "results": None}
    return Outcome({"pollId": poll_id})


def poll_open(c: Ctx, f: Mapping[str, Any]) -> Outcome:
    poll = _poll(c, f)
    if poll["status"] == "closed":
        raise Rejected("poll_closed")
    if poll["status"] == "draft":
        poll["status"], poll["openedAt"] = "open", c.now
        _save(c, poll)
    return Outcome()


def poll_close(c: Ctx, f: Mapping[str, Any]) -> Outcome:
    poll = _poll(c, f)
    if poll["status"] == "draft":
        raise Rejected("poll_not_open")
    if poll["status"] == "open":
        poll["status"], poll["closedAt"] = "closed", c.now
        _save(c, poll)
        counts, voters = d.tally(c.ledger, poll["id"], len(poll["options"]))  # the final count
        d.keep_tally(c.ledger, poll["id"], counts, voters)
        d.write_tally(c.room, poll, counts, voters)
    return Outcome()


def poll_publish(c: Ctx, f: Mapping[str, Any]) -> Outcome:
    poll = _poll(c, f)
    if poll["status"] == "draft":
        raise Rejected("poll_not_open")
    poll["published"] = opt_bool(f, "published", True)
    _save(c, poll)
    _show(c, poll)
    return Outcome()


def poll_vote(c: Ctx, f: Mapping[str, Any]) -> Outcome:
    poll = _poll(c, f)
    if poll["status"] == "draft":
        raise Rejected("poll_not_open")
    if poll["status"] == "closed":
        raise Rejected("poll_closed")
    choices = f.get("choices")
    if not isinstance(choices, list) or not choices:
        raise Rejected("invalid")
    options = len(poll["options"])
    if any(not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < options for i in choices):
        raise Rejected("invalid")
    if len(set(choices)) != len(choices) or (not poll["multiple"] and len(choices) != 1):
        raise Rejected("invalid")
    votes = d.votes_map(c.ledger, poll["id"])
    previous = votes.get(c.actor.user_id)
    chosen = sorted(choices)
    if previous is None:
        d.count(c.ledger, c.actor.user_id, "votes")
    old = None if previous is None else sorted(int(i) for i in previous)
    if old != chosen:
        # The running tally, adjusted by this vote: one entry read and written, whatever the
        # number of voters (it is recounted from the votes when another node's votes merged).
        counts, voters = d.running_tally(c.ledger, poll["id"], options)
        for i in old or ():
            counts[i] -= 1
        for i in chosen:
            counts[i] += 1
        voters += old is None
        votes[c.actor.user_id] = chosen
        d.keep_tally(c.ledger, poll["id"], counts, voters)
        if c.defer_tallies:
            return Outcome({"changed": previous is not None, "choices": chosen},
                           tallies_deferred=True)
        d.write_tally(c.room, poll, counts, voters)
    return Outcome({"changed": previous is not None, "choices": chosen})


def poll_results(c: Ctx, f: Mapping[str, Any]) -> Outcome:
    poll = _poll(c, f)
    counts, voters = d.tally(c.ledger, poll["id"], len(poll["options"]))
    return Outcome({"pollId": poll["id"], "results": counts, "voters": voters})  # live


def poll_mine(c: Ctx, f: Mapping[str, Any]) -> Outcome:
    mine: dict[str, list[int]] = {}
    for poll_id in d.keys(d.ymap(c.room, d.POLLS)):
        choices = d.votes_map(c.ledger, poll_id).get(c.actor.user_id)
        if choices is not None:
            mine[poll_id] = [int(i) for i in choices]
    return Outcome({"votes": mine})


# -- Q&A ---------------------------------------------------------------------------------------


def qa_ask(c: Ctx, f: Mapping[str, Any]) -> Outcome:
    body = text(f, "text", MAX_QUESTION)
    anonymous = opt_bool(f, "anonymous", False)
    settings = d.settings(c.room)
    if not settings.get("questions", True):
        raise Rejected("questions_disabled")
    if anonymous and not settings.get("anonymousQuestions", True):
        raise Rejected("anonymous_disabled")
    questions = d.ymap(c.room, d.QUESTIONS)
    if len(questions) >= MAX_QUESTIONS:
        raise Rejected("limit_reached")
    question_id = c.new_id()
    questions[question_id] = {
        "id": question_id, "text": body, "anonymous": anonymous,
        "userId": None if anonymous else c.actor.user_id,
        "name": None if anonymous else c.actor.name,
        "status": "open", "at": c.now,
    }
    d.ymap(c.room, d.UPVOTE_COUNTS)[question_id] = 0
    d.ymap(c.ledger, d.AUTHORS)[question_id] = {"userId": c.actor.user_id, "name": c.actor.name}
    d.count(c.ledger, c.actor.user_id, "questions")
    return Outcome({"questionId": question_id})


def _question(c: Ctx, f: Mapping[str, Any]) -> dict[str, Any]:
    question = d.entry(d.ymap(c.room, d.QUESTIONS), want_str(f, "questionId"))
    if question is None:
        raise Rejected("not_found")
    return question


def qa_upvote(c: Ctx, f: Mapping[str, Any]) -> Outcome:
    question = _question(c, f)
    upvotes = d.upvotes_map(c.ledger, question["id"])
    if c.actor.user_id in upvotes:
        raise Rejected("already_voted")
    upvotes[c.actor.user_id] = True
    count = len(upvotes)
    d.ymap(c.room, d.UPVOTE_COUNTS)[question["id"]] = count
    d.count(c.ledger, c.actor.user_id, "upvotes")
    return Outcome({"upvotes": count})


def qa_mark(status: str) -> Callable[[Ctx, Mapping[str, Any]], Outcome]:
    def mark(c: Ctx, f: Mapping[str, Any]) -> Outcome:
        question = _question(c, f)
        question["status"] = status
        d.ymap(c.room, d.QUESTIONS)[question["id"]] = question
        return Outcome()

    mark.__name__ = f"qa_{status}"
    return mark


def qa_authors(c: Ctx, f: Mapping[str, Any]) -> Outcome:
    """Who asked what, anonymous questions included (hosts' moderation only)."""
    assert c.actor.role in HOSTS
    authors = {str(k): dict(v) for k, v in d.ymap(c.ledger, d.AUTHORS).items()}
    return Outcome({"authors": authors})


def qa_mine(c: Ctx, f: Mapping[str, Any]) -> Outcome:
    """The questions the sender upvoted (a page shows them as upvoted after a reload)."""
    mine = [
        str(question_id) for question_id in d.keys(d.ymap(c.room, d.QUESTIONS))
        if c.actor.user_id in d.upvotes_map(c.ledger, str(question_id))
    ]
    return Outcome({"upvoted": sorted(mine)})

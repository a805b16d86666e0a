"""A session's record after the fact: chat, polls with their results, Q&A, the shared notes;
for the host also attendance and engagement per participant. JSON, or Markdown for people.

The shared notes are rich text; turning them into Markdown is the notes package's job, so the
caller passes a ``NotesRenderer`` (``notes.markdown.to_markdown``) in."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from collab.types import YDoc
from rooms import document as d
from storage.models import LiveSession, SessionParticipant

NotesRenderer = Callable[[YDoc], str]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _at(ms: object) -> str | None:
    if not isinstance(ms, int | float):
        return None
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()


def build_export(
    live: LiveSession,
    room: YDoc | None,
    ledger: YDoc | None,
    participants: Sequence[SessionParticipant],
    *,
    host_view: bool,
    shared_notes: YDoc | None = None,
    notes: NotesRenderer | None = None,
) -> dict[str, Any]:
    """The export as JSON. Attendees see published poll results and anonymous questions
    without their author; ``host_view`` adds every tally, the authors, attendance and
    engagement. ``notes`` is the shared notes as Markdown (empty when there are none)."""
    out: dict[str, Any] = {
        "session": {
            "id": str(live.id), "title": live.title, "description": live.description,
            "status": live.status.value, "scheduledStart": _iso(live.scheduled_start),
            "scheduledEnd": _iso(live.scheduled_end), "actualStart": _iso(live.actual_start),
            "actualEnd": _iso(live.actual_end),
        },
        "chat": [], "polls": [], "questions": [], "notes": "",
    }
    if shared_notes is not None and notes is not None:
        out["notes"] = notes(shared_notes).strip()
    if room is None or ledger is None:
        return out
    out["chat"] = [
        {"id": m["id"], "userId": m["userId"], "name": m["name"], "text": m["text"],
         "at": _at(m["at"])}
        for m in d.yarray(room, d.CHAT).to_py() or []
    ]
    polls = sorted((d.ymap(room, d.POLLS).to_py() or {}).values(), key=lambda p: p["createdAt"])
    for poll in polls:
        results, voters = d.tally(ledger, poll["id"], len(poll["options"]))
        shown = host_view or poll.get("published")
        out["polls"].append({
            "id": poll["id"], "question": poll["question"], "options": poll["options"],
            "multiple": poll["multiple"], "status": poll["status"], "voters": voters,
            "results": results if shown else None,
        })
    authors = d.ymap(ledger, d.AUTHORS).to_py() or {}
    questions = sorted(
        (d.ymap(room, d.QUESTIONS).to_py() or {}).values(), key=lambda q: q["at"]
    )
    for question in questions:
        author = authors.get(question["id"], {}) if host_view else {}
        out["questions"].append({
            "id": question["id"], "text": question["text"], "anonymous": question["anonymous"],
            "userId": author.get("userId", question["userId"]),
            "name": author.get("name", question["name"]),
            "upvotes": d.upvotes_of(ledger, question["id"]), "status": question["status"],
            "at": _at(question["at"]),
        })
    if host_view:
        counts = d.engagement(ledger)
        names = {p["userId"]: p["name"] for p in (d.ymap(room, d.PARTICIPANTS).to_py() or {})
                 .values()}
        out["attendance"] = [
            {
                "userId": str(p.user_id), "name": names.get(str(p.user_id)),
                "role": p.role.value, "joinedAt": _iso(p.joined_at), "leftAt": _iso(p.left_at),
                "removed": p.removed_at is not None,
                "engagement": {
                    **{k: 0 for k in d.ENGAGEMENT_KEYS},
                    **p.engagement_data,
                    **counts.get(str(p.user_id), {}),
                },
            }
            for p in participants
        ]
    return out


def to_markdown(export: dict[str, Any]) -> str:
    session = export["session"]
    lines = [f"# {session['title']}", ""]
    if session.get("description"):
        lines += [session["description"], ""]
    lines += [f"Status: {session['status']}; started {session['actualStart'] or '-'}, "
              f"ended {session['actualEnd'] or '-'}", "", "## Chat", ""]
    lines += [f"- **{m['name']}** ({m['at']}): {m['text']}" for m in export["chat"]] or ["(none)"]
    lines += ["", "## Polls", ""]
    for poll in export["polls"]:
        lines.append(f"### {poll['question']} ({poll['status']}, {poll['voters']} voters)")
        for index, option in enumerate(poll["options"]):
            result = poll["results"][index] if poll["results"] is not None else "hidden"
            lines.append(f"- {option}: {result}")
        lines.append("")
    lines += ["## Questions", ""]
    for q in export["questions"]:
        who = q["name"] or "Anonymous"
        lines.append(f"- {q['text']} ({who}; {q['upvotes']} upvotes; {q['status']})")
    lines += ["", "## Shared notes", "", export.get("notes") or "(none)"]
    if "attendance" in export:
        lines += ["", "## Attendance", "",
                  "| name | role | joined | left | messages | votes | questions | hands | "
                  "seconds present |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for a in export["attendance"]:
            e = a["engagement"]
            lines.append(
                f"| {a['name'] or a['userId']} | {a['role']}{' (removed)' if a['removed'] else ''}"
                f" | {a['joinedAt'] or '-'} | {a['leftAt'] or '-'} | {e['messages']} | "
                f"{e['votes']} | {e['questions']} | {e['hands']} | "
                f"{e.get('secondsPresent', 0)} |"
            )
    return "\n".join(lines) + "\n"

"""Keep the counts a room shows exact across nodes.

An action recomputes the counts it touches (a poll's ``tallies`` entry, a question's
``upvoteCounts``) from the ledger of the node that took it. Two nodes taking votes at the same
moment each write the entry from what their ledger held, and the room keeps one of the two
writes. So when the room or its ledger changes on another node, this node recounts the room's
polls and questions from its ledger (loading it if it is not loaded: the ledger is opened per
action and may have been unloaded since) and writes whatever differs. Once the ledgers agree
every node computes the same counts and nothing more is written: it converges and stops.

The same recount shows this node's own votes: a vote writes the ledger only and waits
(:meth:`Recounter.settle`) for the next recount of its room, so the votes of a burst share one
room update per ``interval`` instead of one each — in a room of N attendees every room update
is N frames, and N votes in a second were N² frames (250,000 for 500 attendees, docs/benchmarks.md
8c). A single vote in a quiet room is shown at once (the recount starts when requested).

Open polls are counted in full (their votes are still coming); a closed poll was counted in
full at its close and is counted again only when voters merged in since. Recounts run in a
task of their own (never inside the fan-out reader), at most one per room per
``interval``, and only for rooms loaded on this node (a node nobody watches has nothing to fix).
"""

from __future__ import annotations

import logging

import anyio

from collab import CollabServer
from collab.background import Background, Loop
from collab.errors import ServerGoingAway
from collab.types import YDoc
from rooms import document as d

log = logging.getLogger(__name__)


def recount(room: YDoc, ledger: YDoc) -> int:
    """Rewrite every count of ``room`` that differs from ``ledger`` (inside transactions of
    both). Returns how many entries were rewritten."""
    rewritten = 0
    polls = d.ymap(room, d.POLLS)
    for poll_id in d.keys(polls):
        poll = d.entry(polls, poll_id)
        if poll is None or poll.get("status") == "draft":
            continue
        if poll.get("status") == "open":  # every vote counted again: votes are still coming
            counts, voters = d.tally(ledger, poll_id, len(poll["options"]))
            d.keep_tally(ledger, poll_id, counts, voters)
        else:  # closed: counted in full at the close; recounted only if voters merged since
            counts, voters = d.running_tally(ledger, poll_id, len(poll["options"]))
        rewritten += d.write_tally(room, poll, counts, voters)
    shown = d.ymap(room, d.UPVOTE_COUNTS)
    for question_id in d.keys(d.ymap(room, d.QUESTIONS)):
        upvotes = d.upvotes_of(ledger, question_id)
        if int(shown.get(question_id) or 0) != upvotes:
            shown[question_id] = upvotes
            rewritten += 1
    return rewritten


class Recounter(Background):
    """Recounts the rooms whose ledger changed on another node (see the module docstring)."""

    def __init__(self, interval: float = 0.05, settle_timeout: float = 10.0) -> None:
        self.interval = interval
        self.settle_timeout = settle_timeout
        self.server: CollabServer | None = None
        self._pending: set[str] = set()
        self._settled: dict[str, list[anyio.Event]] = {}  # room -> who waits for its recount
        self._wake = anyio.Event()

    def request(self, doc_id: str) -> None:
        self._pending.add(doc_id)
        self._wake.set()

    async def settle(self, doc_id: str) -> None:
        """Request a recount of the room and wait until one that started after this call has
        finished (or failed: the next one shows the counts), ``settle_timeout`` at most."""
        done = anyio.Event()
        self._settled.setdefault(doc_id, []).append(done)
        self.request(doc_id)
        with anyio.move_on_after(self.settle_timeout):
            await done.wait()

    def _loops(self) -> tuple[Loop, ...]:
        return (self._run,)

    async def _run(self) -> None:
        try:
            while True:
                await self._wake.wait()
                self._wake = anyio.Event()
                pending, self._pending = self._pending, set()
                for doc_id in pending:
                    waiting = self._settled.pop(doc_id, [])
                    try:
                        await self._recount(doc_id)
                    except ServerGoingAway:
                        return
                    except Exception:  # the room shows the counts of the next action instead
                        log.exception("recount of sessions/%s failed", doc_id)
                    finally:
                        for done in waiting:
                            done.set()
                await anyio.sleep(self.interval)
        finally:  # nobody waits for a recount that will not come
            for waiting in self._settled.values():
                for done in waiting:
                    done.set()
            self._settled.clear()

    async def _recount(self, doc_id: str) -> None:
        server = self.server
        room_name, ledger_name = d.room_name(doc_id), d.ledger_name(doc_id)
        if server is None or not server.is_loaded(room_name):
            return
        async with (
            server.open_direct(room_name, actor="room") as room,
            server.open_direct(ledger_name, actor="room") as ledger,
        ):
            room.transact(lambda r: ledger.transact(lambda led: recount(r, led)))

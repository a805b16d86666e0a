"""`AccessBatcher`: concurrent note-access checks share queries, and every waiter gets its own
pair's answer (or the round's error); a cancelled round is finished by another waiter."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import cast

import anyio
import pytest

from api.live import AccessBatcher
from storage.notes import Access, NoteRepository

Pair = tuple[uuid.UUID, uuid.UUID]


class FakeNotes:
    """`access_many` over a dict; records every call; can fail or hang on demand."""

    def __init__(self, table: dict[Pair, Access]) -> None:
        self.table = table
        self.calls: list[list[Pair]] = []
        self.fail: Exception | None = None
        self.hang = anyio.Event()
        self.hanging = False

    async def access_many(self, pairs: Collection[Pair]) -> dict[Pair, Access | None]:
        self.calls.append(list(pairs))
        await anyio.sleep(0.01)  # a query takes a while: checks asked meanwhile queue up
        if self.hanging:
            await self.hang.wait()
        if self.fail is not None:
            raise self.fail
        return {pair: self.table.get(pair) for pair in pairs}


def _batcher(fake: FakeNotes) -> AccessBatcher:
    return AccessBatcher(cast(NoteRepository, fake))


async def test_concurrent_checks_share_one_query_and_get_their_own_answer() -> None:
    note = uuid.uuid4()
    users = [uuid.uuid4() for _ in range(40)]
    table = {(note, u): (Access.WRITE if i % 2 else Access.READ) for i, u in enumerate(users)}
    table[(note, users[0])] = Access.OWNER
    fake = FakeNotes(table)
    batcher = _batcher(fake)
    stranger = uuid.uuid4()
    answers: dict[uuid.UUID, Access | None] = {}

    async def check(user: uuid.UUID) -> None:
        answers[user] = await batcher.access(note, user)

    async with anyio.create_task_group() as tg:
        for user in [*users, stranger]:
            tg.start_soon(check, user)
    assert len(fake.calls) == 1 and len(fake.calls[0]) == 41
    assert answers == {**{u: table[(note, u)] for u in users}, stranger: None}
    # later checks query again: nothing is answered from memory
    assert await batcher.access(note, users[0]) is Access.OWNER
    assert len(fake.calls) == 2


async def test_a_failed_round_fails_its_waiters_and_the_next_check_queries_again() -> None:
    note, user = uuid.uuid4(), uuid.uuid4()
    fake = FakeNotes({(note, user): Access.READ})
    fake.fail = RuntimeError("database down")
    batcher = _batcher(fake)
    errors: list[Exception] = []

    async def check() -> None:
        try:
            await batcher.access(note, user)
        except RuntimeError as exc:
            errors.append(exc)

    async with anyio.create_task_group() as tg:
        for _ in range(3):
            tg.start_soon(check)
    assert len(errors) == 3 and len(fake.calls) == 1
    fake.fail = None
    assert await batcher.access(note, user) is Access.READ


async def test_a_cancelled_round_is_run_again_by_a_waiter() -> None:
    note, first, second = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    fake = FakeNotes({(note, first): Access.READ, (note, second): Access.WRITE})
    fake.hanging = True
    batcher = _batcher(fake)
    got: list[Access | None] = []

    async def second_check() -> None:
        got.append(await batcher.access(note, second))

    async with anyio.create_task_group() as tg:
        with anyio.move_on_after(0.2):  # the first check runs the round, then gives up
            async with anyio.create_task_group() as inner:
                inner.start_soon(batcher.access, note, first)
                await anyio.sleep(0)
                tg.start_soon(second_check)
                await anyio.sleep(0.1)
                assert len(fake.calls) == 1  # one round in flight; the second check waits
        fake.hanging = False
        fake.hang.set()
    assert got == [Access.WRITE]
    assert len(fake.calls) == 2 and (note, second) in fake.calls[1]  # the waiter ran it


@pytest.mark.parametrize("size", [1, 251, 600])
async def test_rounds_are_bounded(size: int) -> None:
    note = uuid.uuid4()
    users = [uuid.uuid4() for _ in range(size)]
    fake = FakeNotes({(note, u): Access.READ for u in users})
    batcher = _batcher(fake)
    async with anyio.create_task_group() as tg:
        for user in users:
            tg.start_soon(batcher.access, note, user)
    assert sum(len(call) for call in fake.calls) == size
    assert max(len(call) for call in fake.calls) <= 250

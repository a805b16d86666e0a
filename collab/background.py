"""Loops that run for as long as a component is entered (an extension, a recounter).

Several components own a task group: entered with the server's exit stack, they start their
loops, and on exit they finish what they promised (flush a backlog, index what is dirty) and
then cancel the loops. ``Background`` is that shape once, so each component states only its
loops and its drain.

Invariants: the loops run only between ``__aenter__`` and ``__aexit__``; ``_drain`` runs
before the loops are cancelled, so it may wait for them to make progress; ``_group`` is None
whenever the component is not entered (components test it to work inline instead).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable
from types import TracebackType
from typing import Any, Self

import anyio
from anyio.abc import TaskGroup

__all__ = ["Background", "Loop"]

Loop = Callable[[], Coroutine[Any, Any, None]]
"""A loop a component runs while entered."""


class Background:
    """Mixin: a task group alive while entered. Override ``_loops`` and ``_drain``."""

    _group: TaskGroup | None = None

    def _loops(self) -> Iterable[Loop]:
        """The coroutines started on enter and cancelled on exit."""
        return ()

    async def _drain(self) -> None:
        """What must be finished before the loops are cancelled (bound it with a timeout)."""

    async def __aenter__(self) -> Self:
        group = anyio.create_task_group()
        await group.__aenter__()
        self._group = group
        for loop in self._loops():
            group.start_soon(loop)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        group = self._group
        if group is None:
            return
        try:
            await self._drain()
        finally:
            self._group = None
            group.cancel_scope.cancel()
            await group.__aexit__(None, None, None)

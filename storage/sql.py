"""The hot statements' one interface to the database: `Sql`, implemented once per driver.

A repository writes each hot statement once, as a SQLAlchemy Core `Statement`, and runs it with
one call on ``Database.sql``: `fetch` (rows), `execute` (one write, its row count),
`executemany` (one statement for many rows, one transaction) or `transaction` (several
statements, one transaction). Three drivers implement it: a file-backed SQLite database runs
on one ``sqlite3`` connection in one thread hop per call (``storage.sqlite_direct``),
PostgreSQL on an ``asyncpg`` pool (``storage.pg_direct``), anything else (in-memory SQLite)
on the SQLAlchemy engine (``storage.db``). The cold paths keep SQLAlchemy sessions.

The plain drivers get the statement compiled once per dialect (and per length of each
expanding ``IN`` list), with values converted by the bind types SQLAlchemy itself would use
(UUIDs, booleans, timezone-aware datetimes) and results by the selected columns' types, so
every driver reads the rows every other one (and the ORM) writes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, cast

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.compiler import SQLCompiler

__all__ = ["Row", "Sql", "Statement", "Step"]

Row = Sequence[Any]
"""One result row: its values in the order the statement selects them."""

_Convert = Callable[[Any], Any] | None
_MAX_SHAPES = 512  # compiled forms kept per statement (one per dialect and IN-list lengths)


class Statement:
    """One SQLAlchemy Core statement with named ``bindparam``s, for every driver.

    Every bound parameter must have a type (from the column it is compared with or assigned
    to, or ``type_=``): the plain drivers convert values by it. A ``bindparam`` created with
    ``expanding=True`` takes a non-empty list (``column.in_(...)``).
    """

    __slots__ = ("_expanding", "_shapes", "core", "names")

    def __init__(self, statement: sa.Executable) -> None:
        self.core = statement
        """The statement itself (what the engine driver executes)."""
        binds = _compile(statement, None).binds.values()
        self.names = frozenset(b.key for b in binds if not b.key.startswith("%"))
        """The parameters a caller gives (values under other keys are ignored)."""
        self._expanding = tuple(sorted(b.key for b in binds if b.expanding))
        self._shapes: dict[tuple[Any, ...] | str, _Compiled] = {}
        untyped = [b.key for b in binds if isinstance(b.type, sa.types.NullType)]
        if untyped:
            raise TypeError(f"untyped bind parameters: {', '.join(untyped)}")

    def compiled(self, dialect: Dialect, values: Mapping[str, Any]) -> _Compiled:
        """The SQL for ``dialect`` (and for the lengths of ``values``' ``IN`` lists)."""
        key: tuple[Any, ...] | str = dialect.name
        if self._expanding:
            key = (dialect.name, *(len(values[name]) for name in self._expanding))
        shape = self._shapes.get(key)
        if shape is None:
            if len(self._shapes) >= _MAX_SHAPES:
                self._shapes.clear()
            lengths = tuple(len(values[name]) for name in self._expanding)
            shape = self._shapes[key] = _Compiled(self, dialect, lengths)
        return shape


def _compile(statement: sa.Executable, dialect: Dialect | None) -> SQLCompiler:
    return cast(SQLCompiler, cast(sa.ClauseElement, statement).compile(dialect=dialect))


class _Compiled:
    """A `Statement` compiled for one dialect: SQL text, positional values, row conversion."""

    __slots__ = ("_fixed", "_order", "_results", "sql")

    def __init__(self, statement: Statement, dialect: Dialect, lengths: tuple[int, ...]) -> None:
        lists = dict(zip(statement._expanding, lengths, strict=True))
        compiled = _compile(statement.core, dialect)
        self._fixed = {k: v for k, v in compiled.params.items() if v is not None}
        # An expanding IN list becomes one placeholder per element: ``names_1``, ``names_2``...
        shape = {k: [None] * lists[k] if k in lists else None for k in compiled.bind_names.values()}
        expanded = compiled.construct_expanded_state(shape)
        self.sql = expanded.statement
        element = {f"{name}_{i + 1}": (name, i) for name, n in lists.items() for i in range(n)}
        order: list[tuple[str, int | None, _Convert]] = []
        for position in expanded.positiontup or ():
            name, index = element.get(position, (position, None))
            bind = compiled.binds[name]
            convert = bind.type.dialect_impl(dialect).bind_processor(dialect)
            order.append((name, index, convert))
        self._order = tuple(order)
        selected = getattr(statement.core, "selected_columns", ())
        results = [c.type.dialect_impl(dialect).result_processor(dialect, None) for c in selected]
        self._results = tuple((i, f) for i, f in enumerate(results) if f is not None)

    def params(self, values: Mapping[str, Any]) -> list[Any]:
        """The positional values, each converted as its bind type converts it."""
        fixed = self._fixed
        out = []
        for name, index, convert in self._order:
            value = values[name] if name in values else fixed[name]
            if index is not None:
                value = value[index]
            if convert is not None and value is not None:
                value = convert(value)
            out.append(value)
        return out

    def rows(self, raw: Sequence[Row]) -> Sequence[Row]:
        """Driver rows converted as the selected columns' types convert them."""
        if not self._results:
            return raw
        out = []
        for row in raw:
            values = list(row)
            for index, convert in self._results:
                value = values[index]
                if value is not None:
                    values[index] = convert(value)
            out.append(values)
        return out


Step = tuple[Statement, Mapping[str, Any]]
"""One statement of a `Sql.transaction` and its values."""


class Sql(Protocol):
    """How repositories run their hot statements: one call per statement (or transaction)."""

    async def fetch(self, statement: Statement, values: Mapping[str, Any]) -> Sequence[Row]:
        """The rows ``statement`` selects (a read, outside any write transaction)."""
        ...

    async def execute(self, statement: Statement, values: Mapping[str, Any]) -> int:
        """Run one write in its own transaction; the number of rows it matched."""
        ...

    async def executemany(
        self, statement: Statement, rows: Sequence[Mapping[str, Any]]
    ) -> None:
        """Run ``statement`` once per item of ``rows``, all in one transaction."""
        ...

    async def transaction(self, *steps: Step) -> list[int]:
        """Run ``steps`` in order in one write transaction (rolled back if one fails); the
        number of rows each matched."""
        ...

    async def close(self) -> None:
        """Release the driver's connections (idempotent)."""
        ...

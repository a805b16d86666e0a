"""Statements for the fast paths: a SQLAlchemy statement compiled once per database.

The fast paths (``storage.sqlite_direct``, ``storage.pg_direct``) run plain DBAPI/asyncpg
calls without a session. Their SQL is still written once, as a SQLAlchemy statement, and
compiled here for each database; values are converted by the same column types the engine
path uses (UUIDs, booleans, timezone-aware datetimes), so both paths read each other's rows.
"""

from __future__ import annotations

from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.engine import Dialect

from storage.sqlite_direct import SQLITE_DIALECT

__all__ = ["PG_DIALECT", "DirectStatement"]

PG_DIALECT: Dialect = asyncpg_dialect()  # type: ignore[no-untyped-call]
"""What fast-path statements are compiled for on PostgreSQL (``$n`` parameters)."""


class _Compiled:
    __slots__ = ("convert", "fixed", "names", "sql")

    def __init__(
        self,
        statement: sa.ClauseElement,
        table: sa.Table,
        dialect: Dialect,
        columns: dict[str, str],
    ) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        self.names: tuple[str, ...] = tuple(getattr(compiled, "positiontup", None) or ())
        self.fixed = {k: v for k, v in compiled.params.items() if v is not None}  # OFFSET 0...
        column_of = {name: columns.get(name, name) for name in self.names}
        self.convert = {
            name: table.c[column].type.dialect_impl(dialect).bind_processor(dialect)
            for name, column in column_of.items()
            if column in table.c
        }

    def params(self, values: dict[str, Any]) -> list[Any]:
        out = []
        for name in self.names:
            value = values[name] if name in values else self.fixed[name]
            convert = self.convert.get(name)
            out.append(convert(value) if convert is not None and value is not None else value)
        return out


class DirectStatement:
    """One statement for the fast paths: ``.sqlite`` and ``.pg`` SQL with their parameters.

    Args:
        statement: a statement with named ``bindparam``s; each named like a column of
            ``table`` is converted by that column's type.
        table: the table whose columns convert the values.
        columns: parameters named otherwise, and the column that converts each.
    """

    def __init__(
        self, statement: sa.ClauseElement, table: sa.Table, columns: dict[str, str] | None = None
    ) -> None:
        self.statement = cast(sa.Executable, statement)  # for the engine path
        self._sqlite = _Compiled(statement, table, SQLITE_DIALECT, columns or {})
        self._pg = _Compiled(statement, table, PG_DIALECT, columns or {})

    @property
    def sqlite_sql(self) -> str:
        return self._sqlite.sql

    @property
    def pg_sql(self) -> str:
        return self._pg.sql

    def sqlite_params(self, values: dict[str, Any]) -> list[Any]:
        """The ``?`` values in order, each converted as its column converts it for SQLite."""
        return self._sqlite.params(values)

    def pg_params(self, values: dict[str, Any]) -> list[Any]:
        """The ``$n`` values in order, each converted as its column converts it for asyncpg."""
        return self._pg.params(values)

"""An in-memory document log with the semantics of `storage.DocumentLog` (row ids, prefixes)."""

from __future__ import annotations

from collections.abc import Sequence


class MemoryLog:
    """Rows are (id, name, data); ids grow monotonically like the SQL identity column."""

    def __init__(self) -> None:
        self.rows: list[tuple[int, str, bytes]] = []
        self._next_id = 1
        self.before_replace: list[tuple[str, bytes]] = []
        """Rows appended just before `replace_prefix` runs (simulates a concurrent append)."""

    async def load(self, name: str) -> list[bytes]:
        return [data for _, row_name, data in self.rows if row_name == name]

    async def append(self, entries: Sequence[tuple[str, bytes]]) -> None:
        for name, data in entries:
            self.rows.append((self._next_id, name, data))
            self._next_id += 1

    async def read_log(self, name: str) -> tuple[list[bytes], int]:
        rows = [(row_id, data) for row_id, row_name, data in self.rows if row_name == name]
        return [data for _, data in rows], max((row_id for row_id, _ in rows), default=0)

    async def replace_prefix(self, name: str, snapshot: bytes, through_id: int) -> None:
        await self.append(self.before_replace)
        self.before_replace = []
        self.rows = [r for r in self.rows if not (r[1] == name and r[0] <= through_id)]
        await self.append([(name, snapshot)])

    async def documents_over(self, threshold: int) -> list[str]:
        counts: dict[str, int] = {}
        for _, name, _ in self.rows:
            counts[name] = counts.get(name, 0) + 1
        return sorted(name for name, count in counts.items() if count > threshold)

"""Full-text query building shared by the module and note repositories.

User input never reaches a query parser as-is: it is cut into word tokens, and every token is
quoted (FTS5) or joined with ``&`` (tsquery), so punctuation cannot raise a syntax error and
both databases see the same conjunction of words.
"""

from __future__ import annotations

import html
import re

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

_WORD = re.compile(r"\w+", re.UNICODE)
_MAX_TERMS = 16

# Highlight markers emitted by ts_headline()/snippet(); private-use code points never typed.
MARK_START = "\ue000"
MARK_END = "\ue001"


def terms(query: str | None) -> list[str]:
    """The word tokens of ``query``, lower-cased, at most 16."""
    if not query:
        return []
    return [word.lower() for word in _WORD.findall(query)][:_MAX_TERMS]


def fts5_match(words: list[str], *, prefix_last: bool = False) -> str:
    """An FTS5 MATCH expression requiring every word (the last as a prefix if asked)."""
    quoted = [f'"{word}"' for word in words]
    if prefix_last and quoted:
        quoted[-1] += "*"
    return " ".join(quoted)


def pg_tsquery(words: list[str], *, prefix_last: bool = False) -> str:
    """A ``to_tsquery`` expression requiring every word (the last as a prefix if asked)."""
    parts = [f"'{word}'" for word in words]
    if prefix_last and parts:
        parts[-1] += ":*"
    return " & ".join(parts)


def highlight(raw: str | None) -> str | None:
    """HTML-escape a snippet and turn the database's markers into ``<mark>`` elements."""
    if raw is None:
        return None
    escaped = html.escape(raw, quote=False)
    return escaped.replace(MARK_START, "<mark>").replace(MARK_END, "</mark>")


_REBUILD = [
    "DELETE FROM modules_fts",
    """INSERT INTO modules_fts (rowid, title, description, body)
       SELECT rowid, title, description,
              coalesce((SELECT group_concat(value, ' ') FROM json_tree(modules.content)
                        WHERE type = 'text'), '')
       FROM modules""",
    "DELETE FROM notes_fts",
    """INSERT INTO notes_fts (rowid, title, content_text, tags)
       SELECT rowid, title, content_text,
              coalesce((SELECT group_concat(value, ' ') FROM json_each(notes.tags)), '')
       FROM notes""",
]


async def rebuild_sqlite_fts(session: AsyncSession) -> None:
    """Re-derive the SQLite FTS5 tables from their base tables (needed after ``VACUUM``)."""
    for statement in _REBUILD:
        await session.execute(sa.text(statement))

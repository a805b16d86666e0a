"""Full-text query building shared by the module and note repositories.

User input never reaches a query parser as-is: it is cut into word tokens, and every token is
quoted (FTS5) or joined with ``&``/``|`` (tsquery), so punctuation cannot raise a syntax error
and both databases see the same words. Modules require every word (``fts5_match``,
``pg_tsquery``); notes take any word and rank by how many matched (``question_words``,
``fts5_any``, ``pg_tsquery_any``), so a question in plain words finds its notes.
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


# English function words (a subset of the Snowball list PostgreSQL's `english` configuration
# drops): left out of a question so that "how do I ..." does not match every note on SQLite.
_STOP = (
    """a about after all also am an and any are as at be been but by can could did do does doing
    for from had has have having he her here hers him his how i if in into is it its itself me
    my myself no nor not of off on or our ours out over own she should so some such than that
    the their theirs them then there these they this those through to too under until up very
    was we were what when where which while who whom why will with would you your yours"""
)
STOP_WORDS = frozenset(_STOP.split())


def question_words(query: str | None) -> list[str]:
    """``terms(query)`` without stop words, except the last word (it may still be being typed:
    it is matched as a prefix), so the result is empty only for an empty query."""
    words = terms(query)
    return [w for i, w in enumerate(words) if w not in STOP_WORDS or i == len(words) - 1]


def fts5_any(words: list[str], *, prefix_last: bool = False) -> str:
    """An FTS5 MATCH expression taking any of the words (the last as a prefix if asked)."""
    return " OR ".join(fts5_match(words[i : i + 1], prefix_last=prefix_last and i == len(words) - 1)
                       for i in range(len(words)))


def pg_tsquery_any(words: list[str], *, prefix_last: bool = False) -> str:
    """A ``to_tsquery`` expression taking any of the words (the last as a prefix if asked)."""
    return pg_tsquery(words, prefix_last=prefix_last).replace(" & ", " | ")


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


def words_matched(words: list[str], table: str, *, postgres: bool) -> sa.ColumnElement[int]:
    """How many of ``words`` (the last as a prefix) a row of ``table`` matches: the first sort
    key of an any-word search, the same on both databases. ``table`` has a ``search_vector``
    column on PostgreSQL and an FTS5 table ``<table>_fts`` keyed by rowid on SQLite."""
    hits: list[sa.ColumnElement[int]] = []
    for i, word in enumerate(words):
        last = i == len(words) - 1
        if postgres:
            one = sa.func.to_tsquery(
                sa.literal_column("'english'::regconfig"), pg_tsquery([word], prefix_last=last)
            )
            matched = sa.literal_column(f"{table}.search_vector").op("@@")(one)
        else:
            only = getattr(sa.func, f"{table}_fts")(fts5_match([word], prefix_last=last))
            found = only.table_valued("rowid").alias(f"word{i}")
            matched = sa.literal_column(f"{table}.rowid").in_(sa.select(found.c.rowid))
        hits.append(sa.case((matched, 1), else_=0))
    return sum(hits[1:], hits[0])


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
    "DELETE FROM transcript_segments_fts",
    """INSERT INTO transcript_segments_fts (rowid, text)
       SELECT rowid, text FROM transcript_segments""",
]


async def rebuild_sqlite_fts(session: AsyncSession) -> None:
    """Re-derive the SQLite FTS5 tables from their base tables (needed after ``VACUUM``)."""
    for statement in _REBUILD:
        await session.execute(sa.text(statement))

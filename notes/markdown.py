"""Markdown for the rich-text tree of `notes.richtext`: serialise a note, parse seeded content.

`to_markdown` keeps the structure the editor has (headings `#`, bullet `-` and ordered `1.`
lists with nesting, block quotes `>`, fenced code blocks, rules) and the marks (`**bold**`,
`_italic_`, `` `code` ``, `~~strike~~`, `[text](href)`). `parse_markdown` reads CommonMark
(plus strikethrough) into the same tree, mapping a soft line break to a hard break so content
typed line by line keeps its lines. `write_markdown` appends the parsed tree to a document
without addressing existing text (see `notes.richtext.write_tree`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token
from pycrdt import Doc

from notes.richtext import FRAGMENT, TEXTBLOCKS, Inline, Mark, Node, Text, read_tree, write_tree

__all__ = ["parse_markdown", "to_markdown", "write_markdown"]

# Outermost first: a link wraps emphasis, code is innermost (nothing nests inside it).
_MARK_ORDER = {"link": 0, "bold": 1, "italic": 2, "strike": 3, "code": 4}
_DELIMS = {"bold": "**", "italic": "_", "strike": "~~"}
_ESCAPE = re.compile(r"([\\`*\[\]<~]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])|&(?=#?\w+;))")
_LINE_START = re.compile(r"^(\s*\d*)(>|#{1,6}(?=\s|$)|[+-](?=\s|$)|(?<=\d)[.)](?=\s|$)|[-=]+\s*$)")


def to_markdown(source: Doc[Any] | Node) -> str:
    """The document as Markdown, ending with a newline (empty string for an empty document)."""
    tree = read_tree(source) if isinstance(source, Doc) else source
    text = "\n\n".join(_blocks(tree.content))
    return text + "\n" if text else ""


def _blocks(content: tuple[Inline, ...]) -> Iterator[str]:
    for child in content:
        if isinstance(child, Text):
            yield _inline((child,))
        else:
            yield _block(child)


def _block(node: Node) -> str:
    kind = node.type
    if kind == "heading":
        level = node.attrs.get("level", 1)
        level = min(max(level if isinstance(level, int) else 1, 1), 6)
        return "#" * level + " " + _inline(node.content)
    if kind == "codeBlock":
        code = "".join(c.text for c in node.content if isinstance(c, Text))
        fence = "```" if "```" not in code else "~~~~"
        language = node.attrs.get("language") or ""
        return f"{fence}{language}\n{code}\n{fence}"
    if kind == "horizontalRule":
        return "---"
    if kind == "blockquote":
        inner = "\n\n".join(_blocks(node.content))
        return "\n".join(f"> {line}" if line else ">" for line in inner.split("\n"))
    if kind in ("bulletList", "orderedList"):
        return _list(node)
    if kind in TEXTBLOCKS or not any(
        isinstance(c, Node) and c.type not in ("hardBreak",) for c in node.content
    ):
        return _inline(node.content)
    return "\n\n".join(_blocks(node.content))


def _list(node: Node) -> str:
    start = node.attrs.get("start", 1)
    number = start if isinstance(start, int) else 1
    items = []
    for child in node.content:
        marker = f"{number}. " if node.type == "orderedList" else "- "
        number += 1
        body = _item_body(child) if isinstance(child, Node) else child.text
        pad = " " * len(marker)
        lines = body.split("\n")
        items.append(
            "\n".join([marker + lines[0], *((pad + line) if line else "" for line in lines[1:])])
        )
    return "\n".join(items)


def _item_body(item: Node) -> str:
    # Tight list: a nested list follows its paragraph directly; other blocks need a blank line.
    out = ""
    for child, text in zip(item.content, _blocks(item.content), strict=True):
        nested = isinstance(child, Node) and child.type in ("bulletList", "orderedList")
        out += ("" if not out else "\n" if nested else "\n\n") + text
    return out


def _inline(content: tuple[Inline, ...]) -> str:
    out: list[str] = []
    stack: list[Mark] = []
    pending = ""  # trailing whitespace of the last run, emitted after closing its marks
    for child in content:
        if isinstance(child, Node):
            out.append(_close(stack, 0) + pending)
            stack, pending = [], ""
            out.append("\\\n" if child.type == "hardBreak" else _escape("".join(_texts(child))))
            continue
        want = sorted(child.marks, key=lambda m: _MARK_ORDER.get(m.type, 9))
        core = child.text.strip() if want else child.text
        if not core:
            pending += child.text
            continue
        lead = child.text[: len(child.text) - len(child.text.lstrip())] if want else ""
        trail = child.text[len(child.text.rstrip()) :] if want else ""
        keep = 0
        while keep < len(stack) and keep < len(want) and stack[keep] == want[keep]:
            keep += 1
        out.append(_close(stack, keep) + pending + lead)
        del stack[keep:]
        for mark in want[keep:]:
            out.append(_open(mark))
            stack.append(mark)
        is_code = any(m.type == "code" for m in want)
        out.append(_code(core) if is_code else _escape(core))
        pending = trail
    out.append(_close(stack, 0) + pending)
    return "".join(out)


def _texts(node: Node) -> Iterator[str]:
    for child in node.content:
        yield child.text if isinstance(child, Text) else "".join(_texts(child))


def _open(mark: Mark) -> str:
    if mark.type == "link":
        return "["
    return _DELIMS.get(mark.type, "")


def _close(stack: list[Mark], keep: int) -> str:
    out = []
    for mark in reversed(stack[keep:]):
        if mark.type == "link":
            href = str(mark.attrs.get("href") or "").replace(" ", "%20").replace(")", "%29")
            out.append(f"]({href})")
        elif mark.type == "code":
            out.append("")  # `_code` wrote both backtick fences around the text
        else:
            out.append(_DELIMS.get(mark.type, ""))
    return "".join(out)


def _code(text: str) -> str:
    # The fence is one backtick longer than the longest run inside (CommonMark 6.1).
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _escape(text: str) -> str:
    escaped = _ESCAPE.sub(r"\\\1", text)
    return "\n".join(_LINE_START.sub(r"\1\\\2", line) for line in escaped.split("\n"))


def parse_markdown(markdown: str) -> Node:
    """Parse CommonMark (with `~~strike~~`) into a `doc` tree of the editor's node types."""
    parser = MarkdownIt("commonmark").enable("strikethrough")
    root: list[Inline] = []
    stack: list[tuple[str, dict[str, Any], list[Inline]]] = []

    def target() -> list[Inline]:
        return stack[-1][2] if stack else root

    for token in parser.parse(markdown):
        if token.nesting == 1:
            kind, attrs = _block_type(token)
            stack.append((kind, attrs, []))
        elif token.nesting == -1:
            kind, attrs, content = stack.pop()
            target().append(Node(kind, attrs, tuple(content)))
        elif token.type == "inline":
            target().extend(_parse_inline(token.children or []))
        elif token.type in ("fence", "code_block"):
            code = token.content.removesuffix("\n")
            language = token.info.strip().split(" ", 1)[0] if token.info else ""
            attrs = {"language": language} if language else {}
            target().append(Node("codeBlock", attrs, (Text(code),) if code else ()))
        elif token.type == "hr":
            target().append(Node("horizontalRule"))
        elif token.type == "html_block":
            target().append(Node("paragraph", {}, (Text(token.content.strip()),)))
    return Node("doc", {}, tuple(root))


def _block_type(token: Token) -> tuple[str, dict[str, Any]]:
    if token.type == "heading_open":
        return "heading", {"level": int(token.tag[1:])}
    if token.type == "ordered_list_open":
        start = token.attrs.get("start", 1)
        return "orderedList", {"start": int(start) if isinstance(start, int | str) else 1}
    return {
        "bullet_list_open": "bulletList",
        "list_item_open": "listItem",
        "blockquote_open": "blockquote",
    }.get(token.type, "paragraph"), {}


def _parse_inline(tokens: list[Token]) -> Iterator[Inline]:
    marks: list[Mark] = []
    names = {"strong": "bold", "em": "italic", "s": "strike"}
    for token in tokens:
        kind = token.type
        if kind.endswith("_open") and kind[:-5] in names:
            marks.append(Mark(names[kind[:-5]]))
        elif kind == "link_open":
            marks.append(Mark("link", {"href": str(token.attrs.get("href", ""))}))
        elif kind.endswith("_close") and marks:
            marks.pop()
        elif kind in ("text", "html_inline") and token.content:
            yield Text(token.content, tuple(marks))
        elif kind == "code_inline":
            yield Text(token.content, (*marks, Mark("code")))
        elif kind in ("softbreak", "hardbreak"):
            yield Node("hardBreak")
        elif kind == "image":
            alt = "".join(child.content for child in token.children or [])
            if alt:
                yield Text(alt, tuple(marks))


def write_markdown(doc: Doc[Any], markdown: str, fragment: str = FRAGMENT) -> None:
    """Append the parsed `markdown` to the document (one transaction, no text offsets)."""
    write_tree(doc, parse_markdown(markdown), fragment)

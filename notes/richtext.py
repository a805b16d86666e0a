"""Rich text in a document: the ProseMirror-shaped `Y.XmlFragment` read into a small tree and back.

The browser editor (TipTap + y-prosemirror) keeps a note's body in the `XmlFragment` named
`default`: every ProseMirror node is a `Y.XmlElement` named after the node type (`paragraph`,
`heading` with a `level` attribute, `bulletList`, `orderedList`, `listItem`, `codeBlock`,
`blockquote`, `horizontalRule`, `hardBreak`), and each run of text is a `Y.XmlText` whose
formatting attributes are the marks (`bold`, `italic`, `code`, `strike`, `link` with `href`),
each mark's value being its attribute object.

Reading (`read_tree`) takes one consistent view inside a transaction. Writing (`write_tree`)
never addresses a position inside existing text: it appends whole new elements and fills each
new `XmlText` by appending runs at its own end, `len(text)` (pycrdt counts UTF-8 bytes,
docs/hazards.md), so emoji and accents stay valid for Yjs clients. Plain text lives here
(search indexing needs only that); Markdown in `notes.markdown`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from pycrdt import Doc, XmlElement, XmlFragment, XmlText

__all__ = [
    "FRAGMENT",
    "Inline",
    "Mark",
    "Node",
    "Text",
    "iter_text",
    "plain_text_tree",
    "read_tree",
    "replace_content",
    "to_json",
    "to_plain_text",
    "tree_from_json",
    "write_plain_text",
    "write_tree",
]

FRAGMENT = "default"
"""The name of the root `XmlFragment` y-prosemirror binds (TipTap's Collaboration default)."""

#: Node types whose children are inline content (text runs and inline nodes).
TEXTBLOCKS = frozenset({"paragraph", "heading", "codeBlock"})
#: Inline leaf nodes that are elements rather than text.
INLINE_NODES = frozenset({"hardBreak", "image", "mention"})

JSONObject: TypeAlias = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Mark:
    """A text mark (`bold`, `italic`, `code`, `strike`, `link`) and its attributes."""

    type: str
    attrs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Text:
    """A run of text carrying the same marks."""

    text: str
    marks: tuple[Mark, ...] = ()


@dataclass(frozen=True, slots=True)
class Node:
    """An element: a block (`paragraph`, `heading`, ...), an inline node or the `doc` root."""

    type: str
    attrs: Mapping[str, Any] = field(default_factory=dict)
    content: tuple[Node | Text, ...] = ()


Inline: TypeAlias = Node | Text


def read_tree(doc: Doc[Any], fragment: str = FRAGMENT) -> Node:
    """Read the document's rich text as a `Node` of type `doc`.

    Args:
        doc: any pycrdt document (live, or a temporary one built from a stored state).
        fragment: the root `XmlFragment` name.

    Returns:
        The tree; an empty `doc` node when the fragment has no content.
    """
    root = doc.get(fragment, type=XmlFragment)
    with doc.transaction():
        return Node("doc", {}, tuple(_read_children(root)))


def _read_children(parent: XmlFragment | XmlElement) -> Iterator[Inline]:
    for child in parent.children:
        if isinstance(child, XmlText):
            yield from _read_text(child)
        elif isinstance(child, XmlElement):
            attrs = {key: _normalise(value) for key, value in child.attributes.__iter__()}
            yield Node(child.tag or "paragraph", attrs, tuple(_read_children(child)))


def _read_text(text: XmlText) -> Iterator[Text]:
    for value, attributes in text.diff():
        if not isinstance(value, str) or not value:
            continue  # embeds are not part of the editor schema
        marks = tuple(
            Mark(name.split("--", 1)[0], dict(attrs) if isinstance(attrs, Mapping) else {})
            for name, attrs in sorted((attributes or {}).items())
            if attrs is not None
        )
        yield Text(value, marks)


def _normalise(value: Any) -> Any:
    # Yjs numbers arrive as floats; ProseMirror attributes such as `level` are integers.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def iter_text(node: Node) -> Iterator[str]:
    """Yield the text of every run under `node`, in document order."""
    for child in node.content:
        if isinstance(child, Text):
            yield child.text
        else:
            yield from iter_text(child)


def to_plain_text(source: Doc[Any] | Node) -> str:
    """The document's text: one line per text block, hard breaks as newlines, no markup."""
    tree = read_tree(source) if isinstance(source, Doc) else source
    return "\n".join(_block_lines(tree))


def _block_lines(node: Node) -> Iterator[str]:
    if node.type in TEXTBLOCKS or not any(isinstance(c, Node) for c in node.content):
        if node.content or node.type in TEXTBLOCKS:
            yield "".join(c.text if isinstance(c, Text) else _inline_text(c) for c in node.content)
        return
    for child in node.content:
        if isinstance(child, Node):
            yield from _block_lines(child)
        else:
            yield child.text


def _inline_text(node: Node) -> str:
    return "\n" if node.type == "hardBreak" else "".join(iter_text(node))


def plain_text_tree(text: str) -> Node:
    """A tree of one paragraph per line of `text` (an empty line is an empty paragraph)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return Node(
        "doc", {}, tuple(Node("paragraph", {}, (Text(line),) if line else ()) for line in lines)
    )


def write_plain_text(doc: Doc[Any], text: str, fragment: str = FRAGMENT) -> None:
    """Append `text` to the document as paragraphs (see `plain_text_tree`)."""
    write_tree(doc, plain_text_tree(text), fragment)


def write_tree(doc: Doc[Any], tree: Node, fragment: str = FRAGMENT) -> None:
    """Append the blocks of `tree` (a `doc` node) to the end of the document's fragment.

    Runs in one transaction (joins the caller's, for example a `DirectSession.transact`).
    Only new elements are created; existing text is never addressed by position.
    """
    root = doc.get(fragment, type=XmlFragment)
    with doc.transaction():
        _append_children(root, tree.content)


def replace_content(doc: Doc[Any], tree: Node, fragment: str = FRAGMENT) -> None:
    """Replace the whole fragment with `tree`, as one new edit.

    Deleting the old children and appending new ones is an ordinary CRDT change: history is
    kept, and connected clients receive it through normal sync. Used to restore a version.
    """
    root = doc.get(fragment, type=XmlFragment)
    with doc.transaction():
        count = len(root.children)
        if count:
            del root.children[0:count]
        _append_children(root, tree.content)


def _append_children(parent: XmlFragment | XmlElement, content: tuple[Inline, ...]) -> None:
    pending: list[Text] = []
    for child in content:
        if isinstance(child, Text):
            pending.append(child)
            continue
        if pending:
            _append_runs(parent, pending)
            pending = []
        attrs = {key: value for key, value in child.attrs.items() if value is not None}
        element = parent.children.append(XmlElement(child.type, attrs))
        _append_children(element, child.content)
    if pending:
        _append_runs(parent, pending)


def _append_runs(parent: XmlFragment | XmlElement, runs: list[Text]) -> None:
    text = parent.children.append(XmlText())
    for run in runs:
        if not run.text:
            continue
        attrs = {mark.type: dict(mark.attrs) for mark in run.marks}
        # len(text) is in pycrdt's own offset unit (UTF-8 bytes today), so this is always the
        # end of the text, whatever the characters before it are.
        text.insert(len(text), run.text, attrs or None)


def to_json(source: Doc[Any] | Node) -> JSONObject:
    """The ProseMirror JSON of a document (`{"type": "doc", "content": [...]}`)."""
    tree = read_tree(source) if isinstance(source, Doc) else source
    return _node_json(tree)


def _node_json(node: Node) -> JSONObject:
    out: JSONObject = {"type": node.type}
    if node.attrs:
        out["attrs"] = dict(node.attrs)
    if node.content or node.type == "doc":
        out["content"] = [
            _text_json(child) if isinstance(child, Text) else _node_json(child)
            for child in node.content
        ]
    return out


def _text_json(run: Text) -> JSONObject:
    out: JSONObject = {"type": "text", "text": run.text}
    if run.marks:
        out["marks"] = [
            {"type": m.type, "attrs": dict(m.attrs)} if m.attrs else {"type": m.type}
            for m in run.marks
        ]
    return out


def tree_from_json(data: Mapping[str, Any]) -> Node:
    """Build a tree from ProseMirror JSON.

    Raises:
        ValueError: the value is not ProseMirror-shaped JSON (names what is wrong).
    """
    parsed = _json_node(data, "doc")
    if isinstance(parsed, Text) or parsed.type != "doc":
        raise ValueError("content: the root must be a node of type 'doc'")
    return parsed


def _json_node(data: Any, path: str) -> Inline:
    if not isinstance(data, Mapping) or not isinstance(data.get("type"), str):
        raise ValueError(f"{path}: expected an object with a string 'type'")
    if data["type"] == "text":
        text = data.get("text")
        if not isinstance(text, str):
            raise ValueError(f"{path}.text: expected a string")
        marks = []
        for i, mark in enumerate(data.get("marks") or []):
            if not isinstance(mark, Mapping) or not isinstance(mark.get("type"), str):
                raise ValueError(f"{path}.marks[{i}]: expected an object with a string 'type'")
            marks.append(Mark(mark["type"], dict(mark.get("attrs") or {})))
        return Text(text, tuple(marks))
    content = data.get("content") or []
    if not isinstance(content, list):
        raise ValueError(f"{path}.content: expected a list")
    attrs = data.get("attrs") or {}
    if not isinstance(attrs, Mapping):
        raise ValueError(f"{path}.attrs: expected an object")
    children = tuple(_json_node(child, f"{path}.content[{i}]") for i, child in enumerate(content))
    return Node(data["type"], dict(attrs), children)

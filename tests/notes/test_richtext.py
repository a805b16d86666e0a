"""The rich-text tree, Markdown and plain text, checked against the real `yjs` npm client.

Server-built updates must decode in Yjs exactly as written, with multi-byte text (emoji with a
zero-width joiner, accents, CJK): pycrdt text positions are UTF-8 byte offsets (docs/hazards.md).
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycrdt import Doc, XmlElement, XmlFragment, XmlText

from notes.markdown import parse_markdown, to_markdown, write_markdown
from notes.richtext import (
    Inline,
    Mark,
    Node,
    Text,
    read_tree,
    replace_content,
    to_json,
    to_plain_text,
    tree_from_json,
    write_plain_text,
    write_tree,
)

SCRIPT = Path(__file__).with_name("yjs_fragment.mjs")
ROOT = Path(__file__).resolve().parents[2]

MARKDOWN = """# Héllo 👩‍💻 _wörld_

para **bold _both_** and `co*de` [link ü](https://example.com/a) ~~gone~~\\
second line 漢字

- a é
  - nested 👍
- b

3. three
4. four

> quote ü

```python
print("é")
```

---
"""


def yjs(payload: dict[str, Any]) -> dict[str, Any]:
    """Run the reference Yjs client (tests/notes/yjs_fragment.mjs) on one JSON request."""
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules" / "yjs").is_dir():
        pytest.fail("node and the npm test clients are required (npm install at the repo root)")
    result = subprocess.run(
        [node, str(SCRIPT)],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    decoded: dict[str, Any] = json.loads(result.stdout)
    return decoded


def yjs_decode(doc: Doc[Any]) -> dict[str, Any]:
    return yjs({"update": doc.get_update().hex()})


@pytest.mark.interop
def test_markdown_seed_decodes_in_yjs_with_multibyte_text() -> None:
    doc: Doc[Any] = Doc()
    write_markdown(doc, MARKDOWN)

    decoded = yjs_decode(doc)

    assert decoded["doc"] == to_json(doc)
    assert "Héllo 👩‍💻 <italic>wörld</italic>" in decoded["xml"]
    assert "second line 漢字" in decoded["xml"]
    assert '<heading level="1">' in decoded["xml"]


@pytest.mark.interop
def test_client_built_document_reads_back_and_server_edit_appends() -> None:
    # Built by yjs the way y-prosemirror builds it: the text we read must match exactly.
    client = {
        "type": "doc",
        "content": [
            {
                "type": "heading",
                "attrs": {"level": 2},
                "content": [{"type": "text", "text": "Ünïcödé 👩‍💻"}],
            },
            {
                "type": "paragraph",
                "content": [
                    {"type": "text", "text": "日本語 "},
                    {"type": "text", "text": "bold é", "marks": [{"type": "bold"}]},
                    {"type": "hardBreak"},
                    {
                        "type": "text",
                        "text": "x",
                        "marks": [{"type": "link", "attrs": {"href": "https://e.x"}}],
                    },
                ],
            },
        ],
    }
    doc: Doc[Any] = Doc()
    doc.apply_update(bytes.fromhex(yjs({"doc": client})["update"]))
    assert to_json(doc) == client
    assert to_plain_text(doc) == "Ünïcödé 👩‍💻\n日本語 bold é\nx"

    # A server edit after multi-byte client text: appended whole, it must stay valid for Yjs.
    write_plain_text(doc, "añadido 🎉 ünd 中文")
    decoded = yjs_decode(doc)
    assert decoded["doc"] == to_json(doc)
    assert decoded["doc"]["content"][-1] == {
        "type": "paragraph",
        "content": [{"type": "text", "text": "añadido 🎉 ünd 中文"}],
    }


@pytest.mark.interop
def test_replace_content_is_a_new_edit_that_yjs_applies_incrementally() -> None:
    doc: Doc[Any] = Doc()
    write_markdown(doc, "first 👩‍💻 é\n\nsecond ü")
    before = doc.get_update()
    state = doc.get_state()

    replace_content(doc, parse_markdown("# restored 漢字 🎉\n\n- one é"))
    diff = doc.get_update(state)

    # A client that had the old content applies only the diff and ends with the new tree.
    client: Doc[Any] = Doc()
    client.apply_update(before)
    client.apply_update(diff)
    assert to_json(client) == to_json(doc)
    assert to_plain_text(doc) == "restored 漢字 🎉\none é"
    decoded = yjs_decode(doc)
    assert decoded["doc"] == to_json(doc)
    assert "first" not in decoded["xml"]


def test_markdown_round_trip_keeps_structure_and_marks() -> None:
    tree = parse_markdown(MARKDOWN)
    doc: Doc[Any] = Doc()
    write_tree(doc, tree)

    assert read_tree(doc) == tree
    assert to_markdown(doc) == MARKDOWN
    assert parse_markdown(to_markdown(doc)) == tree


def test_markdown_serialises_each_construct() -> None:
    tree = Node(
        "doc",
        {},
        (
            Node("heading", {"level": 3}, (Text("Title"),)),
            Node(
                "paragraph",
                {},
                (
                    Text("a "),
                    Text("b ", (Mark("bold"),)),
                    Text("c", (Mark("bold"), Mark("italic"))),
                    Text(" d", (Mark("link", {"href": "https://x.y/z"}),)),
                    Text(" "),
                    Text("snake_case *star*"),
                ),
            ),
            Node(
                "orderedList",
                {"start": 1},
                (Node("listItem", {}, (Node("paragraph", {}, (Text("x"),)),)),),
            ),
            Node("codeBlock", {}, (Text("raw **not bold**"),)),
            Node("blockquote", {}, (Node("paragraph", {}, (Text("q"),)),)),
        ),
    )

    assert to_markdown(tree) == (
        "### Title\n\n"
        "a **b _c_** [d](https://x.y/z) snake_case \\*star\\*\n\n"
        "1. x\n\n"
        "```\nraw **not bold**\n```\n\n"
        "> q\n"
    )


def test_plain_text_lines_and_empty_document() -> None:
    doc: Doc[Any] = Doc()
    assert to_plain_text(doc) == ""
    assert to_markdown(doc) == ""
    assert to_json(doc) == {"type": "doc", "content": []}

    write_plain_text(doc, "one é\r\n\r\nthree 👍")
    assert to_plain_text(doc) == "one é\n\nthree 👍"
    assert len(doc.get("default", type=XmlFragment).children) == 3


def test_reads_attributes_and_unknown_nodes_written_by_other_clients() -> None:
    doc: Doc[Any] = Doc()
    root = doc.get("default", type=XmlFragment)
    level: Any = 2.0  # Yjs numbers are floats; pycrdt's stubs say str
    heading = root.children.append(XmlElement("heading", {"level": level}))
    text = heading.children.append(XmlText())
    text.insert(0, "x", {"link--abc123": {"href": "https://h"}})
    root.children.append(XmlElement("image", {"src": "a.png"}))

    assert to_json(doc) == {
        "type": "doc",
        "content": [
            {
                "type": "heading",
                "attrs": {"level": 2},
                "content": [
                    {
                        "type": "text",
                        "text": "x",
                        "marks": [{"type": "link", "attrs": {"href": "https://h"}}],
                    }
                ],
            },
            {"type": "image", "attrs": {"src": "a.png"}},
        ],
    }


def test_tree_from_json_round_trips_and_names_bad_fields() -> None:
    tree = parse_markdown(MARKDOWN)
    assert tree_from_json(to_json(tree)) == tree

    with pytest.raises(ValueError, match=r"doc\.content\[0\]\.text"):
        tree_from_json({"type": "doc", "content": [{"type": "text", "text": 3}]})
    with pytest.raises(ValueError, match="root"):
        tree_from_json({"type": "paragraph"})


_ALPHABET = st.sampled_from(list("abé漢👩*_`[]()#>-+=!1.)\\<&~ "))
_MARKS = [
    Mark("bold"),
    Mark("italic"),
    Mark("strike"),
    Mark("code"),
    Mark("link", {"href": "https://x.y/a"}),
]


def _marked_chars(content: tuple[Inline, ...]) -> list[tuple[str, frozenset[str]]]:
    """Characters with their mark names (none on whitespace), outer whitespace trimmed."""
    out = [
        (char, frozenset() if char.isspace() else frozenset(m.type for m in run.marks))
        for run in content
        if isinstance(run, Text)
        for char in run.text
    ]
    while out and out[0][0].isspace():
        out.pop(0)
    while out and out[-1][0].isspace():
        out.pop()
    return out


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(st.text(_ALPHABET, min_size=1, max_size=20), min_size=1, max_size=3))
def test_property_plain_text_survives_markdown(paragraphs: list[str]) -> None:
    # Markdown collapses nothing inside a line but trims line edges; compare trimmed lines.
    lines = [" ".join(p.split()) for p in paragraphs if p.split()]
    tree = Node("doc", {}, tuple(Node("paragraph", {}, (Text(line),)) for line in lines))
    back = parse_markdown(to_markdown(tree))
    assert [to_plain_text(Node("doc", {}, (block,))) for block in back.content] == lines


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    st.lists(
        st.tuples(
            st.text(_ALPHABET.filter(lambda c: c != " "), min_size=1, max_size=8),
            st.sets(st.sampled_from(range(len(_MARKS))), max_size=3),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_property_marked_words_survive_markdown(runs: list[tuple[str, set[int]]]) -> None:
    content = tuple(
        Text((" " if i else "") + word, tuple(_MARKS[m] for m in sorted(marks)))
        for i, (word, marks) in enumerate(runs)
    )
    back = parse_markdown(to_markdown(Node("doc", {}, (Node("paragraph", {}, content),))))
    assert len(back.content) == 1
    block = back.content[0]
    assert isinstance(block, Node)
    assert _marked_chars(block.content) == _marked_chars(content)


def _random_tree(rng: random.Random) -> Node:
    pieces = ["é", "ü", "👩‍💻", "🎉", "漢字", "a", "bc", " ", "ß", "\u0301", "𝄞"]

    def runs() -> tuple[Inline, ...]:
        out: list[Inline] = []
        for _ in range(rng.randint(1, 5)):
            if rng.random() < 0.15:
                out.append(Node("hardBreak"))
            text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 6)))
            out.append(Text(text, tuple(m for m in _MARKS if rng.random() < 0.3)))
        return tuple(out)

    blocks: list[Node] = []
    for _ in range(rng.randint(1, 4)):
        kind = rng.choice(["paragraph", "heading", "bulletList", "codeBlock"])
        if kind == "bulletList":
            item = Node("listItem", {}, (Node("paragraph", {}, runs()),))
            blocks.append(Node("bulletList", {}, (item,)))
        elif kind == "codeBlock":
            blocks.append(
                Node("codeBlock", {}, (Text("".join(rng.choice(pieces) for _ in range(5))),))
            )
        else:
            attrs = {"level": rng.randint(1, 3)} if kind == "heading" else {}
            blocks.append(Node(kind, attrs, runs()))
    return Node("doc", {}, tuple(blocks))


@pytest.mark.interop
def test_random_multibyte_trees_decode_identically_in_yjs() -> None:
    rng = random.Random(20261123)
    docs: list[Doc[Any]] = []
    for _ in range(60):
        doc: Doc[Any] = Doc()
        write_tree(doc, _random_tree(rng))
        write_plain_text(doc, "tail 👩‍💻 é")  # a second transaction after multi-byte text
        docs.append(doc)

    decoded = yjs({"updates": [doc.get_update().hex() for doc in docs]})["docs"]

    assert decoded == [to_json(doc) for doc in docs]

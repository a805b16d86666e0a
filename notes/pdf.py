"""PDF rendering of a note's rich-text tree with fpdf2.

Embeds DejaVu Sans (Debian `fonts-dejavu-core`; the oblique faces of `fonts-dejavu-extra` are
used when installed) so accents and most scripts render. Characters the fonts have no glyph for
(emoji, CJK with DejaVu) become U+FFFD instead of crashing fpdf2 or vanishing silently; an emoji
sequence joined with ZWJ becomes one replacement. Without any TrueType font the PDF core fonts
are used (Latin-1 only).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import CoreFont, TTFFont

from notes.richtext import Node, Text

__all__ = ["FONT_DIRS", "PdfFonts", "find_pdf_fonts", "render_pdf"]

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))
_JOINERS = re.compile("[\u200d\ufe0e\ufe0f\U0001f3fb-\U0001f3ff]")


@dataclass(frozen=True, slots=True)
class PdfFonts:
    """TrueType files for the PDF: body styles ("", "B", "I", "BI") and a monospace face."""

    body: Mapping[str, Path]
    mono: Path | None = None


def find_pdf_fonts(dirs: Iterable[Path] = FONT_DIRS) -> PdfFonts | None:
    """Locate DejaVu Sans (+ Mono) in `dirs`; None when no regular face is installed."""
    names = {
        "": "DejaVuSans.ttf",
        "B": "DejaVuSans-Bold.ttf",
        "I": "DejaVuSans-Oblique.ttf",
        "BI": "DejaVuSans-BoldOblique.ttf",
    }
    for folder in dirs:
        if (folder / names[""]).is_file():
            body = {
                style: folder / name for style, name in names.items() if (folder / name).is_file()
            }
            mono = folder / "DejaVuSansMono.ttf"
            return PdfFonts(body, mono if mono.is_file() else None)
    return None


class _Writer:
    """Renders the rich-text tree onto an `FPDF` page flow."""

    LINE = 6.0

    def __init__(self, fonts: PdfFonts | None, title: str) -> None:
        self.pdf = FPDF(format="A4")
        self.pdf.set_auto_page_break(auto=True, margin=15)
        self.pdf.set_title(title)
        self.pdf.set_creator("workbook notes export")
        self.styles: set[str] = {""}
        if fonts is None:
            self.body, self.mono = "helvetica", "courier"
            self.styles = {"", "B", "I", "BI"}
            self.supported: Callable[[str], bool] = _latin1
        else:
            self.body, self.mono = "body", "mono"
            for style, path in fonts.body.items():
                self.pdf.add_font("body", style=style, fname=path)
                self.styles.add(style)
            if fonts.mono is not None:
                self.pdf.add_font("mono", fname=fonts.mono)
            else:
                self.mono = "body"
            glyphs = _cmap(self.pdf.fonts["body"])
            if fonts.mono is not None:  # the same text may be set in either face
                glyphs &= _cmap(self.pdf.fonts["mono"])
            self.supported = lambda char: ord(char) in glyphs
        self.bullet = "•" if self.supported("•") else "-"
        self.pdf.add_page()
        self.margin = self.pdf.l_margin

    def font(
        self, style: str = "", size: float = 11, *, mono: bool = False, strike: bool = False
    ) -> None:
        decoration = "S" if strike else ""  # a drawn line, not a font face
        if mono:
            self.pdf.set_font(self.mono, style=decoration, size=size)
            return
        while style not in self.styles:  # a missing oblique face falls back to upright
            style = style.replace("I", "") if "I" in style else ""
        self.pdf.set_font(self.body, style=style + decoration, size=size)

    def clean(self, text: str) -> str:
        out: list[str] = []
        joined = False
        for char in text:
            if _JOINERS.fullmatch(char):
                joined = joined or char == "\u200d"
                continue
            if self.supported(char) or char in "\n\t":
                out.append(char)
            elif not (joined and out and out[-1] == "\ufffd"):
                out.append("\ufffd" if self.supported("\ufffd") else "?")
            joined = False
        return "".join(out)

    def render(self, tree: Node, title: str, tags: Sequence[str]) -> bytes:
        self.font("B", 20)
        self.pdf.multi_cell(0, 10, self.clean(title), new_x="LMARGIN", new_y="NEXT")
        if tags:
            self.font("", 9)
            self.pdf.set_text_color(110)
            self.pdf.multi_cell(
                0,
                5,
                self.clean(" · ".join(f"#{t}" for t in tags)),
                new_x="LMARGIN",
                new_y="NEXT",
            )
            self.pdf.set_text_color(0)
        self.pdf.ln(3)
        for block in tree.content:
            if isinstance(block, Node):
                self.block(block, self.pdf.l_margin)
        return bytes(self.pdf.output())

    def block(self, node: Node, indent: float) -> None:
        pdf = self.pdf
        pdf.set_left_margin(indent)
        pdf.set_x(indent)
        kind = node.type
        if kind == "heading":
            level = node.attrs.get("level", 1)
            size = {1: 18, 2: 15, 3: 13}.get(level if isinstance(level, int) else 1, 12)
            pdf.ln(2)
            self.inline(node.content, base="B", size=size, height=size * 0.5)
            pdf.ln(size * 0.5 + 1)
        elif kind == "codeBlock":
            code = "".join(c.text for c in node.content if isinstance(c, Text))
            self.font(size=9.5, mono=True)
            pdf.set_fill_color(243, 244, 246)
            pdf.multi_cell(
                0, 5, self.clean(code), fill=True, new_x="LMARGIN", new_y="NEXT", padding=(2, 3)
            )
            pdf.ln(3)
        elif kind == "horizontalRule":
            y = pdf.get_y() + 2
            pdf.set_draw_color(180)
            pdf.line(indent, y, pdf.w - pdf.r_margin, y)
            pdf.ln(5)
        elif kind == "blockquote":
            pdf.set_text_color(90)
            top = pdf.get_y()
            for child in node.content:
                if isinstance(child, Node):
                    self.block(child, indent + 6)
            pdf.set_draw_color(200)
            pdf.line(indent + 2, top, indent + 2, pdf.get_y() - 2)
            pdf.set_text_color(0)
            pdf.ln(1)
        elif kind in ("bulletList", "orderedList"):
            start = node.attrs.get("start", 1)
            number = start if isinstance(start, int) else 1
            for item in node.content:
                marker = f"{number}." if kind == "orderedList" else self.bullet
                number += 1
                pdf.set_left_margin(indent)
                pdf.set_x(indent)
                self.font()
                pdf.cell(7, self.LINE, marker)
                children = item.content if isinstance(item, Node) else (item,)
                for i, child in enumerate(children):
                    if isinstance(child, Node) and i == 0:
                        self.inline_block(child, indent + 7)
                    elif isinstance(child, Node):
                        self.block(child, indent + 7)
            if indent <= self.margin:  # space after a top-level list, not after nested ones
                pdf.ln(2)
        elif kind == "paragraph" or not any(
            isinstance(c, Node) and c.type != "hardBreak" for c in node.content
        ):
            self.inline(node.content)
            pdf.ln(self.LINE + 2)
        else:
            for child in node.content:
                if isinstance(child, Node):
                    self.block(child, indent)
        pdf.set_left_margin(indent)

    def inline_block(self, node: Node, indent: float) -> None:
        # The first block of a list item continues on the marker's line.
        self.pdf.set_left_margin(indent)
        if node.type == "paragraph":
            self.inline(node.content)
            self.pdf.ln(self.LINE + 1)
        else:
            self.pdf.ln(self.LINE)
            self.block(node, indent)

    def inline(
        self,
        content: tuple[Node | Text, ...],
        *,
        base: str = "",
        size: float = 11,
        height: float = LINE,
    ) -> None:
        for child in content:
            if isinstance(child, Node):
                if child.type == "hardBreak":
                    self.pdf.ln(height)
                continue
            names = {mark.type for mark in child.marks}
            style = base + ("B" if "bold" in names and "B" not in base else "")
            style += "I" if "italic" in names else ""
            link = next(
                (str(m.attrs.get("href") or "") for m in child.marks if m.type == "link"), ""
            )
            self.font(style, size, mono="code" in names, strike="strike" in names)
            if link:
                self.pdf.set_text_color(29, 78, 216)
            self.pdf.write(height, self.clean(child.text), link=link)
            if link:
                self.pdf.set_text_color(0)


def _cmap(font: CoreFont | TTFFont) -> set[int]:
    return set(font.cmap) if isinstance(font, TTFFont) else set(range(256))


def _latin1(char: str) -> bool:
    return ord(char) < 256


def render_pdf(
    tree: Node, title: str, tags: Sequence[str] = (), *, fonts: PdfFonts | None = None
) -> bytes:
    """The PDF bytes of `tree` under a `title` heading and a line of `tags`.

    Args:
        fonts: TrueType faces to embed (see `find_pdf_fonts`); None uses the core fonts.
    """
    return _Writer(fonts, title).render(tree, title, tags)

"""How wide a LaTeX table will be, before TeX sees it: text widths from Computer Modern's
glyph widths (CJK characters one em), so that a table can wrap its long headers, step down
a font size, or turn landscape on purpose rather than overflow the page.

The page is A4 with 2.5 cm margins unless the caller says otherwise: 16 cm = 455 pt of text
width in portrait, 24.7 cm = 703 pt in landscape. Estimates err on the wide side (a table
measured as fitting does fit; tests/test_tables_compile.py compiles every report table and
fails on any overfull box).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PT_PER_CM = 72.27 / 2.54
#: A4 (21 x 29.7 cm) with 2.5 cm margins
A4_TEXT_WIDTH = (21.0 - 5.0) * PT_PER_CM
A4_TEXT_HEIGHT = (29.7 - 5.0) * PT_PER_CM
#: share of the text width a table may use by our estimate (the rest absorbs estimate error)
SAFETY = 0.97
#: LaTeX's \tabcolsep (each column gets it on both sides)
TABCOLSEP = 6.0

#: a header cell of more lines than this makes the next font size worth trying
MAX_HEADER_LINES = 4
#: LaTeX size commands and the width of text in them relative to the normal size, measured
#: (Computer Modern's smaller optical sizes are wider than a scaled 10 pt; ctex's sizes step
#: from 10.5 pt)
SIZES = {"normalsize": 1.0, "small": 0.92, "footnotesize": 0.86, "scriptsize": 0.78}
_ZH_SIZES = {"normalsize": 1.0, "small": 0.88, "footnotesize": 0.78, "scriptsize": 0.70}

# Computer Modern Roman 10 pt advance widths (pt) of the characters tables use.
_W = {
    **dict.fromkeys("0123456789", 5.0),
    **dict(zip("abcdefghijklmnopqrstuvwxyz", [
        5.0, 5.56, 4.44, 5.56, 4.44, 3.06, 5.0, 5.56, 2.78, 3.06, 5.28, 2.78, 8.33, 5.56,
        5.0, 5.56, 5.28, 3.92, 3.94, 3.89, 5.56, 5.28, 7.22, 5.28, 5.28, 4.44,
    ])),  # fmt: skip
    **dict(zip("ABCDEFGHIJKLMNOPQRSTUVWXYZ", [
        7.5, 7.08, 7.22, 7.64, 6.81, 6.53, 7.85, 7.5, 3.61, 5.14, 7.78, 6.25, 9.17, 7.5,
        7.78, 6.81, 7.78, 7.36, 5.56, 7.22, 7.5, 7.5, 10.28, 7.5, 7.5, 6.11,
    ])),  # fmt: skip
    " ": 3.33, ".": 2.78, ",": 2.78, ":": 2.78, ";": 2.78, "!": 2.78, "?": 4.72, "'": 2.78,
    '"': 5.0, "(": 3.89, ")": 3.89, "[": 2.78, "]": 2.78, "-": 3.33, "–": 5.0, "—": 10.0,
    "+": 7.78, "=": 7.78, "*": 5.0, "/": 5.0, "%": 8.33, "&": 7.78, "#": 8.33, "$": 5.0,
    "_": 5.0, "<": 7.78, ">": 7.78, "|": 2.78, "~": 5.0, "^": 5.0, "@": 7.78, "×": 7.78,
    "−": 7.78, "≤": 7.78, "≥": 7.78, "→": 10.0, "σ": 5.7, "ρ": 5.2, "λ": 5.8, "β": 5.7,
}  # fmt: skip
_SUPERSCRIPT = set("⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
_STARS = re.compile(r"(?<=[\d)\]])\*+")
_MINUS = re.compile(r"(?<![A-Za-z0-9_.)\]])-(?=\d|\.\d)")


def _is_cjk(ch: str) -> bool:
    return ord(ch) >= 0x2E80  # CJK ideographs and full-width punctuation


def _char_width(ch: str) -> float:
    if ch in _W:
        return _W[ch]
    if ch in _SUPERSCRIPT:
        return 3.6
    if _is_cjk(ch):  # one em
        return 10.0
    return 6.0


#: ctex typesets at 10.5 pt (wu hao) in Latin Modern through fontspec; xeCJK puts about a
#: third of an em between a CJK character and a Latin one; "_" is a full glyph there
_ZH_SCALE = 1.054
_ZH_BOUNDARY = 3.3
_ZH_UNDERSCORE = 7.0


def text_width(text: str, lang: str = "en") -> float:
    """Width in pt at the normal size (10 pt; Chinese documents: ctex's 10.5 pt) of a cell as
    LaTeX typesets it (stars as superscripts, a true minus sign before numbers). Measured
    against pdflatex and XeLaTeX + ctex within 2% on the report's cells."""
    s = str(text)
    stars = sum(len(m) for m in _STARS.findall(s))
    s = _STARS.sub("", s)
    minus = len(_MINUS.findall(s))
    width = sum(_char_width(c) for c in s) + 4.3 * stars + (7.78 - 3.33) * minus
    if lang != "zh":
        return width - (5.0 - 3.45) * s.count("_")
    width += (_ZH_UNDERSCORE - 5.0) * s.count("_")
    boundaries = sum(
        1 for a, b in zip(s, s[1:]) if a != " " and b != " " and _is_cjk(a) != _is_cjk(b)
    )
    return (width + _ZH_BOUNDARY * boundaries) * _ZH_SCALE


#: where a header may break: at spaces, after a slash, after a hyphen not followed by a
#: digit (never inside 2008-2019) and between CJK characters
#: ("soft"); also after "_" and "|" inside identifiers ("all": the last resort)
_BREAKS = {
    "soft": re.compile(r"(?<=[ /])|(?<=-)(?!\d)|(?<=[\u2e80-\uffff])"),
    "all": re.compile(r"(?<=[ _/|])|(?<=-)(?!\d)|(?<=[\u2e80-\uffff])"),
}


def _greedy(pieces: list[str], width: float, lang: str) -> list[str]:
    lines: list[str] = []
    line = ""
    for p in pieces:
        if line and text_width((line + p).rstrip(), lang) > width:
            lines.append(line.rstrip())
            line = p.lstrip()
        else:
            line += p
    if line.strip():
        lines.append(line.rstrip())
    return lines or [""]


def wrap(text: str, width: float, breaks: str = "soft", lang: str = "en") -> list[str]:
    """Line breaking of a header into lines no wider than ``width`` pt where the words allow
    (``breaks``: "soft" or "all", see :data:`_BREAKS`), balanced: the same number of lines as
    greedy filling, each as short as that allows."""
    pieces = [p for p in _BREAKS[breaks].split(str(text)) if p]
    lines = _greedy(pieces, width, lang)
    if len(lines) < 2:
        return lines
    lo = max(text_width(p.strip(), lang) for p in pieces)
    hi = width
    for _ in range(24):
        mid = (lo + hi) / 2
        if len(_greedy(pieces, mid, lang)) <= len(lines):
            hi = mid
        else:
            lo = mid
    return _greedy(pieces, hi, lang)


@dataclass
class Fit:
    """The layout chosen for a LaTeX table: font size, orientation, and each header cell's
    lines (``header_lines[row][cell]``)."""

    size: str
    landscape: bool
    header_lines: list[list[list[str]]]
    width: float

    @property
    def lines(self) -> int:
        """The most lines any header cell takes."""
        return max((len(c) for row in self.header_lines for c in row), default=1)


def fit(
    header: list[list[tuple[str, int]]],
    body: list[list[str]],
    ncol: int,
    *,
    text_width_pt: float = A4_TEXT_WIDTH,
    text_height_pt: float = A4_TEXT_HEIGHT,
    size: str | None = None,
    landscape: bool | None = None,
    lang: str = "en",
) -> Fit:
    """The first layout that fits: normal size, \\small, \\footnotesize in portrait (headers
    unwrapped, then wrapped to an even share of the free width; header cells of more than
    :data:`MAX_HEADER_LINES` lines only if nothing else fits), then the same in landscape
    (down to \\scriptsize). ``size`` and ``landscape`` fix those choices instead. Body cells
    never wrap; headers do. When nothing fits, the last (smallest) layout."""
    sizes = [size] if size else ["normalsize", "small", "footnotesize"]
    orientations = [landscape] if landscape is not None else [False, True]
    last: Fit | None = None
    for land in orientations:
        avail = (text_height_pt if land else text_width_pt) * SAFETY
        # a landscape page may go one size further down before nothing fits
        szs = sizes + ["scriptsize"] if land and not size else sizes
        tries = [(sz, mode) for sz in szs for mode in (None, "soft")]
        tries.append((szs[-1], "all"))  # breaking inside identifiers: the last resort
        fits = []
        for sz, mode in tries:
            f = _measure(header, body, ncol, sz, land, avail, mode, lang)
            last = f
            if f.width <= avail:
                fits.append(f)
                if f.lines <= MAX_HEADER_LINES:
                    return f
        if fits:  # fits the width only with taller headers: still better than turning;
            return min(fits, key=lambda f: f.lines)  # the fewest lines, larger font first
    assert last is not None
    return last


def _measure(
    header: list[list[tuple[str, int]]],
    body: list[list[str]],
    ncol: int,
    size: str,
    landscape: bool,
    avail: float,
    breaks: str | None,
    lang: str,
) -> Fit:
    """The table's width at ``size``; with ``breaks`` ("soft"/"all"), headers wrap to the
    wider of their column's body and an even share of the width (``avail`` pt) the body
    leaves free."""
    scale = (_ZH_SIZES if lang == "zh" else SIZES)[size]
    col = [0.0] * ncol
    for row in body:
        for j, c in enumerate(row[:ncol]):
            col[j] = max(col[j], text_width(c, lang) * scale)
    targets = list(col)
    if breaks is not None and ncol > 1:
        share = (avail - col[0] - 2 * TABCOLSEP * ncol) / (ncol - 1)
        floor = text_width("0.000***", lang) * scale
        targets = [col[0]] + [max(w, floor, share) for w in col[1:]]
    lines: list[list[list[str]]] = []
    for row in header:
        rooms = []
        j = 0
        for _text, span in row:
            rooms.append(sum(targets[j : j + span]) + 2 * TABCOLSEP * (span - 1))
            j += span
        cells = [
            wrap(str(text), room / scale, breaks, lang) if breaks else [str(text)]
            for (text, _span), room in zip(row, rooms)
        ]
        if breaks:
            # neighbours wrap alike: single columns of a row that wrapped share the widest
            # wrapped line as their width (two group headers get two lines each, not one)
            wrapped = [
                max(text_width(s, lang) for s in c) * scale
                for c, (_t, span) in zip(cells, row)
                if len(c) > 1 and span == 1
            ]
            if wrapped:
                common = max(wrapped)
                j = 0
                for k, (text, span) in enumerate(row):
                    if span == 1 and j > 0:
                        room = min(rooms[k], max(common, col[j]))
                        cells[k] = wrap(str(text), room / scale, breaks, lang)
                    j += span
        j = 0
        for cell, (_text, span) in zip(cells, row):
            seps = 2 * TABCOLSEP * (span - 1)
            need = max((text_width(s, lang) * scale for s in cell), default=0.0)
            have = sum(col[j : j + span]) + seps
            if need > have:  # TeX widens the spanned columns (the last one; we spread it)
                for k in range(j, j + span):
                    col[k] += (need - have) / span
            j += span
        lines.append(cells)
    width = sum(col) + 2 * TABCOLSEP * ncol
    return Fit(size, landscape, lines, width)

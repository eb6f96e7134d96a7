"""What every pilotdid figure shares: the CJK font choice and the language fallback, a new
constrained-layout Figure, the finishing pass that sets fonts, figsize checks, and the caption
attached to a figure (read by :func:`figure_caption`). Used by figures.py and the figure
modules beside it, so that none of them imports another."""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from typing import Any

from pilotdid._args import check_choice
from pilotdid._core import PilotdidError

#: The languages figures are labelled in.
LANGS = ("en", "zh")

#: Font families known to cover Chinese, in order of preference.
_CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Noto Serif CJK SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
    "Heiti SC",
    "STHeiti",
    "SimSun",
    "AR PL UMing CN",
    "AR PL UKai CN",
)

_CJK_RE = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")


def cjk_font() -> str | None:
    """The name of an installed font family that covers Chinese, or None."""
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    for fam in _CJK_FAMILIES:
        if fam in names:
            return fam
    return None


def _resolve_lang(lang: str, texts: Sequence[str] = ()) -> tuple[str, str | None]:
    """(language actually used, CJK font family or None). Falls back to English (with a
    warning) when Chinese is requested or present in ``texts`` but no CJK font exists."""
    lang = check_choice("lang", lang, LANGS)
    needs = lang == "zh" or any(_CJK_RE.search(str(t)) for t in texts if t is not None)
    if not needs:
        return lang, None
    font = cjk_font()
    if font is None:
        warnings.warn(
            "no CJK font is installed (e.g. Debian's fonts-noto-cjk): Chinese labels fall "
            "back to English",
            UserWarning,
            stacklevel=3,
        )
        return "en", None
    return lang, font


def _clean(text: str | None, font: str | None, fallback: str | None = None) -> str | None:
    """``text`` unless it holds Chinese characters and no CJK font is in use."""
    if text is None or font is not None or not _CJK_RE.search(str(text)):
        return text
    return fallback


def _new_figure(figsize: tuple[float, float], font: str | None, ncols: int = 1) -> Any:
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(1, ncols)
    # read by _finish: every text is set in the CJK font (DejaVu Sans for missing glyphs)
    fig._pilotdid_font = font
    return fig, axes


def _finish(fig: Any) -> Any:
    font = getattr(fig, "_pilotdid_font", None)
    if font is not None:
        for text in fig.findobj(lambda a: hasattr(a, "set_fontfamily")):
            text.set_fontfamily([font, "DejaVu Sans"])
    return fig


def _check_figsize(figsize: Any) -> tuple[float, float]:
    from pilotdid._args import check_float

    if isinstance(figsize, (str, bytes)) or not isinstance(figsize, Sequence) or len(figsize) != 2:
        raise PilotdidError(
            f"option 'figsize': expected (width, height) in inches, got {figsize!r}"
        )
    return (
        check_float("figsize[0]", figsize[0], lo=0.0, lo_open=True, hi=1000.0),
        check_float("figsize[1]", figsize[1], lo=0.0, lo_open=True, hi=1000.0),
    )


def _attach_caption(fig: Any, caption: str) -> Any:
    """Store what the figure draws on it (read by :func:`figure_caption`)."""
    fig.pilotdid_caption = caption
    return fig


def figure_caption(fig: Any) -> str:
    """The caption a pilotdid figure function attached to ``fig``: one paragraph saying what
    is drawn (estimates, interval type and level, markers and lines, replicates, p-values), in
    the figure's language. Empty for a figure pilotdid did not make. A report prints it under
    the image; a LaTeX user pastes it into ``\\caption{...}``."""
    return str(getattr(fig, "pilotdid_caption", ""))


def _pct(level: float) -> str:
    return f"{level * 100:g}"

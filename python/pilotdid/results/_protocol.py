"""The one result protocol (issue 14): every result offers ``coef()``, ``se()``, ``vcov()``,
``pvalue()``, ``confint(level=)``, ``tidy()`` (polars; ``as_pandas=True`` without pyarrow),
``summary()`` (a :class:`Summary` that Jupyter displays once and ``print`` prints once), a short
``__repr__`` and ``_repr_html_``, ``nobs`` and ``dropped_rows``.

A result class subclasses :class:`ResultProtocol` and implements ``_tidy(level)`` (columns
``TIDY_COLUMNS``) and ``_summary_text(level)``; it overrides ``vcov()`` when it has a
covariance matrix. Tables and figures read results only through this protocol. No numbers are
computed here: ``_tidy`` reads what the Rust core computed.
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import polars as pl

from pilotdid._args import check_level
from pilotdid._core import PilotdidError

TIDY_COLUMNS = ("term", "estimate", "std_error", "statistic", "p_value", "conf_low", "conf_high")

#: __repr__ stays under this many characters.
REPR_LIMIT = 500


class Summary(str):
    """A summary table: a ``str`` (so ``in``, ``print`` and ``.splitlines()`` work) that
    Jupyter shows once, as text and as HTML, and that never prints itself."""

    def __new__(cls, text: str, html_text: str | None = None) -> Summary:
        obj = super().__new__(cls, text)
        obj._html = html_text
        return obj

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        if self._html is not None:
            return self._html
        return f"<pre style='font-family: monospace'>{html.escape(str(self))}</pre>"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:  # IPython's text display
        p.text(str(self))


def to_pandas(frame: pl.DataFrame) -> Any:
    """A polars frame as pandas without pyarrow (column by column through numpy)."""
    import pandas as pd

    return pd.DataFrame({c: frame.get_column(c).to_numpy() for c in frame.columns})


class ResultProtocol:
    """Mixin with the protocol's methods, all derived from ``_tidy(level)``."""

    #: One line saying what the result is (used by __repr__); subclasses set it.
    result_name: str = "result"

    # --- to implement -------------------------------------------------------------------
    def _tidy(self, level: float) -> pl.DataFrame:  # pragma: no cover - abstract
        raise NotImplementedError

    def _summary_text(self, level: float) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    # --- the protocol -------------------------------------------------------------------
    def tidy(self, level: float = 0.95, *, as_pandas: bool = False) -> Any:
        """term, estimate, std_error, statistic, p_value, conf_low, conf_high (polars; pandas
        with ``as_pandas=True``)."""
        frame = self._tidy(check_level(level))
        return to_pandas(frame) if as_pandas else frame

    def coef(self) -> dict[str, float]:
        t = self._tidy(0.95)
        return dict(zip(t["term"].to_list(), t["estimate"].to_list()))

    def se(self) -> dict[str, float]:
        t = self._tidy(0.95)
        return dict(zip(t["term"].to_list(), t["std_error"].to_list()))

    def pvalue(self) -> dict[str, float]:
        t = self._tidy(0.95)
        return dict(zip(t["term"].to_list(), t["p_value"].to_list()))

    def confint(self, level: float = 0.95) -> pl.DataFrame:
        t = self._tidy(check_level(level))
        return t.select("term", "conf_low", "conf_high")

    def vcov(self) -> np.ndarray:
        raise PilotdidError(
            f"vcov(): {type(self).__name__} has standard errors but no covariance matrix of "
            "its terms; use se() or tidy()"
        )

    def summary(self, level: float = 0.95) -> Summary:
        """The summary table: displayed once in Jupyter, printed once by ``print``."""
        return Summary(self._summary_text(check_level(level)))

    def __repr__(self) -> str:
        parts = [type(self).__name__ + ":", self.result_name]
        n = getattr(self, "nobs", None)
        if isinstance(n, (int, np.integer)):
            parts.append(f"N = {int(n)}")
        try:
            t = self._tidy(0.95)
            parts.append(f"{t.height} terms")
        except Exception:  # noqa: BLE001 - repr must never raise
            pass
        text = " ".join(parts) + "; .summary() for the table, .tidy() for the numbers"
        return f"<{text[: REPR_LIMIT - 2]}>"

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()

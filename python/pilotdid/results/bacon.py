"""`BaconResult`: the 2×2 comparisons of a Goodman-Bacon decomposition (the package's result
protocol)."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from pilotdid.results._protocol import ResultProtocol

_MARKERS = {
    "Earlier vs Later Treated": "^",
    "Later vs Always Treated": "s",
    "Later vs Earlier Treated": "v",
    "Treated vs Untreated": "o",
}


class BaconResult(ResultProtocol):
    """Goodman-Bacon decomposition of the TWFE coefficient.

    ``tidy()`` has one row per 2×2 comparison: term ``"<type>: <treated> vs <control>"``, the
    2×2 estimate (a decomposition has no standard errors: std_error, statistic, p_value and the
    interval are NaN), then type, treated cohort, control cohort (null = never treated),
    weight, unit counts and window. ``summary()`` shows the weights and weighted-average
    estimates by type, as R ``bacondecomp`` prints (``summary_table()`` as a frame); ``twfe``
    is the coefficient they add up to: ``sum(weight * estimate) == twfe``.
    """

    def __init__(self, out: Any, y: str, treatment: str, unit: str, time: str):
        self._out = out
        self.y, self.treatment, self.unit, self.time = y, treatment, unit, time
        # the names before the one vocabulary, kept for existing code
        self.yname, self.treat, self.idname, self.tname = y, treatment, unit, time
        self.twfe: float = float(out.twfe)
        self.variance_d: float = float(out.variance_d)
        self.n_units: int = int(out.n_units)
        self.n_periods: int = int(out.n_periods)
        self.nobs: int = self.n_units * self.n_periods
        self.n_never_treated: int = int(out.n_never_treated)
        self.n_always_treated: int = int(out.n_always_treated)
        self.cohorts: dict[int, int] = {int(g): int(n) for g, n in out.cohorts}
        self.dropped_rows: dict[str, int] = {}

    @property
    def estimates(self) -> np.ndarray:
        return np.asarray(self._out.estimate)

    @property
    def weights(self) -> np.ndarray:
        return np.asarray(self._out.weight)

    @property
    def result_name(self) -> str:  # type: ignore[override]
        return f"Goodman-Bacon decomposition, TWFE = {self.twfe:.6g}"

    def comparisons(self) -> pl.DataFrame:
        """One row per 2×2 comparison: type, treated and control cohort (null = never
        treated), estimate, weight, unit counts and the window (bacondecomp's table)."""
        o = self._out
        return pl.DataFrame(
            {
                "type": o.kind,
                "treated": pl.Series(o.treated, dtype=pl.Int64),
                "control": pl.Series(o.control, dtype=pl.Int64),
                "estimate": np.asarray(o.estimate, dtype=float),
                "weight": np.asarray(o.weight),
                "n_treated_units": pl.Series(o.n_treated_units, dtype=pl.Int64),
                "n_control_units": pl.Series(o.n_control_units, dtype=pl.Int64),
                "window_start": pl.Series(o.window_start, dtype=pl.Int64),
                "window_end": pl.Series(o.window_end, dtype=pl.Int64),
            }
        )

    def _tidy(self, level: float) -> pl.DataFrame:
        # A decomposition has no sampling uncertainty of its own: inference columns are NaN.
        table = self.comparisons()
        nan = np.full(table.height, np.nan)
        terms = [
            f"{k}: {g} vs {'never treated' if c is None else c}"
            for k, g, c in zip(table["type"], table["treated"], table["control"])
        ]
        protocol = pl.DataFrame(
            {
                "term": terms,
                "estimate": table["estimate"],
                "std_error": nan,
                "statistic": nan,
                "p_value": nan,
                "conf_low": nan,
                "conf_high": nan,
            }
        )
        return pl.concat([protocol, table.drop("estimate")], how="horizontal")

    def summary_table(self) -> pl.DataFrame:
        """Weight and weighted-average 2×2 estimate by comparison type."""
        o = self._out
        return pl.DataFrame(
            {
                "type": o.summary_kind,
                "weight": pl.Series(o.summary_weight, dtype=pl.Float64),
                "avg_est": pl.Series(o.summary_avg_estimate, dtype=pl.Float64),
                "n_comparisons": pl.Series(o.summary_n, dtype=pl.Int64),
            }
        )

    def _summary_text(self, level: float) -> str:
        digits = 5
        tab = self.summary_table()
        width = max(len(t) for t in tab["type"])
        lines = [
            f"Goodman-Bacon decomposition of {self.y} ~ {self.treatment} | "
            f"{self.unit} + {self.time}",
            f"{self.n_units} units x {self.n_periods} periods; "
            f"{self.n_never_treated} never treated, {self.n_always_treated} always treated",
            "",
            f"{'type':>{width}}  {'weight':>9}  {'avg_est':>9}",
        ]
        for row in tab.iter_rows(named=True):
            lines.append(
                f"{row['type']:>{width}}  {row['weight']:>9.{digits}f}  "
                f"{row['avg_est']:>9.{digits}f}"
            )
        lines += ["", f"TWFE coefficient (= weighted sum of 2x2 estimates): {self.twfe:.{digits}f}"]
        return "\n".join(lines)

    def plot(self, ax=None, title: str | None = None):
        """Scatter of 2×2 estimates against their weights, one marker per comparison type,
        with a horizontal line at the TWFE coefficient. Returns the matplotlib Axes."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4.5))
        o = self._out
        types = np.asarray(o.kind)
        w, e = np.asarray(o.weight), np.asarray(o.estimate)
        for kind in dict.fromkeys(o.summary_kind):
            m = types == kind
            ax.scatter(w[m], e[m], marker=_MARKERS.get(kind, "o"), label=kind, alpha=0.8)
        ax.axhline(self.twfe, color="black", lw=1.0, ls="--", label=f"TWFE = {self.twfe:.4f}")
        ax.axhline(0.0, color="grey", lw=0.6)
        ax.set_xlabel("Weight")
        ax.set_ylabel("2x2 DD estimate")
        ax.set_title(title or "Goodman-Bacon decomposition")
        ax.legend(fontsize="small")
        return ax

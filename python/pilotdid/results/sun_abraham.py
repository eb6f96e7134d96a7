"""`SunAbrahamResult`: cohort-specific and interaction-weighted event-time effects."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from pilotdid.results.event_study import EventStudyResult


class SunAbrahamResult:
    """Sun & Abraham (2021) interaction-weighted event study.

    Event-time effects (``tidy()``, ``coef()``, ``se()``, ``vcov()``) are cohort-share-weighted
    averages of the cohort × relative-period effects (``cohort_tidy()``, ``cohort_vcov()``);
    ``weights()`` gives the aggregation weights; ``att``/``att_se`` the average over all
    post-treatment cells (``fixest::aggregate(agg = "ATT")``). ``to_event_study()`` returns the
    shared ``EventStudyResult`` (estimator ``"sa"``).
    """

    def __init__(
        self,
        out: dict[str, Any],
        refs: Sequence[int],
        level: float,
        vcov_label: str,
        control: str,
    ):
        self._out = out
        self.reference = list(refs)
        self.level = level
        self.vcov_type = vcov_label
        self.control = control
        self.control_cohort: int | None = out["control_cohort"]
        self.event_time: np.ndarray = np.asarray(out["event_time"], dtype=np.int64)
        self.att: float = float(out["att"])
        self.att_se: float = float(out["att_se"])
        self.nobs: int = int(out["nobs"])
        self.df_t: int = int(out["df_t"])
        self.n_clusters: list[int] = list(out["n_clusters"])
        self.collinear: list[str] = list(out["collinear"])
        self.dropped_rows: dict[str, int] = {
            "missing": int(out["n_missing"]),
            "always_treated": int(out["n_always_treated_rows"]),
            "control_cohort_treated": int(out["n_after_control_treated_rows"]),
        }

    # event-time effects ------------------------------------------------------------------
    def coef(self) -> dict[int, float]:
        return dict(zip(self.event_time.tolist(), self._out["event"]["estimate"].tolist()))

    def se(self) -> dict[int, float]:
        return dict(zip(self.event_time.tolist(), self._out["event"]["std_error"].tolist()))

    def vcov(self) -> np.ndarray:
        """Covariance of the event-time effects, ordered as ``event_time``."""
        return np.array(self._out["event_vcov"], copy=True)

    def tidy(self) -> pl.DataFrame:
        """One row per event time: term, event_time, estimate, std_error, statistic, p_value,
        conf_low, conf_high."""
        ev = self._out["event"]
        return pl.DataFrame(
            {
                "term": [f"rel::{e}" for e in self.event_time.tolist()],
                "event_time": self.event_time,
                **{k: np.asarray(ev[k]) for k in _COLS},
            }
        )

    def confint(self) -> pl.DataFrame:
        """Pointwise intervals at the fit's ``level`` (Student t, the regression's df)."""
        ev = self._out["event"]
        return pl.DataFrame(
            {"term": self.tidy()["term"], "conf_low": ev["conf_low"], "conf_high": ev["conf_high"]}
        )

    # cohort x relative period -------------------------------------------------------------
    def cohort_tidy(self) -> pl.DataFrame:
        """The regression's cohort × relative-period coefficients CATT(g, e)."""
        o = self._out
        return pl.DataFrame(
            {
                "term": [f"rel::{e}:cohort::{g}" for g, e in zip(o["cell_cohort"], o["cell_rel"])],
                "cohort": pl.Series(o["cell_cohort"], dtype=pl.Int64),
                "rel_period": pl.Series(o["cell_rel"], dtype=pl.Int64),
                "n_obs": np.asarray(o["cell_count"]),
                **{k: np.asarray(o["cells"][k]) for k in _COLS},
            }
        )

    def cohort_vcov(self) -> np.ndarray:
        """Covariance of the cohort × relative-period coefficients (``cohort_tidy`` order)."""
        return np.array(self._out["cell_vcov"], copy=True)

    def weights(self) -> pl.DataFrame:
        """Aggregation weights: (event_time, cohort, weight), weights summing to one per e."""
        o = self._out
        w = np.asarray(o["weights"])
        rows = [
            (int(e), int(g), float(w[r, c]))
            for r, e in enumerate(self.event_time.tolist())
            for c, g in enumerate(o["cell_cohort"])
            if o["cell_rel"][c] == e
        ]
        return pl.DataFrame(rows, schema=["event_time", "cohort", "weight"], orient="row")

    def weight_matrix(self) -> np.ndarray:
        """W with event-time effects = W @ cohort coefficients."""
        return np.array(self._out["weights"], copy=True)

    def controls_tidy(self) -> pl.DataFrame:
        o = self._out
        return pl.DataFrame(
            {
                "term": o["control_names"],
                "estimate": pl.Series(o["control_beta"], dtype=pl.Float64),
                "std_error": pl.Series(o["control_se"], dtype=pl.Float64),
            }
        )

    # shared result -----------------------------------------------------------------------
    def to_event_study(self) -> EventStudyResult:
        ev = self._out["event"]
        return EventStudyResult(
            estimator="sa",
            event_time=self.event_time.copy(),
            estimate=np.array(ev["estimate"], copy=True),
            std_error=np.array(ev["std_error"], copy=True),
            conf_low=np.array(ev["conf_low"], copy=True),
            conf_high=np.array(ev["conf_high"], copy=True),
            level=self.level,
            vcov=self.vcov(),
            reference=tuple(self.reference),
            nobs=self.nobs,
            extra={
                "att": self.att,
                "att_se": self.att_se,
                "control": self.control,
                "vcov_type": self.vcov_type,
                "dropped_rows": dict(self.dropped_rows),
                "n_outside_window": self.dropped_rows.get("outside_window", 0),
                # Student-t degrees of freedom of the intervals (tables use them for p-values)
                "df_t": self.df_t,
            },
        )

    def plot(self, ax=None, **kwargs):
        return self.to_event_study().plot(ax=ax, **kwargs)

    def summary(self, digits: int = 4) -> pl.DataFrame:
        """Print the event-time table and the overall ATT; return ``tidy()``."""
        tab = self.tidy()
        ctl = "never treated" if self.control == "never" else f"cohort {self.control_cohort}"
        lines = [
            "Sun & Abraham (2021) interaction-weighted event study",
            f"control: {ctl}; reference period(s): {self.reference}; vcov: {self.vcov_type}; "
            f"N = {self.nobs}",
            "",
            f"{'e':>5} {'estimate':>11} {'std.error':>11} {'t':>8} {'p':>8}",
        ]
        for r in tab.iter_rows(named=True):
            lines.append(
                f"{r['event_time']:>5} {r['estimate']:>11.{digits}f} {r['std_error']:>11.{digits}f}"
                f" {r['statistic']:>8.3f} {r['p_value']:>8.4f}"
            )
        lines += [
            "",
            f"ATT (post-treatment cells): {self.att:.{digits}f} ({self.att_se:.{digits}f})",
        ]
        print("\n".join(lines))
        return tab

    def __repr__(self) -> str:
        return (
            f"SunAbrahamResult({len(self.event_time)} event times, "
            f"{len(self._out['cell_rel'])} cohort x period cells, N = {self.nobs})"
        )


_COLS = ("estimate", "std_error", "statistic", "p_value", "conf_low", "conf_high")

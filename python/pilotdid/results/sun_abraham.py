"""`SunAbrahamResult`: cohort-specific and interaction-weighted event-time effects (the
package's result protocol)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from pilotdid._args import check_choice, check_float, check_level, check_reps, check_seed
from pilotdid.results._inference import coef_table as inference_columns
from pilotdid.results._protocol import ResultProtocol
from pilotdid.results.event_study import EventStudyResult, event_term, event_weights
from pilotdid.results.feols import WILD_BOOT_BYTES_PER_REP, WildBootResult


class SunAbrahamResult(ResultProtocol):
    """Sun & Abraham (2021) interaction-weighted event study.

    Event-time effects (``tidy()``, ``coef()``, ``se()``, ``vcov()``) are cohort-share-weighted
    averages of the cohort × relative-period effects (``cohort_tidy()``, ``cohort_vcov()``);
    ``weights()`` gives the aggregation weights; ``att``/``att_se`` the average over all
    post-treatment cells (``fixest::aggregate(agg = "ATT")``). ``to_event_study()`` returns the
    shared ``EventStudyResult`` (estimator ``"sa"``). Terms are ``rel::e``; statistics and
    p-values are the regression's (Student t with ``df_t`` df); intervals at another level
    than the fit's are Student t with the same df.
    """

    def __init__(
        self,
        out: Any,
        refs: Sequence[int],
        level: float,
        vcov_label: str,
        control: str,
        cohort_derived: int = 0,
    ):
        self._out = out
        self.reference = list(refs)
        self.level = level
        self.vcov_type = vcov_label
        self.control = control
        self.control_group = control
        #: units whose cohort was derived from a 0/1 ``treatment`` column (0: cohort given)
        self.cohort_derived = int(cohort_derived)
        self.control_cohort: int | None = out.control_cohort
        self.event_time: np.ndarray = np.asarray(out.event_time, dtype=np.int64)
        self.att: float = float(out.att)
        self.att_se: float = float(out.att_se)
        self.nobs: int = int(out.nobs)
        self.df_t: int = int(out.df_t)
        self.n_clusters: list[int] = list(out.n_clusters)
        self.collinear: list[str] = list(out.collinear)
        self.dropped_rows: dict[str, int] = {
            "missing": int(out.n_missing),
            "always_treated": int(out.n_always_treated_rows),
            "control_cohort_treated": int(out.n_after_control_treated_rows),
        }

    @property
    def result_name(self) -> str:  # type: ignore[override]
        return f"Sun & Abraham event study, {len(self.event_time)} event times"

    # event-time effects ------------------------------------------------------------------
    def vcov(self) -> np.ndarray:
        """Covariance of the event-time effects, ordered as ``event_time``."""
        return np.array(self._out.event_vcov, copy=True)

    def _tidy(self, level: float) -> pl.DataFrame:
        """One row per event time: the protocol's columns, then event_time."""
        ev = self._out.event
        cols = {k: np.asarray(getattr(ev, k)) for k in _COLS}
        if abs(level - self.level) >= 1e-12:
            _, _, cols["conf_low"], cols["conf_high"] = inference_columns(
                cols["estimate"], cols["std_error"], level, self.df_t
            )
        return pl.DataFrame(
            {
                "term": [event_term(e) for e in self.event_time.tolist()],
                **cols,
                "event_time": self.event_time,
            }
        )

    # cohort x relative period -------------------------------------------------------------
    def cohort_tidy(self) -> pl.DataFrame:
        """The regression's cohort × relative-period coefficients CATT(g, e)."""
        o = self._out
        return pl.DataFrame(
            {
                "term": [f"rel::{e}:cohort::{g}" for g, e in zip(o.cell_cohort, o.cell_rel)],
                "cohort": pl.Series(o.cell_cohort, dtype=pl.Int64),
                "rel_period": pl.Series(o.cell_rel, dtype=pl.Int64),
                "n_obs": np.asarray(o.cell_count),
                **{k: np.asarray(getattr(o.cells, k)) for k in _COLS},
            }
        )

    def cohort_vcov(self) -> np.ndarray:
        """Covariance of the cohort × relative-period coefficients (``cohort_tidy`` order)."""
        return np.array(self._out.cell_vcov, copy=True)

    def weights(self) -> pl.DataFrame:
        """Aggregation weights: (event_time, cohort, weight), weights summing to one per e."""
        o = self._out
        w = np.asarray(o.weights)
        # (the core's getters copy: read each list once, not once per cell)
        cohorts, rels = o.cell_cohort, o.cell_rel
        rows = [
            (int(e), int(g), float(w[r, c]))
            for r, e in enumerate(self.event_time.tolist())
            for c, g in enumerate(cohorts)
            if rels[c] == e
        ]
        return pl.DataFrame(rows, schema=["event_time", "cohort", "weight"], orient="row")

    def weight_matrix(self) -> np.ndarray:
        """W with event-time effects = W @ cohort coefficients."""
        return np.array(self._out.weights, copy=True)

    def controls_tidy(self) -> pl.DataFrame:
        o = self._out
        return pl.DataFrame(
            {
                "term": o.control_names,
                "estimate": pl.Series(o.control_beta, dtype=pl.Float64),
                "std_error": pl.Series(o.control_se, dtype=pl.Float64),
            }
        )

    # few-cluster inference -----------------------------------------------------------------
    def wild_bootstrap(
        self,
        param: Any = "average post",
        *,
        reps: int = 9999,
        seed: int = 0,
        weight_type: str = "rademacher",
        r: float = 0.0,
        level: float = 0.95,
    ) -> WildBootResult:
        """Restricted wild cluster bootstrap (WCR; Roodman et al. 2019) of
        sum_e a_e beta_e = ``r``, clustered by the fit's first cluster variable.

        The event-time effects are fixed linear combinations of the interacted regression's
        cohort x period coefficients (the weights held fixed, as in the analytic covariance),
        so this is the WCR of that regression for the implied restriction: the same test
        ``wildboottest`` runs on the saturated regression. ``param``: an event time (``2``,
        ``"e=2"``, ``"rel::2"``), ``"average post"`` (the mean of the e >= 0 effects),
        ``"att"`` (the overall ATT), a dict ``{e: weight}`` or one weight per event time.
        ``weight_type``: "rademacher" or "webb" (better with fewer than ~12 clusters). The
        p-value is the share of |t*| at least |t|; the interval inverts the test."""
        a, label = event_weights(param, self.event_time)
        reps = check_reps("reps", reps, bytes_per_rep=WILD_BOOT_BYTES_PER_REP)
        seed = check_seed(seed)
        weight_type = check_choice(
            "weight_type",
            weight_type.lower() if isinstance(weight_type, str) else weight_type,
            ("rademacher", "webb"),
        )
        r = check_float("r", r)
        level = check_level(level)
        out = self._out.wild_bootstrap(
            None if a is None else [float(v) for v in a],
            r,
            reps=reps,
            weights=weight_type,
            seed=seed,
            level=level,
        )
        return WildBootResult.from_core(
            out, hypothesis=f"{label} = {r:g}", level=level, weight_type=weight_type, seed=seed
        )

    def wild_bootstrap_band(
        self,
        *,
        reps: int = 999,
        seed: int = 0,
        weight_type: str = "rademacher",
        level: float = 0.95,
    ) -> pl.DataFrame:
        """Uniform (sup-t) band across event times from this wild cluster bootstrap; see
        ``EventStudyResult.wild_bootstrap_band``."""
        return self.to_event_study().wild_bootstrap_band(
            reps=reps, seed=seed, weight_type=weight_type, level=level
        )

    # shared result -----------------------------------------------------------------------
    def to_event_study(self) -> EventStudyResult:
        ev = self._out.event
        return EventStudyResult(
            estimator="sa",
            event_time=self.event_time.copy(),
            estimate=np.array(ev.estimate, copy=True),
            std_error=np.array(ev.std_error, copy=True),
            conf_low=np.array(ev.conf_low, copy=True),
            conf_high=np.array(ev.conf_high, copy=True),
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
                # few-cluster inference: EventStudyResult.wild_bootstrap delegates here
                "_wild_bootstrap": self.wild_bootstrap,
            },
            dropped_rows=dict(self.dropped_rows),
            cohort_derived=self.cohort_derived,
        )

    def plot(self, ax=None, **kwargs):
        return self.to_event_study().plot(ax=ax, **kwargs)

    def _summary_text(self, level: float) -> str:
        tab = self._tidy(level)
        ctl = "never treated" if self.control == "never" else f"cohort {self.control_cohort}"
        pct = f"{level * 100:g}"
        lines = [
            "Sun & Abraham (2021) interaction-weighted event study",
            f"control: {ctl}; reference period(s): {self.reference}; vcov: {self.vcov_type}; "
            f"N = {self.nobs}",
            "",
            f"{'e':>5} {'estimate':>11} {'std.error':>11} {'t':>8} {'p':>8}"
            f" {'[' + pct + '% conf.':>12} {'int.]':>10}",
        ]
        for r in tab.iter_rows(named=True):
            lines.append(
                f"{r['event_time']:>5} {r['estimate']:>11.4f} {r['std_error']:>11.4f}"
                f" {r['statistic']:>8.3f} {r['p_value']:>8.4f}"
                f" {r['conf_low']:>12.4f} {r['conf_high']:>10.4f}"
            )
        dropped = {k: v for k, v in self.dropped_rows.items() if v}
        lines += [
            "",
            f"ATT (post-treatment cells): {self.att:.4f} ({self.att_se:.4f})",
            "dropped rows: "
            + (", ".join(f"{k} {v}" for k, v in dropped.items()) if dropped else "none"),
        ]
        if self.cohort_derived:
            lines.append(f"cohort derived from the 0/1 treatment for {self.cohort_derived} units")
        return "\n".join(lines)


_COLS = ("estimate", "std_error", "statistic", "p_value", "conf_low", "conf_high")

"""Result of the de Chaisemartin–D'Haultfœuille DID_l estimator (``pilotdid.dcdh``): effects
and placebos as event-time rows, the average total effect and the joint tests. It follows the
result protocol; ``plot()`` draws the shared event-study figure."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from pilotdid.results._inference import coef_table as inference_columns
from pilotdid.results._inference import normal_critical
from pilotdid.results._protocol import ResultProtocol
from pilotdid.results.event_study import EventStudyResult, event_term


class DcdhResult(ResultProtocol):
    """DID_l effects (event times 1..L) and placebos (event times -1..-P); event time 0 is the
    last period before each unit's first switch, the reference of every comparison.

    ``effects`` / ``placebos``: polars frames (horizon, estimate, std_error, n_switchers,
    n_obs, delta); ``average_total_effect``: the reference's "Av_tot_eff" (estimate,
    std_error, conf_low, conf_high, n_obs, n_switchers); ``joint_tests``: Wald chi2 tests
    that all effects / all placebos are zero. ``nobs`` counts units (groups) in the estimation
    sample; ``n_switchers``, ``n_never_switchers`` and ``dropped_rows`` describe the sample.
    With ``bstrap=True`` the SEs (and normal intervals) are the cluster bootstrap's and
    ``bootstrap`` holds the draws (``effects``, ``placebos``: draws x horizons, NaN where a draw
    did not reach the horizon; ``ate``; ``n_failed`` draws without an estimable effect); the
    joint tests keep the analytic covariance, as the reference. Without it ``bootstrap`` is None.
    """

    result_name = "de Chaisemartin-D'Haultfoeuille DID_l (did_multiplegt_dyn)"

    def __init__(
        self,
        core: Any,
        params: dict[str, Any],
        *,
        dropped_rows: dict[str, int],
        bootstrap: Any = None,
    ):
        self._core = core
        self.params = params
        self.level = params["level"]
        self.dropped_rows = dict(dropped_rows)
        self.nobs = int(core.n_groups)
        self.n_switchers = int(core.n_switchers)
        self.n_never_switchers = int(core.n_never_switchers)
        self.n_clusters = int(core.n_clusters)
        self.notes = list(core.notes)
        self._eff = core.effects
        self._pl = core.placebos
        # bootstrap: the draws joined from an executor's chunks, else the core's own
        self.bootstrap = core.boot if bootstrap is None else bootstrap
        # the reported SEs: the bootstrap's with bstrap=True, else the influence function's
        if self.bootstrap is None:
            self._eff_se = np.asarray(self._eff.se, dtype=float)
            self._pl_se = np.asarray(self._pl.se, dtype=float)
        else:
            self._eff_se = np.asarray(self.bootstrap.effects_se, dtype=float)
            self._pl_se = np.asarray(self.bootstrap.placebos_se, dtype=float)

    # --- pieces --------------------------------------------------------------------------
    @staticmethod
    def _frame(h: Any, se: np.ndarray, sign: int) -> pl.DataFrame:
        k = len(h.estimate)
        return pl.DataFrame(
            {
                "horizon": np.arange(1, k + 1, dtype=np.int64) * sign,
                "estimate": np.asarray(h.estimate, dtype=float),
                "std_error": se,
                "n_switchers": np.asarray(h.n_switchers, dtype=np.int64),
                "n_obs": np.asarray(h.n_obs, dtype=np.int64),
                "delta": np.asarray(h.delta, dtype=float),
            }
        )

    @property
    def effects(self) -> pl.DataFrame:
        return self._frame(self._eff, self._eff_se, 1)

    @property
    def placebos(self) -> pl.DataFrame:
        return self._frame(self._pl, self._pl_se, -1)

    @property
    def average_total_effect(self) -> dict[str, float] | None:
        """Average total effect per unit of treatment (the reference's "Av_tot_eff"), at the
        fit's level; None when the treatment changes average zero."""
        a = self._core.ate
        if a is None:
            return None
        est, se, n_obs, n_sw = a
        if self.bootstrap is not None:
            se = self.bootstrap.ate_se
        c = normal_critical(self.level)
        return {
            "estimate": float(est),
            "std_error": float(se),
            "conf_low": float(est - c * se),
            "conf_high": float(est + c * se),
            "n_obs": int(n_obs),
            "n_switchers": int(n_sw),
        }

    @property
    def joint_tests(self) -> dict[str, dict[str, float] | None]:
        """Wald tests that all effects (``"effects"``) / all placebos (``"placebos"``) are zero
        and that all effects are equal (``"equal_effects"``, the reference's ``effects_equal``):
        chi2, df, p_value; None with fewer than two of them (as the reference)."""

        def one(t: Any) -> dict[str, float] | None:
            return None if t is None else {"chi2": t[0], "df": int(t[1]), "p_value": t[2]}

        return {
            "effects": one(self._core.joint_effects),
            "placebos": one(self._core.joint_placebos),
            "equal_effects": one(self._core.equal_effects),
        }

    @property
    def max_window(self) -> tuple[int, int]:
        """The widest ``window`` the data allow: (-placebos, effects)."""
        return (
            -int(min(self._core.max_placebo, self._core.max_effects)),
            int(self._core.max_effects),
        )

    def influence(self) -> dict[str, np.ndarray]:
        """Influence functions per unit (units × horizons) of the effects and placebos."""
        return {"effects": self._eff.influence, "placebos": self._pl.influence}

    # --- the protocol --------------------------------------------------------------------
    def _rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pl_est = np.asarray(self._pl.estimate, dtype=float)[::-1]
        pl_se = self._pl_se[::-1]
        e = np.concatenate(
            [-np.arange(len(pl_est), 0, -1), np.arange(1, len(self._eff.estimate) + 1)]
        )
        est = np.concatenate([pl_est, np.asarray(self._eff.estimate, dtype=float)])
        se = np.concatenate([pl_se, self._eff_se])
        return e.astype(np.int64), est, se

    def _tidy(self, level: float) -> pl.DataFrame:
        e, est, se = self._rows()
        stat, p, lo, hi = inference_columns(est, se, level, None)
        return pl.DataFrame(
            {
                "term": [event_term(int(x)) for x in e],
                "estimate": est,
                "std_error": se,
                "statistic": stat,
                "p_value": p,
                "conf_low": lo,
                "conf_high": hi,
            }
        )

    def vcov(self) -> np.ndarray:
        """Covariance of the ``tidy()`` rows from the influence functions (placebos and effects
        are estimated on the same units, so they covary); NaN if a horizon had no switcher.
        With ``bstrap=True``: the covariance of the bootstrap draws (each pair over the draws
        that have both, so the diagonal is the squared bootstrap SE)."""
        e, _, _ = self._rows()
        k = len(e)
        if self.bootstrap is not None:
            draws = np.concatenate(
                [self.bootstrap.placebos[:, ::-1], self.bootstrap.effects], axis=1
            )
            return _pairwise_cov(draws)
        pe, ee = self._pl.influence, self._eff.influence
        if pe.shape[1] != len(self._pl.estimate) or ee.shape[1] != len(self._eff.estimate):
            return np.full((k, k), np.nan)
        psi = np.concatenate([pe[:, ::-1], ee], axis=1)
        return _cluster_cov(psi, self._core.group_clusters, float(self.nobs))

    def to_event_study(self) -> EventStudyResult:
        """Effects and placebos as the shared ``EventStudyResult`` (estimator "dcdh") in the
        convention of every other event study here: event time 0 = the first period of the
        switch (the reference's effect l is at l - 1), reference period -1 (= F_g - 1), so the
        reference's placebo l is at -l - 1. For plots and tables next to other estimators."""
        e, est, se = self._rows()
        e = e - 1
        c = normal_critical(self.level)
        return EventStudyResult(
            estimator="dcdh",
            event_time=e,
            estimate=est,
            std_error=se,
            conf_low=est - c * se,
            conf_high=est + c * se,
            level=self.level,
            vcov=self.vcov(),
            reference=[-1],
            nobs=self.nobs,
            extra={"average_total_effect": self.average_total_effect, "notes": self.notes},
            dropped_rows=self.dropped_rows,
        )

    def plot(self, ax=None, **kwargs):
        """The event-study figure (effects, placebos, intervals; 0 = first period of the
        switch, reference -1, as every event study here: see ``to_event_study``)."""
        return self.to_event_study().plot(ax=ax, **kwargs)

    def _se_text(self) -> str:
        b = self.bootstrap
        if b is None:
            return "standard errors: analytic (influence function)"
        failed = f", {b.n_failed} without an estimable effect left out" if b.n_failed else ""
        return (
            f"standard errors: cluster bootstrap, {b.reps} draws of {b.n_clusters} clusters "
            f"(seed {self.params['seed']}{failed}); joint tests: analytic covariance"
        )

    def _summary_text(self, level: float) -> str:
        t = self._tidy(level)
        pct = f"{level * 100:g}"
        lines = [
            "de Chaisemartin & D'Haultfoeuille (2024) DID_l  [did_multiplegt_dyn]",
            f"outcome: {self.params['y']}   treatment: {self.params['treatment']}   "
            f"switchers: {self.params['switchers'] or 'in and out'}"
            + ("   (normalized)" if self.params["normalized"] else "")
            + (
                f"   controls: {', '.join(self.params['controls'])}"
                if self.params["controls"]
                else ""
            ),
            f"units: {self.nobs}   switchers: {self.n_switchers}   never-switchers: "
            f"{self.n_never_switchers}   clusters: {self.n_clusters}",
            self._se_text(),
            "",
            f"{'event time':>10} {'estimate':>11} {'std.err':>10} {'p':>7}   [{pct}% conf. int.]"
            f" {'switchers':>9}",
        ]
        n_sw = np.concatenate(
            [np.asarray(self._pl.n_switchers)[::-1], np.asarray(self._eff.n_switchers)]
        )
        for i, row in enumerate(t.iter_rows(named=True)):
            lines.append(
                f"{row['term'][5:]:>10} {row['estimate']:11.4f} {row['std_error']:10.4f} "
                f"{row['p_value']:7.3f}   [{row['conf_low']:.4f}, {row['conf_high']:.4f}] "
                f"{int(n_sw[i]):>9}"
            )
        a = self.average_total_effect
        if a is not None:
            c = normal_critical(level)
            lines.append(
                f"\naverage total effect per unit of treatment: {a['estimate']:.4f} "
                f"(se {a['std_error']:.4f}; {pct}% [{a['estimate'] - c * a['std_error']:.4f}, "
                f"{a['estimate'] + c * a['std_error']:.4f}])"
            )
        what = {
            "effects": "all effects are 0",
            "placebos": "all placebos are 0",
            "equal_effects": "all effects are equal",
        }
        for name, test in self.joint_tests.items():
            if test is not None and not np.isfinite(test["chi2"]):
                lines.append(
                    f"joint test that {what[name]}: not computed, the covariance of the "
                    "estimates is singular (e.g. more estimates than clusters)"
                )
            elif test is not None:
                lines.append(
                    f"joint test that {what[name]}: chi2({test['df']}) = {test['chi2']:.3f}, "
                    f"p = {test['p_value']:.4f}"
                )
        dropped = {k: v for k, v in self.dropped_rows.items() if v}
        if dropped:
            lines.append("dropped rows: " + ", ".join(f"{k} {v}" for k, v in dropped.items()))
        return "\n".join(lines)


def _cluster_cov(psi: np.ndarray, clusters: Any, g: float) -> np.ndarray:
    """S'S / G^2 with S the influence functions summed within clusters (each unit its own
    cluster without one, or when all units share one), as the core's per-block covariances."""
    s = psi
    if clusters is not None:
        _, inv = np.unique(np.asarray(clusters), return_inverse=True)
        sums = np.zeros((int(inv.max()) + 1, psi.shape[1]))
        np.add.at(sums, inv, psi)
        if sums.shape[0] > 1:
            s = sums
    return s.T @ s / g**2


def _pairwise_cov(draws: np.ndarray) -> np.ndarray:
    """Covariance (n - 1) of the columns, each pair over the rows where both are finite; NaN
    with fewer than two such rows."""
    k = draws.shape[1]
    out = np.full((k, k), np.nan)
    ok = np.isfinite(draws)
    for a in range(k):
        for b in range(a, k):
            m = ok[:, a] & ok[:, b]
            if m.sum() >= 2:
                x, y = draws[m, a], draws[m, b]
                out[a, b] = out[b, a] = float(
                    ((x - x.mean()) * (y - y.mean())).sum() / (m.sum() - 1)
                )
    return out

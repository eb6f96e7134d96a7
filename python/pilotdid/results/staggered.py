"""Results of Callaway & Sant'Anna estimation: ``AttGtResult`` (group-time ATTs) and
``AggteResult`` (their aggregations). Both follow the package's result protocol."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from pilotdid._args import check_level
from pilotdid._core import PilotdidError
from pilotdid.results._inference import coef_table as inference_columns
from pilotdid.results._inference import normal_critical, normal_quantile
from pilotdid.results._protocol import ResultProtocol
from pilotdid.results.event_study import EventStudyResult, event_term


def _crit(level: float, fit_level: float, crit_val: float) -> float:
    """The fit's critical value (uniform with cband) at its own level; the pointwise normal
    quantile at any other level."""
    if abs(level - fit_level) < 1e-12:
        return crit_val
    return normal_critical(level)


class AttGtResult(ResultProtocol):
    """ATT(g,t) for every cohort g and period t (R ``did::att_gt``).

    ``tidy()`` has one row per (g,t) cell, term ``ATT(g,t)``: the protocol's columns (normal
    statistic and p-value; intervals with ``crit_val``, the uniform band's with cband, at the
    fit's level; pointwise at another level), then group, t, base_t, post, status, n_treated,
    n_control. ``nobs`` counts units (the n of the influence functions), as R did.
    """

    result_name = "group-time ATTs (Callaway & Sant'Anna 2021)"

    def __init__(
        self,
        core: Any,
        params: dict[str, Any],
        cohort_derived: int = 0,
        dropped_rows: dict[str, int] | None = None,
    ) -> None:
        self._core = core
        self.params = params
        self._cells = core.cells
        #: units whose cohort was derived from a 0/1 ``treatment`` column (0: cohort given)
        self.cohort_derived = int(cohort_derived)
        #: rows not used, by reason: "missing" (outcome, covariate or weight),
        #: "already_treated" (units treated in the first period), "after_last_cohort" (no
        #: never-treated units); R did's sample adjustments are also described in ``notes``
        self.dropped_rows: dict[str, int] = dict(dropped_rows or {})
        #: cautions about the inference (few clusters for the pre-test), shown by summary()
        self.cautions: list[str] = []

    @property
    def level(self) -> float:
        return float(self.params["level"])

    @property
    def nobs(self) -> int:
        """Units in the estimation sample."""
        return self.n_units

    @property
    def n_units(self) -> int:
        """Units in the estimation sample (the n of the influence functions)."""
        return int(self._core.n_units)

    @property
    def n_boot_units(self) -> int | None:
        """Bootstrap units (clusters when clustered; units otherwise); None without bootstrap."""
        v = self._core.n_boot_units
        return None if v is None else int(v)

    @property
    def crit_val(self) -> float:
        """Critical value of the intervals (uniform band's when cband=True)."""
        return float(self._core.crit_val)

    @property
    def pretest(self) -> tuple[float, float, int] | None:
        """Wald pre-test of parallel trends: (W, p-value, df), or None (see ``pretest_note``)."""
        p = self._core.pretest
        return None if p is None else (float(p.w), float(p.p_value), int(p.df))

    @property
    def pretest_note(self) -> str | None:
        return self._core.pretest_note

    @property
    def skipped(self) -> list[tuple[int, int, str]]:
        """(g, t, reason) of cells that could not be estimated."""
        t = self._cells
        return [
            (g, tt, r) for g, tt, s, r in zip(t.group, t.t, t.status, t.reason) if s == "skipped"
        ]

    @property
    def notes(self) -> list[str]:
        """Sample adjustments (units dropped or recoded, as R did)."""
        return list(self._core.notes)

    @property
    def groups(self) -> list[int]:
        return list(self._core.groups)

    @property
    def periods(self) -> list[int]:
        return list(self._core.periods)

    def influence(self) -> np.ndarray:
        """Influence functions, n_units × cells (in ``tidy()`` row order)."""
        return self._core.influence

    def _tidy(self, level: float) -> pl.DataFrame:
        t = self._cells
        att = np.asarray(t.att, dtype=float)
        se = np.asarray(t.se, dtype=float)
        c = _crit(level, self.level, self.crit_val)
        stat, p, _, _ = inference_columns(att, se, level, None)
        return pl.DataFrame(
            {
                "term": [f"ATT({g},{tt})" for g, tt in zip(t.group, t.t)],
                "estimate": att,
                "std_error": se,
                "statistic": stat,
                "p_value": p,
                "conf_low": att - c * se,
                "conf_high": att + c * se,
                "group": np.asarray(t.group, dtype=np.int64),
                "t": np.asarray(t.t, dtype=np.int64),
                "base_t": np.asarray(t.base_t, dtype=np.int64),
                "post": t.post,
                "status": t.status,
                "n_treated": np.asarray(t.n_treated, dtype=np.int64),
                "n_control": np.asarray(t.n_control, dtype=np.int64),
            }
        )

    def att(self, g: int, t: int) -> float:
        """ATT(g,t); raises if the cell does not exist or was skipped."""
        tb = self._cells
        for gg, tt, a, s, r in zip(tb.group, tb.t, tb.att, tb.status, tb.reason):
            if gg == g and tt == t:
                if s == "skipped":
                    raise PilotdidError(f"ATT({g},{t}) was skipped: {r}")
                return float(a)
        raise PilotdidError(f"no ATT(g,t) cell for group {g}, period {t}")

    def _summary_text(self, level: float) -> str:
        p = self.params
        pct = f"{level * 100:g}"
        uniform = p["cband"] and abs(level - self.level) < 1e-12
        band = "simultaneous" if uniform else "pointwise"
        se_kind = (
            f"multiplier bootstrap ({p['reps']} draws, seed {p['seed']})"
            if p["bstrap"]
            else "analytic"
        )
        lines = [
            "Group-time average treatment effects (Callaway & Sant'Anna 2021)",
            f"Units: {self.n_units}   control group: {p['control_group']}   "
            f"estimator: {p['est_method']}   base period: {p['base_period']}   "
            f"anticipation: {p['anticipation']}",
            f"Standard errors: {se_kind}"
            + (f" (clustered by {p['cluster']})" if p["cluster"] else ""),
        ]
        if self.cohort_derived:
            lines.append(
                f"Cohorts derived from the 0/1 treatment '{p['treatment']}' for "
                f"{self.cohort_derived} units"
            )
        header = f"{'Group':>8}{'Time':>8}{'ATT(g,t)':>12}{'Std. Error':>12}   [{pct}% {band} band]"
        lines += ["-" * len(header), header, "-" * len(header)]
        for r in self._tidy(level).iter_rows(named=True):
            if r["status"] == "skipped":
                lines.append(f"{r['group']:>8}{r['t']:>8}{'skipped':>12}")
                continue
            lines.append(
                f"{r['group']:>8}{r['t']:>8}{r['estimate']:>12.4f}{r['std_error']:>12.4f}"
                f"   [{r['conf_low']:.4f}, {r['conf_high']:.4f}]"
            )
        lines.append("-" * len(header))
        pt = self.pretest
        if pt is not None:
            lines.append(
                f"P-value for pre-test of parallel trends assumption: {pt[1]:.5f}"
                f"  (W = {pt[0]:.4f}, df = {pt[2]})"
            )
        elif self.pretest_note:
            lines.append(f"Pre-test not available: {self.pretest_note}")
        lines += [f"Warning: {c}" for c in self.cautions]
        for g, t, r in self.skipped:
            lines.append(f"Skipped ({g},{t}): {r}")
        for n in self.notes:
            lines.append(f"Note: {n}")
        return "\n".join(lines)


class AggteResult(ResultProtocol):
    """An aggregation of ATT(g,t) (R ``did::aggte``).

    ``tidy()``, as R did's: for type "simple" one row, term ``ATT`` (the overall ATT); for
    "group", "dynamic" and "calendar" one row per group / event time / period (terms
    ``group::g``, ``rel::e``, ``time::t``) with the protocol's columns and ``egt``. Intervals
    use ``crit_val`` (the uniform band's with cband) at the fit's level, pointwise normal at
    another level. The overall ATT is also in ``overall_att``/``overall_se``. ``vcov()``: the
    analytic covariance of the egt estimates (influence functions), egt order.
    """

    def __init__(
        self,
        type: str,  # noqa: A002
        out: Any,
        alp: float,
        bstrap: bool,
        cband: bool,
        n_units: int,
        base_period: str,
        params: dict[str, Any],
        cohort_derived: int = 0,
        dropped_rows: dict[str, int] | None = None,
        cautions: list[str] | None = None,
    ) -> None:
        self.type = type
        self.egt = np.asarray(out.egt, dtype=np.int64)
        self.att_egt = np.asarray(out.att, dtype=float)
        self.se_egt = np.asarray(out.se, dtype=float)
        self.overall_att = float(out.overall_att)
        self.overall_se = float(out.overall_se)
        self.crit_val = float(out.crit_val)
        self.notes = list(out.notes)
        # analytic covariance of the egt estimates (influence functions), egt order
        self._vcov = np.asarray(out.vcov, dtype=float)
        self.alp = alp
        self.bstrap = bstrap
        self.cband = cband
        self.n_units = n_units
        self.base_period = base_period
        self.params = params
        #: units whose cohort att_gt derived from a 0/1 ``treatment`` column
        self.cohort_derived = int(cohort_derived)
        #: the rows att_gt left out, by reason (an aggregation drops none itself)
        self.dropped_rows: dict[str, int] = dict(dropped_rows or {})
        #: att_gt's cautions (few clusters for its pre-test), repeated by summary()
        self.cautions: list[str] = list(cautions or [])

    @property
    def result_name(self) -> str:  # type: ignore[override]
        return f"Callaway & Sant'Anna aggregation, type '{self.type}'"

    @property
    def level(self) -> float:
        return 1 - self.alp

    @property
    def nobs(self) -> int:
        """Units in the estimation sample."""
        return self.n_units

    @property
    def overall_conf_int(self) -> tuple[float, float]:
        z = normal_quantile(1 - self.alp / 2)
        return (self.overall_att - z * self.overall_se, self.overall_att + z * self.overall_se)

    def _terms(self) -> list[str]:
        if self.type == "dynamic":
            return [event_term(e) for e in self.egt]
        prefix = {"group": "group", "calendar": "time"}[self.type]
        return [f"{prefix}::{int(e)}" for e in self.egt]

    def _tidy(self, level: float) -> pl.DataFrame:
        if self.type == "simple":
            return self.overall(level)
        c = _crit(level, self.level, self.crit_val)
        stat, p, _, _ = inference_columns(self.att_egt, self.se_egt, level, None)
        return pl.DataFrame(
            {
                "term": self._terms(),
                "estimate": self.att_egt,
                "std_error": self.se_egt,
                "statistic": stat,
                "p_value": p,
                "conf_low": self.att_egt - c * self.se_egt,
                "conf_high": self.att_egt + c * self.se_egt,
                "egt": self.egt,
            }
        )

    def overall(self, level: float | None = None) -> pl.DataFrame:
        """The overall aggregate (R did's summary line) as one protocol row, term ``ATT``:
        estimate, SE, normal statistic and p-value, and the fit's own interval at its level
        (pointwise normal at another level). For ``type="simple"`` this is ``tidy()``."""
        level = self.level if level is None else check_level(level)
        est = np.array([self.overall_att])
        se = np.array([self.overall_se])
        stat, p, lo, hi = inference_columns(est, se, level, None)
        if abs(level - self.level) < 1e-12:
            lo, hi = (np.array([v]) for v in self.overall_conf_int)
        return pl.DataFrame(
            {
                "term": ["ATT"],
                "estimate": est,
                "std_error": se,
                "statistic": stat,
                "p_value": p,
                "conf_low": lo,
                "conf_high": hi,
            }
        )

    def vcov(self) -> np.ndarray:
        """Analytic covariance of the egt estimates (influence functions), egt order."""
        if self.type == "simple":
            return np.array([[self.overall_se**2]])
        return np.array(self._vcov, copy=True)

    def to_event_study(self) -> EventStudyResult:
        """The dynamic aggregation as a shared ``EventStudyResult`` (estimator "cs")."""
        if self.type != "dynamic":
            raise PilotdidError("to_event_study: only for type='dynamic'")
        keep = ~(np.isnan(self.se_egt) & (self.att_egt == 0.0))
        ref = [int(e) for e in self.egt[~keep]]
        z = normal_quantile(1 - self.alp / 2)
        e, a, s = self.egt[keep], self.att_egt[keep], self.se_egt[keep]
        band = (a - self.crit_val * s, a + self.crit_val * s) if self.cband else (None, None)
        out = EventStudyResult(
            estimator="cs",
            event_time=e,
            estimate=a,
            std_error=s,
            conf_low=a - z * s,
            conf_high=a + z * s,
            level=1 - self.alp,
            band_low=band[0],
            band_high=band[1],
            vcov=None if self.bstrap else self._vcov[np.ix_(keep, keep)],
            reference=ref,
            nobs=self.n_units,
            extra={
                "overall_att": self.overall_att,
                "overall_se": self.overall_se,
                "notes": list(self.notes),
            },
            dropped_rows=self.dropped_rows,
            cohort_derived=self.cohort_derived,
        )
        out.cautions.extend(self.cautions)  # att_gt has warned already
        return out

    def _summary_text(self, level: float) -> str:
        same = abs(level - self.level) < 1e-12
        t = self._tidy(level)
        top = self.overall(level)
        lo, hi = float(top["conf_low"][0]), float(top["conf_high"][0])
        pct = f"{level * 100:g}"
        lines = [
            f"Aggregate treatment effects (Callaway & Sant'Anna 2021), type '{self.type}'",
            f"Overall ATT: {self.overall_att:.4f}  (SE {self.overall_se:.4f})  "
            f"[{pct}% CI {lo:.4f}, {hi:.4f}]",
        ]
        if len(self.egt) and self.type != "simple":
            band = "simultaneous" if self.cband and same else "pointwise"
            label = {"group": "Group", "dynamic": "Event time", "calendar": "Time"}[self.type]
            lines.append(f"{label:>12}{'Estimate':>12}{'Std. Error':>12}   [{pct}% {band} band]")
            for r in t.iter_rows(named=True):
                lines.append(
                    f"{r['egt']:>12}{r['estimate']:>12.4f}{r['std_error']:>12.4f}"
                    f"   [{r['conf_low']:.4f}, {r['conf_high']:.4f}]"
                )
        if self.cohort_derived:
            lines.append(f"Cohorts derived from the 0/1 treatment for {self.cohort_derived} units")
        if (self.params or {}).get("cohort_shares") == "fixed":
            lines.append("SEs conditional on the realized cohort sizes (cohort_shares='fixed')")
        lines += [f"Note: {n}" for n in self.notes]
        lines += [f"Warning (att_gt): {c}" for c in self.cautions]
        return "\n".join(lines)

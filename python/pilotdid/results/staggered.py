"""Results of Callaway & Sant'Anna estimation: ``AttGtResult`` (group-time ATTs) and
``AggteResult`` (their aggregations)."""

from __future__ import annotations

from statistics import NormalDist
from typing import Any

import numpy as np
import polars as pl

from pilotdid._core import PilotdidError
from pilotdid.results.event_study import EventStudyResult


class AttGtResult:
    """ATT(g,t) for every cohort g and period t (R ``did::att_gt``)."""

    def __init__(self, core: Any, params: dict[str, Any]) -> None:
        self._core = core
        self.params = params
        self._table = core.table()
        self._info = core.info()

    @property
    def n_units(self) -> int:
        """Units in the estimation sample (the n of the influence functions)."""
        return int(self._info["n_units"])

    @property
    def n_boot_units(self) -> int | None:
        """Bootstrap units (clusters when clustered; units otherwise); None without bootstrap."""
        v = self._info["n_boot_units"]
        return None if v is None else int(v)

    @property
    def crit_val(self) -> float:
        """Critical value of the intervals (uniform band's when cband=True)."""
        return float(self._info["crit_val"])

    @property
    def pretest(self) -> tuple[float, float, int] | None:
        """Wald pre-test of parallel trends: (W, p-value, df), or None (see ``pretest_note``)."""
        p = self._info["pretest"]
        return None if p is None else (float(p[0]), float(p[1]), int(p[2]))

    @property
    def pretest_note(self) -> str | None:
        return self._info["pretest_note"]

    @property
    def skipped(self) -> list[tuple[int, int, str]]:
        """(g, t, reason) of cells that could not be estimated."""
        t = self._table
        return [
            (g, tt, r)
            for g, tt, s, r in zip(t["group"], t["t"], t["status"], t["reason"])
            if s == "skipped"
        ]

    @property
    def notes(self) -> list[str]:
        """Sample adjustments (units dropped or recoded, as R did)."""
        return list(self._info["notes"])

    @property
    def groups(self) -> list[int]:
        return list(self._info["groups"])

    @property
    def periods(self) -> list[int]:
        return list(self._info["periods"])

    def influence(self) -> np.ndarray:
        """Influence functions, n_units × cells (in ``tidy()`` row order)."""
        return self._core.influence()

    def tidy(self) -> pl.DataFrame:
        """One row per (g,t): group, t, att, se, conf_low, conf_high, base_t, post, status,
        n_treated, n_control. Intervals use ``crit_val`` (uniform with cband)."""
        t = self._table
        att = np.asarray(t["att"], dtype=float)
        se = np.asarray(t["se"], dtype=float)
        c = self.crit_val
        return pl.DataFrame(
            {
                "group": np.asarray(t["group"], dtype=np.int64),
                "t": np.asarray(t["t"], dtype=np.int64),
                "att": att,
                "se": se,
                "conf_low": att - c * se,
                "conf_high": att + c * se,
                "base_t": np.asarray(t["base_t"], dtype=np.int64),
                "post": t["post"],
                "status": t["status"],
                "n_treated": np.asarray(t["n_treated"], dtype=np.int64),
                "n_control": np.asarray(t["n_control"], dtype=np.int64),
            }
        )

    def att(self, g: int, t: int) -> float:
        """ATT(g,t); raises if the cell does not exist or was skipped."""
        tb = self._table
        for gg, tt, a, s, r in zip(tb["group"], tb["t"], tb["att"], tb["status"], tb["reason"]):
            if gg == g and tt == t:
                if s == "skipped":
                    raise PilotdidError(f"ATT({g},{t}) was skipped: {r}")
                return float(a)
        raise PilotdidError(f"no ATT(g,t) cell for group {g}, period {t}")

    def summary(self, print_: bool = True) -> str:
        p = self.params
        pct = int(round((1 - p["alp"]) * 100))
        band = "simultaneous" if p["cband"] else "pointwise"
        se_kind = "multiplier bootstrap" if p["bstrap"] else "analytic"
        lines = [
            "Group-time average treatment effects (Callaway & Sant'Anna 2021)",
            f"Units: {self.n_units}   control group: {p['control_group']}   "
            f"estimator: {p['est_method']}   base period: {p['base_period']}   "
            f"anticipation: {p['anticipation']}",
            f"Standard errors: {se_kind}"
            + (f" (clustered by {p['clustervars']})" if p["clustervars"] else ""),
        ]
        header = f"{'Group':>8}{'Time':>8}{'ATT(g,t)':>12}{'Std. Error':>12}   [{pct}% {band} band]"
        lines += ["-" * len(header), header, "-" * len(header)]
        for r in self.tidy().iter_rows(named=True):
            if r["status"] == "skipped":
                lines.append(f"{r['group']:>8}{r['t']:>8}{'skipped':>12}")
                continue
            lines.append(
                f"{r['group']:>8}{r['t']:>8}{r['att']:>12.4f}{r['se']:>12.4f}"
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
        for g, t, r in self.skipped:
            lines.append(f"Skipped ({g},{t}): {r}")
        for n in self.notes:
            lines.append(f"Note: {n}")
        s = "\n".join(lines)
        if print_:
            print(s)
        return s

    def __repr__(self) -> str:
        return f"AttGtResult({len(self._table['att'])} cells, {self.n_units} units)"


class AggteResult:
    """An aggregation of ATT(g,t) (R ``did::aggte``)."""

    def __init__(
        self,
        type: str,  # noqa: A002
        out: dict[str, Any],
        alp: float,
        bstrap: bool,
        cband: bool,
        n_units: int,
        base_period: str,
        params: dict[str, Any],
    ) -> None:
        self.type = type
        self.egt = np.asarray(out["egt"], dtype=np.int64)
        self.att_egt = np.asarray(out["att"], dtype=float)
        self.se_egt = np.asarray(out["se"], dtype=float)
        self.overall_att = float(out["overall_att"])
        self.overall_se = float(out["overall_se"])
        self.crit_val = float(out["crit_val"])
        self.notes = list(out["notes"])
        #: analytic covariance of the egt estimates (influence functions), egt order
        self.vcov = np.asarray(out["vcov"], dtype=float)
        self.alp = alp
        self.bstrap = bstrap
        self.cband = cband
        self.n_units = n_units
        self.base_period = base_period
        self.params = params

    @property
    def overall_conf_int(self) -> tuple[float, float]:
        z = NormalDist().inv_cdf(1 - self.alp / 2)
        return (self.overall_att - z * self.overall_se, self.overall_att + z * self.overall_se)

    def tidy(self) -> pl.DataFrame:
        """One row per group / event time / period: egt, att, se, conf_low, conf_high
        (uniform band when cband)."""
        c = self.crit_val
        return pl.DataFrame(
            {
                "egt": self.egt,
                "att": self.att_egt,
                "se": self.se_egt,
                "conf_low": self.att_egt - c * self.se_egt,
                "conf_high": self.att_egt + c * self.se_egt,
            }
        )

    def to_event_study(self) -> EventStudyResult:
        """The dynamic aggregation as a shared ``EventStudyResult`` (estimator "cs")."""
        if self.type != "dynamic":
            raise PilotdidError("to_event_study: only for type='dynamic'")
        keep = ~(np.isnan(self.se_egt) & (self.att_egt == 0.0))
        ref = [int(e) for e in self.egt[~keep]]
        z = NormalDist().inv_cdf(1 - self.alp / 2)
        e, a, s = self.egt[keep], self.att_egt[keep], self.se_egt[keep]
        band = (a - self.crit_val * s, a + self.crit_val * s) if self.cband else (None, None)
        return EventStudyResult(
            estimator="cs",
            event_time=e,
            estimate=a,
            std_error=s,
            conf_low=a - z * s,
            conf_high=a + z * s,
            level=1 - self.alp,
            band_low=band[0],
            band_high=band[1],
            vcov=None if self.bstrap else self.vcov[np.ix_(keep, keep)],
            reference=ref,
            nobs=self.n_units,
            extra={"overall_att": self.overall_att, "overall_se": self.overall_se},
        )

    def summary(self, print_: bool = True) -> str:
        lo, hi = self.overall_conf_int
        pct = int(round((1 - self.alp) * 100))
        lines = [
            f"Aggregate treatment effects (Callaway & Sant'Anna 2021), type '{self.type}'",
            f"Overall ATT: {self.overall_att:.4f}  (SE {self.overall_se:.4f})  "
            f"[{pct}% CI {lo:.4f}, {hi:.4f}]",
        ]
        if len(self.egt):
            band = "simultaneous" if self.cband else "pointwise"
            label = {"group": "Group", "dynamic": "Event time", "calendar": "Time"}[self.type]
            lines.append(f"{label:>12}{'Estimate':>12}{'Std. Error':>12}   [{pct}% {band} band]")
            for r in self.tidy().iter_rows(named=True):
                lines.append(
                    f"{r['egt']:>12}{r['att']:>12.4f}{r['se']:>12.4f}"
                    f"   [{r['conf_low']:.4f}, {r['conf_high']:.4f}]"
                )
        lines += [f"Note: {n}" for n in self.notes]
        s = "\n".join(lines)
        if print_:
            print(s)
        return s

    def __repr__(self) -> str:
        return f"AggteResult(type={self.type!r}, overall_att={self.overall_att:.6g})"

"""Results of triple differences: ``DddResult`` (one ATT with two periods, ATT(g,t) with
more) and ``DddAggregateResult`` (its aggregations). Both follow the result protocol; they
share the Callaway & Sant'Anna result classes' layout, since a staggered DDD is a set of
group-time ATTs aggregated the same way."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import polars as pl

from pilotdid._args import (
    MAX_REPS,
    check_bool,
    check_choice,
    check_int,
    check_level,
    check_reps,
    check_seed,
)
from pilotdid._core import PilotdidError
from pilotdid.results._inference import coef_table as inference_columns
from pilotdid.results._inference import normal_critical
from pilotdid.results.event_study import EventStudyResult
from pilotdid.results.staggered import AggteResult, AttGtResult

_TYPES = ("simple", "group", "dynamic", "calendar")
_COHORT_SHARES = ("estimated", "fixed")


class DddResult(AttGtResult):
    """Triple differences (Ortiz-Villavicencio & Sant'Anna 2025).

    Two periods: ``tidy()`` has one row, term ``ATT``; ``components`` holds the three 2x2 DIDs
    of the treated eligible units against (ineligible, same group), (eligible, comparison
    group) and (ineligible, comparison group), whose sum with signs (+, +, -) is the ATT, and
    ``subgroup_counts`` the units in subgroups 1..4. More periods: one row per (g,t) cell,
    term ``ATT(g,t)``, as ``AttGtResult``; ``aggregate(type=...)`` and ``to_event_study()``.
    ``nobs`` counts units.
    """

    result_name = "triple differences (Ortiz-Villavicencio & Sant'Anna 2025)"

    @property
    def two_period(self) -> bool:
        return bool(self._core.two_period)

    @property
    def components(self) -> dict[str, float]:
        """Two periods: the DIDs against subgroups 3, 2 and 1 (ATT = 4v3 + 4v2 - 4v1)."""
        c = list(self._core.components)
        return dict(zip(("att_4v3", "att_4v2", "att_4v1"), c))

    @property
    def subgroup_counts(self) -> dict[int, int]:
        return {i + 1: int(v) for i, v in enumerate(self._core.subgroup_counts)}

    def _tidy(self, level: float) -> pl.DataFrame:
        if not self.two_period:
            return super()._tidy(level)
        t = self._cells
        att = np.asarray(t.att, dtype=float)
        se = np.asarray(t.se, dtype=float)
        c = normal_critical(level)
        stat, p, _, _ = inference_columns(att, se, level, None)
        return pl.DataFrame(
            {
                "term": ["ATT"],
                "estimate": att,
                "std_error": se,
                "statistic": stat,
                "p_value": p,
                "conf_low": att - c * se,
                "conf_high": att + c * se,
            }
        )

    def vcov(self) -> np.ndarray:
        """Covariance of the cells (``tidy()`` order) from the influence functions, Psi'Psi/n^2,
        with the diagonal set to the squared standard errors (the GMM SE for cells pooling
        several comparison cohorts, the bootstrap SE with ``bstrap=True``); rows and columns of
        reference and skipped cells are NaN."""
        se = np.asarray(self._cells.se, dtype=float)
        if self.two_period:
            return np.array([[se[0] ** 2]])
        psi = np.asarray(self._core.influence, dtype=float)
        v = psi.T @ psi / float(self.n_units) ** 2
        np.fill_diagonal(v, se**2)
        bad = ~np.isfinite(se)
        v[bad, :] = np.nan
        v[:, bad] = np.nan
        return v

    def aggregate(
        self,
        type: str = "dynamic",  # noqa: A002 - aggte's name
        *,
        min_e: float = -math.inf,
        max_e: float = math.inf,
        balance_e: int | None = None,
        bstrap: bool | None = None,
        reps: int | None = None,
        cband: bool | None = None,
        level: float | None = None,
        seed: int | None = None,
        weight_type: str | None = None,
        cohort_shares: str = "estimated",
    ) -> DddAggregateResult:
        """Aggregate ATT(g,t) as ``aggte`` ("simple", "group", "dynamic", "calendar"), with
        cohort shares of the eligible units (``moderndid.agg_ddd``). Inference options default
        to the fit's.

        ``cohort_shares="estimated"`` (default, as moderndid ``agg_ddd`` and R ``did::aggte``)
        adds the influence of the estimated cohort shares (R's ``wif``, Callaway & Sant'Anna
        2021, Sec. 4): inference for the population ATT with cohort membership sampled.
        ``"fixed"`` drops it: inference conditional on the realized cohort sizes, for a design
        whose adopting units are fixed (analytic and multiplier-bootstrap SEs alike)."""
        if self.two_period:
            raise PilotdidError(
                "aggregate: a two-period triple difference has one ATT; nothing to aggregate"
            )
        type = check_choice("type", type, _TYPES)  # noqa: A001
        p = self.params
        bs = p["bstrap"] if bstrap is None else check_bool("bstrap", bstrap)
        cb = False if cband is None else check_bool("cband", cband)
        lv = p["level"] if level is None else check_level(level)
        s = p["seed"] if seed is None else check_seed(seed)
        wt = p["weight_type"] if weight_type is None else str(weight_type)
        if reps is None:
            bi = p["reps"]
        elif bs:
            bi = check_reps("reps", reps, bytes_per_rep=8.0 * (len(self._cells.att) + 1), lo=2)
        else:
            bi = check_int("reps", reps, lo=2, hi=MAX_REPS)
        if cb and not bs:
            raise PilotdidError(
                "option 'cband': a uniform band needs the multiplier bootstrap (bstrap=True)"
            )
        be = None if balance_e is None else check_int("balance_e", balance_e, lo=0)
        shares = check_choice("cohort_shares", cohort_shares, _COHORT_SHARES)
        a = 1.0 - lv
        out = self._core.aggte(
            type,
            min_e=float(min_e),
            max_e=float(max_e),
            balance_e=be,
            alpha=a,
            bstrap=bs,
            biters=bi,
            cband=cb,
            seed=s,
            weight_type=wt,
            cohort_shares=shares,
        )
        return DddAggregateResult(
            type=type,
            out=out,
            alp=a,
            bstrap=bs,
            cband=cb,
            n_units=self.n_units,
            base_period=p["base_period"],
            params=dict(
                min_e=min_e, max_e=max_e, balance_e=be, reps=bi, seed=s, cohort_shares=shares
            ),
            cohort_derived=self.cohort_derived,
            dropped_rows=self.dropped_rows,
        )

    def to_event_study(self) -> EventStudyResult:
        """The dynamic aggregation as a shared ``EventStudyResult`` (estimator "ddd")."""
        return self.aggregate("dynamic").to_event_study()

    def _summary_text(self, level: float) -> str:
        p = self.params
        se_kind = (
            f"multiplier bootstrap ({p['reps']} draws, seed {p['seed']})"
            if p["bstrap"]
            else "analytic (influence function)"
        )
        head = [
            "Triple differences (Ortiz-Villavicencio & Sant'Anna 2025)",
            f"Units: {self.n_units}   partition: {p['partition']}   estimator: "
            f"{p['est_method']}   standard errors: {se_kind}"
            + (f" (clustered by {p['cluster']})" if p["cluster"] else ""),
        ]
        if not self.two_period:
            head.append(f"Control group: {p['control_group']}   base period: {p['base_period']}")
            body = super()._summary_text(level).split("\n", 3)[3]
            return "\n".join(head + [body])
        r = self._tidy(level).row(0, named=True)
        pct = f"{level * 100:g}"
        comp = self.components
        counts = self.subgroup_counts
        lines = head + [
            f"ATT: {r['estimate']:.4f}  (SE {r['std_error']:.4f})  "
            f"[{pct}% CI {r['conf_low']:.4f}, {r['conf_high']:.4f}]",
            "2x2 DIDs of the treated eligible units against: ineligible, same group "
            f"{comp['att_4v3']:.4f}; eligible, comparison group {comp['att_4v2']:.4f}; "
            f"ineligible, comparison group {comp['att_4v1']:.4f} (ATT = + + -)",
            "Units by subgroup (4 = treated eligible): "
            + ", ".join(f"{k}: {v}" for k, v in counts.items()),
        ]
        lines += [f"Note: {n}" for n in self.notes]
        return "\n".join(lines)


class DddAggregateResult(AggteResult):
    """An aggregation of triple-difference ATT(g,t); as ``AggteResult``."""

    #: the estimator code tables and legends name this aggregation by (``display_name``)
    estimator = "ddd"

    @property
    def result_name(self) -> str:  # type: ignore[override]
        return f"triple-difference aggregation, type '{self.type}'"

    def to_event_study(self) -> EventStudyResult:
        out = super().to_event_study()
        out.estimator = "ddd"
        return out

    def _summary_text(self, level: float) -> str:
        text = super()._summary_text(level)
        return text.replace("(Callaway & Sant'Anna 2021)", "(triple differences)", 1)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)

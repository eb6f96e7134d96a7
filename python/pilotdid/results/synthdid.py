"""`SynthDIDResult`: synthetic DID, SC or DID estimates with unit and time weights (the package's
result protocol)."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from pilotdid.results._inference import coef_table
from pilotdid.results._protocol import ResultProtocol

_NAMES = {"sdid": "synthetic DID", "sc": "synthetic control", "did": "DID"}


class SynthDIDResult(ResultProtocol):
    """Synthetic DID (Arkhangelsky et al. 2021) result.

    ``tidy()``: the ATT, then (staggered adoption) one row per adoption cohort
    (``"cohort <period>"``). ``cohorts()``: per-cohort estimate, SE, size, pre/post periods,
    aggregation weight. ``event_effects()``: effects by periods since adoption.
    ``unit_weights()`` / ``time_weights()``: omega and lambda as polars frames.
    ``plot(kind="trajectories")`` draws the treated and synthetic trajectories with the time
    weights; ``plot(kind="weights")`` the unit weights.
    """

    def __init__(
        self, out: Any, *, units, times, y, unit, time, method, vcov, reps, seed, level, controls
    ):
        self._out = out
        self._cohorts = list(out.cohorts)
        self.units = list(units)
        self.times = np.asarray(times).astype(np.int64)
        self.y, self.unit, self.time = y, unit, time
        self.method, self.vcov_type, self.reps, self.seed = method, vcov, reps, seed
        self.level = level
        self.controls = list(controls)
        self.estimate = float(out.estimate)
        self.std_error = float(out.std_error)
        self.n_units = len(self.units)
        self.n_periods = len(self.times)
        self.nobs: int = self.n_units * self.n_periods
        self.n_controls = len(out.controls)
        self.n_treated = sum(len(c.treated) for c in self._cohorts)
        self.dropped_rows: dict[str, int] = {}
        self.replicates = np.asarray(out.replicates)

    @property
    def result_name(self) -> str:  # type: ignore[override]
        return f"{_NAMES[self.method]}, ATT = {self.estimate:.6g}"

    # --- the protocol --------------------------------------------------------------------
    def _tidy(self, level: float) -> pl.DataFrame:
        terms = ["ATT"]
        est = [self.estimate]
        se = [self.std_error]
        if len(self._cohorts) > 1:
            for c in self._cohorts:
                terms.append(f"cohort {self.times[c.adoption]}")
                est.append(float(c.estimate))
                se.append(float(c.std_error))
        e, s = np.asarray(est, dtype=float), np.asarray(se, dtype=float)
        stat, p, lo, hi = coef_table(e, s, level, None)
        return pl.DataFrame(
            {
                "term": terms,
                "estimate": e,
                "std_error": s,
                "statistic": stat,
                "p_value": p,
                "conf_low": lo,
                "conf_high": hi,
            }
        )

    def vcov(self) -> np.ndarray:
        """The ATT's variance (1 x 1), as R's ``vcov(estimate, method=...)``."""
        return np.array([[self.std_error**2]])

    # --- the estimator's own tables ------------------------------------------------------
    def cohorts(self) -> pl.DataFrame:
        """One row per adoption cohort: first treated period, treated units, pre and post
        periods, estimate, std_error, weight in the ATT (N_treated x T_post, normalised)."""
        return pl.DataFrame(
            {
                "cohort": pl.Series(
                    [int(self.times[c.adoption]) for c in self._cohorts], dtype=pl.Int64
                ),
                "n_treated": pl.Series([len(c.treated) for c in self._cohorts], dtype=pl.Int64),
                "n_pre": pl.Series([int(c.adoption) for c in self._cohorts], dtype=pl.Int64),
                "n_post": pl.Series(
                    [self.n_periods - int(c.adoption) for c in self._cohorts], dtype=pl.Int64
                ),
                "estimate": [float(c.estimate) for c in self._cohorts],
                "std_error": [float(c.std_error) for c in self._cohorts],
                "weight": [float(c.weight) for c in self._cohorts],
            }
        )

    def event_effects(self, level: float | None = None) -> pl.DataFrame:
        """Effects by event time (periods since adoption; 0 = first treated period), the
        cohorts' effect curves (R ``synthdid_effect_curve``) averaged with weights N_treated."""
        lvl = self.level if level is None else level
        e = np.asarray(self._out.event_estimate, dtype=float)
        s = np.asarray(self._out.event_std_error, dtype=float)
        stat, p, lo, hi = coef_table(e, s, lvl, None)
        return pl.DataFrame(
            {
                "event_time": pl.Series(self._out.event_time, dtype=pl.Int64),
                "estimate": e,
                "std_error": s,
                "statistic": stat,
                "p_value": p,
                "conf_low": lo,
                "conf_high": hi,
            }
        )

    def unit_weights(self) -> pl.DataFrame:
        """omega: one row per (cohort, never-treated unit): cohort, unit, weight."""
        ids = [self.units[i] for i in self._out.controls]
        frames = [
            pl.DataFrame(
                {
                    "cohort": pl.Series([int(self.times[c.adoption])] * len(ids), dtype=pl.Int64),
                    self.unit: ids,
                    "weight": np.asarray(c.omega, dtype=float),
                }
            )
            for c in self._cohorts
        ]
        return pl.concat(frames)

    def time_weights(self) -> pl.DataFrame:
        """lambda: one row per (cohort, pre-treatment period): cohort, period, weight."""
        frames = [
            pl.DataFrame(
                {
                    "cohort": pl.Series([int(self.times[c.adoption])] * c.adoption, dtype=pl.Int64),
                    self.time: pl.Series(self.times[: c.adoption], dtype=pl.Int64),
                    "weight": np.asarray(c.lambda_, dtype=float),
                }
            )
            for c in self._cohorts
        ]
        return pl.concat(frames)

    def trajectories(self) -> pl.DataFrame:
        """Per cohort and period: the treated mean and the synthetic control (omega-weighted
        never-treated units; outcome net of covariates times beta)."""
        frames = [
            pl.DataFrame(
                {
                    "cohort": pl.Series(
                        [int(self.times[c.adoption])] * self.n_periods, dtype=pl.Int64
                    ),
                    self.time: pl.Series(self.times, dtype=pl.Int64),
                    "treated": np.asarray(c.treated_path, dtype=float),
                    "synthetic": np.asarray(c.synthetic_path, dtype=float),
                }
            )
            for c in self._cohorts
        ]
        return pl.concat(frames)

    @property
    def beta(self) -> dict[str, float]:
        """Covariate coefficients of the first cohort's fit (each cohort solves its own; see
        ``cohort_beta()``)."""
        if not self.controls:
            return {}
        return dict(zip(self.controls, np.asarray(self._cohorts[0].beta, dtype=float).tolist()))

    def cohort_beta(self) -> pl.DataFrame:
        """Covariate coefficients per cohort: cohort, then one column per covariate."""
        data: dict[str, Any] = {
            "cohort": pl.Series(
                [int(self.times[c.adoption]) for c in self._cohorts], dtype=pl.Int64
            )
        }
        for k, name in enumerate(self.controls):
            data[name] = [float(np.asarray(c.beta)[k]) for c in self._cohorts]
        return pl.DataFrame(data)

    # --- display -------------------------------------------------------------------------
    def _summary_text(self, level: float) -> str:
        t = self._tidy(level)
        pct = f"{100 * level:g}%"
        name = _NAMES[self.method]
        lines = [
            f"{name[0].upper()}{name[1:]} (Arkhangelsky et al. 2021; R synthdid) of {self.y}",
            f"{self.n_units} units x {self.n_periods} periods; {self.n_treated} treated in "
            f"{len(self._cohorts)} cohort(s), {self.n_controls} never treated",
            f"standard errors: {self.vcov_type}"
            + (
                ""
                if self.vcov_type in ("jackknife", "jackknife_fixed")
                else f", {self.reps} replicates, seed {self.seed}"
            ),
            "",
            f"{'term':<14}{'estimate':>12}{'std_error':>12}{'p_value':>10}"
            f"{'[' + pct:>12}{'CI]':>10}",
        ]
        for r in t.iter_rows(named=True):
            lines.append(
                f"{r['term']:<14}{r['estimate']:>12.5g}{r['std_error']:>12.5g}"
                f"{r['p_value']:>10.4g}{r['conf_low']:>12.5g}{r['conf_high']:>10.5g}"
            )
        return "\n".join(lines)

    def plot(self, kind: str = "trajectories", ax=None, **kwargs):
        """``kind="trajectories"``: treated mean and synthetic control per cohort, with the
        time weights as bars under the pre-period; ``kind="weights"``: the unit weights."""
        import matplotlib.pyplot as plt

        from pilotdid._args import check_choice

        kind = check_choice("kind", kind, ("trajectories", "weights"))
        if ax is None:
            _, ax = plt.subplots(figsize=kwargs.pop("figsize", (7, 4)))
        if kind == "trajectories":
            tr = self.trajectories()
            for c in self._cohorts:
                g = int(self.times[c.adoption])
                part = tr.filter(pl.col("cohort") == g)
                label = f" (cohort {g})" if len(self._cohorts) > 1 else ""
                ax.plot(part[self.time], part["treated"], label=f"treated{label}", **kwargs)
                ax.plot(
                    part[self.time],
                    part["synthetic"],
                    linestyle="--",
                    label=f"synthetic control{label}",
                )
                ax.axvline(g - 0.5, color="grey", linewidth=0.8)
                lo, hi = ax.get_ylim()
                lam = np.asarray(c.lambda_, dtype=float)
                ax.bar(
                    self.times[: c.adoption],
                    lam * 0.15 * (hi - lo),
                    bottom=lo,
                    alpha=0.3,
                    width=0.8,
                    color="grey",
                )
            ax.set_xlabel(self.time)
            ax.set_ylabel(self.y)
            ax.legend()
            ax.set_title(f"{_NAMES[self.method]}: ATT = {self.estimate:.4g}")
        else:
            w = self.unit_weights().filter(pl.col("weight") > 0)
            labels = [str(v) for v in w[self.unit].to_list()]
            ax.barh(range(len(labels)), w["weight"].to_numpy(), **kwargs)
            ax.set_yticks(range(len(labels)), labels)
            ax.set_xlabel("unit weight (omega)")
            ax.set_title(f"{_NAMES[self.method]}: nonzero unit weights")
        return ax

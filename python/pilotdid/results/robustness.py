"""Results of the robustness family: placebo tests, PSM-DID and the robustness battery, each
following the one result protocol (``pilotdid.results._protocol``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from pilotdid._core import PilotdidError
from pilotdid.results._protocol import TIDY_COLUMNS, ResultProtocol

_NAN = float("nan")


def _kde(x: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Gaussian kernel density with Silverman's rule-of-thumb bandwidth (display only)."""
    n = x.size
    sd = float(np.std(x, ddof=1)) if n > 1 else 0.0
    iqr = float(np.subtract(*np.percentile(x, [75, 25])))
    spread = min(sd, iqr / 1.34) if iqr > 0 else sd
    h = 0.9 * spread * n ** (-0.2) if spread > 0 else 1.0
    u = (grid[:, None] - x[None, :]) / h
    return np.exp(-0.5 * u * u).sum(axis=1) / (n * h * np.sqrt(2 * np.pi))


def _protocol_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(
        {c: [r[c] for r in rows] for c in TIDY_COLUMNS},
        schema={"term": pl.String, **{c: pl.Float64 for c in TIDY_COLUMNS[1:]}},
    )


@dataclass(repr=False)
class PlaceboResult(ResultProtocol):
    """Randomization (placebo) distribution of a DID coefficient.

    ``estimates`` holds one placebo coefficient per replicate (``reps`` of them; NaN when the
    placebo treatment was collinear with the fixed effects, counted in ``n_degenerate``; the
    ``n_valid`` finite ones are the R of the p-value). ``p_value_ri`` is the two-sided
    randomization p-value (1 + k) / (1 + R), k = #{|placebo| >= |actual|}; ``pvalue()``
    returns it under the treatment's term. With ``enumerated`` True every distinct assignment
    was evaluated once (the actual one included), so the exact share k / R is reported.

    Protocol: one term (the treatment): estimate = the actual statistic, p_value = the
    randomization p-value; a randomization test has no standard error, statistic or interval
    (NaN). ``summary()`` shows k, R and ``reps``; ``placebo_stats()`` describes the placebo
    distribution (its ``reps`` column is R, the finite replicates).
    """

    treatment: str
    actual: float
    estimates: np.ndarray = field(repr=False)
    p_value_ri: float
    n_valid: int
    scheme: str
    reps: int
    seed: int
    enumerated: bool
    model_coef: float
    _core: Any = field(repr=False, default=None)
    _sample: pl.DataFrame | None = field(repr=False, default=None)
    _units: list = field(repr=False, default_factory=list)
    _unit_col: str = ""
    _time_col: str = ""
    _assignments: list | None = field(repr=False, default=None)

    result_name = "placebo / randomization inference"

    @property
    def n_degenerate(self) -> int:
        return int(self.estimates.size - self.n_valid)

    @property
    def nobs(self) -> int:
        return 0 if self._sample is None else int(self._sample.height)

    @property
    def n_exceed(self) -> int:
        """k: the finite placebo estimates with |placebo| >= |actual|."""
        if self.enumerated:
            return int(round(self.p_value_ri * self.n_valid))
        return int(round(self.p_value_ri * (1 + self.n_valid))) - 1

    @property
    def pvalue_plus_one(self) -> float:
        """(1 + k) / (1 + R): the p-value counting the actual assignment as one draw
        (Phipson & Smyth 2010); never 0. It is ``p_value_ri`` unless the assignments were
        enumerated (then ``p_value_ri`` is the exact k / R)."""
        if not self.enumerated:
            return self.p_value_ri
        return (1 + self.n_exceed) / (1 + self.n_valid)

    def assignment(self, r: int) -> dict:
        """Adoption period of each unit in replicate ``r`` (None = not treated)."""
        if self._assignments is not None:
            cohorts = self._assignments[r]
        else:
            cohorts = self._core.assignment(self.scheme, self.seed, int(r))
        return dict(zip(self._units, cohorts))

    def placebo_data(self, r: int) -> pl.DataFrame:
        """The estimation sample with the treatment column replaced by replicate ``r``'s
        placebo treatment (refit it with ``pilotdid.feols`` to reproduce ``estimates[r]``)."""
        assign = self.assignment(r)
        df = self._sample
        g = [assign[u] for u in df.get_column(self._unit_col).to_list()]
        t = df.get_column(self._time_col).to_numpy()
        d = np.array([0.0 if gi is None else float(ti >= gi) for gi, ti in zip(g, t)])
        return df.with_columns(pl.Series(self.treatment, d))

    def placebo_stats(self) -> pl.DataFrame:
        """The placebo distribution: mean, sd, 2.5% / 50% / 97.5% quantiles, the
        randomization p-value and the number of finite replicates."""
        finite = self.estimates[np.isfinite(self.estimates)]
        q = np.quantile(finite, [0.025, 0.5, 0.975])
        return pl.DataFrame(
            {
                "term": [self.treatment],
                "estimate": [self.actual],
                "placebo_mean": [float(finite.mean())],
                "placebo_sd": [float(finite.std(ddof=1)) if finite.size > 1 else float("nan")],
                "placebo_q025": [float(q[0])],
                "placebo_median": [float(q[1])],
                "placebo_q975": [float(q[2])],
                "p_value": [self.p_value_ri],
                "reps": [int(finite.size)],
            }
        )

    def _tidy(self, level: float) -> pl.DataFrame:
        return _protocol_frame(
            [
                {
                    "term": self.treatment,
                    "estimate": float(self.actual),
                    "std_error": _NAN,
                    "statistic": _NAN,
                    "p_value": float(self.p_value_ri),
                    "conf_low": _NAN,
                    "conf_high": _NAN,
                }
            ]
        )

    def _summary_text(self, level: float) -> str:
        finite = self.estimates[np.isfinite(self.estimates)]
        kind = "all distinct assignments" if self.enumerated else f"{self.reps} replicates"
        lines = [
            f"Placebo test ({self.scheme}, {kind}, seed {self.seed}) for '{self.treatment}'",
            f"  actual estimate   {self.actual:.6g}",
            f"  placebo mean / sd {finite.mean():.6g} / "
            f"{(finite.std(ddof=1) if finite.size > 1 else float('nan')):.6g}",
            f"  randomization p   {self.p_value_ri:.4f}  " + self._p_formula(),
        ]
        if self.n_degenerate:
            lines.append(
                f"  {self.n_degenerate} replicates had a placebo treatment absorbed by the "
                "fixed effects (excluded)"
            )
        return "\n".join(lines)

    def _p_formula(self) -> str:
        """How p was computed, with k and R (summary line)."""
        k, r = self.n_exceed, self.n_valid
        if self.enumerated:
            return f"(k/R = {k}/{r}, every assignment once; the actual one included)"
        return f"((1+k)/(1+R) = {1 + k}/{1 + r}; R = {r} finite of reps = {self.reps})"

    def plot(self, ax: Any = None, bins: int = 40, title: str | None = None) -> Any:
        """Histogram and kernel density of the placebo coefficients, the actual estimate as a
        vertical line (the figure of placebo sections). Returns the matplotlib Axes."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        x = self.estimates[np.isfinite(self.estimates)]
        ax.hist(x, bins=bins, density=True, color="0.8", edgecolor="white", label="placebo")
        lo = min(x.min(), self.actual)
        hi = max(x.max(), self.actual)
        pad = 0.05 * (hi - lo if hi > lo else 1.0)
        grid = np.linspace(lo - pad, hi + pad, 400)
        ax.plot(grid, _kde(x, grid), color="C0", lw=1.5, label="kernel density")
        ax.axvline(self.actual, color="C3", ls="--", lw=1.5, label=f"actual {self.actual:.4g}")
        ax.set_xlabel(f"placebo coefficient of {self.treatment}")
        ax.set_ylabel("density")
        ax.set_title(title or f"Placebo test ({self.scheme}), p = {self.p_value_ri:.3f}")
        ax.legend(frameon=False)
        return ax


@dataclass(repr=False)
class PsmDidResult(ResultProtocol):
    """Propensity-score matching DID: logit, matching weights, balance, re-estimated DID.

    Protocol: the terms of the re-estimated DID regression ``did`` (needs ``fml=``);
    ``logit`` and ``balance`` hold the matching step."""

    logit: pl.DataFrame
    pscore: np.ndarray = field(repr=False)
    weights: np.ndarray = field(repr=False)
    balance: pl.DataFrame
    matched_data: pl.DataFrame = field(repr=False)
    did: Any
    method: str
    n_off_support: int
    n_unmatched: int
    n_dropped_missing: int
    pairs: list = field(repr=False, default_factory=list)

    result_name = "PSM-DID"

    @property
    def nobs(self) -> int | None:
        return None if self.did is None else int(self.did.nobs)

    @property
    def dropped_rows(self) -> dict[str, int]:
        return {
            "missing treatment, controls or by": int(self.n_dropped_missing),
            "treated off common support": int(self.n_off_support),
            "treated without a match": int(self.n_unmatched),
        }

    def _need_did(self) -> Any:
        if self.did is None:
            raise PilotdidError(
                "PsmDidResult: no DID regression was estimated (psm_did(..., fml=None)); pass "
                "fml= to re-estimate the DID, or read .logit and .balance"
            )
        return self.did

    def _tidy(self, level: float) -> pl.DataFrame:
        return self._need_did().tidy(level).select(TIDY_COLUMNS)

    def vcov(self) -> np.ndarray:
        return self._need_did().vcov()

    def _summary_text(self, level: float) -> str:
        lines = [
            f"PSM-DID ({self.method}); off support: {self.n_off_support}, unmatched: "
            f"{self.n_unmatched}, rows with missing covariates: {self.n_dropped_missing}",
            "Balance (standardised bias %, before -> after):",
        ]
        for r in self.balance.iter_rows(named=True):
            lines.append(
                f"  {r['covariate']:<20}{r['bias_before']:>9.2f} -> {r['bias_after']:>8.2f}"
                f"   t {r['t_before']:.2f} -> {r['t_after']:.2f}"
            )
        if self.did is not None:
            lines.append(str(self.did.summary(level)))
        return "\n".join(lines)


@dataclass(repr=False)
class RobustnessResult(ResultProtocol):
    """The robustness battery: one row per check, the baseline beside each.

    ``table`` is a polars DataFrame (check, term, estimate, std_error, p_value, nobs,
    baseline_estimate, baseline_std_error, note); ``models`` maps each check's label to the
    object it produced (a FeolsResult, PsmDidResult or PlaceboResult), for tables later.

    Protocol terms: the checks' labels ("baseline" first), each the treatment's row of its
    model at the level asked; the placebo row is the mean and sd of the placebo estimates
    with the randomization p-value (no statistic or interval).
    """

    table: pl.DataFrame
    models: dict
    baseline: Any
    term: str

    result_name = "robustness battery"

    @property
    def nobs(self) -> int:
        return int(self.baseline.nobs)

    def _tidy(self, level: float) -> pl.DataFrame:
        rows = []
        for r in self.table.iter_rows(named=True):
            model = self.models.get(r["check"])
            fit = model.did if isinstance(model, PsmDidResult) else model
            if fit is None or isinstance(model, PlaceboResult):
                rows.append(
                    {
                        "term": r["check"],
                        "estimate": float(r["estimate"]),
                        "std_error": float(r["std_error"]),
                        "statistic": _NAN,
                        "p_value": float(r["p_value"]),
                        "conf_low": _NAN,
                        "conf_high": _NAN,
                    }
                )
                continue
            t = fit.tidy(level).filter(pl.col("term") == self.term).row(0, named=True)
            rows.append({"term": r["check"], **{c: float(t[c]) for c in TIDY_COLUMNS[1:]}})
        return _protocol_frame(rows)

    def _summary_text(self, level: float) -> str:
        lines = [
            f"Robustness checks for '{self.term}' (baseline {self.baseline.coef()[self.term]:.6g})",
            f"{'check':<34}{'estimate':>12}{'std.err':>11}{'p':>8}{'N':>7}",
        ]
        for r in self.table.iter_rows(named=True):
            lines.append(
                f"{r['check'][:34]:<34}{r['estimate']:>12.6f}{r['std_error']:>11.6f}"
                f"{r['p_value']:>8.4f}{r['nobs']:>7}"
            )
        return "\n".join(lines)

"""Pre-trend power of an event study (Roth 2022): the result of
:func:`pilotdid.did.pretrend_power`. Numbers come from the Rust core
(``core/src/did/pretrend_power.rs``); this class only lays them out."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import polars as pl

from pilotdid.results._inference import coef_table as inference_columns
from pilotdid.results._protocol import ResultProtocol
from pilotdid.results.event_study import EventStudyResult, display_name, event_term

_TEST_NAMES = {"any_t": "any |t| > z", "wald": "joint Wald (chi-square)"}


class PretrendPowerResult(ResultProtocol):
    """The pre-test's power against a hypothesised violation ``delta`` and what passing it
    does to the estimates (Roth 2022, "Pretest with Caution", AER: Insights 4(3)).

    Attributes: ``power`` (P(the any-|t| pre-test rejects | delta), Roth's default test),
    ``power_std_error`` (its quasi-Monte Carlo error, 0 when exact), ``size`` (the same test's
    rejection rate under parallel trends), ``wald_power`` (the joint chi-square Wald test at
    ``1 - level``), ``bayes_factor`` = P(pass | delta) / P(pass | 0), ``likelihood_ratio`` =
    density of the estimated leads under delta over that under 0, ``slopes`` (polars: the
    slope of the trend ``slope * (e - reference)`` at which each test's power reaches each
    target; ``status`` 'found', 'at_size' (the target is not above the test's size: slope 0)
    or 'unreachable' (slope NaN)), ``delta``, ``slope`` (None for a user delta),
    ``reference``, ``level``.

    ``tidy()``: one row per event time, the study's estimates (protocol columns) and
    ``event_time``, ``period`` (pre/post), ``delta``, ``expected_after_pretest`` (E[estimate |
    pass] when the true effect is 0, Roth's "expectation after pre-testing"), ``bias``
    (= delta: the bias without pre-testing), ``bias_after_pretest`` (E[estimate | pass] minus
    the true effect; the same for every true effect), ``coverage`` and
    ``coverage_after_pretest`` (probability that the ``level`` CI covers the true effect);
    bias and coverage are null for pre-periods."""

    def __init__(
        self,
        study: EventStudyResult,
        core: Any,
        *,
        delta: np.ndarray,
        slope: float | None,
        reference: int,
        level: float,
        notes: list[str],
    ) -> None:
        self.study = study
        self.delta = np.asarray(delta, dtype=float)
        self.slope = slope
        self.reference = int(reference)
        self.level = float(level)
        self.notes = list(notes)
        self.power = float(core.power)
        self.power_std_error = float(core.power_std_error)
        self.size = float(core.size)
        self.wald_power = float(core.wald_power)
        self.wald_noncentrality = float(core.wald_noncentrality)
        self.bayes_factor = float(core.bayes_factor)
        self.likelihood_ratio = float(core.likelihood_ratio)
        self.critical = float(core.critical)
        self.pre = list(core.pre)
        self.post = list(core.post)
        self.expected_after_pretest = np.asarray(core.expected_after_pretest, dtype=float)
        self.coverage = np.asarray(core.coverage, dtype=float)
        self.coverage_after_pretest = np.asarray(core.coverage_after_pretest, dtype=float)
        rows = list(core.slopes)
        self.slopes = pl.DataFrame(
            {
                "test": [r[0] for r in rows],
                "target": [r[1] for r in rows],
                "slope": [r[2] for r in rows],
                "status": [r[3] for r in rows],
                "max_power": [r[4] for r in rows],
            },
            schema={
                "test": pl.String,
                "target": pl.Float64,
                "slope": pl.Float64,
                "status": pl.String,
                "max_power": pl.Float64,
            },
        )
        self.nobs = study.nobs
        self.dropped_rows = dict(study.dropped_rows)

    @property
    def result_name(self) -> str:  # type: ignore[override]
        return f"pre-trend power of a {display_name(self.study.estimator)} event study"

    def slope_for_power(self, target: float, test: str = "any_t") -> float | None:
        """The slope at which ``test``'s power reaches ``target`` (None when unreachable)."""
        hit = self.slopes.filter((pl.col("test") == test) & (pl.col("target") == target))
        if hit.height == 0:
            return None
        v = hit["slope"][0]
        return None if v is None or math.isnan(v) else float(v)

    def _tidy(self, level: float) -> pl.DataFrame:
        s = self.study
        stat, p, lo, hi = inference_columns(s.estimate, s.std_error, level, s.df_t)
        if abs(level - s.level) < 1e-12:
            lo, hi = s.conf_low, s.conf_high
        post = np.zeros(len(s.event_time), dtype=bool)
        post[self.post] = True
        bias = np.where(post, self.delta, np.nan)
        return pl.DataFrame(
            {
                "term": [event_term(e) for e in s.event_time],
                "estimate": s.estimate,
                "std_error": s.std_error,
                "statistic": stat,
                "p_value": p,
                "conf_low": lo,
                "conf_high": hi,
                "event_time": s.event_time,
                "period": ["post" if x else "pre" for x in post],
                "delta": self.delta,
                "expected_after_pretest": self.expected_after_pretest,
                "bias": bias,
                "bias_after_pretest": np.where(post, self.expected_after_pretest, np.nan),
                "coverage": self.coverage,
                "coverage_after_pretest": self.coverage_after_pretest,
            }
        ).with_columns(
            pl.col(c).fill_nan(None)
            for c in ("bias", "bias_after_pretest", "coverage", "coverage_after_pretest")
        )

    def vcov(self) -> np.ndarray:
        return self.study.vcov()

    def _summary_text(self, level: float) -> str:
        pct = f"{self.level * 100:g}"
        hyp = (
            f"linear trend {self.slope:.6g} * (e - ({self.reference}))"
            if self.slope is not None
            else "user-supplied delta"
        )
        lines = [
            f"Pre-trend power (Roth 2022): {display_name(self.study.estimator)} event study",
            f"hypothesised violation: {hyp}",
            f"pre-periods: {len(self.pre)}; pre-test: reject if any |t| > {self.critical:.4f}",
            f"power against delta: {self.power:.4f}"
            + (f" (QMC s.e. {self.power_std_error:.1e})" if self.power_std_error > 0 else "")
            + f"; size under parallel trends: {self.size:.4f}",
            f"joint Wald pre-test at {100 - float(pct):g}%: power {self.wald_power:.4f}",
            f"Bayes factor P(pass | delta) / P(pass | 0): {self.bayes_factor:.4f}",
            f"likelihood ratio of the estimated leads, delta vs 0: {self.likelihood_ratio:.4g}",
        ]
        for row in self.slopes.iter_rows(named=True):
            name = _TEST_NAMES.get(row["test"], row["test"])
            if row["status"] == "found":
                what = f"{row['slope']:.6g}"
            elif row["status"] == "at_size":
                what = "0 (the target is not above the test's size)"
            else:
                what = f"not reachable (power stays at most {row['max_power']:.4f})"
            lines.append(f"slope for {row['target'] * 100:g}% power ({name}): {what}")
        lines.append(
            f"{'e':>5} {'estimate':>10} {'delta':>10} {'E[b|pass]':>10} {'cover':>7}"
            f" {'cover|pass':>10}"
        )
        t = self._tidy(self.level)
        for row in t.iter_rows(named=True):
            cov = "" if row["coverage"] is None else f"{row['coverage']:.4f}"
            covp = (
                ""
                if row["coverage_after_pretest"] is None
                else f"{row['coverage_after_pretest']:.4f}"
            )
            lines.append(
                f"{row['event_time']:>5} {row['estimate']:>10.5f} {row['delta']:>10.5f}"
                f" {row['expected_after_pretest']:>10.5f} {cov:>7} {covp:>10}"
            )
        lines.append(
            f"E[b|pass]: expected estimate after passing the pre-test with a true effect of 0"
            f" (post: the bias after pre-testing); cover: coverage of the {pct}% CI"
        )
        for note in self.notes:
            lines.append(f"note: {note}")
        return "\n".join(lines)

    def plot(self, ax=None, **kwargs):
        """The estimates with their intervals, the hypothesised trend and the expectation
        after pre-testing (Roth's event plot). Returns the matplotlib Axes."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=kwargs.pop("figsize", (7, 4)))
        s = self.study
        e = np.asarray(s.event_time, dtype=float)
        order = np.argsort(e)
        ax.errorbar(
            e,
            s.estimate,
            yerr=np.vstack([s.estimate - s.conf_low, s.conf_high - s.estimate]),
            fmt="o",
            color="black",
            capsize=3,
            label="Estimates",
        )
        ref = float(self.reference)
        xs = np.append(e[order], ref) if ref not in e else e[order]
        ds = np.append(self.delta[order], 0.0) if ref not in e else self.delta[order]
        o2 = np.argsort(xs)
        ax.plot(xs[o2], ds[o2], "^-", color="tab:red", label="Hypothesised trend")
        ax.plot(
            e[order],
            self.expected_after_pretest[order],
            "s--",
            color="tab:blue",
            mfc="none",
            label="Expectation after pre-testing",
        )
        ax.axhline(0.0, color="grey", lw=0.8)
        ax.axvline(-0.5, color="grey", ls="--", lw=0.8)
        ax.set_xlabel("Periods since treatment")
        ax.set_ylabel("Estimate")
        ax.set_title(kwargs.pop("title", f"Pre-trend power {self.power:.2f}"))
        ax.legend()
        return ax

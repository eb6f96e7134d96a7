"""Results of spatial panel models (SAR / SDM / SEM / SDEM / SAC) and their LeSage-Pace
effects, both following the package's result protocol (``pilotdid.results._protocol``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from pilotdid._args import check_choice, check_level, check_reps, check_seed, vocabulary
from pilotdid.results._inference import normal_columns
from pilotdid.results._protocol import ResultProtocol, to_pandas

__all__ = ["SpatialImpacts", "SpatialResult"]


class WeakIdentificationWarning(UserWarning):
    """A spatial parameter's likelihood-ratio interval reaches a bound of its admissible
    interval or is wider than a quarter of that interval (capped at [-1, 1]): the data hardly
    pin the parameter down (see :attr:`SpatialResult.weakly_identified`)."""


#: How SpatialImpacts.tidy() takes its standard errors and intervals.
_IMPACT_METHODS = ("delta", "simulation")


def impacts_bytes_per_rep(n_terms: int) -> float:
    """Memory the core holds per simulated parameter draw of the LeSage-Pace effects
    (``src/spatial/effects.rs``: each draw's (direct, indirect, total) vectors of ``n_terms``
    f64 with their Vec headers and allocations, plus the rejection count, kept until all draws
    are summarised, once as results and once while they are collected; plus one f64 per draw
    of the sorted column used for the percentiles)."""
    per_draw = 3 * (24 + 16 + 8 * n_terms) + 16
    return 2.0 * per_draw + 8.0


class SpatialImpacts(ResultProtocol):
    """LeSage-Pace direct, indirect and total effects.

    ``tidy()`` has one row per (effect, term) -- an ``effect`` column ("direct", "indirect",
    "total") next to ``term`` -- with the point effect, its delta-method SE and the simulation
    mean / SD / 2.5-97.5% interval from ``reps`` parameter draws. ``coef()``, ``se()`` and
    ``pvalue()`` key the rows as ``"direct:x"``, ``"indirect:x"``, ``"total:x"`` (as etable
    labels them); ``confint()`` keeps the ``effect`` column. ``reps`` (also ``draws``, its
    older name, read by tables) is the number of simulated draws; ``rejected`` counts draws of
    rho outside its interval that were redrawn.
    """

    result_name = "LeSage-Pace direct, indirect and total effects"

    def __init__(self, raw: Any, seed: int, nobs: int | None = None) -> None:
        self._raw = raw
        self.names: list[str] = list(raw.names)
        #: simulated parameter draws behind the simulation columns (0: delta method only)
        self.reps = int(raw.draws)
        self.draws = self.reps
        #: simulation draws rejected and redrawn because rho fell outside its interval
        self.rejected = int(raw.rejected)
        self.seed = seed
        #: observations of the fitted model the effects come from
        self.nobs = nobs
        #: nothing is dropped here (spatial panels are balanced; see the fit)
        self.dropped_rows: dict[str, int] = {}

    def _get(self, key: str, e: int) -> np.ndarray:
        return np.asarray(getattr(self._raw, key)[e], dtype=float)

    @property
    def direct(self) -> dict[str, float]:
        return dict(zip(self.names, self._raw.direct))

    @property
    def indirect(self) -> dict[str, float]:
        return dict(zip(self.names, self._raw.indirect))

    @property
    def total(self) -> dict[str, float]:
        return dict(zip(self.names, self._raw.total))

    def _table(self, level: float, method: str) -> pl.DataFrame:
        frames = []
        for e, label in enumerate(["direct", "indirect", "total"]):
            est = np.asarray(getattr(self._raw, label), dtype=float)
            dse = self._get("delta_se", e)
            sd = self._get("sim_sd", e)
            use_sim = method == "simulation" and self.reps > 1
            se = sd if use_sim else dse
            tab = normal_columns(est, se, level)
            if use_sim and abs(level - 0.95) < 1e-12:
                tab["conf_low"] = self._get("sim_lo", e)
                tab["conf_high"] = self._get("sim_hi", e)
            frames.append(
                pl.DataFrame(
                    {
                        "effect": [label] * len(self.names),
                        "term": self.names,
                        "estimate": est,
                        "std_error": se,
                        **tab,
                        "delta_se": dse,
                        "sim_mean": self._get("sim_mean", e),
                        "sim_sd": sd,
                        "sim_low": self._get("sim_lo", e),
                        "sim_high": self._get("sim_hi", e),
                    }
                )
            )
        return pl.concat(frames)

    def _tidy(self, level: float) -> pl.DataFrame:
        return self._table(level, "delta")

    def tidy(self, level: float = 0.95, method: str = "delta", *, as_pandas: bool = False) -> Any:
        """One row per effect and term.

        ``std_error``, ``statistic``, ``p_value``, ``conf_low``/``conf_high`` come from the
        delta method (``method="delta"``, default) or from the simulation (``"simulation"``:
        the draws' SD and, at level 0.95, their 2.5/97.5 percentiles). The simulation columns
        ``sim_mean``, ``sim_sd``, ``sim_low``, ``sim_high`` (2.5/97.5 percentiles) are always
        included; near the bound of rho the draws' SD can be huge while the percentiles stay
        informative.
        """
        level = check_level(level)
        method = check_choice("method", method, _IMPACT_METHODS)
        frame = self._table(level, method)
        return to_pandas(frame) if as_pandas else frame

    def _keyed(self, column: str) -> dict[str, float]:
        t = self._tidy(0.95)
        keys = [f"{e}:{term}" for e, term in zip(t["effect"].to_list(), t["term"].to_list())]
        return dict(zip(keys, t[column].to_list()))

    def coef(self) -> dict[str, float]:
        """Point effects keyed ``"direct:x"``, ``"indirect:x"``, ``"total:x"``."""
        return self._keyed("estimate")

    def se(self) -> dict[str, float]:
        """Delta-method standard errors keyed as :meth:`coef`."""
        return self._keyed("std_error")

    def pvalue(self) -> dict[str, float]:
        """Delta-method (normal) p-values keyed as :meth:`coef`."""
        return self._keyed("p_value")

    def confint(self, level: float = 0.95) -> pl.DataFrame:
        """effect, term, conf_low, conf_high (delta method)."""
        return self._tidy(check_level(level)).select("effect", "term", "conf_low", "conf_high")

    def _summary_text(self, level: float) -> str:
        t = self._tidy(level)
        lines = [f"LeSage-Pace effects ({self.reps} draws, seed {self.seed})"]
        lines.append(f"{'effect':<9}{'term':<22}{'estimate':>12}{'std.err':>12}{'p':>10}")
        for r in t.iter_rows(named=True):
            lines.append(
                f"{r['effect']:<9}{r['term'][:21]:<22}{r['estimate']:>12.6f}"
                f"{r['std_error']:>12.6f}{r['p_value']:>10.4f}"
            )
        return "\n".join(lines)

    def plot(
        self,
        ax: Any = None,
        *,
        level: float = 0.95,
        method: str = "delta",
        title: str | None = None,
    ) -> Any:
        """Direct, indirect and total effects of each regressor with their intervals at
        ``level`` (``tidy(level, method=method)``), one error-bar series per effect type.
        Returns the matplotlib Figure. For the paper figure (labels, Chinese text) see
        :func:`pilotdid.figures.spatial_effects_figure`."""
        import matplotlib.pyplot as plt

        tab = self.tidy(level, method=method)
        terms = list(dict.fromkeys(tab["term"].to_list()))
        if ax is None:
            _, ax = plt.subplots(figsize=(7.0, 0.8 * len(terms) + 2.0))
        y0 = np.arange(len(terms))[::-1].astype(float)
        for k, eff in enumerate(("direct", "indirect", "total")):
            sub = tab.filter(tab["effect"] == eff)
            pos = {term: i for i, term in enumerate(sub["term"].to_list())}
            idx = [pos[term] for term in terms]
            e = sub["estimate"].to_numpy()[idx]
            lo = sub["conf_low"].to_numpy()[idx]
            hi = sub["conf_high"].to_numpy()[idx]
            ax.errorbar(
                e,
                y0 + (1 - k) * 0.2,
                xerr=np.vstack([e - lo, hi - e]),
                fmt="os^"[k],
                capsize=3,
                color=f"C{k}",
                label=eff,
            )
        ax.axvline(0.0, color="grey", lw=0.8, ls="--")
        ax.set_yticks(y0)
        ax.set_yticklabels(terms)
        ax.set_xlabel(f"effect ({int(round(level * 100))}% interval, {method})")
        ax.legend(frameon=False)
        ax.set_title(title or "Direct, indirect and total effects")
        return ax.figure


class SpatialResult(ResultProtocol):
    """A fitted spatial panel model (SAR, SDM, SEM, SDEM or SAC) with fixed effects, by
    maximum likelihood.

    Coefficients are ordered regressors, W*regressors (SDM / SDEM), ``rho`` (lag models) and
    / or ``lambda`` (error models; SAC has both, rho first), ``sigma2``; SEs come from the
    inverse of the analytic information matrix (normal inference). ``method`` is the
    log-determinant path used ("dense" or "sparse"). Spatial panels are balanced: by default
    an incomplete unit is an error and nothing is dropped; with ``incomplete="drop_units"``
    the fit drops such units entirely (``dropped_units``, ``dropped_rows``) and ``w_note``
    says how W was subset and re-standardised.

    Identification of rho / lambda: ``spatial_intervals()`` holds the likelihood-ratio
    (profile-likelihood) interval of each estimated spatial parameter, {r : 2(l(r_hat) -
    l_c(r)) <= chi2_1(level)} on the concentrated likelihood the estimator maximises (SAC:
    the other spatial parameter profiled out too); ``rho_interval`` is that of ``rho`` (the
    first spatial parameter), ``lambda_interval`` that of ``lambda``. ``weakly_identified``
    is True when an interval reaches a bound of the admissible interval or is wider than a
    quarter of the admissible range capped at [-1, 1] (rule and its Monte Carlo justification:
    ``src/spatial/identification.rs``, ``tests/test_spatial_identification.py``); the fit
    then warns (:class:`WeakIdentificationWarning`) and ``summary()`` says so. Unlike the
    Wald interval of ``confint()``, the LR interval never leaves the admissible range.
    """

    def __init__(
        self,
        core: Any,
        *,
        model: str,
        formula: str,
        effects: str,
        lee_yu: bool,
        unit_ids: np.ndarray,
        periods: np.ndarray,
        unit: str | None = None,
        time: str | None = None,
        dropped_units: list[Any] | None = None,
        dropped_rows: dict[str, int] | None = None,
        w_note: str | None = None,
    ) -> None:
        self._core = core
        #: the panel's unit and period column names (tables name the fixed effects by them)
        self.unit, self.time = unit, time
        self.model = model
        #: the model formula (``fml``)
        self.formula = formula
        self.fml = formula
        self.effects = effects
        self.lee_yu = lee_yu
        self.unit_ids = unit_ids
        self.periods = periods
        self.coefnames: list[str] = list(core.names)
        self._coef = np.asarray(core.coef)
        self._se = np.asarray(core.se)
        p = len(self._coef)
        self._vcov = np.asarray(core.vcov).reshape(p, p)
        #: rows dropped, by reason (incomplete="drop_units"; otherwise empty)
        self.dropped_rows: dict[str, int] = dict(dropped_rows or {})
        #: units dropped entirely by incomplete="drop_units" (W's ids)
        self.dropped_units: list[Any] = list(dropped_units or [])
        #: what was done to W when units were dropped (subset, re-standardised), else None
        self.w_note = w_note
        self._intervals = list(core.intervals)

    @property
    def result_name(self) -> str:  # type: ignore[override]
        return f"{self.model.upper()} panel ({self.effects} effects), {self.formula}"

    def coef(self) -> dict[str, float]:
        return dict(zip(self.coefnames, self._coef.tolist()))

    def se(self) -> dict[str, float]:
        return dict(zip(self.coefnames, self._se.tolist()))

    def vcov(self) -> np.ndarray:
        """Covariance of all parameters in ``coefnames`` order (incl. rho/lambda, sigma2)."""
        return self._vcov.copy()

    @property
    def rho(self) -> float:
        """The spatial parameter: rho (lag models, SAC, GNS) or lambda (SEM / SDEM)."""
        if self.model in ("sac", "gns"):
            return float(self._coef[-3])
        return float(self._coef[-2])

    @property
    def lambda_(self) -> float | None:
        """The spatial error parameter (SEM, SDEM, SAC, GNS); None for SAR / SDM."""
        if "lambda" in self.coefnames:
            return float(self._coef[self.coefnames.index("lambda")])
        return None

    @property
    def sigma2(self) -> float:
        return float(self._coef[-1])

    @property
    def loglik(self) -> float:
        return float(self._core.loglik)

    @property
    def nobs(self) -> int:
        return int(self._core.n_units) * int(self._core.n_periods)

    @property
    def warnings(self) -> list[str]:
        return list(self._core.warnings)

    @property
    def rho_bounds(self) -> tuple[float, float]:
        return tuple(self._core.rho_bounds)

    @property
    def method(self) -> str:
        """Log-determinant / trace path used: "dense" or "sparse"."""
        return str(self._core.method)

    @property
    def trace_se(self) -> float | None:
        """Sparse path: Monte Carlo standard error of tr(G'G) in the information matrix."""
        v = self._core.trace_se
        return None if v is None else float(v)

    def spatial_intervals(self) -> pl.DataFrame:
        """The likelihood-ratio interval of each estimated spatial parameter: term,
        estimate, conf_low, conf_high, level, reaches_low / reaches_high (the interval runs
        to that bound of the admissible interval, which is then reported), bound_low /
        bound_high (the admissible interval), lr_zero (the LR statistic of the parameter = 0,
        chi-squared with 1 df) and weakly_identified. Empty when the parameter was fixed."""
        ivs = self._intervals
        return pl.DataFrame(
            {
                "term": [iv.name for iv in ivs],
                "estimate": [iv.estimate for iv in ivs],
                "conf_low": [iv.low for iv in ivs],
                "conf_high": [iv.high for iv in ivs],
                "level": [iv.level for iv in ivs],
                "reaches_low": [iv.reaches_low for iv in ivs],
                "reaches_high": [iv.reaches_high for iv in ivs],
                "bound_low": [iv.bounds[0] for iv in ivs],
                "bound_high": [iv.bounds[1] for iv in ivs],
                "lr_zero": [iv.lr_zero for iv in ivs],
                "weakly_identified": [iv.weakly_identified for iv in ivs],
            },
            schema_overrides={
                "term": pl.String,
                "estimate": pl.Float64,
                "conf_low": pl.Float64,
                "conf_high": pl.Float64,
                "level": pl.Float64,
                "reaches_low": pl.Boolean,
                "reaches_high": pl.Boolean,
                "bound_low": pl.Float64,
                "bound_high": pl.Float64,
                "lr_zero": pl.Float64,
                "weakly_identified": pl.Boolean,
            },
        )

    def _interval_of(self, name: str) -> tuple[float, float] | None:
        for iv in self._intervals:
            if iv.name == name:
                return (float(iv.low), float(iv.high))
        return None

    @property
    def rho_interval(self) -> tuple[float, float] | None:
        """LR interval (low, high) of the first spatial parameter (``rho``; ``lambda`` for
        SEM / SDEM, as :attr:`rho`) at ``interval_level``; None when it was fixed."""
        if not self._intervals:
            return None
        iv = self._intervals[0]
        return (float(iv.low), float(iv.high))

    @property
    def lambda_interval(self) -> tuple[float, float] | None:
        """LR interval (low, high) of ``lambda`` (SEM, SDEM, SAC); None otherwise."""
        return self._interval_of("lambda")

    @property
    def interval_level(self) -> float | None:
        """Level of the LR intervals (the fit's ``level``)."""
        return float(self._intervals[0].level) if self._intervals else None

    @property
    def weakly_identified(self) -> bool:
        """True when an LR interval of rho / lambda reaches a bound of the admissible
        interval or is wider than a quarter of the admissible range capped at [-1, 1]
        (a 95% interval wider than 0.5 for a row-standardised W)."""
        return any(iv.weakly_identified for iv in self._intervals)

    @property
    def identification_note(self) -> str:
        """The LR interval of each spatial parameter and, where it applies, why it is weakly
        identified, as one sentence for a table note or a report ("" when none was
        estimated)."""
        return "; ".join(self._identification_lines())

    def _identification_lines(self) -> list[str]:
        """One line per spatial parameter: its LR interval, and why it is weakly identified."""
        lines = []
        for iv in self._intervals:
            pct = f"{100 * iv.level:g}%"
            lo, hi = iv.bounds
            line = (
                f"LR {pct} interval for {iv.name}: [{iv.low:.4f}, {iv.high:.4f}] "
                f"(admissible ({lo:.4f}, {hi:.4f}))"
            )
            if iv.weakly_identified:
                if iv.reaches_low or iv.reaches_high:
                    why = "the interval reaches a bound of the admissible interval"
                else:
                    why = (
                        f"the interval is {iv.high - iv.low:.3f} wide, more than "
                        f"{iv.weak_width_share:g} of the admissible range capped at [-1, 1] "
                        f"({iv.capped_range:.3f})"
                    )
                line += f"; {iv.name} is weakly identified: {why}"
            lines.append(line)
        return lines

    def _tidy(self, level: float) -> pl.DataFrame:
        tab = normal_columns(self._coef, self._se, level)
        return pl.DataFrame(
            {"term": self.coefnames, "estimate": self._coef, "std_error": self._se, **tab}
        )

    def wald_theta(self) -> dict[str, float]:
        """Wald test of theta = 0 (all W*X coefficients; SDM against SAR)."""
        t = self._core.wald_theta()
        return {"statistic": t.statistic, "df": t.df, "p_value": t.p_value}

    def lr_test(self, restricted: SpatialResult) -> dict[str, float]:
        """Likelihood-ratio test of a nested restricted fit (e.g. the SAR on the same data)
        against this one: 2 (loglik - loglik_restricted), chi-squared with the difference in
        the number of parameters."""
        t = self._core.lr_test(restricted._core)
        return {"statistic": t.statistic, "df": t.df, "p_value": t.p_value}

    @vocabulary(renamed={"draws": "reps"})
    def impacts(self, *, reps: int = 1000, seed: int = 0) -> SpatialImpacts:
        """LeSage-Pace effects; inference by ``reps`` simulated parameter vectors (seeded,
        thread-count invariant; ``reps=0`` skips the simulation) and by the delta method."""
        reps = check_reps(
            "reps", reps, bytes_per_rep=impacts_bytes_per_rep(len(self.coefnames)), lo=0
        )
        seed = check_seed(seed)
        return SpatialImpacts(self._core.impacts(draws=reps, seed=seed), seed, nobs=self.nobs)

    def unit_impacts(self) -> pl.DataFrame:
        """Per-unit effects at the estimate: direct = (S_k)_ii, total = row sum of S_k
        (effect on unit i of raising the regressor everywhere), indirect = total - direct.
        Dense up to 1,500 units; above, exact sparse solves of (I - rho W) against the
        columns of W (one factorisation, no N x N inverse)."""
        raw = self._core.unit_impacts()
        direct, indirect, total = raw.direct, raw.indirect, raw.total
        frames = []
        for k, name in enumerate(raw.names):
            frames.append(
                pl.DataFrame(
                    {
                        "unit": list(self.unit_ids),
                        "term": [name] * len(self.unit_ids),
                        "direct": direct[k],
                        "indirect": indirect[k],
                        "total": total[k],
                    }
                )
            )
        return pl.concat(frames)

    def _summary_text(self, level: float) -> str:
        t = self._tidy(level)
        eff = self.effects + (" (Lee-Yu)" if self.lee_yu else "")
        lines = [
            f"{self.model.upper()} panel, ML, fixed effects: {eff}",
            f"Formula: {self.formula}",
            f"N = {self._core.n_units}, T = {self._core.n_periods}, "
            f"log-likelihood = {self.loglik:.4f}",
            *(
                [
                    f"Dropped {len(self.dropped_units)} incomplete unit(s) "
                    f"({', '.join(map(str, self.dropped_units[:10]))}"
                    f"{' ...' if len(self.dropped_units) > 10 else ''}); {self.w_note}"
                ]
                if self.dropped_units
                else []
            ),
            *(
                [self.w_note]
                if self.w_note and not self.dropped_units and "varies by period" in self.w_note
                else []
            ),
            f"{'term':<24}{'estimate':>12}{'std.err':>12}{'z':>9}{'p':>9}",
        ]
        for r in t.iter_rows(named=True):
            lines.append(
                f"{r['term'][:23]:<24}{r['estimate']:>12.6f}{r['std_error']:>12.6f}"
                f"{r['statistic']:>9.3f}{r['p_value']:>9.4f}"
            )
        lines.extend(self._identification_lines())
        for w in self.warnings:
            lines.append(f"Warning: {w}")
        return "\n".join(lines)

"""Results of `pilotdid.feols`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from pilotdid._args import (
    check_choice,
    check_float,
    check_level,
    check_reps,
    check_seed,
    vocabulary,
)
from pilotdid._core import PilotdidError
from pilotdid.results._protocol import ResultProtocol, Summary, to_pandas

#: Memory each wild-bootstrap replicate needs until the call returns
#: (core/src/inference/wild_bootstrap.rs): its `Replicate` record (t, the tie flag and the five
#: coefficients of t*_b(r0) for the interval search: 7 x 8 bytes) plus its entry of t_boot
#: (8 bytes), which is returned to Python.
WILD_BOOT_BYTES_PER_REP = 64


@dataclass(frozen=True, repr=False)
class WildBootResult(ResultProtocol):
    """Restricted wild cluster bootstrap (WCR) of one linear hypothesis R'b = r.

    The protocol sees one term, the hypothesis: its estimate R'b, no standard error (the
    bootstrap tests and inverts the test instead; NaN, as fwildclusterboot's tidy has none),
    the CR1 t statistic, the bootstrap p-value and the test-inversion interval. That interval
    exists only at the ``level`` it was computed at: ``tidy()``, ``confint()`` and ``summary()``
    use that level by default and refuse another one (rerun ``wildboottest(level=...)``).
    ``p_value`` (a float) is the bootstrap p-value, ``pvalue()`` the protocol's dict.
    """

    hypothesis: str
    estimate: float
    t_stat: float
    p_value: float
    conf_int: tuple[float, float] | None
    level: float
    reps: int
    weight_type: str
    seed: int
    t_boot: np.ndarray = field(repr=False)
    #: Fixed effects not nested in the clusters enter the bootstrap as dummies (exact);
    #: fe_exact is False when there were too many and they were projected out instead.
    fe_as_dummies: list[str] = field(default_factory=list)
    fe_exact: bool = True

    result_name = "wild cluster bootstrap (WCR)"

    @classmethod
    def from_core(
        cls, out: Any, *, hypothesis: str, level: float, weight_type: str, seed: int
    ) -> WildBootResult:
        """The result of a core wild bootstrap (feols, Sun-Abraham, did2s): its numbers as
        computed; the fixed-effect handling where the core reports it (did2s re-runs both
        stages per draw and has none to report)."""
        ci = out.conf_int
        return cls(
            hypothesis=hypothesis,
            estimate=float(out.estimate),
            t_stat=float(out.t_stat),
            p_value=float(out.p_value),
            conf_int=None if ci is None else (float(ci[0]), float(ci[1])),
            level=level,
            reps=int(out.reps),
            weight_type=weight_type,
            seed=seed,
            t_boot=np.asarray(out.t_boot),
            fe_as_dummies=list(getattr(out, "fe_as_dummies", [])),
            fe_exact=bool(getattr(out, "fe_exact", True)),
        )

    def _interval_level(self, level: float | None) -> float:
        if level is None:
            return self.level
        level = check_level(level)
        if not math.isclose(level, self.level, rel_tol=0.0, abs_tol=1e-12):
            raise PilotdidError(
                f"option 'level': this bootstrap interval was computed at level {self.level:g} "
                f"by test inversion; rerun wildboottest(..., level={level:g}) for another level"
            )
        return self.level

    def _tidy(self, level: float) -> pl.DataFrame:
        # coef()/se()/pvalue() ask for 0.95: the interval is only filled at the fit's level.
        ci = self.conf_int if math.isclose(level, self.level, abs_tol=1e-12) else None
        lo, hi = ci if ci is not None else (float("nan"), float("nan"))
        return pl.DataFrame(
            {
                "term": [self.hypothesis],
                "estimate": [float(self.estimate)],
                "std_error": [float("nan")],
                "statistic": [float(self.t_stat)],
                "p_value": [float(self.p_value)],
                "conf_low": [float(lo)],
                "conf_high": [float(hi)],
            }
        )

    def tidy(self, level: float | None = None, *, as_pandas: bool = False) -> Any:
        """One row (the hypothesis): term, estimate, std_error (NaN), statistic (CR1 t),
        p_value (bootstrap), conf_low, conf_high (test inversion at ``self.level``)."""
        frame = self._tidy(self._interval_level(level))
        return to_pandas(frame) if as_pandas else frame

    def confint(self, level: float | None = None) -> pl.DataFrame:
        return self.tidy(level).select("term", "conf_low", "conf_high")

    def summary(self, level: float | None = None) -> Summary:
        return Summary(self._summary_text(self._interval_level(level)))

    def _summary_text(self, level: float) -> str:
        ci = (
            f"[{self.conf_int[0]:.6g}, {self.conf_int[1]:.6g}]" if self.conf_int else "not computed"
        )
        p = f"< {1 / self.reps:.2g}" if self.p_value == 0 else f"{self.p_value:.4f}"
        head = f"WCR, {self.weight_type}, {self.reps} reps, seed {self.seed}"
        return (
            f"Wild cluster bootstrap ({head})\n"
            f"  H0: {self.hypothesis}\n  estimate {self.estimate:.6g}  t {self.t_stat:.4f}  "
            f"p {p}  {int(round(self.level * 100))}% CI {ci}"
        )


class FeolsResult(ResultProtocol):
    """A fitted fixed-effects OLS regression (the result protocol).

    ``coef()``, ``se()``, ``pvalue()`` return ``{name: value}`` in model order; ``vcov()`` a
    numpy matrix in the same order (``coefnames``); ``tidy()`` and ``confint()`` polars
    DataFrames (Student t with ``df_t``); ``summary()`` the table as text (never printed).
    ``dropped_rows`` counts every row not used, by reason.
    """

    @property
    def result_name(self) -> str:  # type: ignore[override]
        text = f"fixed-effects OLS {self.formula}"
        return text if len(text) <= 200 else text[:197] + "..."

    def __init__(
        self,
        core: Any,
        *,
        formula: str,
        depvar: str,
        fixef: list[str],
        vcov_label: str,
        clusters: list[str],
        weights: str | None,
        columns: tuple[np.ndarray, list[np.ndarray]],
        data: Any = None,
    ) -> None:
        self._core = core
        # The columns the core was given: the wild bootstrap rebuilds its design from them.
        self._columns = columns
        #: The caller's data (a reference, never modified): placebo and robustness re-run on it.
        self.data = data
        self.formula = formula
        self.depvar = depvar
        self.fixef = fixef
        self.vcov_type = vcov_label
        self.clusters = clusters
        self.weights = weights
        self.coefnames: list[str] = list(core.coefnames)
        self._beta = np.asarray(core.beta)
        self._se = np.asarray(core.se)
        self._vcov = np.asarray(core.vcov)

    # --- the shared result vocabulary -------------------------------------------------
    def coef(self) -> dict[str, float]:
        return dict(zip(self.coefnames, self._beta.tolist()))

    def se(self) -> dict[str, float]:
        return dict(zip(self.coefnames, self._se.tolist()))

    def vcov(self) -> np.ndarray:
        return self._vcov.copy()

    def tstat(self) -> dict[str, float]:
        return dict(zip(self.coefnames, self._core.coef_table(0.95).statistic))

    def _tidy(self, level: float) -> pl.DataFrame:
        """Student t with the fit's df (``df_t``), from the core's coefficient table. A fixed-
        effects-only fit gives no rows (the schema is explicit so the columns keep their
        types)."""
        t = self._core.coef_table(level)
        return pl.DataFrame(
            {
                "term": self.coefnames,
                "estimate": self._beta,
                "std_error": self._se,
                "statistic": t.statistic,
                "p_value": t.p_value,
                "conf_low": t.conf_low,
                "conf_high": t.conf_high,
            },
            schema={"term": pl.String, **{c: pl.Float64 for c in _TIDY_NUMBERS}},
        )

    def resid(self) -> np.ndarray:
        """Residuals y - fitted on the estimation rows, in data order, unweighted (pyfixest's
        ``resid()``; ``used_rows`` tells which input rows they belong to)."""
        return np.asarray(self._core.residuals())

    @property
    def used_rows(self) -> np.ndarray:
        """Boolean mask over the input rows: True for the rows the fit used."""
        return np.asarray(self._core.used_rows)

    @property
    def is_fixef_only(self) -> bool:
        """True for a model of fixed effects alone (``y ~ 1 | fe``): no coefficients."""
        return not self.coefnames and bool(self.fixef)

    # --- fit statistics -----------------------------------------------------------------
    @property
    def nobs(self) -> int:
        return int(self._core.nobs)

    @property
    def r2(self) -> float:
        return float(self._core.r2)

    @property
    def r2_within(self) -> float | None:
        """R² of the demeaned regression; None without fixed effects, NaN for a fixed-effects-
        only fit (no regressor explains within variation; pyfixest reports NaN too)."""
        v = self._core.r2_within
        return None if v is None else float(v)

    @property
    def rmse(self) -> float:
        """Root mean squared (weighted) residual, sqrt(RSS / nobs) (fixest / pyfixest)."""
        return math.sqrt(float(self._core.rss) / self.nobs)

    @property
    def collinear(self) -> list[str]:
        return list(self._core.collinear)

    @property
    def n_singletons(self) -> int:
        """Singleton observations detected (removed only with fixef_rm='singleton')."""
        return int(self._core.n_singletons)

    @property
    def dropped_rows(self) -> dict[str, int]:
        """Rows of the input not used, by reason."""
        out = {
            "missing": int(self._core.n_missing),
            "singletons": int(self._core.n_singletons) if self._core.singletons_dropped else 0,
        }
        if self.weights:
            out["zero_weight"] = int(self._core.n_zero_weight)
        return out

    @property
    def n_dropped(self) -> int:
        return sum(self.dropped_rows.values())

    @property
    def n_clusters(self) -> list[int] | None:
        n = list(self._core.n_clusters)
        return n or None

    @property
    def df_t(self) -> int:
        return int(self._core.df_t)

    @property
    def fixef_levels(self) -> dict[str, int]:
        return dict(zip(self.fixef, self._core.fe_levels))

    @property
    def demean_method(self) -> str:
        return str(self._core.demean_method)

    # --- inference ----------------------------------------------------------------------
    @vocabulary(renamed={"weights": "weight_type"})
    def wildboottest(
        self,
        param: str | dict[str, float],
        *,
        reps: int = 9999,
        seed: int = 0,
        weight_type: str = "rademacher",
        r: float = 0.0,
        level: float = 0.95,
    ) -> WildBootResult:
        """Restricted wild cluster bootstrap (WCR; Cameron, Gelbach & Miller 2008; Roodman
        et al. 2019) of ``param = r`` (or of a linear combination ``{"x1": 1, "x2": -1}``),
        clustered by the fit's first cluster variable. p-value: share of bootstrap |t*| at
        least |t|; the confidence interval inverts the test. Seeded and thread-count invariant.

        ``weight_type``: the bootstrap weight distribution, "rademacher" or "webb" (R
        fwildclusterboot's ``type``, wildboottest's ``weights_type``; ``weights`` is the
        regression weights' name in this package).
        """
        if isinstance(param, str):
            combo = {param: 1.0}
        elif isinstance(param, dict) and param and all(isinstance(k, str) for k in param):
            combo = {k: check_float(f"param[{k!r}]", v) for k, v in param.items()}
        else:
            raise PilotdidError(
                "option 'param': expected a coefficient name or a dict {name: weight}, got "
                f"{param!r}"
            )
        reps = check_reps("reps", reps, bytes_per_rep=WILD_BOOT_BYTES_PER_REP)
        seed = check_seed(seed)
        weight_type = check_choice(
            "weight_type",
            weight_type.lower() if isinstance(weight_type, str) else weight_type,
            ("rademacher", "webb"),
        )
        r = check_float("r", r)
        level = check_level(level)
        if not self.clusters:
            raise PilotdidError(
                "option 'vcov': the wild cluster bootstrap needs a clustered fit, "
                "e.g. feols(..., vcov={'CR1': 'unit'})"
            )
        unknown = [p for p in combo if p not in self.coefnames]
        if unknown:
            hint = " (dropped as collinear)" if unknown[0] in self.collinear else ""
            raise PilotdidError(
                f"option 'param': '{unknown[0]}' is not a coefficient of this model{hint}; "
                f"coefficients: {', '.join(self.coefnames)}"
            )
        rvec = np.array([combo.get(name, 0.0) for name in self.coefnames], dtype=np.float64)
        y, x = self._columns
        out = self._core.wildboottest(
            y, x, rvec, r, reps=reps, weights=weight_type, seed=seed, level=level
        )
        lhs = " + ".join((f"{v:g}*{k}" if v != 1.0 else k) for k, v in combo.items())
        return WildBootResult.from_core(
            out, hypothesis=f"{lhs} = {r:g}", level=level, weight_type=weight_type, seed=seed
        )

    # --- display ------------------------------------------------------------------------
    def _summary_text(self, level: float) -> str:
        """A compact Stata-like table."""
        t = self._tidy(level)
        pct = int(round(level * 100))
        lines = [
            f"Fixed-effects OLS: {self.formula}",
            f"Observations: {self.nobs}"
            + (
                f"   (dropped: {', '.join(f'{v} {k}' for k, v in self.dropped_rows.items())})"
                if self.n_dropped
                else ""
            ),
        ]
        if self.fixef:
            lines.append(
                "Fixed effects: "
                + ", ".join(f"{k} ({v})" for k, v in self.fixef_levels.items())
                + (f"   singletons found: {self.n_singletons}" if self.n_singletons else "")
            )
        cl = f" ({', '.join(map(str, self.n_clusters))} clusters)" if self.n_clusters else ""
        lines.append(f"Standard errors: {self.vcov_type}{cl}")
        if self.is_fixef_only:
            lines.append("No coefficients (fixed effects only)")
            lines.append(self._fit_line())
            return "\n".join(lines)
        header = (
            f"{'':<22}{'Estimate':>12}{'Std. Error':>12}{'t value':>10}{'Pr(>|t|)':>10}"
            f"{f'[{pct}% conf. interval]':>26}"
        )
        rule = "-" * len(header)
        lines += [rule, header, rule]
        for row in t.iter_rows(named=True):
            p = row["p_value"]
            stars = "***" if p < 0.01 else "**" if p < 0.05 else "*" if p < 0.1 else ""
            lines.append(
                f"{row['term'][:22]:<22}{row['estimate']:>12.6f}{row['std_error']:>12.6f}"
                f"{row['statistic']:>10.3f}{p:>10.4f}"
                f"{row['conf_low']:>13.6f}{row['conf_high']:>13.6f} {stars}"
            )
        lines.append(rule)
        lines.append(self._fit_line())
        if self.collinear:
            lines.append(f"Dropped as collinear: {', '.join(self.collinear)}")
        lines.append("Signif. codes: *** 0.01, ** 0.05, * 0.1")
        return "\n".join(lines)

    def _fit_line(self) -> str:
        r2w = f"   Within R2: {self.r2_within:.4f}" if self.r2_within is not None else ""
        return f"R2: {self.r2:.4f}{r2w}   RMSE: {self.rmse:.6g}"


#: The numeric columns of the protocol's tidy() frame.
_TIDY_NUMBERS = ("estimate", "std_error", "statistic", "p_value", "conf_low", "conf_high")

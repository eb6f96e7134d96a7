"""Result of a time-space dynamic spatial panel (Yu, de Jong & Lee 2008; Lee & Yu 2010):
the bias-corrected QML with its asymptotic variance, the uncorrected QML next to it, and
short- and long-run LeSage-Pace effects (Elhorst 2014; xsmle's ``dlag`` output)."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from pilotdid._args import check_choice, check_reps, check_seed, vocabulary
from pilotdid._core import PilotdidError
from pilotdid.results._inference import normal_columns
from pilotdid.results.spatial import SpatialImpacts, SpatialResult, impacts_bytes_per_rep

__all__ = ["DynamicSpatialResult"]

_HORIZONS = ("short", "long")


class DynamicSpatialResult(SpatialResult):
    """A dynamic SAR / SDM: y_t = rho W y_t + tau y_{t-1} + eta W y_{t-1} + X_t beta
    + W X_t theta + unit (+ period) effects + e_t.

    ``coef()``, ``se()``, ``vcov()`` and ``tidy()`` are the bias-corrected estimator
    (Yu, de Jong & Lee 2008; two-way: Lee & Yu 2010). Its variance is J V_f J': the papers'
    (Sigma^-1 + Sigma^-1 Omega Sigma^-1)/(nT') with T' - 1 periods counted in the
    log-determinant and sigma2 terms (the transformation approach of Lee & Yu 2010), carried
    through the correction by the delta method (J = I + dc/dtheta); both refinements vanish
    as T grows and bring the Monte Carlo coverage at T' = 10 to nominal. The papers' form is
    ``_core.vcov_asymptotic`` (as sar_jihai.m and SDPDmod report it). ``coef_qml()`` /
    ``se_qml()`` the QML estimate before the correction. The lags are named ``tau``
    (y_{t-1}) and ``eta`` (W y_{t-1}); ``nobs`` counts the N(T-1) observations used (the
    first period is lost to the lag). ``spectral_radius`` is the largest eigenvalue modulus
    of (I - rho W)^-1 (tau I + eta W) at the estimate (stationary below 1; the fit warns
    otherwise). ``impacts(horizon="short" | "long")`` gives the short-run effects
    (I - rho W)^-1 (beta I + theta W) and the long-run effects
    ((1 - tau) I - (rho + eta) W)^-1 (beta I + theta W).
    """

    def __init__(self, core: Any, *, dlag: int, depvar: str, **kw: Any) -> None:
        super().__init__(core, **kw)
        #: xsmle's dlag code: 1 y(t-1), 2 W y(t-1), 3 both
        self.dlag = dlag
        self.depvar = depvar
        self._coef_qml = np.asarray(core.coef_qml)
        self._se_qml = np.asarray(core.se_qml)

    @property
    def result_name(self) -> str:  # type: ignore[override]
        return (
            f"dynamic {self.model.upper()} panel ({self.effects} effects, bias-corrected), "
            f"{self.formula}"
        )

    @property
    def tau(self) -> float | None:
        """Coefficient of y_{t-1} (None when dlag excludes it)."""
        return self.coef().get("tau")

    @property
    def eta(self) -> float | None:
        """Coefficient of W y_{t-1} (None when dlag excludes it)."""
        return self.coef().get("eta")

    @property
    def spectral_radius(self) -> float:
        return float(self._core.spectral_radius)

    def coef_qml(self) -> dict[str, float]:
        """The QML estimate before the bias correction."""
        return dict(zip(self.coefnames, self._coef_qml.tolist()))

    def se_qml(self) -> dict[str, float]:
        return dict(zip(self.coefnames, self._se_qml.tolist()))

    def vcov_qml(self) -> np.ndarray:
        return np.asarray(self._core.vcov_qml).copy()

    def tidy_qml(self, level: float = 0.95) -> pl.DataFrame:
        """The uncorrected QML table (same columns as ``tidy()``)."""
        tab = normal_columns(self._coef_qml, self._se_qml, level)
        return pl.DataFrame(
            {"term": self.coefnames, "estimate": self._coef_qml, "std_error": self._se_qml, **tab}
        )

    @vocabulary(renamed={"draws": "reps"})
    def impacts(  # type: ignore[override]
        self, *, horizon: str = "short", reps: int = 1000, seed: int = 0
    ) -> SpatialImpacts:
        """Short-run (``horizon="short"``) or long-run (``"long"``) direct, indirect and total
        effects (LeSage-Pace summaries), with delta-method SEs and ``reps`` simulated
        parameter draws. Long-run effects are those of the static model at
        rho* = (rho + eta)/(1 - tau), beta* = beta/(1 - tau), theta* = theta/(1 - tau),
        whose covariance is J V J' (J the Jacobian), so their delta-method SEs account for
        tau and eta; the simulation draws (beta*, theta*, rho*) from that normal
        approximation. Refused (error) for a non-stationary estimate."""
        horizon = check_choice("horizon", horizon, _HORIZONS)
        reps = check_reps(
            "reps", reps, bytes_per_rep=impacts_bytes_per_rep(len(self.coefnames)), lo=0
        )
        seed = check_seed(seed)
        raw = self._core.impacts(long_run=horizon == "long", draws=reps, seed=seed)
        return SpatialImpacts(raw, seed, nobs=self.nobs)

    def wald_theta(self) -> dict[str, float]:
        raise PilotdidError("wald_theta() is not available for dynamic models (use tidy())")

    def lr_test(self, restricted: SpatialResult) -> dict[str, float]:
        raise PilotdidError("lr_test() is not available for dynamic models")

    def unit_impacts(self) -> pl.DataFrame:
        raise PilotdidError(
            "unit_impacts() is not available for dynamic models (use impacts(horizon=...))"
        )

    def _summary_text(self, level: float) -> str:
        t = self._tidy(level)
        q = self.tidy_qml(level)
        lags = {1: "y(t-1)", 2: "W y(t-1)", 3: "y(t-1), W y(t-1)"}[self.dlag]
        corr = "Yu, de Jong & Lee (2008)" + (
            " + Lee & Yu (2010) time-effects term" if self.effects == "twoways" else ""
        )
        lines = [
            f"Dynamic {self.model.upper()} panel, QML, fixed effects: {self.effects}; lags: {lags}",
            f"Formula: {self.formula}",
            f"N = {self._core.n_units}, T = {self._core.n_periods} (after the lag), "
            f"log-likelihood = {self.loglik:.4f}",
            f"Bias correction: {corr}; spectral radius of A = {self.spectral_radius:.4f}",
            f"{'term':<24}{'estimate':>12}{'std.err':>12}{'z':>9}{'p':>9}{'QML':>12}",
        ]
        for r, qml in zip(t.iter_rows(named=True), q["estimate"].to_list()):
            lines.append(
                f"{r['term'][:23]:<24}{r['estimate']:>12.6f}{r['std_error']:>12.6f}"
                f"{r['statistic']:>9.3f}{r['p_value']:>9.4f}{qml:>12.6f}"
            )
        for w in self.warnings:
            lines.append(f"Warning: {w}")
        return "\n".join(lines)

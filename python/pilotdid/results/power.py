"""Results of simulated power analysis (:func:`pilotdid.power`) and of Monte Carlo runs
(:func:`pilotdid.monte_carlo`), following the one result protocol."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from pilotdid.results._protocol import ResultProtocol

__all__ = ["PowerResult", "MonteCarloResult"]


@dataclass(repr=False)
class PowerResult(ResultProtocol):
    """A simulated power curve (Burlig, Preonas & Woerman 2020, J. Dev. Econ. 144; Black,
    Hollingsworth, Nunes & Simon 2022, "Simulated power analyses for observational studies").

    ``effects``: the injected effect sizes (0 first: the size); ``rejection``: the share of
    the valid replicates rejecting H0: effect = 0 in a two-sided test at 1 - ``level``
    (``level`` is the confidence level, 0.95 = a test at 5%), with ``rejection_se`` its
    Monte Carlo standard error sqrt(p(1 - p) / R); ``size`` the rejection rate at effect 0;
    ``mde`` the smallest effect whose rejection rate reaches ``power`` (linear interpolation
    of the curve; NaN if not reached), ``mde_se`` its simulation error (delta method: the
    curve's MC s.e. at the MDE over its slope); ``analytic_mde`` = (t_{(1+level)/2} + z_power) *
    se_twfe with se_twfe the root mean square of the clustered TWFE standard errors over the
    replicates at effect 0, and ``analytic_power`` its power at each effect (normal
    approximation averaged over replicates): the closed-form cross-check, valid when the TWFE
    t-statistic is normal with a correct s.e. (many clusters, constant effects).
    ``estimates``/``std_errors``: (reps, n_effects) draws; NaN where a fit failed.

    Spatial models (estimator "sar"/"sdm"): ``target`` says what was tested ("coef", "direct",
    "indirect", "total" of the pseudo-treatment, with ``effects`` its injected coefficient;
    or "rho", with ``effects`` the injected spatial lags), ``spillover`` the injected W*D
    coefficient per unit of effect (SDM) and ``rho`` the injected multiplier's spatial lag
    (None: each replicate's own fit at effect 0); tests are normal (ML) and the analytic
    TWFE columns are NaN. For the DID estimators ``target`` is "att" (the overall ATT).
    """

    estimator: str
    effects: np.ndarray
    rejection: np.ndarray
    rejection_se: np.ndarray
    n_valid: np.ndarray
    analytic_power: np.ndarray
    analytic_mde: float
    se_twfe: float
    mde: float
    mde_se: float
    power: float
    level: float
    reps: int
    seed: int
    shape: str
    sample: str
    estimates: np.ndarray = field(repr=False)
    std_errors: np.ndarray = field(repr=False)
    nobs: int = 0
    dropped_rows: int = 0
    shift: int | None = None
    target: str = "att"
    spillover: float = 0.0
    rho: float | None = None
    result_name = "simulated power curve"

    @property
    def size(self) -> float:
        return float(self.rejection[0])

    def _tidy(self, level: float) -> pl.DataFrame:
        from scipy.stats import norm

        z = float(norm.ppf(0.5 + level / 2))
        p, s = self.rejection, self.rejection_se
        return pl.DataFrame(
            {
                "term": [f"effect={e:g}" for e in self.effects],
                "estimate": p,
                "std_error": s,
                "statistic": np.full(p.size, np.nan),
                "p_value": np.full(p.size, np.nan),
                "conf_low": p - z * s,
                "conf_high": p + z * s,
                "effect": self.effects,
                "analytic_power": self.analytic_power,
                "n_valid": self.n_valid,
            }
        )

    def _summary_text(self, level: float) -> str:
        spatial = self.target != "att"
        tested = ""
        if spatial:
            inj = "estimated per replicate" if self.rho is None else f"{self.rho:g}"
            tested = (
                f", target {self.target}"
                + (" (injected rho; H0: rho = 0)" if self.target == "rho" else "")
                + (
                    f" (injected coefficient of D, spillover {self.spillover:g} x effect, "
                    f"multiplier rho {inj})"
                    if self.target != "rho"
                    else ""
                )
            )
        lines = [
            f"Simulated power: estimator {self.estimator}{tested}, {self.reps} replicates, seed "
            f"{self.seed}, effect shape '{self.shape}', sample '{self.sample}'"
            + (f" (schedule {self.shift} periods earlier)" if self.shift is not None else "")
            + ", test at "
            f"{1 - self.level:.3g} (level {self.level:g})",
            f"{'effect':>10} {'power':>8} {'MC s.e.':>8} {'analytic':>9} {'R':>6}",
        ]
        for e, p, s, a, n in zip(
            self.effects, self.rejection, self.rejection_se, self.analytic_power, self.n_valid
        ):
            lines.append(f"{e:>10.4g} {p:>8.3f} {s:>8.3f} {a:>9.3f} {int(n):>6}")
        lines.append(
            f"size (effect 0): {self.size:.3f};  MDE at power {self.power:g}: {self.mde:.4g} "
            f"(simulation s.e. {self.mde_se:.2g});  "
            + (
                "no analytic cross-check for the spatial ML"
                if spatial
                else f"analytic TWFE MDE: {self.analytic_mde:.4g}"
            )
        )
        return "\n".join(lines)

    def plot(self, *, ax: Any = None, path: str | None = None) -> Any:
        """The power curve with +-1.96 MC s.e. bands, the analytic TWFE curve dashed, the
        target power and the MDE marked. Returns the matplotlib Figure (saved to ``path``)."""
        import matplotlib

        if ax is None:
            matplotlib.use(matplotlib.get_backend())
            import matplotlib.pyplot as plt

            fig, ax = plt.subplots(figsize=(6, 4))
        else:
            fig = ax.figure
        e, p, s = self.effects, self.rejection, self.rejection_se
        ax.fill_between(e, p - 1.96 * s, p + 1.96 * s, alpha=0.2, color="C0")
        ax.plot(e, p, "o-", color="C0", label=f"simulated ({self.estimator})")
        if np.isfinite(self.analytic_power).any():
            ax.plot(e, self.analytic_power, "--", color="C1", label="analytic TWFE")
        ax.axhline(self.power, color="grey", lw=0.8)
        ax.axhline(1 - self.level, color="grey", lw=0.8, ls=":", label="nominal size")
        if np.isfinite(self.mde):
            ax.axvline(self.mde, color="C2", lw=0.8, label=f"MDE {self.mde:.3g}")
        ax.set_xlabel("injected rho" if self.target == "rho" else "injected effect")
        ax.set_ylabel(f"rejection rate, test at {1 - self.level:.3g}")
        ax.set_ylim(0, 1)
        ax.legend(frameon=False)
        if path is not None:
            fig.savefig(path, dpi=120, bbox_inches="tight")
        return fig


@dataclass(repr=False)
class MonteCarloResult(ResultProtocol):
    """A Monte Carlo run: ``estimates``/``std_errors``/``truths`` per draw (NaN where the
    estimator failed), and ``bias`` (mean estimate - truth), ``sd`` (of the estimates),
    ``rmse``, ``mean_se`` (mean reported s.e.; compare with ``sd``), ``coverage`` (share of
    ``level`` normal intervals containing the truth; ``level`` is the confidence level, 0.95)
    and ``rejection`` (share rejecting estimate = 0 at 1 - level), each with its Monte Carlo
    standard error (``*_mcse``)."""

    estimates: np.ndarray = field(repr=False)
    std_errors: np.ndarray = field(repr=False)
    truths: np.ndarray = field(repr=False)
    level: float = 0.95
    reps: int = 0
    seed: int = 0
    nobs: int = 0
    dropped_rows: int = 0
    result_name = "Monte Carlo run"

    def _valid(self) -> np.ndarray:
        return np.isfinite(self.estimates)

    @property
    def n_valid(self) -> int:
        return int(self._valid().sum())

    def stats(self) -> dict[str, float]:
        """bias, sd, rmse, mean_se, coverage, rejection and their MC standard errors."""
        from scipy.stats import norm

        ok = self._valid()
        est, se, tr = self.estimates[ok], self.std_errors[ok], self.truths[ok]
        n = max(est.size, 1)
        err = est - tr
        sd = float(np.std(est, ddof=1)) if est.size > 1 else float("nan")
        z = float(norm.ppf(0.5 + self.level / 2))
        has_se = np.isfinite(se)
        cover = np.abs(err[has_se]) <= z * se[has_se]
        rej = np.abs(est[has_se]) > z * se[has_se]
        cov = float(cover.mean()) if cover.size else float("nan")
        rj = float(rej.mean()) if rej.size else float("nan")
        return {
            "bias": float(err.mean()) if est.size else float("nan"),
            "bias_mcse": float(np.std(err, ddof=1) / np.sqrt(n)) if est.size > 1 else np.nan,
            "sd": sd,
            "rmse": float(np.sqrt(np.mean(err**2))) if est.size else float("nan"),
            "mean_se": float(np.mean(se[has_se])) if has_se.any() else float("nan"),
            "coverage": cov,
            "coverage_mcse": float(np.sqrt(cov * (1 - cov) / max(cover.size, 1))),
            "rejection": rj,
            "rejection_mcse": float(np.sqrt(rj * (1 - rj) / max(rej.size, 1))),
            "n_valid": float(est.size),
        }

    def _tidy(self, level: float) -> pl.DataFrame:
        s = self.stats()
        names = ["bias", "sd", "rmse", "mean_se", "coverage", "rejection"]
        mcse = {"bias": s["bias_mcse"], "coverage": s["coverage_mcse"]}
        mcse["rejection"] = s["rejection_mcse"]
        return pl.DataFrame(
            {
                "term": names,
                "estimate": [s[k] for k in names],
                "std_error": [mcse.get(k, float("nan")) for k in names],
                "statistic": [float("nan")] * len(names),
                "p_value": [float("nan")] * len(names),
                "conf_low": [float("nan")] * len(names),
                "conf_high": [float("nan")] * len(names),
            }
        )

    def _summary_text(self, level: float) -> str:
        s = self.stats()
        return (
            f"Monte Carlo: {self.reps} draws ({int(s['n_valid'])} valid), seed {self.seed}\n"
            f"bias {s['bias']:.4g} (MC s.e. {s['bias_mcse']:.2g}); sd {s['sd']:.4g}; "
            f"mean s.e. {s['mean_se']:.4g}; rmse {s['rmse']:.4g}\n"
            f"coverage of {self.level:g} intervals {s['coverage']:.3f} (MC s.e. "
            f"{s['coverage_mcse']:.3f}); rejection of 0 {s['rejection']:.3f}"
        )

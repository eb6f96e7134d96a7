"""Results of the mechanisms family: mediation, two-step mechanism effects, moderation and
heterogeneity. Every class follows the one result protocol (``pilotdid.results._protocol``):
its ``tidy(level)`` reads numbers the Rust core computed (feols fits, product-of-coefficient
tests, bootstrap intervals, delta-method combinations)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from pilotdid._core import linear_combinations, mediation_ci
from pilotdid.results._inference import normal_critical
from pilotdid.results._protocol import TIDY_COLUMNS, ResultProtocol

__all__ = [
    "JIANG_CAVEAT",
    "HeterogeneityResult",
    "MechanismEffects",
    "MediationResult",
    "ModerationResult",
]

JIANG_CAVEAT = (
    "Caveat (Jiang 2022, China Industrial Economics): step 3 regresses the outcome on a mediator "
    "that the treatment itself moves - a bad control - so the b-path and the direct effect c' "
    "are not causal without further assumptions. Report the step-2 effect of the policy on the "
    "mediator, with theory or prior evidence for the mediator's effect on the outcome."
)

_ROWS = [
    ("a", "a-path (d -> m)"),
    ("se_a", "  se"),
    ("b", "b-path (m -> y | d)"),
    ("se_b", "  se"),
    ("direct", "direct c'"),
    ("se_direct", "  se"),
    ("indirect", "indirect a*b"),
    ("sobel_z", "Sobel z"),
    ("sobel_p", "Sobel p"),
    ("aroian_p", "Aroian p"),
    ("goodman_p", "Goodman p"),
    ("boot_se", "bootstrap se"),
    ("ci_low", "bootstrap CI low"),
    ("ci_high", "bootstrap CI high"),
    ("prop_mediated", "proportion mediated"),
]

_NAN = float("nan")


def _fit_row(fit: Any, name: str, level: float, term: str) -> dict[str, Any]:
    """One protocol row taken from a feols fit's own tidy table (t with the fit's df)."""
    row = fit.tidy(level).filter(pl.col("term") == name).row(0, named=True)
    return {"term": term, **{k: float(row[k]) for k in TIDY_COLUMNS[1:]}}


def _frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(
        {c: [r[c] for r in rows] for c in TIDY_COLUMNS},
        schema={"term": pl.String, **{c: pl.Float64 for c in TIDY_COLUMNS[1:]}},
    )


def _text_table(frame: pl.DataFrame) -> str:
    """The protocol columns as fixed-width text (summary tables)."""
    lines = [
        f"{'term':<28}{'estimate':>12}{'std.err':>11}{'stat':>9}{'p':>8}{'low':>12}{'high':>12}"
    ]
    for r in frame.iter_rows(named=True):
        lines.append(
            f"{str(r['term'])[:28]:<28}{r['estimate']:>12.6f}{r['std_error']:>11.6f}"
            f"{r['statistic']:>9.3f}{r['p_value']:>8.4f}{r['conf_low']:>12.6f}"
            f"{r['conf_high']:>12.6f}"
        )
    return "\n".join(lines)


@dataclass(repr=False)
class MediationResult(ResultProtocol):
    """Three-step mediation. ``table``: one row per mediator (a, b, direct, indirect, Sobel /
    Aroian / Goodman se-z-p, bootstrap se and CI, proportion mediated); ``channels()``: the
    same side by side, one column per mediator; ``caveat``: Jiang (2022)'s warning.

    Protocol terms: ``total`` (c), and per mediator m ``a:m``, ``b:m``, ``direct:m`` (rows of
    the feols fits, t intervals) and ``indirect:m`` (a*b with the Sobel se, z and p; its
    interval is the bootstrap one (``ci``) at the level asked, NaN without replicates)."""

    y: str
    treatment: str
    mediators: list[str]
    total: tuple[float, float]
    table: pl.DataFrame
    total_fit: Any
    a_fits: dict[str, Any]
    b_fits: dict[str, Any]
    joint: bool
    reps: int
    boot_failed: int
    boot_draws: tuple[Any, Any]
    ci_method: str
    level: float
    cluster: str | None
    nobs: int
    n_dropped: int
    caveat: str = field(default=JIANG_CAVEAT)

    result_name = "three-step mediation"

    @property
    def boot_reps(self) -> int:
        """Bootstrap replicates (the ``reps`` asked for)."""
        return self.reps

    @property
    def dropped_rows(self) -> dict[str, int]:
        return {"missing or non-finite values": int(self.n_dropped)}

    def channels(self) -> pl.DataFrame:
        """Statistic by channel: first column ``statistic``, then one column per mediator."""
        out: dict[str, list[Any]] = {
            "statistic": ["total effect c", "  se"]
            + [lab for k, lab in _ROWS if k in self.table.columns]
        }
        for row in self.table.iter_rows(named=True):
            out[row["mediator"]] = [self.total[0], self.total[1]] + [
                float(row[k]) for k, _ in _ROWS if k in self.table.columns
            ]
        return pl.DataFrame(out)

    def _indirect_interval(self, j: int, estimate: float, level: float) -> tuple[float, float]:
        boot_a, boot_b = self.boot_draws
        if boot_a is None or self.reps == 0:
            return _NAN, _NAN
        if level == self.level:
            row = self.table.row(j, named=True)
            return float(row["ci_low"]), float(row["ci_high"])
        draws = np.ascontiguousarray(boot_a[:, j] * boot_b[:, j])
        lo, hi = mediation_ci(draws, estimate, level, self.ci_method)
        return float(lo), float(hi)

    def _tidy(self, level: float) -> pl.DataFrame:
        rows = [_fit_row(self.total_fit, self.treatment, level, "total")]
        for j, r in enumerate(self.table.iter_rows(named=True)):
            m = r["mediator"]
            rows.append(_fit_row(self.a_fits[m], self.treatment, level, f"a:{m}"))
            rows.append(_fit_row(self.b_fits[m], m, level, f"b:{m}"))
            rows.append(_fit_row(self.b_fits[m], self.treatment, level, f"direct:{m}"))
            lo, hi = self._indirect_interval(j, float(r["indirect"]), level)
            rows.append(
                {
                    "term": f"indirect:{m}",
                    "estimate": float(r["indirect"]),
                    "std_error": float(r["sobel_se"]),
                    "statistic": float(r["sobel_z"]),
                    "p_value": float(r["sobel_p"]),
                    "conf_low": lo,
                    "conf_high": hi,
                }
            )
        return _frame(rows)

    def _summary_text(self, level: float) -> str:
        with pl.Config(tbl_rows=-1):  # every statistic of the channels table, none elided
            channels = str(self.channels())
        lines = [
            f"Mediation of {self.treatment} -> {self.y} ({'joint' if self.joint else 'each'} "
            f"mediator), N = {self.nobs}",
            f"Bootstrap: {self.reps} replicates resampling "
            f"{self.cluster or 'rows'} ({self.ci_method}, level {self.level}); "
            f"failed replicates: {self.boot_failed}",
            channels,
            f"Terms at level {level:g} (indirect: Sobel se/z/p, bootstrap interval):",
            _text_table(self._tidy(level)),
            self.caveat,
        ]
        return "\n".join(lines)


@dataclass(repr=False)
class MechanismEffects(ResultProtocol):
    """Two-step (Jiang 2022) mechanism result: the policy's effect on each mediator.

    Protocol terms: the mediators (the effect of ``treatment`` on each). TWFE rows come from
    each feols fit (t intervals); heterogeneity-robust rows use the estimator's se with normal
    intervals, as ``table`` does at 95%."""

    treatment: str
    table: pl.DataFrame
    fits: dict[str, Any]
    caveat: str = field(default=JIANG_CAVEAT)
    estimator: str = "twfe"

    result_name = "two-step mechanism effects"

    def channels(self) -> pl.DataFrame:
        cols = [c for c in self.table.columns if c != "mediator"]
        out: dict[str, list[Any]] = {"statistic": cols}
        for row in self.table.iter_rows(named=True):
            out[row["mediator"]] = [float(row[c]) for c in cols]
        return pl.DataFrame(out)

    def _tidy(self, level: float) -> pl.DataFrame:
        rows = []
        crit = normal_critical(level)
        for r in self.table.iter_rows(named=True):
            m = r["mediator"]
            if self.estimator == "twfe":
                rows.append(_fit_row(self.fits[m], self.treatment, level, m))
                continue
            est, se = float(r["estimate"]), float(r["std_error"])
            if level == 0.95:
                lo, hi = float(r["conf_low"]), float(r["conf_high"])
            else:
                lo, hi = est - crit * se, est + crit * se
            rows.append(
                {
                    "term": m,
                    "estimate": est,
                    "std_error": se,
                    "statistic": float(r["statistic"]),
                    "p_value": float(r["p_value"]),
                    "conf_low": lo,
                    "conf_high": hi,
                }
            )
        return _frame(rows)

    def _summary_text(self, level: float) -> str:
        return (
            f"Mechanism effects of {self.treatment} (two-step, {self.estimator}), "
            f"level {level:g}\n{_text_table(self._tidy(level))}\n{self.caveat}"
        )


@dataclass(repr=False)
class ModerationResult(ResultProtocol):
    """Moderation: the interacted feols ``fit`` and ``marginal_effects`` (polars: at, estimate,
    std_error, statistic, p_value, conf_low, conf_high) of the treatment at moderator values.

    Protocol terms: ``moderator=value`` per value of ``at``; intervals at another level are
    recomputed by the core's delta method (t with the fit's df)."""

    y: str
    treatment: str
    moderator: str
    categorical: bool
    fit: Any
    marginal_effects: pl.DataFrame
    level: float
    _combinations: Any = field(default=None)

    result_name = "moderation (marginal effects)"

    @property
    def nobs(self) -> int:
        return int(self.fit.nobs)

    @property
    def dropped_rows(self) -> Any:
        return self.fit.dropped_rows

    def _tidy(self, level: float) -> pl.DataFrame:
        me = self.marginal_effects
        if level != self.level and self._combinations is not None:
            beta, vcov, lmat, df = self._combinations
            out = linear_combinations(beta, vcov, lmat, df, level)
            me = me.with_columns(
                pl.Series("conf_low", out[:, 4]), pl.Series("conf_high", out[:, 5])
            )
        terms = [f"{self.moderator}={v}" for v in me["at"].to_list()]
        return me.drop("at").with_columns(pl.Series("term", terms)).select(TIDY_COLUMNS)

    def _summary_text(self, level: float) -> str:
        return (
            f"Moderation of {self.treatment} -> {self.y} by {self.moderator} "
            f"({'categorical' if self.categorical else 'continuous'}), N = {self.nobs}, "
            f"level {level:g}\n{_text_table(self._tidy(level))}"
        )

    def plot(self, ax: Any = None) -> Any:
        """Marginal effect of the treatment against the moderator, with confidence bars."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots()
        me = self.marginal_effects
        x = list(range(me.height)) if self.categorical else me["at"].to_list()
        est = me["estimate"].to_numpy()
        ax.errorbar(
            x,
            est,
            yerr=[est - me["conf_low"].to_numpy(), me["conf_high"].to_numpy() - est],
            fmt="o-" if not self.categorical else "o",
            capsize=3,
        )
        if self.categorical:
            ax.set_xticks(x)
            ax.set_xticklabels(me["at"].to_list())
        ax.axhline(0.0, color="grey", lw=0.8, ls="--")
        ax.set_xlabel(self.moderator)
        ax.set_ylabel(f"marginal effect of {self.treatment} on {self.y}")
        return ax


@dataclass(repr=False)
class HeterogeneityResult(ResultProtocol):
    """Split-sample estimates by group (``table``), permutation test of equality (``perm_p``)
    and stacked clustered Wald test (``wald``).

    Protocol terms: ``by=group`` per group, rows of each group's feols fit (t intervals);
    ``pvalue()`` gives those per-group p-values (the tests of equality are ``perm_p`` and
    ``wald``)."""

    by: str
    treatment: str
    table: pl.DataFrame
    fits: dict[str, Any]
    perm_stat: float
    perm_p: float
    perm_draws: Any
    perm_failed: int
    wald: dict[str, Any]
    stacked_fit: Any

    result_name = "split-sample heterogeneity"

    @property
    def nobs(self) -> int:
        return int(sum(int(n) for n in self.table["nobs"].to_list()))

    def _tidy(self, level: float) -> pl.DataFrame:
        rows = [
            _fit_row(fit, self.treatment, level, f"{self.by}={g}") for g, fit in self.fits.items()
        ]
        return _frame(rows)

    def _summary_text(self, level: float) -> str:
        w = self.wald
        return (
            f"Heterogeneity of {self.treatment} by {self.by}, level {level:g}\n"
            f"{_text_table(self._tidy(level))}\n"
            f"Permutation test p = {self.perm_p:.4f} ({self.perm_failed} failed replicates); "
            f"stacked Wald chi2({w['df1']}) = {w['chi2']:.3f}, p = {w['p_chi2']:.4f}"
        )

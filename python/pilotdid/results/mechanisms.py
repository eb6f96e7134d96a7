"""Results of the mechanisms family: mediation and two-step mechanism effects."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl

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


@dataclass
class MediationResult:
    """Three-step mediation. ``table``: one row per mediator (a, b, direct, indirect, Sobel /
    Aroian / Goodman se-z-p, bootstrap se and CI, proportion mediated); ``channels()``: the
    same side by side, one column per mediator; ``caveat``: Jiang (2022)'s warning."""

    y: str
    treatment: str
    mediators: list[str]
    total: tuple[float, float]
    table: pl.DataFrame
    total_fit: Any
    a_fits: dict[str, Any]
    b_fits: dict[str, Any]
    joint: bool
    boot_reps: int
    boot_failed: int
    boot_draws: tuple[Any, Any]
    ci_method: str
    level: float
    cluster: str | None
    nobs: int
    n_dropped: int
    caveat: str = field(default=JIANG_CAVEAT)

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

    def summary(self, print_: bool = True) -> str:
        """The table as text (returned, and printed unless print_=False)."""
        lines = [
            f"Mediation of {self.treatment} -> {self.y} ({'joint' if self.joint else 'each'} "
            f"mediator), N = {self.nobs}",
            f"Bootstrap: {self.boot_reps} replicates resampling "
            f"{self.cluster or 'rows'} ({self.ci_method}, level {self.level}); "
            f"failed replicates: {self.boot_failed}",
            str(self.channels()),
            self.caveat,
        ]
        text = "\n".join(lines)
        if print_:
            print(text)
        return text

    def __repr__(self) -> str:
        return self.summary(print_=False)


@dataclass
class MechanismEffects:
    """Two-step (Jiang 2022) mechanism result: the policy's effect on each mediator."""

    treatment: str
    table: pl.DataFrame
    fits: dict[str, Any]
    caveat: str = field(default=JIANG_CAVEAT)

    def channels(self) -> pl.DataFrame:
        cols = [c for c in self.table.columns if c != "mediator"]
        out: dict[str, list[Any]] = {"statistic": cols}
        for row in self.table.iter_rows(named=True):
            out[row["mediator"]] = [float(row[c]) for c in cols]
        return pl.DataFrame(out)

    def __repr__(self) -> str:
        return f"Mechanism effects of {self.treatment} (two-step)\n{self.channels()}\n{self.caveat}"


@dataclass
class ModerationResult:
    """Moderation: the interacted feols ``fit`` and ``marginal_effects`` (polars: at, estimate,
    std_error, statistic, p_value, conf_low, conf_high) of the treatment at moderator values."""

    y: str
    treatment: str
    moderator: str
    categorical: bool
    fit: Any
    marginal_effects: pl.DataFrame
    level: float

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

    def __repr__(self) -> str:
        return (
            f"Moderation of {self.treatment} -> {self.y} by {self.moderator}\n"
            f"{self.marginal_effects}"
        )


@dataclass
class HeterogeneityResult:
    """Split-sample estimates by group (``table``), permutation test of equality (``perm_p``)
    and stacked clustered Wald test (``wald``)."""

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

    def __repr__(self) -> str:
        w = self.wald
        return (
            f"Heterogeneity of {self.treatment} by {self.by}\n{self.table}\n"
            f"Permutation test p = {self.perm_p:.4f} ({self.perm_failed} failed replicates); "
            f"stacked Wald chi2({w['df1']}) = {w['chi2']:.3f}, p = {w['p_chi2']:.4f}"
        )

"""Result of :func:`pilotdid.did.sensitivity.honest_did`: robust CIs over a grid of M̄ or M."""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import polars as pl

from pilotdid.results._protocol import Summary

_NAMES = {"rm": ("Δ^RM", "M̄"), "sdrm": ("Δ^SDRM", "M̄"), "sd": ("Δ^SD", "M")}
_MATH = {
    "rm": r"$\Delta^{RM}(\bar{M})$",
    "sdrm": r"$\Delta^{SDRM}(\bar{M})$",
    "sd": r"$\Delta^{SD}(M)$",
}


class SensitivityResult:
    """Robust confidence sets (Rambachan & Roth 2023) for ``l_vec' tau_post`` at each value of
    the restriction parameter (``grid``: M̄ for rm/sdrm, M for sd), the original CI, and the
    ``breakdown`` value: the largest M̄ / M at which the robust CI still excludes 0 (None: it
    covers 0 already at the smallest value; inf: at every grid value)."""

    def __init__(
        self,
        *,
        delta,
        method,
        grid,
        lb,
        ub,
        original,
        breakdown,
        level,
        l_vec,
        n_pre,
        n_post,
        event_time,
        estimator,
        restriction,
        computed_breakdown,
    ):
        self.delta, self.method = delta, method
        self.grid, self.lb, self.ub = grid, lb, ub
        self.original = tuple(original)
        self.breakdown = breakdown
        self.level, self.l_vec = level, l_vec
        self.n_pre, self.n_post = n_pre, n_post
        self.event_time, self.estimator, self.restriction = event_time, estimator, restriction
        self._computed_breakdown = computed_breakdown
        #: the event study analysed (set by honest_did; etable shows its coefficients)
        self.study: Any = None
        self.nobs = None
        self.dropped_rows: dict[str, int] = {}

    def tidy(self, *, as_pandas: bool = False) -> Any:
        """One row per grid value (columns M, lb, ub, method, delta), then the original CI."""
        name = _NAMES[self.delta][0]
        df = pl.DataFrame(
            {
                "M": [*map(float, self.grid), None],
                "lb": [*map(float, self.lb), self.original[0]],
                "ub": [*map(float, self.ub), self.original[1]],
                "method": [self.method] * len(self.grid) + ["Original"],
                "delta": [name] * len(self.grid) + [None],
            },
            schema={
                "M": pl.Float64,
                "lb": pl.Float64,
                "ub": pl.Float64,
                "method": pl.Utf8,
                "delta": pl.Utf8,
            },
        )
        return df.to_pandas() if as_pandas else df

    def confint(self) -> pl.DataFrame:
        return self.tidy()

    def _breakdown_text(self) -> str:
        par = _NAMES[self.delta][1]
        if not self._computed_breakdown:
            return "not computed"
        if self.breakdown is None:
            return f"none (the robust CI covers 0 at {par} = {float(np.min(self.grid)):g})"
        if np.isinf(self.breakdown):
            return f"> {float(np.max(self.grid)):g} (the CI excludes 0 at every grid value)"
        return f"{par} = {self.breakdown:.4g}"

    def _summary_text(self) -> str:
        name, par = _NAMES[self.delta]
        lines = [
            f"HonestDiD sensitivity (Rambachan & Roth 2023): {name}({par}), {self.method}, "
            f"level {self.level:g}",
            f"event study: {self.estimator}; {self.n_pre} pre / {self.n_post} post periods; "
            f"target l = {np.array2string(np.asarray(self.l_vec), precision=3)}",
        ]
        if self.restriction != "none":
            lines.append(f"added restriction: {self.restriction}")
        lines.append(f"{par:>8} {'lb':>12} {'ub':>12}")
        for g, lo, hi in zip(self.grid, self.lb, self.ub):
            lines.append(f"{g:8.4g} {lo:12.5g} {hi:12.5g}")
        lines.append(f"{'original':>8} {self.original[0]:12.5g} {self.original[1]:12.5g}")
        lines.append(f"breakdown value: {self._breakdown_text()}")
        return "\n".join(lines)

    def summary(self) -> Summary:
        return Summary(self._summary_text())

    def __repr__(self) -> str:
        name, par = _NAMES[self.delta]
        return (
            f"SensitivityResult: {name}({par}) {self.method}, {len(self.grid)} values, "
            f"breakdown {self._breakdown_text()}"
        )

    def _repr_html_(self) -> str:
        return f"<pre style='font-family: monospace'>{html.escape(self._summary_text())}</pre>"

    def plot(self, ax=None, **kwargs):
        """Robust CIs against M̄ / M, with the original CI at the left."""
        import matplotlib.pyplot as plt

        created = ax is None
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        g = np.asarray(self.grid, dtype=float)
        step = float(np.min(np.diff(g))) if g.size > 1 else 1.0
        x0 = float(g.min()) - step
        mid = 0.5 * (self.original[0] + self.original[1])
        ax.errorbar(
            [x0],
            [mid],
            yerr=[[mid - self.original[0]], [self.original[1] - mid]],
            fmt="none",
            capsize=3,
            color="tab:red",
            label="original",
        )
        c = 0.5 * (self.lb + self.ub)
        ax.errorbar(
            g,
            c,
            yerr=[c - self.lb, self.ub - c],
            fmt="none",
            capsize=3,
            color="tab:blue",
            label=self.method,
            **kwargs,
        )
        ax.axhline(0, color="grey", lw=0.8, ls="--")
        # the original CI sits one step left of the grid: label its tick, not a fake M value
        ticks = [x0, *ax.get_xticks()[(ax.get_xticks() >= g.min()) & (ax.get_xticks() <= g.max())]]
        ax.set_xticks(ticks, ["original", *(f"{t:g}" for t in ticks[1:])])
        ax.set_xlabel(_NAMES[self.delta][1])
        ax.set_ylabel(f"{self.level:.0%} CI for the target")
        ax.set_title(f"{_MATH[self.delta]}, {self.method}", fontsize="medium")
        ax.legend()
        if created:
            ax.figure.tight_layout()
        return ax

"""`synthdid()`: synthetic difference-in-differences, Arkhangelsky, Athey, Hirshberg, Imbens &
Wager (2021, AER 111(12)), with synthetic control and DID from the same machinery, computed in
Rust (``core/src/did/synthdid``) as R ``synthdid`` computes them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from pilotdid import _frame
from pilotdid._args import (
    check_choice,
    check_columns,
    check_level,
    check_reps,
    check_seed,
    check_str,
    id_list,
    vocabulary,
)
from pilotdid._core import PilotdidError, synthdid_fit
from pilotdid.panel import cohort_option, cohort_values
from pilotdid.results.synthdid import SynthDIDResult

__all__ = ["synthdid"]

_METHODS = ("sdid", "sc", "did")
_VCOVS = ("placebo", "bootstrap", "jackknife", "jackknife_fixed")


@vocabulary()
def synthdid(
    data: Any,
    *,
    y: str,
    unit: str,
    time: str,
    treatment: str | None = None,
    cohort: str | None = None,
    method: str = "sdid",
    vcov: str = "placebo",
    reps: int = 200,
    seed: int = 0,
    level: float = 0.95,
    controls: str | Sequence[str] | None = None,
) -> SynthDIDResult:
    """Synthetic DID (``method="sdid"``), synthetic control (``"sc"``) or DID (``"did"``) on a
    balanced panel, as R ``synthdid``'s ``synthdid_estimate`` / ``sc_estimate`` /
    ``did_estimate`` with their default regularisation.

    Timing comes from ``treatment`` (0/1, absorbing) or ``cohort`` (first treated period; 0 or
    missing = never treated). With one adoption date this is R's block design. With several,
    each adoption cohort is estimated against the never-treated units with its own pre and
    post periods, and the overall ATT averages the cohorts with weights N_treated x T_post
    (per-cohort estimates in ``cohorts()``; event-time effects in ``event_effects()``).

    ``vcov``: ``"placebo"`` (R ``placebo_se``: re-estimates on the never-treated units with
    pseudo-treated ones, needs more never-treated than treated units), ``"bootstrap"``
    (``bootstrap_se``: resamples units, needs two treated units) or ``"jackknife"``
    (``jackknife_se``: fixed weights; needs two treated units per cohort) or
    ``"jackknife_fixed"`` (the jackknife with the cohort aggregation weights N_tr x T_post
    held at the full sample's: the variance conditional on the adoption design, the
    staggered estimand of Arkhangelsky et al. 2021, Appendix A; R's jackknife recomputes
    them per replicate and so adds the variance of the cohort mix; identical to
    ``"jackknife"`` with one cohort), with ``reps``
    replicates seeded by ``seed`` (the thread count never changes a number).

    ``controls``: time-varying covariates, entered as R's ``X`` argument (their coefficients
    are solved jointly with the weights).
    """
    y = check_str("y", y)
    unit = check_str("unit", unit)
    time = check_str("time", time)
    column, derived = cohort_option(cohort, treatment)
    method = check_choice("method", method, _METHODS)
    vcov = check_choice("vcov", vcov, _VCOVS)
    seed = check_seed(seed)
    level = check_level(level)
    covs = [] if controls is None else check_columns("controls", controls)
    reps = check_reps("reps", reps, bytes_per_rep=8.0, lo=2)
    wanted = list(dict.fromkeys([unit, time, y, column, *covs]))
    df = _frame.to_polars(data, wanted)
    if df.height == 0:
        raise PilotdidError("synthdid: no rows: the data frame is empty")
    u = df.get_column(unit)
    if u.null_count():
        raise PilotdidError(f"column '{unit}' has missing values; panel ids must be complete")
    t = df.get_column(time)
    if not (t.dtype.is_integer() or t.dtype.is_float()) or t.null_count():
        raise PilotdidError(f"column '{time}' must hold complete integer periods (e.g. years)")
    tv = t.cast(pl.Float64).to_numpy()
    if np.any(~np.isfinite(tv)) or np.any(tv != np.floor(tv)):
        raise PilotdidError(f"column '{time}' must hold complete integer periods (e.g. years)")
    g, _ = cohort_values(df, unit=unit, time=time, column=column, derived=derived)

    units = u.unique(maintain_order=True)
    times = np.unique(tv)
    n, nt = units.len(), len(times)
    row = (
        u.to_frame("u")
        .join(units.to_frame("u").with_row_index("code"), on="u", how="left")
        .get_column("code")
        .to_numpy()
        .astype(np.int64)
    )
    col = np.searchsorted(times, tv)
    counts = np.zeros((n, nt), dtype=np.int64)
    np.add.at(counts, (row, col), 1)
    if np.any(counts > 1):
        i, j = np.argwhere(counts > 1)[0]
        raise PilotdidError(
            f"synthdid: unit {units[int(i)]!r} appears more than once in period {times[j]:g}; "
            f"'{unit}' and '{time}' must identify the rows"
        )
    if np.any(counts == 0):
        missing = sorted({str(units[int(i)]) for i, _ in np.argwhere(counts == 0)})
        raise PilotdidError(
            f"synthdid needs a balanced panel (R synthdid's panel.matrices): "
            f"{id_list(missing)} miss at least one of the {nt} periods"
        )

    def wide(name: str) -> np.ndarray:
        v = _frame.numeric(df, name)
        bad = ~np.isfinite(v)
        if bad.any():
            raise PilotdidError(
                f"column '{name}': {int(bad.sum())} missing or non-finite value(s); synthdid "
                "needs a value in every unit-period cell (a balanced panel)"
            )
        m = np.empty((n, nt))
        m[row, col] = v
        return np.ascontiguousarray(m)

    ym = wide(y)
    xs = [wide(c) for c in covs]
    # first treated period per unit (NaN / 0 = never; a cohort after the panel: never)
    g_unit = np.full(n, np.nan)
    g_unit[row] = g
    g_unit = np.where(np.isfinite(g_unit), g_unit, 0.0)
    adoption = np.where(
        (g_unit > 0) & (g_unit <= times[-1]), np.searchsorted(times, g_unit), -1
    ).astype(np.int64)
    if np.any(adoption == 0):
        first = [str(units[int(i)]) for i in np.flatnonzero(adoption == 0)]
        raise PilotdidError(
            f"synthdid: {id_list(first)} are treated from the first period ({times[0]:g}) on; "
            "there is no pre-treatment period to fit their weights on. Drop these units or "
            "add earlier periods"
        )
    out = synthdid_fit(
        ym,
        adoption,
        xs,
        method=method,
        vcov=vcov,
        reps=reps,
        seed=seed,
        period_labels=[int(v) for v in times],
    )
    return SynthDIDResult(
        out,
        units=units.to_list(),
        times=times,
        y=y,
        unit=unit,
        time=time,
        method=method,
        vcov=vcov,
        reps=reps,
        seed=seed,
        level=level,
        controls=covs,
    )

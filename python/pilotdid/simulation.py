"""Power analysis by simulation for staggered DID on the user's own panel, and a public
Monte Carlo runner; both run their replicates through :mod:`pilotdid._executor`.

Power (Burlig, Preonas & Woerman 2020, "Panel data and experimental design", J. Dev. Econ.
144; Black, Hollingsworth, Nunes & Simon 2022, "Simulated power analyses for observational
studies: an application to the Affordable Care Act Medicaid expansion"): the observed outcomes
of untreated observations are kept, the observed adoption schedule is reassigned to other
units (placebo adoption), a known effect is added to the pseudo-treated cells, and the
estimator is refitted; the share of replicates rejecting "no effect" is the power.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import polars as pl

from pilotdid import _frame
from pilotdid._args import (
    check_bool,
    check_choice,
    check_float,
    check_int,
    check_level,
    check_reps,
    check_seed,
    vocabulary,
)
from pilotdid._core import PilotdidError
from pilotdid._executor import run_replicates
from pilotdid.results.power import MonteCarloResult, PowerResult

__all__ = ["power", "monte_carlo"]

_ESTIMATORS = ("twfe", "cs", "sa", "bjs", "did2s", "sdid")
_SHAPES = ("constant", "dynamic", "cohort")
_SAMPLES = ("never", "all", "earlier")
_D = "_power_d"
_G = "_power_cohort"


def _replicate_rng(seed: int, r: int) -> np.random.Generator:
    """The numpy generator of replicate r: its own stream from SeedSequence([seed, r]), so
    a replicate's draws depend on (seed, r) only (not on chunking or workers)."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), int(r)])))


def _t_crit(level: float, clusters: int) -> float:
    from scipy.stats import t

    # level is the confidence level (0.95): a two-sided test at 1 - level
    return float(t.ppf(0.5 + level / 2, max(clusters - 1, 1)))


def _fit(
    code: str, d: pl.DataFrame, y: str, unit: str, time: str, controls: list[str]
) -> tuple[float, float]:
    """(estimate, clustered s.e.) of the overall effect of `_power_d`/`_power_cohort`."""
    if code == "twfe":
        from pilotdid.regression import feols

        rhs = " + ".join([_D, *controls])
        m = feols(f"{y} ~ {rhs} | {unit} + {time}", d, vcov={"CR1": unit})
        return float(m.coef()[_D]), float(m.se()[_D])
    from pilotdid.registry import overall_estimator

    est = overall_estimator(code)
    fit = est.fit(d, y=y, unit=unit, time=time, cohort=_G, controls=controls or None)
    b, s = est.overall(fit)
    return float(b), float(s)


def _multiplier(shape: Any, event: np.ndarray, cohort: np.ndarray, treated: np.ndarray):
    """Per-row effect multiplier, normalised to mean 1 over the treated cells so that an
    effect size is the average effect on the treated cells (the CS 'simple' target)."""
    m = np.zeros(event.size)
    if not treated.any():
        return m
    if callable(shape):
        raw = np.asarray(shape(event[treated], cohort[treated]), dtype=float)
    elif shape == "constant":
        raw = np.ones(int(treated.sum()))
    elif shape == "dynamic":  # grows linearly with time since adoption
        raw = event[treated].astype(float) + 1.0
    else:  # "cohort": earlier cohorts gain more (rank 1 = latest cohort)
        gs = np.unique(cohort[treated])
        rank = {g: len(gs) - i for i, g in enumerate(gs)}
        raw = np.array([rank[g] for g in cohort[treated]], dtype=float)
    mean = raw.mean()
    m[treated] = raw / mean if mean != 0 else raw
    return m


def _power_chunk(p: dict, seed: int, start: int, stop: int) -> np.ndarray:
    """Replicates [start, stop): (estimate, se) per effect for the estimator, then the TWFE
    s.e. at effect 0 (for the analytic cross-check): shape (stop - start, 2 * E + 1)."""
    base: pl.DataFrame = p["df"]
    y, unit, time, controls = p["y"], p["unit"], p["time"], p["controls"]
    uidx, tval = p["unit_index"], p["time_values"]
    schedule = p["schedule"]
    n_units = p["n_units"]
    out = np.full((stop - start, 2 * len(p["effects"]) + 1), np.nan)
    for k, r in enumerate(range(start, stop)):
        rng = _replicate_rng(seed, r)
        g_unit = rng.choice(schedule, size=n_units, replace=False)
        g = g_unit[uidx]
        treated = (g > 0) & (tval >= g)
        event = np.where(treated, tval - g, -1)
        mult = _multiplier(p["shape"], event, g, treated)
        y0 = p["y0"]
        for j, delta in enumerate(p["effects"]):
            d = base.with_columns(
                pl.Series(y, y0 + delta * mult),
                pl.Series(_D, treated.astype(float)),
                pl.Series(_G, g.astype(np.int64)),
            )
            try:
                out[k, 2 * j], out[k, 2 * j + 1] = _fit(p["code"], d, y, unit, time, controls)
            except Exception:  # a degenerate draw (e.g. no pseudo-treated): counted as invalid
                pass
            if j == 0:
                if p["code"] == "twfe":
                    out[k, -1] = out[k, 1]
                else:
                    try:
                        out[k, -1] = _fit("twfe", d, y, unit, time, controls)[1]
                    except Exception:
                        pass
    return out


def _check_confidence(level: Any) -> float:
    """The package's confidence level; a value below 0.5 is almost surely a significance
    level typed where the confidence level goes (level=0.05 for a 5% test), so it is refused
    with the fix instead of running a 5%-confidence simulation."""
    level = check_level(level)
    if level < 0.5:
        raise PilotdidError(
            f"option 'level': {level:g} is a confidence level in the package vocabulary "
            f"(0.95 = 95% intervals, a test at 5%); use level={1 - level:g} or alpha={level:g}. "
            "Allowed: (0.5, 1)"
        )
    return level


@vocabulary(aliases={"alpha": ("level", lambda a: 1 - a)})
def power(
    data: Any,
    *,
    y: str,
    unit: str,
    time: str,
    cohort: str,
    estimator: str = "twfe",
    effects: Sequence[float] | None = None,
    shape: str | Callable[[np.ndarray, np.ndarray], np.ndarray] = "constant",
    sample: str = "never",
    shift: int | None = None,
    controls: Sequence[str] | None = None,
    reps: int = 500,
    seed: int = 0,
    level: float = 0.95,
    power: float = 0.8,
    executor: Any = None,
    chunks: int | None = None,
    progress: bool = False,
) -> PowerResult:
    """Simulated power curve and minimum detectable effect of a staggered DID design.

    Parameters
    ----------
    data : the panel (polars/pandas/dict); never modified.
    y, unit, time : outcome and panel ids. ``cohort`` : first treated period (0 or null =
        never treated): the observed adoption schedule.
    estimator : "twfe" (clustered by unit), "cs", "sa", "bjs", "did2s", "sdid" (synthetic DID
        by cohort with the jackknife s.e.; needs a balanced panel and two treated units per
        pseudo-cohort, else the draw is counted out of ``n_valid``) (via
        :mod:`pilotdid.registry`).
    effects : injected effect sizes (default: 8 points from 0 to 4 x the analytic TWFE s.e.
        scale, i.e. 0..4 sd of the outcome's within variation / sqrt(n)); 0 is always added
        (the size).
    shape : "constant"; "dynamic" (grows linearly with event time); "cohort" (earlier cohorts
        gain more); or ``f(event_time, cohort) -> multiplier``. Multipliers are normalised to
        mean 1 over the pseudo-treated cells: an effect size is the average effect on them.
    sample : "never" (default) keeps only units never treated in the data (their outcomes
        are untreated outcomes) and gives them a random draw (without replacement) of the
        observed units' cohorts; "all" keeps every unit and permutes the observed cohorts
        across them (use when the outcome is untreated everywhere, e.g. a pre-policy panel);
        "earlier" keeps every unit but only the periods before the first observed adoption
        (all outcomes untreated there), moves the observed schedule ``shift`` periods earlier
        into that window and permutes it across the units: placebo adoption in earlier
        periods, with the real cohort sizes and spacing.
    shift : with sample="earlier", how many periods earlier the schedule moves. Default: the
        shift that centres the schedule in the pre-adoption window (as many periods before the
        first pseudo-cohort as after the last one, at least one of each).
    reps : replicates; replicate r draws from SeedSequence([seed, r]).
    level : the confidence level of the package vocabulary (0.95): each replicate rejects
        H0: effect = 0 when 0 is outside its ``level`` interval, i.e. a two-sided t-test at
        significance 1 - level with G - 1 degrees of freedom (G = units). Stata/R users'
        ``alpha=0.05`` is accepted as a synonym (``level = 1 - alpha``).
    power : the target power of the MDE.
    executor, chunks, progress : see :func:`pilotdid._executor.run_replicates`.
    """
    estimator = check_choice("estimator", estimator, _ESTIMATORS)
    if not callable(shape):
        shape = check_choice("shape", shape, _SHAPES)
    sample = check_choice("sample", sample, _SAMPLES)
    seed = check_seed(seed)
    level = _check_confidence(level)
    target = check_float("power", power, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    progress = check_bool("progress", progress)
    controls = list(controls or [])
    cols = list(dict.fromkeys([y, unit, time, cohort, *controls]))
    df = _frame.to_polars(data, cols)
    n_all = df.height
    df = df.drop_nulls([y, unit, time, *controls])
    dropped = n_all - df.height
    gcol = df.get_column(cohort).fill_null(0).cast(pl.Int64)
    df = df.with_columns(gcol.alias(cohort))
    per_unit = df.group_by(unit, maintain_order=True).agg(pl.col(cohort).first())
    schedule = per_unit.get_column(cohort).to_numpy().astype(np.int64)
    if sample == "earlier":
        df, schedule, shift = _earlier_window(df, time, schedule, shift)
    elif shift is not None:
        raise PilotdidError("option 'shift' applies to sample='earlier' only")
    if sample == "never":
        keep = per_unit.filter(pl.col(cohort) == 0).get_column(unit)
        df = df.filter(pl.col(unit).is_in(keep.implode()))
    units = df.get_column(unit).unique(maintain_order=True)
    n_units = units.len()
    if n_units < 3 or (schedule > 0).sum() == 0:
        raise PilotdidError(
            f"power: {n_units} units in sample '{sample}' and {(schedule > 0).sum()} treated "
            "units in the schedule; at least 3 units and one treated unit are needed"
        )
    if n_units > schedule.size:
        raise PilotdidError("power: more sample units than units in the schedule")
    uidx = df.get_column(unit).replace_strict(
        {u: i for i, u in enumerate(units.to_list())}, return_dtype=pl.Int64
    )
    tval = df.get_column(time).cast(pl.Int64).to_numpy()
    y0 = _frame.numeric(df, y)
    if effects is None:
        from scipy.stats import norm

        z = norm.ppf(0.5 + level / 2) + norm.ppf(target)
        resid = (
            y0
            - df.with_columns(pl.Series("_y", y0))
            .select(pl.col("_y").mean().over(unit))
            .to_series()
            .to_numpy()
        )
        scale = float(np.std(resid)) * 2.0 / np.sqrt(max(n_units, 1)) * z
        effects = list(np.linspace(0.0, 2.0 * scale, 8))
    eff = np.unique(np.concatenate([[0.0], np.asarray(effects, dtype=float)]))
    if not np.all(np.isfinite(eff)):
        raise PilotdidError("option 'effects': every effect size must be finite")
    reps = check_reps("reps", reps, bytes_per_rep=8 * (2 * eff.size + 1))
    payload = {
        "df": df.select(cols),
        "y": y,
        "unit": unit,
        "time": time,
        "controls": controls,
        "unit_index": uidx.to_numpy(),
        "time_values": tval,
        "schedule": schedule,
        "n_units": n_units,
        "effects": eff,
        "shape": shape,
        "y0": y0,
        "code": estimator,
    }
    draws = run_replicates(
        _power_chunk,
        payload,
        reps=reps,
        seed=seed,
        executor=executor,
        chunks=chunks,
        progress=f"power ({estimator})" if progress else False,
    )
    res = _power_result(
        draws, eff, estimator, n_units, level, target, reps, seed, shape, sample, df.height, dropped
    )
    res.shift = shift
    return res


def _earlier_window(
    df: pl.DataFrame, time: str, schedule: np.ndarray, shift: Any
) -> tuple[pl.DataFrame, np.ndarray, int]:
    """The pre-adoption rows and the schedule moved ``shift`` periods earlier into them
    (periods counted on the panel's sorted distinct times, so gaps in years are respected)."""
    times = np.sort(df.get_column(time).cast(pl.Int64).unique().to_numpy())
    cohorts = np.unique(schedule[schedule > 0])
    if cohorts.size == 0:
        raise PilotdidError("power: sample='earlier' needs at least one treated unit")
    missing = [int(g) for g in cohorts if g not in set(times.tolist())]
    if missing:
        raise PilotdidError(
            f"power: sample='earlier' needs every cohort to be a period of the panel; "
            f"cohorts {missing} are not among the periods {times.min()}..{times.max()}"
        )
    pos = {int(t): i for i, t in enumerate(times)}
    first, last = pos[int(cohorts.min())], pos[int(cohorts.max())]
    spread = last - first
    # the window is positions 0..first-1; the first pseudo-cohort needs an earlier period
    # (its base, position >= 1) and the last must fall inside the window (<= first - 1):
    # `room` is how many positions beyond one the first pseudo-cohort can take
    room = first - 2 - spread
    if room < 0:
        raise PilotdidError(
            f"power: sample='earlier' needs more periods before the first adoption: "
            f"{first} periods precede it and the cohorts span {spread + 1}; at least "
            f"{spread + 2} are needed (one base period plus the cohorts' span)"
        )
    if shift is None:
        shift = first - (1 + room // 2)
    else:
        lo, hi = first - 1 - room, first - 1
        shift = check_int("shift", shift, lo=lo, hi=hi)
    moved = np.zeros_like(schedule)
    treated = schedule > 0
    moved[treated] = times[np.array([pos[int(g)] for g in schedule[treated]]) - shift]
    window = df.filter(pl.col(time).cast(pl.Int64) < int(times[first]))
    return window, moved, int(shift)


def _power_result(
    draws: np.ndarray,
    eff: np.ndarray,
    estimator: str,
    n_units: int,
    level: float,
    target: float,
    reps: int,
    seed: int,
    shape: Any,
    sample: str,
    nobs: int,
    dropped: int,
) -> PowerResult:
    from scipy.stats import norm

    est = draws[:, 0:-1:2]
    se = draws[:, 1:-1:2]
    crit = _t_crit(level, n_units)
    ok = np.isfinite(est) & np.isfinite(se) & (se > 0)
    rej = np.where(ok, np.abs(est) > crit * np.where(ok, se, 1.0), False)
    n_valid = ok.sum(axis=0)
    rate = rej.sum(axis=0) / np.maximum(n_valid, 1)
    rate_se = np.sqrt(rate * (1 - rate) / np.maximum(n_valid, 1))
    se_tw = draws[:, -1]
    se_tw = se_tw[np.isfinite(se_tw) & (se_tw > 0)]
    se_bar = float(np.sqrt(np.mean(se_tw**2))) if se_tw.size else float("nan")
    analytic = np.array(
        [
            float(np.mean(norm.cdf(e / se_tw - crit) + norm.cdf(-e / se_tw - crit)))
            if se_tw.size
            else np.nan
            for e in eff
        ]
    )
    analytic_mde = (crit + float(norm.ppf(target))) * se_bar
    mde, mde_se = float("nan"), float("nan")
    for j in range(1, eff.size):
        if rate[j] >= target > rate[j - 1]:
            slope = (rate[j] - rate[j - 1]) / (eff[j] - eff[j - 1])
            mde = float(eff[j - 1] + (target - rate[j - 1]) / slope)
            w = (mde - eff[j - 1]) / (eff[j] - eff[j - 1])
            # interpolated rate's MC variance (the two points are nearly independent draws of
            # shared replicates; taking them as independent bounds it from above)
            v = ((1 - w) * rate_se[j - 1]) ** 2 + (w * rate_se[j]) ** 2
            mde_se = float(np.sqrt(v) / slope)
            break
    return PowerResult(
        estimator=estimator,
        effects=eff,
        rejection=rate,
        rejection_se=rate_se,
        n_valid=n_valid,
        analytic_power=analytic,
        analytic_mde=analytic_mde,
        se_twfe=se_bar,
        mde=mde,
        mde_se=mde_se,
        power=target,
        level=level,
        reps=reps,
        seed=seed,
        shape=shape if isinstance(shape, str) else "custom",
        sample=sample,
        estimates=est,
        std_errors=se,
        nobs=nobs,
        dropped_rows=dropped,
    )


def _mc_chunk(p: dict, seed: int, start: int, stop: int) -> np.ndarray:
    """Draws [start, stop) of a Monte Carlo run: (estimate, se, truth) each."""
    out = np.full((stop - start, 3), np.nan)
    for k, r in enumerate(range(start, stop)):
        made = p["dgp"](_replicate_rng(seed, r))
        data, truth = made if isinstance(made, tuple) else (made, p["truth"])
        out[k, 2] = np.nan if truth is None else float(truth)
        try:
            res = p["estimator"](data)
        except Exception:  # a failed fit is a NaN draw, counted out of n_valid
            continue
        if isinstance(res, tuple):
            out[k, 0] = float(res[0])
            out[k, 1] = float(res[1]) if len(res) > 1 else np.nan
        else:
            out[k, 0] = float(res)
    return out


@vocabulary(aliases={"alpha": ("level", lambda a: 1 - a)})
def monte_carlo(
    dgp: Callable[[np.random.Generator], Any],
    estimator: Callable[[Any], Any],
    *,
    reps: int = 1000,
    seed: int = 0,
    truth: float | None = None,
    level: float = 0.95,
    executor: Any = None,
    chunks: int | None = None,
    progress: bool = False,
) -> MonteCarloResult:
    """A Monte Carlo study: draw r calls ``dgp(rng)`` with ``rng`` the generator of stream
    (seed, r) (:func:`_replicate_rng`) and returns the data, or ``(data, truth)``;
    ``estimator(data)`` returns an estimate or ``(estimate, std_error)``. The result has the
    draws and bias / sd / rmse / mean s.e. / coverage of ``level`` (confidence, 0.95) normal
    intervals / rejection rate at 1 - level, with MC standard errors (``alpha=`` is accepted
    as a synonym, ``level = 1 - alpha``). ``executor=``: see
    :func:`pilotdid._executor.run_replicates` (dgp and estimator must then be picklable).
    """
    if not callable(dgp) or not callable(estimator):
        raise PilotdidError("monte_carlo: 'dgp' and 'estimator' must be callables")
    seed = check_seed(seed)
    level = _check_confidence(level)
    reps = check_reps("reps", reps, bytes_per_rep=24)
    draws = run_replicates(
        _mc_chunk,
        {"dgp": dgp, "estimator": estimator, "truth": truth},
        reps=reps,
        seed=seed,
        executor=executor,
        chunks=chunks,
        progress="monte carlo" if check_bool("progress", progress) else False,
    )
    return MonteCarloResult(
        estimates=draws[:, 0],
        std_errors=draws[:, 1],
        truths=draws[:, 2],
        level=level,
        reps=reps,
        seed=seed,
    )

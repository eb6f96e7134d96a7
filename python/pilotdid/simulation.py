"""Power analysis by simulation for staggered DID on the user's own panel, and a public
Monte Carlo runner; both run their replicates through :mod:`pilotdid._executor`.

Power (Burlig, Preonas & Woerman 2020, "Panel data and experimental design", J. Dev. Econ.
144; Black, Hollingsworth, Nunes & Simon 2022, "Simulated power analyses for observational
studies: an application to the Affordable Care Act Medicaid expansion"): the observed outcomes
of untreated observations are kept, the observed adoption schedule is reassigned to other
units (placebo adoption), a known effect is added to the pseudo-treated cells, and the
estimator is refitted; the share of replicates rejecting "no effect" is the power.

Spatial models (SAR and SDM with a W; issue 19 item 1, power "for their rho and effects"):
the same placebo adoption, with the effect injected through the model's reduced form, and
for rho a simulation from the fitted reduced form (see :func:`power`).
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

_ESTIMATORS = ("twfe", "cs", "sa", "bjs", "did2s", "sdid", "sar", "sdm")
_SPATIAL = ("sar", "sdm")
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
        if p["spatial"] is not None:
            out[k] = _spatial_replicate(p, rng, treated, mult)
            continue
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


def _period_grid(sp: dict, v: np.ndarray) -> np.ndarray:
    """Rows -> the N x T grid of a balanced panel in W's unit order (column t = period t)."""
    grid = np.zeros((sp["W"].shape[0], sp["n_periods"]))
    grid[sp["pos"], sp["tcode"]] = v
    return grid


def _spatial_lag(sp: dict, v: np.ndarray) -> np.ndarray:
    """W v within each period, per row."""
    return (sp["W"] @ _period_grid(sp, v))[sp["pos"], sp["tcode"]]


def _spatial_solve(sp: dict, rho: float, v: np.ndarray) -> np.ndarray:
    """(I - rho W)^-1 v within each period, per row: the spatial multiplier of the reduced
    form y = (I - rho W)^-1 (X beta + W X theta + FE + e)."""
    a = np.eye(sp["W"].shape[0]) - rho * sp["W"]
    return np.linalg.solve(a, _period_grid(sp, v))[sp["pos"], sp["tcode"]]


def _spatial_replicate(
    p: dict, rng: np.random.Generator, treated: np.ndarray, mult: np.ndarray
) -> np.ndarray:
    """One replicate of a spatial power run: (estimate, s.e.) of the target per effect size,
    and NaN where the TWFE cross-check s.e. goes (the closed form is not the spatial ML's)."""
    from pilotdid.registry import spatial_estimator

    sp = p["spatial"]
    est = spatial_estimator(p["code"])
    y, unit, time, controls = p["y"], p["unit"], p["time"], p["controls"]
    regressors = [_D, *controls]
    d_col = treated.astype(float)
    base = p["df"].with_columns(pl.Series(_D, d_col))
    row = np.full(2 * len(p["effects"]) + 1, np.nan)

    def fit(yv: np.ndarray) -> Any:
        d = base.with_columns(pl.Series(y, yv))
        return est.fit(d, y=y, regressors=regressors, W=p["W"], unit=unit, time=time)

    def record(j: int, f: Any) -> None:
        row[2 * j], row[2 * j + 1] = est.target(f, sp["target"], _D)

    y0 = p["y0"]
    try:
        f0 = fit(y0)
    except Exception:  # a degenerate draw: every effect size counts it out of n_valid
        return row
    if sp["target"] == "rho":
        # Simulation from the fitted reduced form: u = (I - rho_hat W) y0 is the outcome
        # net of its spatial lag; its two-way within residuals on the model's regressors
        # (D, controls, and their W-lags for the SDM) are e_hat and mu = u - e_hat the fitted
        # fixed effects and regressors. Replicate r draws e* from the e_hat, rescaled by
        # sqrt(n / residual df), i.i.d. with replacement, and y(rho) = (I - rho W)^-1
        # (mu + e*) for each injected rho: the fitted model's errors, rho set by the user.
        from pilotdid.regression import feols

        u = y0 - f0.rho * _spatial_lag(sp, y0)
        xcols = {_D: d_col, **{c: p["x"][c] for c in controls}}
        if est.durbin:
            xcols.update(
                {f"_power_w{i}": _spatial_lag(sp, v) for i, v in enumerate(list(xcols.values()))}
            )
        aux = base.select(unit, time).with_columns(
            pl.Series("_power_u", u), *[pl.Series(k, v) for k, v in xcols.items()]
        )
        try:
            m = feols(f"_power_u ~ {' + '.join(xcols)} | {unit} + {time}", aux, vcov="iid")
            e_hat = m.resid()
        except Exception:  # collinear regressors in this draw: counted out of n_valid
            return row
        n = e_hat.size
        if n != u.size:  # rows dropped (singletons): the draw cannot be rebuilt row by row
            return row
        dof = n - sp["W"].shape[0] - sp["n_periods"] + 1 - len(xcols)
        e_hat = e_hat * np.sqrt(n / max(dof, 1))
        mu = u - m.resid()
        shock = e_hat[rng.integers(0, n, size=n)]
        for j, rho in enumerate(p["effects"]):
            try:
                record(j, fit(_spatial_solve(sp, float(rho), mu + shock)))
            except Exception:
                pass
        return row
    rho = f0.rho if sp["rho"] is None else sp["rho"]
    dm = d_col * mult
    if sp["spillover"]:
        dm = dm + sp["spillover"] * _spatial_lag(sp, dm)
    # the treatment's part of the reduced form per unit of effect: (I - rho W)^-1 (D + s W D)
    lift = _spatial_solve(sp, rho, dm)
    for j, delta in enumerate(p["effects"]):
        try:
            record(j, f0 if delta == 0 else fit(y0 + delta * lift))
        except Exception:
            pass
    return row


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
    sample: str | None = None,
    shift: int | None = None,
    controls: Sequence[str] | None = None,
    W: Any = None,
    target: str | None = None,
    rho: float | None = None,
    spillover: float = 0.0,
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
        :mod:`pilotdid.registry`); or the spatial panels "sar" / "sdm" (``y ~ D + controls``
        with ``W``, two-way fixed effects, ML; see "Spatial models" below).
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

    Spatial models (``estimator="sar"`` or ``"sdm"``, ``W`` the spatial weights of the
    units, one matrix; the panel must be balanced over W's units):

    - ``sample`` defaults to "earlier" and "never" is refused: in a spatial model a
      never-treated unit's outcome carries spillovers from treated neighbours, so only
      pre-adoption periods (or a pre-policy panel with "all") have untreated outcomes, and
      dropping the treated units would change W.
    - ``target`` : what the test is about: "coef" (default; the coefficient of the
      pseudo-treatment D), "direct", "indirect", "total" (D's LeSage-Pace effects, delta-
      method s.e.), or "rho".
    - Effects on D (targets coef/direct/indirect/total): ``effects`` are sizes delta of D's
      coefficient; replicate r adds (I - rho W)^-1 (delta D m + spillover delta W D m)
      period by period to the observed outcomes (m: the ``shape`` multiplier), which is the
      model's reduced form with that coefficient (and, for the SDM, W D coefficient
      ``spillover`` x delta). ``rho`` is the spatial lag of that multiplier: by default the
      replicate's own fit at effect 0 (the observed outcomes' spatial dependence). Effect 0
      gives the size of H0: target = 0.
    - ``target="rho"``: ``effects`` are values of rho (default 0, 0.1, ..., 0.5; each inside
      W's admissible interval) and the outcome is simulated from the fitted reduced form:
      with rho_hat the replicate's fit on the observed outcomes y0, u = (I - rho_hat W) y0
      (period by period); e_hat its two-way within residuals on the model's regressors (D,
      controls and, for the SDM, their W-lags) rescaled by sqrt(n / residual df); replicate
      r draws e* from e_hat i.i.d. with replacement and fits y = (I - rho W)^-1 (u - e_hat +
      e*) for each rho. No treatment effect is injected; rho = 0 gives the size of
      H0: rho = 0.
    - Each replicate rejects when |estimate| > z_{(1+level)/2} s.e. (ML inference is
      asymptotically normal; the s.e. assume i.i.d. errors, so serially correlated outcomes
      make the placebo size exceed 1 - level: the size row shows it). ``analytic_power`` is
      NaN (the TWFE closed form is not the spatial ML's).
    """
    estimator = check_choice("estimator", estimator, _ESTIMATORS)
    if not callable(shape):
        shape = check_choice("shape", shape, _SHAPES)
    spatial = _spatial_options(estimator, W, target, rho, spillover)
    sample = check_choice("sample", sample or ("earlier" if spatial else "never"), _SAMPLES)
    if spatial is not None and sample == "never":
        raise PilotdidError(
            "option 'sample': 'never' is not available with a spatial model (never-treated "
            "units' outcomes carry spillovers from treated neighbours, and dropping units "
            "changes W); use 'earlier' (pre-adoption periods, the default) or 'all'"
        )
    seed = check_seed(seed)
    level = _check_confidence(level)
    goal = check_float("power", power, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
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
    if spatial is not None:
        spatial = _spatial_payload(spatial, W, df, unit, time)
        if effects is None and spatial["target"] == "rho":
            effects = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]
    if effects is None:
        from scipy.stats import norm

        z = norm.ppf(0.5 + level / 2) + norm.ppf(goal)
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
    if spatial is not None:
        _check_rhos(spatial, eff)
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
        "spatial": spatial,
        "W": W,
        "x": {c: _frame.numeric(df, c) for c in controls} if spatial is not None else {},
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
        draws,
        eff,
        estimator,
        n_units,
        level,
        goal,
        reps,
        seed,
        shape,
        sample,
        df.height,
        dropped,
        normal=spatial is not None,
    )
    res.shift = shift
    if spatial is not None:
        res.target = spatial["target"]
        res.spillover = spatial["spillover"]
        res.rho = spatial["rho"]
    return res


def _spatial_options(estimator: str, W: Any, target: Any, rho: Any, spillover: Any) -> dict | None:
    """The spatial options checked (None for the DID estimators, which refuse them)."""
    from pilotdid.registry import SPATIAL_TARGETS

    if estimator not in _SPATIAL:
        for name, unset in (("W", W is None), ("rho", rho is None), ("spillover", spillover == 0)):
            if not unset:
                raise PilotdidError(
                    f"option '{name}': applies to the spatial models (estimator='sar' or "
                    f"'sdm'), not to estimator='{estimator}'"
                )
        if target not in (None, "att"):
            raise PilotdidError(
                f"option 'target': {target!r}; a DID estimator's power is for its overall "
                "ATT ('att'); 'coef', 'rho', 'direct', 'indirect', 'total' need "
                "estimator='sar' or 'sdm'"
            )
        return None
    if W is None:
        raise PilotdidError(
            f"option 'W': estimator='{estimator}' needs the spatial weights of the units"
        )
    target = check_choice("target", "coef" if target is None else target, SPATIAL_TARGETS)
    spillover = check_float("spillover", spillover)
    if spillover != 0 and estimator != "sdm":
        raise PilotdidError(
            "option 'spillover': the SAR has no W*D term; use estimator='sdm' for an injected "
            "spillover coefficient"
        )
    if target == "rho" and (rho is not None or spillover != 0):
        raise PilotdidError(
            "option 'rho'/'spillover': with target='rho' the injected values of rho are "
            "'effects' and no treatment effect is injected"
        )
    if rho is not None:
        rho = check_float("rho", rho)
    return {"target": target, "rho": rho, "spillover": spillover}


def _spatial_payload(spatial: dict, W: Any, df: pl.DataFrame, unit: str, time: str) -> dict:
    """W dense in its unit order, each row's (unit position, period index), checked to be a
    balanced panel over W's units (every unit once in every period)."""
    from pilotdid.registry import spatial_layout

    wd, pos = spatial_layout(W, df.get_column(unit).to_list())
    tv = df.get_column(time).to_numpy()
    periods, tcode = np.unique(tv, return_inverse=True)
    n, t = wd.shape[0], periods.size
    counts = np.zeros((n, t), dtype=np.int64)
    np.add.at(counts, (pos, tcode), 1)
    if not (counts == 1).all():
        raise PilotdidError(
            f"power: the spatial models need a balanced panel over W's {n} units: "
            f"{int((counts == 0).sum())} unit-periods are missing and "
            f"{int((counts > 1).sum())} repeated in the sample (after dropping rows with "
            "missing values)"
        )
    eig = np.linalg.eigvals(wd).real
    lo = 1.0 / eig.min() if eig.min() < 0 else -np.inf
    hi = 1.0 / eig.max() if eig.max() > 0 else np.inf
    return dict(spatial, W=wd, pos=pos, tcode=tcode, n_periods=t, rho_bounds=(lo, hi))


def _check_rhos(sp: dict, eff: np.ndarray) -> None:
    """Injected spatial lags (target='rho' effects, or rho=) inside W's admissible interval."""
    lo, hi = sp["rho_bounds"]
    rhos = list(eff) if sp["target"] == "rho" else []
    name = "effects" if sp["target"] == "rho" else "rho"
    if sp["rho"] is not None:
        rhos.append(sp["rho"])
    bad = [float(r) for r in rhos if not lo < r < hi]
    if bad:
        raise PilotdidError(
            f"option '{name}': rho {bad[0]:g} is outside W's admissible interval "
            f"({lo:.4g}, {hi:.4g}) (1 / the extreme eigenvalues of W)"
        )


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
    normal: bool = False,
) -> PowerResult:
    from scipy.stats import norm

    est = draws[:, 0:-1:2]
    se = draws[:, 1:-1:2]
    # the DID estimators' cluster-robust t-test with G - 1 df; the spatial ML's normal test
    crit = float(norm.ppf(0.5 + level / 2)) if normal else _t_crit(level, n_units)
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

"""Robustness battery: placebo / randomization inference, PSM-DID, sample and measurement
variants, and :func:`robustness` that runs a list of checks into one table.

Argument handling only; the Rust core computes every estimate (placebo replicates, logit,
matching, balance, every regression).
"""

from __future__ import annotations

import datetime
import math
import numbers
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import polars as pl

from pilotdid import _frame
from pilotdid._args import (
    check_bool,
    check_choice,
    check_columns,
    check_float,
    check_int,
    check_reps,
    check_seed,
    check_str,
    vocabulary,
)
from pilotdid._core import (
    PilotdidError,
    logit_fit,
    placebo_prepare,
    placebo_pvalue,
    psm_balance,
    psm_match,
)
from pilotdid._formula import parse_formula
from pilotdid.regression import feols
from pilotdid.results.feols import FeolsResult
from pilotdid.results.robustness import PlaceboResult, PsmDidResult, RobustnessResult

__all__ = [
    "Check",
    "add_controls",
    "drop_units",
    "exclude_units",
    "placebo",
    "psm_did",
    "restrict_window",
    "robustness",
    "swap_outcome",
    "winsorize",
]

_SCHEMES = ("units", "times", "both")
_STATISTICS = ("cs", "sa", "bjs", "did2s")
_PSM_METHODS = ("nearest", "kernel")
_KERNELS = ("epanechnikov", "gaussian")
_DID_SAMPLES = ("matched", "weights")
_EXCLUDE_MODES = ("drop", "control")


# ------------------------------------------------------------------------------------------
# helpers shared by the checks
# ------------------------------------------------------------------------------------------
def _check_model(model: Any) -> Any:
    if not isinstance(model, FeolsResult):
        raise PilotdidError(
            f"option 'model': expected a fitted pilotdid.feols result, got {type(model).__name__}"
        )
    return model


def _optional_str(name: str, value: Any) -> str | None:
    return None if value is None else check_str(name, value)


def _model_data(model: Any, data: Any) -> Any:
    if data is None:
        data = getattr(model, "data", None)
    if data is None:
        raise PilotdidError(
            "option 'data': pass the data frame the model was fitted on "
            "(FeolsResult does not keep it)"
        )
    return data


def _panel_ids(model: Any, unit: str | None, time: str | None) -> tuple[str, str]:
    plain = [f for f in model.fixef if "^" not in f]
    if unit is None:
        if not plain:
            raise PilotdidError("option 'unit': the model has no plain fixed effect; name it")
        unit = plain[0]
    if time is None:
        rest = [f for f in plain if f != unit]
        if not rest:
            raise PilotdidError("option 'time': the model has no second fixed effect; name it")
        time = rest[0]
    return unit, time


def _vcov_spec(model: Any) -> Any:
    if model.clusters:
        return {"CR1": "+".join(model.clusters)}
    return "hetero" if model.vcov_type == "HC1" else "iid"


def _fixef_rm(model: Any) -> str:
    info = getattr(model, "_info", {})
    return "singleton" if info.get("singletons_dropped") else "none"


def _refit(model: Any, data: Any, formula: str | None = None) -> Any:
    """Re-runs the model's regression (same formula, vcov, weights, singleton rule)."""
    return feols(
        formula or model.formula,
        data,
        vcov=_vcov_spec(model),
        weights=model.weights,
        fixef_rm=_fixef_rm(model),
    )


def _treatment(model: Any, treatment: str | None) -> str:
    t = treatment or model.coefnames[0]
    if t not in model.coefnames:
        raise PilotdidError(
            f"option 'treatment': '{t}' is not a coefficient of the model "
            f"({', '.join(model.coefnames)})"
        )
    return t


def _all_columns(data: Any) -> pl.DataFrame:
    return _frame.to_polars(data, sorted(_frame._column_names(data), key=str))


def _time_values(df: pl.DataFrame, name: str) -> np.ndarray:
    v = _frame.numeric(df, name)
    if np.any(~np.isfinite(v)) or np.any(v != np.floor(v)):
        raise PilotdidError(f"column '{name}' (time) must hold whole numbers (years, periods)")
    return v.astype(np.int64)


# ------------------------------------------------------------------------------------------
# placebo
# ------------------------------------------------------------------------------------------
def _placebo_options(
    reps: Any, scheme: Any, seed: Any, progress: Any, statistic: Any
) -> tuple[int, str, int, bool]:
    """Checks placebo's options before any work (also used by Check("placebo", ...))."""
    scheme = check_choice("scheme", scheme, _SCHEMES)
    seed = check_seed(seed)
    progress = check_bool("progress", progress)
    if statistic is not None and not callable(statistic):
        check_choice("statistic", statistic, _STATISTICS)
    # Each replicate keeps its estimate (8 bytes) and a finite copy for the p-value; with a
    # statistic recomputed per replicate, also a Python float in a list (8 + 24 bytes).
    per_rep = 16 if statistic is None else 48
    return check_reps("reps", reps, bytes_per_rep=per_rep), scheme, seed, progress


@vocabulary()
def placebo(
    model: Any,
    *,
    data: Any = None,
    reps: int = 1000,
    scheme: str = "units",
    seed: int = 0,
    treatment: str | None = None,
    unit: str | None = None,
    time: str | None = None,
    progress: bool = False,
    statistic: str | Callable[[pl.DataFrame], float] | None = None,
) -> PlaceboResult:
    """Placebo test / randomization inference for the DID coefficient of a fitted ``feols``.

    Parameters
    ----------
    model : a ``pilotdid.feols`` result whose treatment is a 0/1 absorbing DID column.
    data : the frame the model was fitted on (FeolsResult does not keep it).
    reps : placebo replicates. When the scheme has no more distinct assignments than
        ``reps``, a warning is issued and every distinct assignment is evaluated once
        (exact randomization distribution).
    scheme : "units" permutes the adoption periods (cohorts, never-treated included) across
        units, keeping each cohort's size; "times" keeps the treated units and draws each a
        pseudo adoption period uniformly from the periods after the first; "both" draws as
        many treated units as there are (without replacement) and a pseudo period for each.
    seed : replicate r uses ChaCha8 seeded with ``seed``, stream r: results do not depend on
        the number of threads.
    treatment : the DID column (default: the model's first regressor).
    unit, time : id columns (default: the model's first and second fixed effects).
    progress : show a tqdm bar (replicates are run in 20 chunks; numbers are identical).
    statistic : the statistic recomputed on each placebo assignment. None (default): the
        model's TWFE coefficient, on the fast path below. "cs" (Callaway-Sant'Anna overall ATT,
        ``aggte(type="simple")``, never-treated controls, doubly robust), "sa" (Sun-Abraham
        ATT), "bjs" (imputation ATT) or "did2s" (Gardner static ATT), each with the model's
        controls; or any callable taking the estimation sample with the placebo treatment in
        the treatment column and its cohort in ``_placebo_cohort`` (0 = never) and returning a
        float. These run one estimate per replicate (slower); assignments are the same seeded
        draws, so results still do not depend on the number of threads.

    The statistic is the model's coefficient (TWFE) re-estimated with the placebo treatment:
    outcome and controls are demeaned once and each replicate solves a small FWL system, so
    every replicate equals ``pilotdid.feols`` on the permuted data. The randomization p-value
    (``p_value_ri``; ``pvalue()`` gives it under the treatment's name) is two-sided: the share
    of finite placebo estimates with |placebo| >= |actual| (``pvalue_plus_one`` gives
    (1 + count) / (1 + R)).
    """
    model = _check_model(model)
    reps, scheme, seed, progress = _placebo_options(reps, scheme, seed, progress, statistic)
    treatment = _optional_str("treatment", treatment)
    unit = _optional_str("unit", unit)
    time = _optional_str("time", time)
    data = _model_data(model, data)
    treat = _treatment(model, treatment)
    f = parse_formula(model.formula)
    if not f.simple:
        raise PilotdidError(
            f"placebo: the formula '{model.formula}' has transformed terms; create them as "
            "columns first so that the treatment column can be replaced"
        )
    unit, time = _panel_ids(model, unit, time)
    controls = [c for c in f.rhs if c != treat]
    fe_cols = [c for fe in f.fixef for c in fe]
    cols = list(dict.fromkeys([f.depvar, treat, *controls, *fe_cols, unit, time]))
    if model.weights:
        cols.append(model.weights)
    n = _frame.n_rows(data)
    used = np.asarray(model._core.used_rows, dtype=bool)
    if used.size != n:
        raise PilotdidError(
            f"option 'data': {n} rows, but the model was fitted on {used.size}; pass the same frame"
        )
    df = _frame.to_polars(data, list(dict.fromkeys(cols))).filter(pl.Series(used))
    fe_ids = []
    for names in f.fixef:
        parts = [_frame.ids(df, c)[0] for c in names]
        fe_ids.append(parts[0] if len(parts) == 1 else _frame.interacted_ids(parts))
    unit_ids, _ = _frame.ids(df, unit)
    core = placebo_prepare(
        _frame.numeric(df, f.depvar),
        controls,
        [_frame.numeric(df, c) for c in controls],
        f.fixef_names,
        fe_ids,
        _frame.numeric(df, model.weights) if model.weights else None,
        unit_ids,
        _time_values(df, time),
        treat,
        _frame.numeric(df, treat),
        1e-11,
        10_000,
    )
    n_distinct = core.n_distinct(scheme)
    assignments = None
    if n_distinct is not None and n_distinct <= reps:
        warnings.warn(
            f"placebo: scheme '{scheme}' has only {n_distinct} distinct assignments, fewer than "
            f"reps={reps}; evaluating each of them once (exact randomization distribution)",
            stacklevel=2,
        )
        est, assignments = core.enumerate(scheme, int(n_distinct))
        enumerated = True
    elif progress:
        from tqdm.auto import tqdm

        chunk = max(1, -(-reps // 20))
        parts = []
        with tqdm(total=reps, desc="placebo") as bar:
            for start in range(0, reps, chunk):
                m = min(chunk, reps - start)
                parts.append(np.asarray(core.run(scheme, seed, start, m)))
                bar.update(m)
        est = np.concatenate(parts)
        enumerated = False
    else:
        est = core.run(scheme, seed, 0, reps)
        enumerated = False
    est = np.asarray(est)
    units = pl.Series(df.get_column(unit)).unique(maintain_order=True).to_list()
    actual = float(core.actual)
    if statistic is not None:
        stat = _statistic_fn(statistic, f.depvar, treat, controls, unit, time)

        # Assignments are drawn one replicate at a time (the same seeded draws), so no list
        # of every replicate's assignment is held in memory.
        def draw(r: int) -> Any:
            return assignments[r] if assignments is not None else core.assignment(scheme, seed, r)

        actual = stat(_with_assignment(df, units, core.cohorts, unit, time, treat))
        loop = range(len(assignments) if assignments is not None else reps)
        if progress:
            from tqdm.auto import tqdm

            loop = tqdm(
                loop, desc=f"placebo ({statistic if isinstance(statistic, str) else 'custom'})"
            )
        est = np.array(
            [stat(_with_assignment(df, units, draw(r), unit, time, treat)) for r in loop]
        )
    p, n_valid = placebo_pvalue(est, actual)
    return PlaceboResult(
        treatment=treat,
        actual=actual,
        estimates=est,
        p_value_ri=float(p),
        n_valid=int(n_valid),
        scheme=scheme,
        reps=int(est.size),
        seed=seed,
        enumerated=enumerated,
        model_coef=float(model.coef()[treat]),
        _core=core,
        _sample=df,
        _units=units,
        _unit_col=unit,
        _time_col=time,
        _assignments=assignments,
    )


def _with_assignment(
    df: pl.DataFrame, units: list, cohorts: Sequence, unit: str, time: str, treat: str
) -> pl.DataFrame:
    """The sample with `treat` and `_placebo_cohort` (0 = never) set from a per-unit cohort
    list aligned with `units`."""
    mapping = {u: (0 if g is None else int(g)) for u, g in zip(units, cohorts)}
    g = df.get_column(unit).replace_strict(mapping, return_dtype=pl.Int64)
    t = df.get_column(time).cast(pl.Int64)
    d = ((g > 0) & (t >= g)).cast(pl.Float64)
    return df.with_columns(pl.Series(treat, d), pl.Series("_placebo_cohort", g))


def _statistic_fn(
    statistic: str | Callable[[pl.DataFrame], float],
    y: str,
    treat: str,
    controls: list[str],
    unit: str,
    time: str,
) -> Callable[[pl.DataFrame], float]:
    """The placebo statistic as a function of a sample carrying `_placebo_cohort`."""
    if callable(statistic):
        return lambda d: float(statistic(d))
    g = "_placebo_cohort"
    if statistic == "cs":
        from pilotdid.staggered import aggte, att_gt

        xf = ("~ " + " + ".join(controls)) if controls else None

        def cs(d: pl.DataFrame) -> float:
            res = att_gt(d, y=y, time=time, unit=unit, cohort=g, controls=xf)
            return float(aggte(res, type="simple").overall_att)

        return cs
    if statistic == "sa":
        from pilotdid.sun_abraham import sunab

        return lambda d: float(
            sunab(
                d,
                y=y,
                time=time,
                unit=unit,
                cohort=g,
                controls=controls or None,
            ).att
        )
    if statistic == "bjs":
        from pilotdid.event_study import imputation

        return lambda d: float(
            imputation(d, y=y, time=time, unit=unit, cohort=g, controls=controls or None).extra[
                "att"
            ]
        )
    if statistic == "did2s":
        from pilotdid.event_study import did2s

        return lambda d: float(
            did2s(
                d,
                y=y,
                time=time,
                unit=unit,
                cohort=g,
                controls=controls or None,
                event=False,
            ).estimate[0]
        )
    raise PilotdidError(
        f"option 'statistic': '{statistic}' is not one of 'cs', 'sa', 'bjs', 'did2s' or a callable"
    )


# ------------------------------------------------------------------------------------------
# PSM-DID
# ------------------------------------------------------------------------------------------
def _psm_options(
    *,
    treatment: Any,
    controls: Any,
    fml: Any = None,
    method: Any = "nearest",
    k: Any = 1,
    caliper: Any = None,
    replace: Any = True,
    kernel: Any = "epanechnikov",
    bandwidth: Any = 0.06,
    common_support: Any = True,
    by: Any = None,
    did_sample: Any = "matched",
    vcov: Any = None,
    cluster: Any = None,
    weights_name: Any = "_psm_weight",
) -> dict[str, Any]:
    """psm_did's options, checked before any work (also used by Check("psm", ...))."""
    ctrls = check_columns("controls", controls)
    if not ctrls:
        raise PilotdidError("option 'controls': give at least one covariate of the score")
    if cluster is not None:
        name = check_str("cluster", cluster)
        if vcov is not None:
            raise PilotdidError(
                f"options 'vcov' and 'cluster': give one of them (cluster={name!r} is "
                f"vcov={{'CR1': {name!r}}})"
            )
        vcov = {"CR1": name}
    return {
        "treatment": check_str("treatment", treatment),
        "controls": ctrls,
        "fml": _optional_str("fml", fml),
        "method": check_choice("method", method, _PSM_METHODS),
        "k": check_int("k", k, lo=1),
        "caliper": None
        if caliper is None
        else check_float("caliper", caliper, lo=0.0, lo_open=True),
        "replace": check_bool("replace", replace),
        "kernel": check_choice("kernel", kernel, _KERNELS),
        "bandwidth": check_float("bandwidth", bandwidth, lo=0.0, lo_open=True),
        "common_support": check_bool("common_support", common_support),
        "by": _optional_str("by", by),
        "did_sample": check_choice("did_sample", did_sample, _DID_SAMPLES),
        "vcov": vcov,
        "weights_name": check_str("weights_name", weights_name),
    }


@vocabulary(renamed={"treat": "treatment", "covariates": "controls", "formula": "fml"})
def psm_did(
    data: Any,
    *,
    treatment: str,
    controls: Sequence[str] | str,
    fml: str | None = None,
    method: str = "nearest",
    k: int = 1,
    caliper: float | None = None,
    replace: bool = True,
    kernel: str = "epanechnikov",
    bandwidth: float = 0.06,
    common_support: bool = True,
    by: str | None = None,
    did_sample: str = "matched",
    vcov: Any = None,
    cluster: str | None = None,
    weights_name: str = "_psm_weight",
) -> PsmDidResult:
    """Propensity-score matching DID.

    1. Logit of ``treatment`` (0/1 per row, e.g. the ever-treated group) on a constant and
       the covariates ``controls`` (Newton-Raphson in Rust; perfect separation is an error).
    2. Matching on the score, pooled (``by=None``) or within each value of ``by`` (e.g. the
       year: year-by-year matching): ``method="nearest"`` 1:k with or without replacement and
       an optional caliper (ties: the control first in the data wins; without replacement the
       treated rows are served in data order), or ``method="kernel"`` (``kernel`` =
       "epanechnikov" | "gaussian", ``bandwidth`` on the score scale). With
       ``common_support`` treated rows outside the controls' score range are dropped.
    3. Balance table (standardised bias before/after, t-tests; psmatch2 ``pstest``).
    4. If ``fml`` is given, the DID re-estimated by ``pilotdid.feols`` on the matched
       sample (``did_sample="matched"``: rows with a positive matching weight) or with the
       matching weights (``did_sample="weights"``). ``vcov`` (or ``cluster=``) is passed to
       feols.

    Rows with a missing treatment/control/by value are left out of matching (counted).
    """
    o = _psm_options(
        treatment=treatment,
        controls=controls,
        fml=fml,
        method=method,
        k=k,
        caliper=caliper,
        replace=replace,
        kernel=kernel,
        bandwidth=bandwidth,
        common_support=common_support,
        by=by,
        did_sample=did_sample,
        vcov=vcov,
        cluster=cluster,
        weights_name=weights_name,
    )
    treat, covariates, by, weights_name = o["treatment"], o["controls"], o["by"], o["weights_name"]
    df = _all_columns(data)
    needed = [treat, *covariates] + ([by] if by else [])
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise PilotdidError(f"column '{missing[0]}' not found in the data")
    t = _frame.numeric(df, treat)
    xs = [_frame.numeric(df, c) for c in covariates]
    ok = np.isfinite(t)
    for x in xs:
        ok &= np.isfinite(x)
    group = None
    if by:
        g, gok = _frame.ids(df, by)
        ok &= gok
        group = np.ascontiguousarray(g[ok])
    bad = np.setdiff1d(np.unique(t[ok]), [0.0, 1.0])
    if bad.size:
        raise PilotdidError(f"column '{treat}': must be 0 or 1, found {bad[0]}")
    ts = np.ascontiguousarray(t[ok])
    xs_ok = [np.ascontiguousarray(x[ok]) for x in xs]
    fit = logit_fit(ts, ["Intercept", *covariates], [np.ones(ts.size), *xs_ok])
    ps_ok = np.asarray(fit["fitted"])
    m = psm_match(
        ps_ok,
        ts,
        group,
        o["method"],
        o["k"],
        o["replace"],
        o["caliper"],
        o["kernel"],
        o["bandwidth"],
        o["common_support"],
    )
    w_ok = np.asarray(m["weights"])
    bal = psm_balance(covariates, xs_ok, ts, w_ok)
    pscore = np.full(df.height, np.nan)
    pscore[ok] = ps_ok
    weights = np.zeros(df.height)
    weights[ok] = w_ok
    idx = np.flatnonzero(ok)
    logit_tab = pl.DataFrame(
        {
            "term": ["Intercept", *covariates],
            "estimate": np.asarray(fit["beta"]),
            "std_error": np.asarray(fit["se"]),
        }
    )
    balance = pl.DataFrame({"covariate": covariates, **{k_: list(v) for k_, v in bal.items()}})
    if weights_name in df.columns:
        raise PilotdidError(f"option 'weights_name': column '{weights_name}' already exists")
    full = df.with_columns(pl.Series(weights_name, weights), pl.Series("_pscore", pscore))
    matched = full.filter(pl.col(weights_name) > 0)
    did = None
    if o["fml"] is not None:
        if o["did_sample"] == "matched":
            did = feols(o["fml"], matched, vcov=o["vcov"])
        else:
            did = feols(o["fml"], full, vcov=o["vcov"], weights=weights_name)
    caliper = o["caliper"]
    label = (
        f"nearest 1:{o['k']}, {'with' if o['replace'] else 'without'} replacement"
        + (f", caliper {caliper}" if caliper is not None else "")
        if o["method"] == "nearest"
        else f"kernel {o['kernel']}, bandwidth {o['bandwidth']}"
    ) + (f", by {by}" if by else ", pooled")
    return PsmDidResult(
        logit=logit_tab,
        pscore=pscore,
        weights=weights,
        balance=balance,
        matched_data=matched,
        did=did,
        method=label,
        n_off_support=len(m["off_support"]),
        n_unmatched=len(m["unmatched"]),
        n_dropped_missing=int((~ok).sum()),
        pairs=[(int(idx[a]), int(idx[b])) for a, b in m["pairs"]],
    )


# ------------------------------------------------------------------------------------------
# sample and measurement variants (each returns a NEW frame; the input is never modified)
# ------------------------------------------------------------------------------------------
def _quantile_bounds(lower: Any, upper: Any) -> tuple[float, float]:
    lower = check_float("lower", lower, lo=0.0, hi=1.0)
    upper = check_float("upper", upper, lo=0.0, hi=1.0)
    if not lower < upper:
        raise PilotdidError(
            f"options 'lower'/'upper': need 0 <= lower < upper <= 1, got {lower:g}, {upper:g}"
        )
    return lower, upper


@vocabulary()
def winsorize(
    data: Any,
    *,
    columns: Sequence[str] | str,
    lower: float = 0.01,
    upper: float = 0.99,
    by: str | None = None,
) -> pl.DataFrame:
    """Clips each column at its ``lower`` and ``upper`` quantiles (linear interpolation, as
    numpy's default), pooled or within each value of ``by`` (e.g. the year). Missing values
    stay missing. Returns a new polars frame."""
    lower, upper = _quantile_bounds(lower, upper)
    cols = check_columns("columns", columns)
    if not cols:
        raise PilotdidError("option 'columns': name at least one column to winsorize")
    by = _optional_str("by", by)
    df = _all_columns(data)
    for c in cols + ([by] if by else []):
        if c not in df.columns:
            raise PilotdidError(f"column '{c}' not found in the data")
    for c in cols:
        _frame.numeric(df, c)  # refuses a non-numeric column, naming it
    exprs = []
    for c in cols:
        x = pl.col(c).cast(pl.Float64).fill_nan(None)
        lo = x.quantile(lower, interpolation="linear")
        hi = x.quantile(upper, interpolation="linear")
        if by:
            lo, hi = lo.over(by), hi.over(by)
        exprs.append(x.clip(lo, hi).alias(c))
    return df.with_columns(exprs)


def _unit_list(value: Any) -> list[Any]:
    if (
        value is None
        or isinstance(value, (str, bytes))
        or not isinstance(value, (Sequence, np.ndarray, pl.Series))
    ):
        raise PilotdidError(
            f"option 'units': expected a list of unit values (e.g. ['Shanghai']), got {value!r}"
        )
    return list(value)


@vocabulary()
def drop_units(data: Any, *, unit: str, units: Sequence[Any]) -> pl.DataFrame:
    """Drops every row of the named units (e.g. municipalities, provincial capitals).
    Unknown unit names are an error."""
    unit = check_str("unit", unit)
    units = _unit_list(units)
    df = _all_columns(data)
    if unit not in df.columns:
        raise PilotdidError(f"column '{unit}' not found in the data")
    present = set(df.get_column(unit).to_list())
    unknown = [u for u in units if u not in present]
    if unknown:
        raise PilotdidError(
            f"option 'units': {unknown[0]!r} is not a value of column '{unit}'"
            + (f" (also unknown: {unknown[1:]})" if unknown[1:] else "")
        )
    return df.filter(~pl.col(unit).is_in(units))


def _exclude_options(
    *,
    flags: Any = None,
    table: Any = None,
    table_unit: Any = None,
    table_start: Any = "start",
    time: Any = None,
    mode: Any = "drop",
    control_name: Any = "other_pilot",
) -> dict[str, Any]:
    """exclude_units' options, checked before any work (also used by Check)."""
    if (flags is None) == (table is None):
        raise PilotdidError("exclude_units: give either 'flags' (columns) or 'table', not both")
    return {
        "flags": None if flags is None else check_columns("flags", flags),
        "table": table,
        "table_unit": _optional_str("table_unit", table_unit),
        "table_start": check_str("table_start", table_start),
        "time": _optional_str("time", time),
        "mode": check_choice("mode", mode, _EXCLUDE_MODES),
        "control_name": check_str("control_name", control_name),
    }


@vocabulary()
def exclude_units(
    data: Any,
    *,
    unit: str,
    flags: Sequence[str] | str | None = None,
    table: Any = None,
    table_unit: str | None = None,
    table_start: str = "start",
    time: str | None = None,
    mode: str = "drop",
    control_name: str = "other_pilot",
) -> pl.DataFrame:
    """Units flagged by other pilot programmes (low-carbon city, Broadband China, ...).

    Give them as 0/1 ``flags`` columns of the data (a unit is flagged if any row is nonzero)
    or as a ``table`` of unit x start year (columns ``table_unit`` (default ``unit``) and
    ``table_start``). ``mode="drop"`` removes the flagged units; ``mode="control"`` keeps
    them and adds a column ``control_name`` = 1 from the unit's start year on (needs
    ``time``; with flag columns, the row-wise maximum of the flags) to use as a control.
    Units of the table that are not in the data are an error.
    """
    unit = check_str("unit", unit)
    o = _exclude_options(
        flags=flags,
        table=table,
        table_unit=table_unit,
        table_start=table_start,
        time=time,
        mode=mode,
        control_name=control_name,
    )
    mode, control_name, time = o["mode"], o["control_name"], o["time"]
    table_start = o["table_start"]
    df = _all_columns(data)
    if unit not in df.columns:
        raise PilotdidError(f"column '{unit}' not found in the data")
    if o["flags"] is not None:
        fl = o["flags"]
        for c in fl:
            if c not in df.columns:
                raise PilotdidError(f"column '{c}' not found in the data")
        any_flag = pl.max_horizontal([pl.col(c).cast(pl.Float64).fill_null(0) for c in fl]) > 0
        if mode == "control":
            return df.with_columns(any_flag.cast(pl.Float64).alias(control_name))
        flagged = df.filter(any_flag).get_column(unit).unique().to_list()
        return df.filter(~pl.col(unit).is_in(flagged))
    tab = _all_columns(table)
    tu = o["table_unit"] or unit
    for c in (tu, table_start):
        if c not in tab.columns:
            raise PilotdidError(f"option 'table': column '{c}' not found in the table")
    present = set(df.get_column(unit).to_list())
    listed = tab.get_column(tu).to_list()
    unknown = [u for u in listed if u not in present]
    if unknown:
        raise PilotdidError(
            f"option 'table': unit {unknown[0]!r} is not a value of column '{unit}' in the data"
            + (f" ({len(unknown)} unknown units)" if len(unknown) > 1 else "")
        )
    if mode == "drop":
        return df.filter(~pl.col(unit).is_in(listed))
    if time is None:
        raise PilotdidError("option 'time': needed with mode='control'")
    start = dict(zip(listed, tab.get_column(table_start).to_list()))
    s = [start.get(u) for u in df.get_column(unit).to_list()]
    t = df.get_column(time).to_list()
    d = [0.0 if si is None else float(ti >= si) for si, ti in zip(s, t)]
    return df.with_columns(pl.Series(control_name, d))


def _bound(name: str, value: Any) -> Any:
    """A window bound: None, a finite number or a date."""
    if value is None or isinstance(value, (datetime.date, np.datetime64)):
        return value
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
        if math.isfinite(float(value)):
            return value
    raise PilotdidError(
        f"option '{name}': expected a period (a finite number or a date) or None, got {value!r}"
    )


def _window_bounds(start: Any, end: Any) -> tuple[Any, Any]:
    start, end = _bound("start", start), _bound("end", end)
    if start is not None and end is not None and start > end:
        raise PilotdidError(f"options 'start'/'end': start = {start} is after end = {end}")
    return start, end


@vocabulary()
def restrict_window(data: Any, *, time: str, start: Any = None, end: Any = None) -> pl.DataFrame:
    """Keeps rows with ``start <= time <= end`` (either bound may be None)."""
    time = check_str("time", time)
    start, end = _window_bounds(start, end)
    df = _all_columns(data)
    if time not in df.columns:
        raise PilotdidError(f"column '{time}' not found in the data")
    cond = pl.lit(True)
    if start is not None:
        cond = cond & (pl.col(time) >= start)
    if end is not None:
        cond = cond & (pl.col(time) <= end)
    out = df.filter(cond)
    if out.height == 0:
        raise PilotdidError(f"restrict_window: no rows with {start} <= {time} <= {end}")
    return out


def _formula(fml: Any) -> str:
    if not isinstance(fml, str) or "~" not in fml:
        raise PilotdidError(f"option 'fml': expected a formula such as 'y ~ d | unit', got {fml!r}")
    return fml


@vocabulary(renamed={"formula": "fml", "outcome": "y"})
def swap_outcome(fml: str, y: str) -> str:
    """The formula with another outcome ``y``."""
    lhs, rhs = _formula(fml).split("~", 1)
    return f"{check_str('y', y)} ~{rhs}"


@vocabulary(renamed={"formula": "fml"})
def add_controls(fml: str, controls: Sequence[str] | str) -> str:
    """The formula with extra controls before the fixed-effect bar."""
    lhs, rhs = _formula(fml).split("~", 1)
    extra = check_columns("controls", controls)
    if not extra:
        raise PilotdidError("option 'controls': name at least one control to add")
    parts = rhs.split("|", 1)
    main = parts[0].rstrip() + " + " + " + ".join(extra)
    return f"{lhs.strip()} ~ {main.strip()}" + (f" | {parts[1].strip()}" if len(parts) > 1 else "")


# ------------------------------------------------------------------------------------------
# the battery
# ------------------------------------------------------------------------------------------
def _check_label(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and value):
        return value
    raise PilotdidError(f"option 'label': expected a non-empty string, got {value!r}")


def _validate_winsorize(o: dict) -> None:
    _quantile_bounds(o.get("lower", 0.01), o.get("upper", 0.99))
    if "columns" in o:
        check_columns("columns", o["columns"])
    _optional_str("by", o.get("by"))


def _validate_placebo(o: dict) -> None:
    _placebo_options(
        o.get("reps", 1000),
        o.get("scheme", "units"),
        o.get("seed", 0),
        o.get("progress", False),
        o.get("statistic"),
    )


def _validate_add_controls(o: dict) -> None:
    if not check_columns("controls", o.get("controls")):
        raise PilotdidError("Check('controls'): option 'controls' names no column to add")


def _validate_psm(o: dict) -> None:
    for req in ("treatment", "controls"):
        if req not in o:
            raise PilotdidError(f"Check('psm'): option '{req}' is required")
    _psm_options(**o)


#: kind -> (options it takes, old option names -> new, validator of the options' values)
_CHECK_KINDS: dict[str, tuple[tuple[str, ...], dict[str, str], Callable[[dict], None]]] = {
    "exclude_units": (
        ("flags", "table", "table_unit", "table_start", "mode", "control_name"),
        {},
        lambda o: _exclude_options(**o),
    ),
    "drop_units": (("units",), {}, lambda o: _unit_list(o.get("units"))),
    "winsorize": (("columns", "lower", "upper", "by"), {}, _validate_winsorize),
    "window": (("start", "end"), {}, lambda o: _window_bounds(o.get("start"), o.get("end"))),
    "outcome": (("y",), {"outcome": "y"}, lambda o: check_str("y", o.get("y"))),
    "controls": (("controls",), {}, lambda o: _validate_add_controls(o)),
    "psm": (
        (
            "treatment",
            "controls",
            "fml",
            "method",
            "k",
            "caliper",
            "replace",
            "kernel",
            "bandwidth",
            "common_support",
            "by",
            "did_sample",
            "vcov",
            "cluster",
            "weights_name",
        ),
        {"treat": "treatment", "covariates": "controls", "formula": "fml"},
        _validate_psm,
    ),
    "placebo": (("reps", "scheme", "seed", "progress", "statistic"), {}, _validate_placebo),
}


class Check:
    """One robustness check: ``kind`` and its options, checked when the check is built. Build
    with keywords, or as a dict ``{"kind": "winsorize", "columns": [...], ...}`` / a tuple
    ``("winsorize", {...})`` inside ``robustness(checks=...)``.

    kinds (options):
    - ``"exclude_units"``: flags= / table= / table_unit= / table_start= / mode= (drop|control)
      / control_name=
    - ``"drop_units"``: units=
    - ``"winsorize"``: columns= (default: outcome and controls), lower=, upper=, by=
    - ``"window"``: start=, end=
    - ``"outcome"``: y= (the other outcome)
    - ``"controls"``: controls=
    - ``"psm"``: treatment=, controls= (of the score), and psm_did's other options
    - ``"placebo"``: reps=, scheme=, seed=, progress=, statistic=
    every kind also takes ``label=``. Unknown kinds or options raise; old option names raise
    a TypeError naming the new one.
    """

    def __init__(self, kind: str, **options: Any) -> None:
        if not isinstance(kind, str) or kind not in _CHECK_KINDS:
            raise PilotdidError(
                f"option 'kind': unknown kind {kind!r} (one of " + ", ".join(_CHECK_KINDS) + ")"
            )
        allowed, renamed, validate = _CHECK_KINDS[kind]
        for name in options:
            if name in renamed:
                raise TypeError(
                    f"Check({kind!r}): '{name}' is now called '{renamed[name]}' (the package's "
                    "one vocabulary; see CHANGELOG.md)"
                )
            if name != "label" and name not in allowed:
                raise TypeError(
                    f"Check({kind!r}): unknown option '{name}'; it takes "
                    + ", ".join(f"{a}=" for a in allowed)
                    + ", label="
                )
        self.kind = kind
        self.label = _check_label(options.pop("label", None))
        validate(options)
        self.options = options

    def __repr__(self) -> str:
        return f"Check({self.kind!r}, {self.options!r})"


def _as_check(c: Any) -> Check:
    if isinstance(c, Check):
        return c
    if isinstance(c, dict):
        c = dict(c)
        kind = c.pop("kind", None)
        if kind is None:
            raise PilotdidError(f"option 'checks': {c!r} has no 'kind'")
        return Check(kind, **c)
    if isinstance(c, tuple) and len(c) == 2 and isinstance(c[0], str):
        return Check(c[0], **dict(c[1]))
    raise PilotdidError(f"option 'checks': cannot read {c!r}")


def _row(label: str, term: str, fit: Any, note: str = "") -> dict:
    tidy = fit.tidy().filter(pl.col("term") == term)
    if tidy.height == 0:
        raise PilotdidError(f"check '{label}': '{term}' was dropped from the regression")
    r = tidy.row(0, named=True)
    return {
        "check": label,
        "estimate": float(r["estimate"]),
        "std_error": float(r["std_error"]),
        "p_value": float(r["p_value"]),
        "nobs": int(fit.nobs),
        "note": note,
    }


@vocabulary(renamed={"base_model": "model"})
def robustness(
    model: Any,
    *,
    checks: Sequence[Any],
    data: Any = None,
    treatment: str | None = None,
    unit: str | None = None,
    time: str | None = None,
) -> RobustnessResult:
    """Runs each check as a variant of ``model`` and returns one table with the
    baseline beside each (see :class:`Check` for the kinds). Every regression is the
    model's own (formula, vcov, weights, singleton rule) on the variant's data; each row
    equals the corresponding separate call (``winsorize`` + ``feols``, ``psm_did``,
    ``placebo``, ...). Every check is read and validated before the first one runs."""
    base_model = _check_model(model)
    if isinstance(checks, (str, bytes, dict, Check)) or not isinstance(checks, Sequence):
        raise PilotdidError(
            f"option 'checks': expected a list of checks (Check(...), dicts or tuples), got "
            f"{type(checks).__name__}"
        )
    parsed = [_as_check(c) for c in checks]
    treatment = _optional_str("treatment", treatment)
    unit = _optional_str("unit", unit)
    time = _optional_str("time", time)
    data = _model_data(base_model, data)
    term = _treatment(base_model, treatment)
    unit, time = _panel_ids(base_model, unit, time)
    f = parse_formula(base_model.formula)
    controls = [c for c in f.rhs if c != term]
    base = base_model.tidy().filter(pl.col("term") == term).row(0, named=True)
    rows = [
        {
            "check": "baseline",
            "estimate": float(base["estimate"]),
            "std_error": float(base["std_error"]),
            "p_value": float(base["p_value"]),
            "nobs": int(base_model.nobs),
            "note": base_model.formula,
        }
    ]
    models: dict = {"baseline": base_model}
    for c in parsed:
        o = dict(c.options)
        kind = c.kind
        if kind == "exclude_units":
            label = c.label or "exclude other pilots"
            mode = o.get("mode", "drop")
            d = exclude_units(data, unit=unit, time=time, **o)
            fml = base_model.formula
            if mode == "control":
                fml = add_controls(fml, o.get("control_name", "other_pilot"))
            fit = _refit(base_model, d, fml)
            note = f"mode={mode}"
        elif kind == "drop_units":
            label = c.label or "drop named units"
            fit = _refit(base_model, drop_units(data, unit=unit, units=o["units"]))
            note = f"{len(o['units'])} units dropped"
        elif kind == "winsorize":
            cols = o.pop("columns", [f.depvar, *controls])
            label = c.label or (
                f"winsorize {o.get('lower', 0.01):g}/{o.get('upper', 0.99):g}"
                + (f" by {o['by']}" if o.get("by") else "")
            )
            fit = _refit(base_model, winsorize(data, columns=cols, **o))
            note = ", ".join(check_columns("columns", cols))
        elif kind == "window":
            label = c.label or f"window {o.get('start')}-{o.get('end')}"
            window = restrict_window(data, time=time, start=o.get("start"), end=o.get("end"))
            fit = _refit(base_model, window)
            note = ""
        elif kind == "outcome":
            label = c.label or f"outcome {o['y']}"
            fit = _refit(base_model, data, swap_outcome(base_model.formula, o["y"]))
            note = ""
        elif kind == "controls":
            extra = o["controls"]
            label = c.label or "add controls"
            fit = _refit(base_model, data, add_controls(base_model.formula, extra))
            note = ", ".join([extra] if isinstance(extra, str) else extra)
        elif kind == "psm":
            label = c.label or "PSM-DID"
            o.setdefault("fml", base_model.formula)
            if o.get("cluster") is None:
                o.setdefault("vcov", _vcov_spec(base_model))
            res = psm_did(data, **o)
            models[label] = res
            rows.append(_row(label, term, res.did, res.method))
            continue
        else:  # placebo
            label = c.label or f"placebo ({o.get('scheme', 'units')})"
            res = placebo(base_model, data=data, treatment=term, unit=unit, time=time, **o)
            models[label] = res
            finite = res.estimates[np.isfinite(res.estimates)]
            rows.append(
                {
                    "check": label,
                    "estimate": float(finite.mean()),
                    "std_error": float(finite.std(ddof=1)),
                    "p_value": float(res.p_value_ri),
                    "nobs": int(base_model.nobs),
                    "note": "mean and sd of placebo estimates; randomization p-value",
                }
            )
            continue
        models[label] = fit
        rows.append(_row(label, term, fit, note))
    table = pl.DataFrame(rows).with_columns(
        pl.lit(term).alias("term"),
        pl.lit(float(base["estimate"])).alias("baseline_estimate"),
        pl.lit(float(base["std_error"])).alias("baseline_std_error"),
    )
    table = table.select(
        "check",
        "term",
        "estimate",
        "std_error",
        "p_value",
        "nobs",
        "baseline_estimate",
        "baseline_std_error",
        "note",
    )
    return RobustnessResult(table=table, models=models, baseline=base_model, term=term)

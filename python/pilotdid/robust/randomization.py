"""Placebo / randomization inference: fake cohorts drawn by units, times or both, the
estimate refitted on each (Rust core), and the permutation p-value."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import polars as pl

from pilotdid import _frame
from pilotdid._args import (
    check_bool,
    check_choice,
    check_reps,
    check_seed,
    vocabulary,
)
from pilotdid._core import (
    PilotdidError,
    placebo_prepare,
    placebo_pvalue,
)
from pilotdid._formula import parse_formula
from pilotdid.panel import cohort_values
from pilotdid.registry import OVERALL_ESTIMATORS, overall_estimator
from pilotdid.results.robustness import PlaceboResult
from pilotdid.robust._model import (
    _check_model,
    _model_data,
    _optional_str,
    _panel_ids,
    _time_values,
    _treatment,
)

__all__ = ["placebo"]

_SCHEMES = ("units", "times", "both")


_STATISTICS = ("cs", "sa", "bjs", "did2s", "sdid")


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
    executor: Any = None,
    chunks: int | None = None,
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
    executor : with a ``statistic``, run its replicates on a ``concurrent.futures.Executor``,
        a ``dask.distributed.Client``, or a number of worker processes (see
        :func:`pilotdid._executor.run_replicates` for how data is shipped and dying workers
        are survived). The assignments are the same seeded (seed, r) draws, made here, and
        estimates are assembled in r order: identical to ``executor=None`` bit for bit. A
        callable statistic must then be picklable (a module-level function; a dask client
        also takes closures). Without a statistic the core's fast path is used and
        ``executor`` is ignored.
    chunks : number of replicate chunks sent to the executor (default 4 per worker).

    The statistic is the model's coefficient (TWFE) re-estimated with the placebo treatment:
    outcome and controls are demeaned once and each replicate solves a small FWL system, so
    every replicate equals ``pilotdid.feols`` on the permuted data. The randomization p-value
    (``p_value_ri``; ``pvalue()`` gives it under the treatment's name) is two-sided:
    (1 + k) / (1 + R), k the number of the R finite placebo estimates with
    |placebo| >= |actual| (the actual assignment counted as one draw: never 0; R = 1000 with
    no draw as extreme gives 1/1001). When every distinct assignment is enumerated, the actual
    one is among them and the exact share k / R is reported.
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
    # The shared 0/1 -> cohort path checks the treatment first, so that a treatment that
    # switches off is refused naming every such unit (the core would name the first only).
    cohort_values(df, unit=unit, time=time, column=treat, derived=True)
    core = placebo_prepare(
        _frame.numeric(df, f.depvar),
        unit_ids,
        _time_values(df, time),
        treat,
        _frame.numeric(df, treat),
        control_names=controls,
        controls=[_frame.numeric(df, c) for c in controls],
        fe_names=f.fixef_names,
        fe=fe_ids,
        weights=_frame.numeric(df, model.weights) if model.weights else None,
        tol=1e-11,
        max_iter=10_000,
    )
    n_distinct = core.n_distinct(scheme)
    assignments = None
    if n_distinct is not None and n_distinct <= reps:
        warnings.warn(
            f"placebo: scheme '{scheme}' has only {n_distinct} distinct assignments, fewer than "
            f"reps={reps}; evaluating each of them once (exact randomization distribution)",
            stacklevel=2,
        )
        every = core.enumerate(scheme, int(n_distinct))
        est, assignments = every.estimates, every.assignments
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
        n_rep = len(assignments) if assignments is not None else reps
        if executor is not None:
            from pilotdid._executor import run_replicates

            payload = {
                "df": df,
                "units": units,
                "assignments": [draw(r) for r in range(n_rep)],
                "statistic": statistic,
                "names": (f.depvar, treat, controls, unit, time),
            }
            est = run_replicates(
                _placebo_chunk,
                payload,
                reps=n_rep,
                seed=seed,
                executor=executor,
                chunks=chunks,
                progress="placebo" if progress else False,
            )
        else:
            loop = range(n_rep)
            if progress:
                from tqdm.auto import tqdm

                loop = tqdm(
                    loop,
                    desc=f"placebo ({statistic if isinstance(statistic, str) else 'custom'})",
                )
            est = np.array(
                [stat(_with_assignment(df, units, draw(r), unit, time, treat)) for r in loop]
            )
    return _placebo_result(
        model,
        treat,
        actual,
        est,
        enumerated,
        scheme,
        seed,
        core,
        df,
        units,
        unit,
        time,
        assignments,
    )


def _placebo_result(
    model: Any,
    treat: str,
    actual: float,
    est: np.ndarray,
    enumerated: bool,
    scheme: str,
    seed: int,
    core: Any,
    df: pl.DataFrame,
    units: list,
    unit: str,
    time: str,
    assignments: Any,
) -> PlaceboResult:
    p, n_valid = placebo_pvalue(est, actual, enumerated=enumerated)
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


def _placebo_chunk(payload: dict, seed: int, start: int, stop: int) -> np.ndarray:
    """Placebo statistics of replicates [start, stop) (run on an executor's worker). The
    assignments were drawn from their (seed, r) streams by the caller."""
    y, treat, controls, unit, time = payload["names"]
    stat = _statistic_fn(payload["statistic"], y, treat, controls, unit, time)
    df, units = payload["df"], payload["units"]
    return np.array(
        [
            stat(_with_assignment(df, units, payload["assignments"][r], unit, time, treat))
            for r in range(start, stop)
        ],
        dtype=float,
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
    if statistic in OVERALL_ESTIMATORS:
        est = overall_estimator(statistic)

        def refit(d: pl.DataFrame) -> float:
            fit = est.fit(d, y=y, unit=unit, time=time, cohort=g, controls=controls)
            return float(est.overall(fit)[0])

        return refit
    raise PilotdidError(
        f"option 'statistic': '{statistic}' is not one of 'cs', 'sa', 'bjs', 'did2s' or a callable"
    )

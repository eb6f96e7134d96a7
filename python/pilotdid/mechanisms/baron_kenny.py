"""Three-step (Baron–Kenny) mediation with Sobel / Aroian / Goodman tests and a cluster
bootstrap of the indirect effect (tests, bootstrap and intervals in the Rust core)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from pilotdid import _frame
from pilotdid._args import (
    check_bool,
    check_choice,
    check_columns,
    check_level,
    check_reps,
    check_seed,
    check_str,
    vocabulary,
)
from pilotdid._core import (
    PilotdidError,
    mediation_boot_join,
    mediation_bootstrap,
    mediation_ci,
    mediation_tests,
)
from pilotdid._executor import run_replicates
from pilotdid.mechanisms._common import (
    _ESTIMATORS,
    _check_variation,
    _cluster_var,
    _demean_options,
    _fe_terms,
    _fml,
    _mediators,
    _numeric_columns,
    _roles,
    _with_cluster,
)
from pilotdid.mechanisms.two_step import mechanism_effects
from pilotdid.regression import feols
from pilotdid.results.mechanisms import (
    MechanismEffects,
    MediationResult,
)

__all__ = ["mediation"]

#: The core's Sobel / Aroian / Goodman results, as columns of the mediation table.
_TEST_COLUMNS = (
    "sobel_se",
    "sobel_z",
    "sobel_p",
    "aroian_se",
    "aroian_z",
    "aroian_p",
    "goodman_se",
    "goodman_z",
    "goodman_p",
)


@vocabulary(renamed={"boot_reps": "reps"})
def mediation(
    data: Any,
    *,
    y: str,
    treatment: str,
    mediators: str | Sequence[str],
    controls: str | Sequence[str] | None = None,
    fixef: str | None = None,
    vcov: Any = None,
    cluster: str | None = None,
    reps: int = 1000,
    seed: int = 0,
    ci: str = "percentile",
    level: float = 0.95,
    joint: bool = False,
    method: str = "three_step",
    estimator: str = "twfe",
    fixef_tol: float = 1e-11,
    fixef_maxiter: int = 10_000,
    executor: Any = None,
    chunks: int | None = None,
    progress: bool = False,
) -> MediationResult | MechanismEffects:
    """Mediation analysis of ``treatment`` → mediator → ``y``.

    ``method="three_step"`` (Baron–Kenny): for each mediator m, total effect c
    (``y ~ d + controls | fe``), a-path (``m ~ d + controls | fe``), b-path and direct effect c'
    (``y ~ d + m + controls | fe``; with ``joint=True`` one regression with all mediators);
    Sobel, Aroian and Goodman tests of a·b; a cluster bootstrap of a·b (``reps``
    replicates resampling the clusters of ``vcov={"CR1": var}`` (or ``cluster=var``) — or
    single rows without clustering — with replacement; replicate r uses ChaCha8 seeded with
    ``seed``, stream r), percentile (``ci="percentile"``) or bias-corrected (``"bc"``)
    intervals at ``level``; proportion mediated a·b / c. All regressions use the same
    complete-case sample. ``reps=0`` skips the bootstrap (no interval for a·b).

    The Sobel / Aroian / Goodman z and p do not depend on ``level``; the bootstrap interval
    does (``tidy(level=)`` recomputes it from the stored draws).

    ``executor=`` (with ``reps > 0``): run the bootstrap replicates in ``chunks`` of (seed, r)
    ranges on a ``concurrent.futures`` executor, a number of worker processes, or a
    ``dask.distributed`` Client (:func:`pilotdid._executor.run_replicates`: the data go once
    per worker, a chunk whose worker dies is rerun); draws, failed count and intervals are
    the serial ones bit for bit. ``progress``: a bar as chunks return.

    ``method="two_step"`` (Jiang 2022): the policy's effect on each mediator only (see
    :func:`mechanism_effects`).

    Caveat (Jiang 2022, China Industrial Economics): the third step regresses y on a mediator
    that is itself an outcome of the treatment — a bad control — so b and c' are not causal
    without further assumptions; prefer the step-2 effect with theory for m → y.
    """
    y = check_str("y", y)
    treatment = check_str("treatment", treatment)
    meds = _mediators(mediators)
    method = check_choice("method", method, ("three_step", "two_step"))
    estimator = check_choice("estimator", estimator, _ESTIMATORS)
    vcov = _with_cluster(vcov, cluster)
    if method == "two_step":
        return mechanism_effects(
            data,
            treatment=treatment,
            mediators=meds,
            controls=controls,
            fixef=fixef,
            vcov=vcov,
            estimator=estimator,
        )
    ci = check_choice("ci", ci, ("percentile", "bc"))
    level = check_level(level)
    seed = check_seed(seed)
    joint = check_bool("joint", joint)
    progress = check_bool("progress", progress)
    # What each replicate keeps: the a- and b-path of every mediator (2 x 8 bytes) in the
    # collected per-replicate vectors (plus their 48-byte headers and allocator overhead) and
    # again in the two reps x k arrays returned (core/src/mediation/bootstrap.rs).
    reps = check_reps("reps", reps, bytes_per_rep=32 * len(meds) + 80, lo=0)
    fixef_tol, fixef_maxiter = _demean_options(fixef_tol, fixef_maxiter)
    ctrls = check_columns("controls", controls)
    fe_terms = _fe_terms(fixef)
    fe_cols = [p.strip() for t in fe_terms for p in t.split("^")]
    cl = _cluster_var(vcov)
    cols = [y, treatment, *meds, *ctrls, *fe_cols] + ([cl] if cl else [])
    df = _frame.to_polars(data, cols)
    _numeric_columns(df, _roles(y, treatment, meds, ctrls))
    n_input = df.height
    df = df.drop_nulls()
    num = [y, treatment, *meds, *ctrls]
    df = df.filter(pl.all_horizontal([pl.col(c).cast(pl.Float64).is_finite() for c in num]))
    if df.height == 0:
        raise PilotdidError("no complete rows for the mediation regressions")
    _check_variation(df, meds, "mediator")
    _check_variation(df, [treatment], "treatment")
    vc = vcov if vcov is not None else ("iid" if not fe_terms else {"CR1": fe_cols[0]})
    if cl is None and isinstance(vc, dict):
        cl = _cluster_var(vc)
    kw = {"vcov": vc, "fixef_tol": fixef_tol, "fixef_maxiter": fixef_maxiter}

    total = feols(_fml(y, [treatment, *ctrls], fe_terms), df, **kw)
    a_fits = {m: feols(_fml(m, [treatment, *ctrls], fe_terms), df, **kw) for m in meds}
    if joint:
        jf = feols(_fml(y, [treatment, *meds, *ctrls], fe_terms), df, **kw)
        b_fits = dict.fromkeys(meds, jf)
    else:
        b_fits = {m: feols(_fml(y, [treatment, m, *ctrls], fe_terms), df, **kw) for m in meds}

    def get(fit: Any, name: str) -> tuple[float, float]:
        c, s = fit.coef(), fit.se()
        if name not in c:
            raise PilotdidError(
                f"column '{name}': dropped as collinear with the fixed effects or controls"
            )
        return c[name], s[name]

    c_tot, se_tot = get(total, treatment)
    rows = []
    for m in meds:
        a, sa = get(a_fits[m], treatment)
        b, sb = get(b_fits[m], m)
        cp, scp = get(b_fits[m], treatment)
        t = mediation_tests(a, sa, b, sb)
        rows.append(
            {
                "mediator": m,
                "a": a,
                "se_a": sa,
                "b": b,
                "se_b": sb,
                "direct": cp,
                "se_direct": scp,
                "indirect": a * b,
                **{k: getattr(t, k) for k in _TEST_COLUMNS},
                "prop_mediated": (a * b) / c_tot if c_tot != 0 else float("nan"),
            }
        )

    n_failed = 0
    boot_a = boot_b = None
    if executor is not None and reps == 0:
        raise PilotdidError(
            "option 'executor': runs the bootstrap replicates; reps=0 skips the bootstrap"
        )
    if reps > 0:
        fe_arrays = []
        for term in fe_terms:
            parts = [_frame.ids(df, p.strip())[0] for p in term.split("^")]
            fe_arrays.append((term, parts[0] if len(parts) == 1 else _frame.interacted_ids(parts)))
        clus = _frame.ids(df, cl)[0] if cl else np.arange(df.height, dtype=np.int64)
        call = dict(
            y=_frame.numeric(df, y),
            d=_frame.numeric(df, treatment),
            mediators=[(m, _frame.numeric(df, m)) for m in meds],
            controls=[(c, _frame.numeric(df, c)) for c in ctrls],
            fe=fe_arrays,
            cluster=np.ascontiguousarray(clus, dtype=np.int64),
            reps=reps,
            joint=joint,
            tol=fixef_tol,
            max_iter=fixef_maxiter,
        )
        if executor is None:
            boot = mediation_bootstrap(**call, seed=seed)
        else:
            k = len(meds)
            draws = run_replicates(
                _mediation_boot_chunk,
                call,
                reps=reps,
                seed=seed,
                executor=executor,
                chunks=chunks,
                progress="mediation bootstrap" if progress else False,
            )
            boot = mediation_boot_join(
                np.ascontiguousarray(draws[:, :k]), np.ascontiguousarray(draws[:, k:])
            )
        boot_a, boot_b, n_failed = boot.a, boot.b, boot.n_failed
        for j, r in enumerate(rows):
            draws = np.ascontiguousarray(boot_a[:, j] * boot_b[:, j])
            lo, hi = mediation_ci(draws, r["indirect"], level, ci)
            r["boot_se"] = float(np.nanstd(draws, ddof=1))
            r["ci_low"], r["ci_high"] = lo, hi
    return MediationResult(
        y=y,
        treatment=treatment,
        mediators=meds,
        total=(c_tot, se_tot),
        table=pl.DataFrame(rows),
        total_fit=total,
        a_fits=a_fits,
        b_fits=b_fits,
        joint=joint,
        reps=reps,
        boot_failed=n_failed,
        boot_draws=(boot_a, boot_b),
        ci_method=ci,
        level=level,
        cluster=cl,
        nobs=df.height,
        n_dropped=n_input - df.height,
    )


def _mediation_boot_chunk(call: dict, seed: int, start: int, stop: int) -> np.ndarray:
    """Bootstrap replicates [start, stop) on a worker: per replicate the a-paths then the
    b-paths of every mediator (rows in replicate order)."""
    b = mediation_bootstrap(**call, seed=seed, boot_range=(start, stop))
    return np.column_stack([b.a, b.b])

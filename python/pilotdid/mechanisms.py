"""Mechanisms: three-step (Baron–Kenny) mediation with Sobel / Aroian / Goodman tests and a
cluster bootstrap of the indirect effect, and two-step (Jiang 2022) mechanism effects.

Argument handling only: every regression is a :func:`pilotdid.feols` fit; the tests, the
bootstrap (clusters resampled, both regressions refitted and re-demeaned per replicate) and
the intervals are computed in the Rust core.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
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
    check_level,
    check_reps,
    check_seed,
    check_str,
    vocabulary,
)
from pilotdid._core import (
    PilotdidError,
    linear_combinations,
    mediation_bootstrap,
    mediation_ci,
    mediation_tests,
    restriction_wald,
)
from pilotdid.regression import feols
from pilotdid.results.mechanisms import (
    HeterogeneityResult,
    MechanismEffects,
    MediationResult,
    ModerationResult,
)

__all__ = ["heterogeneity", "mechanism_effects", "mediation", "moderation"]


_ESTIMATORS = ("twfe", "cs", "sa", "bjs", "did2s")
_ROBUST = _ESTIMATORS[1:]


def _mediators(value: Any) -> list[str]:
    meds = check_columns("mediators", value)
    if not meds:
        raise PilotdidError("option 'mediators': at least one mediator is required")
    return meds


def _fe_terms(fixef: Any) -> list[str]:
    if fixef is None:
        return []
    if not isinstance(fixef, str):
        raise PilotdidError(
            f"option 'fixef': expected fixed effects as a string such as 'unit + year', "
            f"got {fixef!r}"
        )
    return [t.strip() for t in fixef.split("+") if t.strip()]


def _with_cluster(vcov: Any, cluster: Any) -> Any:
    """pyfixest's shortcut: ``cluster="col"`` is ``vcov={"CR1": "col"}``."""
    if cluster is None:
        return vcov
    name = check_str("cluster", cluster)
    if vcov is not None:
        raise PilotdidError(
            f"options 'vcov' and 'cluster': give one of them (cluster={name!r} is "
            f"vcov={{'CR1': {name!r}}})"
        )
    return {"CR1": name}


def _demean_options(fixef_tol: Any, fixef_maxiter: Any) -> tuple[float, int]:
    tol = check_float("fixef_tol", fixef_tol, lo=0.0, lo_open=True)
    return tol, check_int("fixef_maxiter", fixef_maxiter, lo=1)


def _roles(y: str | None, treatment: str, meds: list[str], ctrls: list[str]) -> dict[str, str]:
    roles = {} if y is None else {y: "option 'y'"}
    roles[treatment] = "option 'treatment'"
    roles.update(dict.fromkeys(meds, "a mediator"))
    roles.update(dict.fromkeys(ctrls, "a control"))
    return roles


def _numeric_columns(df: pl.DataFrame, roles: dict[str, str]) -> None:
    """Every regression column must be numeric: refuse others now, naming the column and its
    role, rather than deep inside a fit."""
    for col, role in roles.items():
        dtype = df.schema[col]
        if dtype == pl.Boolean or dtype.is_numeric():
            continue
        raise PilotdidError(
            f"column '{col}' ({role}): expected numbers, got values of type {dtype}; convert "
            "it to a numeric column first"
        )


def _cluster_var(vcov: Any) -> str | None:
    if isinstance(vcov, dict) and len(vcov) == 1:
        ((kind, var),) = vcov.items()
        if str(kind).upper() not in ("CR1", "CRV1"):
            raise PilotdidError(f"option 'vcov': '{kind}' is not supported (use CR1)")
        parts = [p.strip() for p in str(var).split("+")]
        if len(parts) != 1:
            raise PilotdidError(
                "option 'vcov': mediation resamples one cluster variable; two-way clustering "
                f"'{var}' is not supported"
            )
        return parts[0]
    if vcov is None or (isinstance(vcov, str) and vcov in ("iid", "hetero")):
        return None
    raise PilotdidError(f"option 'vcov': {vcov!r} is not 'iid', 'hetero' or {{'CR1': var}}")


def _fml(lhs: str, rhs: list[str], fe: list[str]) -> str:
    f = f"{lhs} ~ {' + '.join(rhs)}"
    return f + (f" | {' + '.join(fe)}" if fe else "")


def _at_values(at: Any) -> list[Any] | None:
    """``at`` as a list (its values are checked once the moderator's kind is known)."""
    if at is None:
        return None
    if isinstance(at, (str, bytes)) or not isinstance(at, (Sequence, np.ndarray)):
        raise PilotdidError(f"option 'at': expected a list of moderator values, got {at!r}")
    values = list(at)
    if not values:
        raise PilotdidError("option 'at': the list of moderator values is empty")
    return values


def _check_groups(df: pl.DataFrame, by: str) -> None:
    """Groups must be labels that can be compared, sorted and used as fixed effects."""
    dtype = df.schema[by]
    if dtype in (pl.String, pl.Categorical, pl.Enum, pl.Boolean) or dtype.is_integer():
        return
    if dtype.is_float():
        v = df.get_column(by).drop_nulls().drop_nans().to_numpy()
        if np.all(v == np.floor(v)):
            return
        raise PilotdidError(
            f"column '{by}' (option 'by'): group labels must be whole numbers, strings or "
            "booleans; this float column has fractional values"
        )
    raise PilotdidError(
        f"column '{by}' (option 'by'): group labels must be strings, whole numbers or "
        f"booleans, got values of type {dtype}; convert the column first"
    )


def _check_variation(df: pl.DataFrame, cols: list[str], role: str) -> None:
    for c in cols:
        v = _frame.numeric(df, c)
        if v.size == 0 or np.nanmax(v) == np.nanmin(v):
            raise PilotdidError(
                f"column '{c}': the {role} is constant in the estimation sample; it cannot carry "
                "a mechanism"
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
    # What each replicate keeps: the a- and b-path of every mediator (2 x 8 bytes) in the
    # collected per-replicate vectors (plus their 48-byte headers and allocator overhead) and
    # again in the two reps x k arrays returned (src/mediation/bootstrap.rs).
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
                **{k: t[k] for k in t if k not in ("indirect", "goodman_defined")},
                "prop_mediated": (a * b) / c_tot if c_tot != 0 else float("nan"),
            }
        )

    n_failed = 0
    boot_a = boot_b = None
    if reps > 0:
        fe_arrays = []
        for term in fe_terms:
            parts = [_frame.ids(df, p.strip())[0] for p in term.split("^")]
            fe_arrays.append((term, parts[0] if len(parts) == 1 else _frame.interacted_ids(parts)))
        clus = _frame.ids(df, cl)[0] if cl else np.arange(df.height, dtype=np.int64)
        boot_a, boot_b, n_failed = mediation_bootstrap(
            _frame.numeric(df, y),
            _frame.numeric(df, treatment),
            [(m, _frame.numeric(df, m)) for m in meds],
            [(c, _frame.numeric(df, c)) for c in ctrls],
            fe_arrays,
            np.ascontiguousarray(clus, dtype=np.int64),
            reps,
            seed,
            joint,
            fixef_tol,
            fixef_maxiter,
        )
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


@vocabulary()
def mechanism_effects(
    data: Any,
    *,
    treatment: str,
    mediators: str | Sequence[str],
    controls: str | Sequence[str] | None = None,
    fixef: str | None = None,
    vcov: Any = None,
    cluster: str | None = None,
    estimator: str = "twfe",
    unit: str | None = None,
    time: str | None = None,
) -> MechanismEffects:
    """Two-step (Jiang 2022) mechanism evidence: the DID effect of the policy on each mediator.

    ``estimator="twfe"``: ``feols(m ~ treatment + controls | fixef)`` per mediator.
    ``"cs"`` (Callaway-Sant'Anna overall ATT, ``aggte(type="simple")``), ``"sa"``
    (Sun-Abraham ATT), ``"bjs"`` (imputation ATT) or ``"did2s"`` (Gardner static ATT): the
    heterogeneity-robust effect on each mediator, with cohorts derived from the 0/1
    ``treatment`` (``pilotdid.Panel``); ``unit``/``time`` default to the first two fixed
    effects. Each robust estimator uses its own default variance (clustered by unit).
    """
    treatment = check_str("treatment", treatment)
    meds = _mediators(mediators)
    ctrls = check_columns("controls", controls)
    fe_terms = _fe_terms(fixef)
    vcov = _with_cluster(vcov, cluster)
    estimator = check_choice("estimator", estimator, _ESTIMATORS)
    unit = None if unit is None else check_str("unit", unit)
    time = None if time is None else check_str("time", time)
    _numeric_columns(
        _frame.to_polars(data, [treatment, *meds, *ctrls]), _roles(None, treatment, meds, ctrls)
    )
    if estimator != "twfe":
        return _robust_mechanism_effects(
            data, treatment, meds, ctrls, fe_terms, estimator, unit, time
        )
    fits = {}
    rows = []
    for m in meds:
        df = _frame.to_polars(data, [m])
        _check_variation(df.drop_nulls(), [m], "mediator")
        fit = feols(_fml(m, [treatment, *ctrls], fe_terms), data, vcov=vcov)
        if treatment not in fit.coef():
            raise PilotdidError(f"column '{treatment}': dropped as collinear")
        tid = fit.tidy().filter(pl.col("term") == treatment).row(0, named=True)
        rows.append({"mediator": m, **{k: v for k, v in tid.items() if k != "term"}})
        fits[m] = fit
    return MechanismEffects(
        treatment=treatment, table=pl.DataFrame(rows), fits=fits, estimator=estimator
    )


def _robust_mechanism_effects(
    data: Any,
    treatment: str,
    meds: list[str],
    ctrls: list[str],
    fe_terms: list[str],
    estimator: str,
    unit: str | None,
    time: str | None,
) -> MechanismEffects:
    """Heterogeneity-robust DID effect of the policy on each mediator."""
    if unit is None or time is None:
        if len(fe_terms) < 2:
            raise PilotdidError(
                f"estimator '{estimator}' needs the panel ids: pass unit= and time= "
                "(or fixef='unit + time')"
            )
        unit = unit or fe_terms[0]
        time = time or fe_terms[1]
    from pilotdid.event_study import did2s, imputation
    from pilotdid.panel import Panel
    from pilotdid.staggered import aggte, att_gt
    from pilotdid.sun_abraham import sunab

    g = "_mechanism_cohort"
    df = _frame.to_polars(data, list(dict.fromkeys([unit, time, treatment, *meds, *ctrls])))
    cohorts = Panel(df, unit=unit, time=time, treatment=treatment).cohorts
    df = df.join(
        cohorts.select(pl.col(unit), pl.col("cohort").fill_null(0).alias(g)), on=unit, how="left"
    )
    rows, fits = [], {}
    for m in meds:
        _check_variation(df.select(m).drop_nulls(), [m], "mediator")
        if estimator == "cs":
            xf = ("~ " + " + ".join(ctrls)) if ctrls else None
            fit = aggte(att_gt(df, y=m, time=time, unit=unit, cohort=g, controls=xf), type="simple")
            est, se = fit.overall_att, fit.overall_se
        elif estimator == "sa":
            fit = sunab(df, y=m, time=time, unit=unit, cohort=g, controls=ctrls or None)
            est, se = fit.att, fit.att_se
        elif estimator == "bjs":
            fit = imputation(df, y=m, time=time, unit=unit, cohort=g, controls=ctrls or None)
            est, se = fit.extra["att"], fit.extra["att_se"]
        else:
            fit = did2s(
                df,
                y=m,
                time=time,
                unit=unit,
                cohort=g,
                controls=ctrls or None,
                event=False,
            )
            est, se = fit.estimate[0], fit.std_error[0]
        z = float(est) / float(se) if se else float("nan")
        p = math.erfc(abs(z) / math.sqrt(2.0)) if np.isfinite(z) else float("nan")
        rows.append(
            {
                "mediator": m,
                "estimate": float(est),
                "std_error": float(se),
                "statistic": z,
                "p_value": p,
                "conf_low": float(est) - 1.959963984540054 * float(se),
                "conf_high": float(est) + 1.959963984540054 * float(se),
            }
        )
        fits[m] = fit
    return MechanismEffects(
        treatment=treatment, table=pl.DataFrame(rows), fits=fits, estimator=estimator
    )


@vocabulary()
def moderation(
    data: Any,
    *,
    y: str,
    treatment: str,
    moderator: str,
    controls: str | Sequence[str] | None = None,
    fixef: str | None = None,
    vcov: Any = None,
    cluster: str | None = None,
    at: Sequence[Any] | None = None,
    categorical: bool | None = None,
    level: float = 0.95,
) -> ModerationResult:
    """Moderation: ``y ~ d + d×z + z + controls | fixef`` and the marginal effect of the
    treatment at moderator values ``at`` (continuous z; default mean − sd, mean, mean + sd) or
    at every level (categorical z: strings, or ``categorical=True``; first level is the base),
    with delta-method se from the feols vcov (t with the fit's degrees of freedom).
    The moderator's main effect is dropped (named in ``fit.collinear``) when absorbed by the
    fixed effects.

    ``at``: a list of finite moderator values (continuous) or of levels (categorical)."""
    y = check_str("y", y)
    treatment = check_str("treatment", treatment)
    moderator = check_str("moderator", moderator)
    ctrls = check_columns("controls", controls)
    fe_terms = _fe_terms(fixef)
    vcov = _with_cluster(vcov, cluster)
    level = check_level(level)
    if categorical is not None:
        categorical = check_bool("categorical", categorical)
    at = _at_values(at)
    fe_cols = [p.strip() for t in fe_terms for p in t.split("^")]
    cl = []
    if isinstance(vcov, dict):
        cl = [p.strip() for v in vcov.values() for p in str(v).split("+")]
    df = _frame.to_polars(data, [y, treatment, moderator, *ctrls, *fe_cols, *cl])
    _numeric_columns(df, _roles(y, treatment, [], ctrls))
    df = df.drop_nulls()
    z = df.get_column(moderator)
    if categorical is None:
        categorical = not z.dtype.is_numeric()
    if at is not None and not categorical:
        at = [check_float(f"at[{i}]", v) for i, v in enumerate(at)]
    levels = z.unique(maintain_order=False).sort().to_list()
    if len(levels) < 2:
        raise PilotdidError(
            f"column '{moderator}': the moderator has a single level "
            f"({levels[0] if levels else 'none'}) in the estimation sample; nothing can "
            "moderate the effect"
        )
    d = pl.col(treatment).cast(pl.Float64)
    if categorical:
        base = levels[0]
        names = {lv: f"__{moderator}_{i}" for i, lv in enumerate(levels)}
        add = []
        for lv in levels[1:]:
            ind = (pl.col(moderator) == lv).cast(pl.Float64)
            add += [ind.alias(names[lv]), (d * ind).alias(f"{names[lv]}_x_{treatment}")]
        work = df.with_columns(add)
        rhs = [treatment] + [
            c for lv in levels[1:] for c in (f"{names[lv]}_x_{treatment}", names[lv])
        ]
        at_vals = list(levels) if at is None else list(at)
        unknown = [v for v in at_vals if v not in levels]
        if unknown:
            raise PilotdidError(f"option 'at': {unknown[0]!r} is not a level of '{moderator}'")
        grads = [
            {treatment: 1.0, **({} if v == base else {f"{names[v]}_x_{treatment}": 1.0})}
            for v in at_vals
        ]
    else:
        _check_variation(df, [moderator], "moderator")
        inter = f"__{treatment}_x_{moderator}"
        work = df.with_columns((d * pl.col(moderator).cast(pl.Float64)).alias(inter))
        rhs = [treatment, inter, moderator]
        zv = _frame.numeric(df, moderator)
        at_vals = (
            [float(zv.mean() - zv.std()), float(zv.mean()), float(zv.mean() + zv.std())]
            if at is None
            else at
        )
        grads = [{treatment: 1.0, inter: v} for v in at_vals]
    fit = feols(_fml(y, rhs + ctrls, fe_terms), work, vcov=vcov)
    names_fit = fit.coefnames
    for g in grads:
        for k in g:
            if k not in names_fit:
                raise PilotdidError(
                    f"column '{k}': dropped as collinear; the interaction of '{treatment}' with "
                    f"'{moderator}' is not identified"
                )
    lmat = np.array([[g.get(n, 0.0) for n in names_fit] for g in grads], dtype=np.float64)
    beta = np.array([fit.coef()[n] for n in names_fit], dtype=np.float64)
    vmat = np.ascontiguousarray(fit.vcov())
    out = linear_combinations(beta, vmat, lmat, int(fit.df_t), level)
    me = pl.DataFrame(
        {
            "at": [str(v) for v in at_vals] if categorical else at_vals,
            "estimate": out[:, 0],
            "std_error": out[:, 1],
            "statistic": out[:, 2],
            "p_value": out[:, 3],
            "conf_low": out[:, 4],
            "conf_high": out[:, 5],
        }
    )
    return ModerationResult(
        y=y,
        treatment=treatment,
        moderator=moderator,
        categorical=bool(categorical),
        fit=fit,
        marginal_effects=me,
        level=level,
        _combinations=(beta, vmat, lmat, int(fit.df_t)),
    )


@vocabulary(renamed={"perm_reps": "reps"})
def heterogeneity(
    data: Any,
    *,
    y: str,
    treatment: str,
    by: str,
    controls: str | Sequence[str] | None = None,
    fixef: str | None = None,
    vcov: Any = None,
    cluster: str | None = None,
    reps: int = 1000,
    seed: int = 0,
    unit: str | None = None,
) -> HeterogeneityResult:
    """Split-sample DID estimates by the unit-level grouping ``by``, with two tests of equal
    treatment coefficients across groups:

    - a permutation (Fisher) test: group labels are permuted across units (``reps``
      replicates; replicate r permutes with numpy ``default_rng([seed, r])``), every group
      refitted; statistic = the
      dispersion sum_g (b_g - mean b)^2 (|b_1 - b_2| ordering for two groups); p =
      (1 + #{T* >= T}) / (1 + reps);
    - a stacked (SUR-style) Wald test: one fully interacted regression (treatment and controls
      times group, fixed effects interacted with group), clustered as ``vcov``; its group
      coefficients equal the split-sample ones; chi2 / F of b_g - b_1 = 0.

    ``unit``: the level at which labels are permuted (default: the CR1 cluster variable, else
    the first fixed effect); ``by`` must be constant within unit (strings, integers,
    booleans or whole-number floats). ``reps=0`` skips the permutation test.
    """
    y = check_str("y", y)
    treatment = check_str("treatment", treatment)
    by = check_str("by", by)
    ctrls = check_columns("controls", controls)
    fe_terms = _fe_terms(fixef)
    vcov = _with_cluster(vcov, cluster)
    seed = check_seed(seed)
    # Each permutation keeps its statistic (8 bytes) and its finite copy for the p-value.
    reps = check_reps("reps", reps, bytes_per_rep=16, lo=0)
    fe_cols = [p.strip() for t in fe_terms for p in t.split("^")]
    cl = _cluster_var(vcov)
    if unit is None:
        unit = cl or (fe_cols[0] if fe_cols else None)
    if unit is None:
        raise PilotdidError("option 'unit': name the unit whose group labels are permuted")
    unit = check_str("unit", unit)
    cols = [y, treatment, by, unit, *ctrls, *fe_cols] + ([cl] if cl else [])
    df = _frame.to_polars(data, cols)
    _numeric_columns(df, _roles(y, treatment, [], ctrls))
    _check_groups(df, by)
    df = df.drop_nulls()
    if df.height == 0:
        raise PilotdidError(
            "data: no rows with every column present (heterogeneity needs the outcome, "
            f"treatment, '{by}', '{unit}' and the controls)"
        )
    if df.select(pl.col(by).n_unique().over(unit).max()).item() > 1:
        raise PilotdidError(
            f"column '{by}': not constant within '{unit}'; groups must be unit-level"
        )
    groups = df.get_column(by).unique().sort().to_list()
    if len(groups) < 2:
        raise PilotdidError(f"column '{by}': a single group ({groups}); nothing to compare")
    fml = _fml(y, [treatment, *ctrls], fe_terms)
    units = df.get_column(unit).unique(maintain_order=True)
    unit_group = df.group_by(unit, maintain_order=True).agg(pl.col(by).first())

    def split(frame: pl.DataFrame, label: str) -> list[float]:
        out = []
        for g in groups:
            sub = frame.filter(pl.col(label) == g)
            n_units = sub.get_column(unit).n_unique()
            if n_units < 2:
                raise PilotdidError(
                    f"column '{by}': group {g!r} has {n_units} unit(s); too small to estimate"
                )
            try:
                f = feols(fml, sub, vcov=vcov)
            except PilotdidError as e:
                raise PilotdidError(f"column '{by}': group {g!r} cannot be estimated: {e}") from e
            if treatment not in f.coef():
                raise PilotdidError(
                    f"column '{by}': in group {g!r} '{treatment}' does not vary within the fixed "
                    "effects; the group is too small or untreated"
                )
            out.append(f)
        return out

    fits = split(df, by)
    est = np.array([f.coef()[treatment] for f in fits])

    def stat(b: np.ndarray) -> float:
        return float(np.sum((b - b.mean()) ** 2))

    t_obs = stat(est)
    perm = np.full(reps, np.nan)
    if reps > 0:
        labels = unit_group.get_column(by).to_numpy()
        for r in range(reps):
            # Replicate r draws from a stream derived from (seed, r), as every random
            # procedure in pilotdid does.
            rng = np.random.default_rng([seed, r])
            mapping = pl.DataFrame({unit: units, "__perm": rng.permutation(labels)})
            pf = df.join(mapping, on=unit, how="left")
            try:
                perm[r] = stat(np.array([f.coef()[treatment] for f in split(pf, "__perm")]))
            except PilotdidError:
                perm[r] = np.nan
    ok = perm[np.isfinite(perm)]
    p_perm = float((1 + np.sum(ok >= t_obs - 1e-12 * abs(t_obs))) / (1 + ok.size))

    # stacked, fully interacted regression
    dummies = {g: f"__g{i}" for i, g in enumerate(groups)}
    add = []
    for g, nm in dummies.items():
        ind = (pl.col(by) == g).cast(pl.Float64)
        add.append((pl.col(treatment).cast(pl.Float64) * ind).alias(f"{nm}_d"))
        add += [(pl.col(c).cast(pl.Float64) * ind).alias(f"{nm}_{c}") for c in ctrls]
    stacked = df.with_columns(add)
    rhs = [f"{nm}_d" for nm in dummies.values()] + [
        f"{nm}_{c}" for nm in dummies.values() for c in ctrls
    ]
    sfe = [f"{t}^{by}" for t in fe_terms] if fe_terms else [by]
    sfit = feols(_fml(y, rhs, sfe), stacked, vcov=vcov)
    names = sfit.coefnames
    beta = np.array([sfit.coef()[n] for n in names])
    rmat = np.zeros((len(groups) - 1, len(names)))
    first = names.index(f"{dummies[groups[0]]}_d")
    for k, g in enumerate(groups[1:]):
        rmat[k, names.index(f"{dummies[g]}_d")] = 1.0
        rmat[k, first] = -1.0
    chi2, p_chi2, fstat, df1, df2, p_f = restriction_wald(
        beta, np.ascontiguousarray(sfit.vcov()), rmat, int(sfit.df_t)
    )
    table = pl.DataFrame(
        {
            "group": [str(g) for g in groups],
            "estimate": est,
            "std_error": [f.se()[treatment] for f in fits],
            "nobs": [f.nobs for f in fits],
        }
    )
    return HeterogeneityResult(
        by=by,
        treatment=treatment,
        table=table,
        fits=dict(zip([str(g) for g in groups], fits)),
        perm_stat=t_obs,
        perm_p=p_perm,
        perm_draws=perm,
        perm_failed=int(reps - ok.size),
        wald={"chi2": chi2, "p_chi2": p_chi2, "F": fstat, "df1": df1, "df2": df2, "p_F": p_f},
        stacked_fit=sfit,
    )

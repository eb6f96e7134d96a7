"""Heterogeneity by unit-level groups: split-sample fits, a permutation (Fisher) test of
equal effects, and the stacked interaction test."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from pilotdid import _frame
from pilotdid._args import (
    check_columns,
    check_reps,
    check_seed,
    check_str,
    vocabulary,
)
from pilotdid._core import (
    PilotdidError,
    factorize_ids,
    heterogeneity_permutation_test,
    restriction_wald,
)
from pilotdid._formula import parse_formula
from pilotdid.mechanisms._common import (
    _check_groups,
    _cluster_var,
    _fe_terms,
    _fml,
    _numeric_columns,
    _roles,
    _with_cluster,
)
from pilotdid.regression import _design, _group_ids, _parse_vcov, feols
from pilotdid.results.mechanisms import (
    HeterogeneityResult,
)

__all__ = ["heterogeneity"]


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

    - a permutation (Fisher) test, run in the Rust core: group labels are permuted across
      units (``reps`` replicates; replicate r shuffles with the core's stream for (seed, r),
      so the thread count never changes a draw), every group refitted; statistic = the
      dispersion sum_g (b_g - mean b)^2 (|b_1 - b_2| ordering for two groups); p =
      (1 + #{T* >= T}) / (1 + #finite T*), replicates whose refit fails are NaN and counted in
      ``perm_failed``;
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
    perm = _permutation_test(
        df, fml, vcov, unit=unit, by=by, groups=groups, treatment=treatment, reps=reps, seed=seed
    )

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
    wald = restriction_wald(beta, np.ascontiguousarray(sfit.vcov()), rmat, df2=int(sfit.df_t))
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
        perm_stat=perm.observed,
        perm_p=perm.p_value,
        perm_draws=perm.permuted,
        perm_failed=int(perm.n_failed),
        wald={
            "chi2": wald.chi2,
            "p_chi2": wald.p_chi2,
            "F": wald.f,
            "df1": wald.df1,
            "df2": wald.df2,
            "p_F": wald.p_f,
        },
        stacked_fit=sfit,
    )


def _permutation_test(
    df: pl.DataFrame,
    fml: str,
    vcov: Any,
    *,
    unit: str,
    by: str,
    groups: list[Any],
    treatment: str,
    reps: int,
    seed: int,
) -> Any:
    """The core's permutation test (``_core.heterogeneity_permutation_test``) on the columns
    ``feols(fml, df, vcov=vcov)`` hands the core (as ``regression.feols`` builds them):
    regressors, fixed-effect and cluster ids, the validity mask. Each group's fit in the core
    takes its rows of these, which is what ``feols`` on the group's rows computes. Units are
    coded in order of first appearance; ``unit_group`` is each unit's index in ``groups``."""
    f = parse_formula(fml)
    kind, clusters, _ = _parse_vcov(vcov, f.fixef_names)
    x_names, x_cols = _design(f, df)
    valid = np.ones(df.height, dtype=bool)
    fe_ids, cl_ids, valid = _group_ids(df, f.fixef, clusters, valid)
    ranks = df.get_column(unit).rank("dense").cast(pl.Int64).to_numpy()
    ids = factorize_ids(np.ascontiguousarray(ranks))
    unit_codes, levels = ids.codes, ids.levels
    row_group = df.get_column(by).replace_strict(groups, list(range(len(groups))))
    unit_group = np.zeros(len(levels), dtype=np.uint32)
    unit_group[unit_codes] = row_group.to_numpy()
    return heterogeneity_permutation_test(
        _frame.numeric(df, f.depvar),
        x_cols,
        fe_ids,
        unit_codes,
        unit_group,
        x_names=x_names,
        treatment=treatment,
        n_groups=len(groups),
        reps=reps,
        seed=seed,
        fe_names=f.fixef_names,
        clusters=cl_ids,
        cluster_names=clusters,
        valid=None if valid.all() else valid,
        vcov=kind,
    )

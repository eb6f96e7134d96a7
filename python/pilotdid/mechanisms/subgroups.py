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
    restriction_wald,
)
from pilotdid.mechanisms._common import (
    _check_groups,
    _cluster_var,
    _fe_terms,
    _fml,
    _numeric_columns,
    _roles,
    _with_cluster,
)
from pilotdid.regression import feols
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

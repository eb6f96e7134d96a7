"""Moderation: the treatment interacted with a moderator, marginal effects at chosen
values with delta-method standard errors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from pilotdid import _frame
from pilotdid._args import (
    check_bool,
    check_columns,
    check_float,
    check_level,
    check_str,
    vocabulary,
)
from pilotdid._core import (
    PilotdidError,
    linear_combinations,
)
from pilotdid.mechanisms._common import (
    _at_values,
    _check_variation,
    _fe_terms,
    _fml,
    _numeric_columns,
    _roles,
    _with_cluster,
)
from pilotdid.regression import feols
from pilotdid.results.mechanisms import (
    ModerationResult,
)

__all__ = ["moderation"]


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

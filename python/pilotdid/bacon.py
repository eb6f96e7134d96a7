"""`bacon()`: the Goodman-Bacon (2021) decomposition of the TWFE DID coefficient."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from pilotdid import _frame
from pilotdid._core import PilotdidError, bacon_fit
from pilotdid.results.bacon import BaconResult


def bacon(
    data: Any,
    yname: Any = None,
    tname: str | None = None,
    idname: str | None = None,
    treat: str | None = None,
    *,
    formula: str | None = None,
) -> BaconResult:
    """Goodman-Bacon (2021, J. Econometrics 225(2)) decomposition of the coefficient of
    ``y ~ treat | idname + tname`` into all 2×2 DID comparisons, with their weights.

    Two equivalent calls::

        pilotdid.bacon(df, yname="l_homicide", tname="year", idname="sid", treat="post")
        pilotdid.bacon("l_homicide ~ post", df, tname="year", idname="sid")   # bacondecomp style

    Needs a balanced panel (every unit in every period, no missing values) and a binary
    absorbing treatment (staggered adoption). Units treated from the first period on are the
    "always treated" group, used only as controls ("Later vs Always Treated"), as in R
    ``bacondecomp``. Covariates are not supported.
    """
    if isinstance(data, str):
        formula, data = data, yname
        yname = None
    if formula is not None:
        yname, treat = _parse_formula(formula)
    for opt, val in (("yname", yname), ("tname", tname), ("idname", idname), ("treat", treat)):
        if not isinstance(val, str) or not val:
            raise PilotdidError(f"option '{opt}': give a column name")
    df = _frame.to_polars(data, [idname, tname, yname, treat])
    if df.height == 0:
        raise PilotdidError("no rows: the data frame is empty")
    u = df.get_column(idname)
    if u.null_count():
        raise PilotdidError(f"column '{idname}' has missing values; panel ids must be complete")
    t = df.get_column(tname)
    if not (t.dtype.is_integer() or t.dtype.is_float()) or t.null_count():
        raise PilotdidError(f"column '{tname}' must hold complete integer periods (e.g. years)")
    tv = t.cast(pl.Float64).to_numpy()
    if np.any(~np.isfinite(tv)) or np.any(tv != np.floor(tv)):
        raise PilotdidError(f"column '{tname}' must hold complete integer periods (e.g. years)")
    labels_series = u.unique(maintain_order=True)
    codes = (
        u.to_frame("u")
        .join(labels_series.to_frame("u").with_row_index("code"), on="u", how="left")
        .get_column("code")
        .cast(pl.UInt32)
        .to_numpy()
    )
    out = bacon_fit(
        np.ascontiguousarray(codes, dtype=np.uint32),
        [str(v) for v in labels_series.to_list()],
        np.ascontiguousarray(tv, dtype=np.int64),
        _frame.numeric(df, yname),
        _frame.numeric(df, treat),
        yname,
        treat,
        idname,
        tname,
    )
    return BaconResult(out, yname=yname, treat=treat, idname=idname, tname=tname)


def _parse_formula(formula: str) -> tuple[str, str]:
    if formula.count("~") != 1:
        raise PilotdidError(f"formula '{formula}': expected 'y ~ treatment'")
    lhs, rhs = (s.strip() for s in formula.split("~"))
    terms = [s.strip() for s in rhs.split("+") if s.strip()]
    if "|" in rhs or not lhs or len(terms) != 1:
        raise PilotdidError(
            f"formula '{formula}': expected 'y ~ treatment' (one treatment, no covariates; "
            "unit and time fixed effects are implied by idname and tname)"
        )
    return lhs, terms[0]

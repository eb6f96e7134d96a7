"""`bacon()`: the Goodman-Bacon (2021) decomposition of the TWFE DID coefficient."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from pilotdid import _frame
from pilotdid._args import check_str, vocabulary
from pilotdid._core import PilotdidError, bacon_fit
from pilotdid.results.bacon import BaconResult


@vocabulary(
    renamed={
        "yname": "y",
        "tname": "time",
        "idname": "unit",
        "treat": "treatment",
        "formula": "fml",
    }
)
def bacon(
    data: Any,
    *,
    y: str | None = None,
    unit: str,
    time: str,
    treatment: str | None = None,
    fml: str | None = None,
) -> BaconResult:
    """Goodman-Bacon (2021, J. Econometrics 225(2)) decomposition of the coefficient of
    ``y ~ treatment | unit + time`` into all 2×2 DID comparisons, with their weights.

    Two equivalent calls::

        pilotdid.bacon(df, y="l_homicide", treatment="post", unit="sid", time="year")
        pilotdid.bacon(df, fml="l_homicide ~ post", unit="sid", time="year")  # bacondecomp

    Needs a balanced panel (every unit in every period, no missing values) and a binary
    absorbing treatment (staggered adoption). Units treated from the first period on are the
    "always treated" group, used only as controls ("Later vs Always Treated"), as in R
    ``bacondecomp``. Covariates are not supported.
    """
    if isinstance(data, str):
        raise TypeError(
            "bacon(): the data comes first and the formula goes in fml=: "
            f"bacon(data, fml={data!r}, unit=..., time=...)"
        )
    if fml is not None:
        if y is not None or treatment is not None:
            raise PilotdidError(
                "options 'fml' and 'y'/'treatment': give the formula or the two columns, not both"
            )
        y, treatment = _parse_formula(check_str("fml", fml))
    if y is None or treatment is None:
        raise PilotdidError(
            "options 'y' and 'treatment': give both columns, or the formula fml='y ~ treatment'"
        )
    y = check_str("y", y)
    treatment = check_str("treatment", treatment)
    unit = check_str("unit", unit)
    time = check_str("time", time)
    df = _frame.to_polars(data, [unit, time, y, treatment])
    if df.height == 0:
        raise PilotdidError("no rows: the data frame is empty")
    u = df.get_column(unit)
    if u.null_count():
        raise PilotdidError(f"column '{unit}' has missing values; panel ids must be complete")
    t = df.get_column(time)
    if not (t.dtype.is_integer() or t.dtype.is_float()) or t.null_count():
        raise PilotdidError(f"column '{time}' must hold complete integer periods (e.g. years)")
    tv = t.cast(pl.Float64).to_numpy()
    if np.any(~np.isfinite(tv)) or np.any(tv != np.floor(tv)):
        raise PilotdidError(f"column '{time}' must hold complete integer periods (e.g. years)")
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
        _frame.numeric(df, y),
        _frame.numeric(df, treatment),
        y,
        treatment,
        unit,
        time,
    )
    return BaconResult(out, y=y, treatment=treatment, unit=unit, time=time)


def _parse_formula(formula: str) -> tuple[str, str]:
    if formula.count("~") != 1:
        raise PilotdidError(f"option 'fml': formula '{formula}' is not of the form 'y ~ treatment'")
    lhs, rhs = (s.strip() for s in formula.split("~"))
    terms = [s.strip() for s in rhs.split("+") if s.strip()]
    if "|" in rhs or not lhs or len(terms) != 1:
        raise PilotdidError(
            f"option 'fml': formula '{formula}' is not 'y ~ treatment' (one treatment, no "
            "covariates; unit and time fixed effects are implied by unit and time)"
        )
    return lhs, terms[0]

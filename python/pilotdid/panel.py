"""`Panel`: the unit × period structure of a data set, its balance and each unit's cohort;
and the one place where a 0/1 treatment column becomes a cohort for the staggered estimators."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import polars as pl

from pilotdid import _frame
from pilotdid._args import check_bool, check_str, id_list
from pilotdid._core import PilotdidError, factorize_ids, panel_info


class Panel:
    """Unit and time structure of a panel, with each unit's first treated period (cohort).

    Give either ``treatment`` (a 0/1 column; the cohort is the first period with 1) or
    ``cohort`` (the first treated period; 0 or missing = never treated). A treatment that
    turns off again is rejected unless ``allow_switch_off=True``.
    """

    def __init__(
        self,
        data: Any,
        *,
        unit: str,
        time: str,
        treatment: str | None = None,
        cohort: str | None = None,
        allow_switch_off: bool = False,
    ) -> None:
        unit = check_str("unit", unit)
        time = check_str("time", time)
        treatment = None if treatment is None else check_str("treatment", treatment)
        cohort = None if cohort is None else check_str("cohort", cohort)
        allow_switch_off = check_bool("allow_switch_off", allow_switch_off)
        if treatment is not None and cohort is not None:
            raise PilotdidError("options 'treatment' and 'cohort': give one, not both")
        cols = [unit, time] + [c for c in (treatment, cohort) if c is not None]
        df = _frame.to_polars(data, cols)
        if df.height == 0:
            raise PilotdidError("no rows: the data frame is empty")
        for c in (unit, time):
            if df.get_column(c).null_count():
                raise PilotdidError(f"column '{c}' has missing values; panel ids must be complete")
        t = df.get_column(time)
        if not (t.dtype.is_integer() or t.dtype.is_float()):
            raise PilotdidError(f"column '{time}' must hold integer periods (e.g. years)")
        tv = t.cast(pl.Float64).to_numpy()
        if np.any(tv != np.floor(tv)):
            raise PilotdidError(f"column '{time}' must hold integer periods (e.g. years)")
        codes, labels_series = _unit_codes(df.get_column(unit))
        labels = [str(v) for v in labels_series.to_list()]
        info = panel_info(
            codes,
            labels,
            np.ascontiguousarray(tv, dtype=np.int64),
            treatment=_frame.numeric(df, treatment) if treatment else None,
            cohort=_frame.numeric(df, cohort) if cohort else None,
            allow_switch_off=allow_switch_off,
        )
        self.unit, self.time = unit, time
        self.units: list = labels_series.to_list()
        self.periods: list[int] = list(info.periods)
        self.is_balanced: bool = bool(info.is_balanced)
        self.n_units: int = int(info.n_units)
        self.n_periods: int = int(info.n_periods)
        self._cohort: list = list(info.cohort)

    @property
    def cohorts(self) -> pl.DataFrame:
        """One row per unit: its id and first treated period (null = never treated)."""
        return pl.DataFrame(
            {self.unit: self.units, "cohort": pl.Series(self._cohort, dtype=pl.Int64)}
        )

    def __repr__(self) -> str:
        treated = sum(c is not None for c in self._cohort)
        return (
            f"Panel({self.n_units} units x {self.n_periods} periods, "
            f"{'balanced' if self.is_balanced else 'unbalanced'}, {treated} ever treated)"
        )


def _unit_codes(u: pl.Series) -> tuple[np.ndarray, pl.Series]:
    """Codes 0..n-1 of the unit ids in order of first appearance, and the ids (no nulls).

    Integer and string ids go through the core's hash factorisation (about 6x faster than a
    polars unique + join at 2.5M rows); other dtypes (floats, where NaN is a value here) keep
    the polars path."""
    if u.dtype.is_integer() or u.dtype in (pl.String, pl.Categorical, pl.Enum):
        as_int, _ = _frame.ids(u.to_frame("u"), "u")
        fact = factorize_ids(np.ascontiguousarray(as_int))
        codes = np.ascontiguousarray(fact.codes, dtype=np.uint32)
        first = np.full(len(fact.levels), len(codes), dtype=np.int64)
        np.minimum.at(first, codes, np.arange(len(codes), dtype=np.int64))
        return codes, u.gather(first)
    labels_series = u.unique(maintain_order=True)
    codes = (
        u.to_frame("u")
        .join(labels_series.to_frame("u").with_row_index("code"), on="u", how="left")
        .get_column("code")
        .cast(pl.UInt32)
        .to_numpy()
    )
    return np.ascontiguousarray(codes, dtype=np.uint32), labels_series


# ------------------------------------------------------------------------------------------
# cohort or treatment: what the staggered estimators accept
# ------------------------------------------------------------------------------------------
def cohort_option(cohort: Any, treatment: Any) -> tuple[str, bool]:
    """The column that defines treatment timing -> (name, derived?). Exactly one of
    ``cohort`` (first treated period, 0 or missing = never) and ``treatment`` (0/1) is given."""
    if cohort is not None and treatment is not None:
        raise PilotdidError(
            "options 'cohort' and 'treatment': give one, not both (the cohort is derived from "
            "a 0/1 treatment)"
        )
    if cohort is None and treatment is None:
        raise PilotdidError(
            "options 'cohort' and 'treatment': give one, the first treated period (cohort=) or "
            "a 0/1 treatment column (treatment=)"
        )
    if cohort is not None:
        return check_str("cohort", cohort), False
    return check_str("treatment", treatment), True


def cohort_values(
    df: pl.DataFrame,
    *,
    unit: str,
    time: str,
    column: str,
    derived: bool,
    unit_codes: np.ndarray | None = None,
) -> tuple[np.ndarray, int]:
    """Per-row cohort (float64; 0 = never treated) and how many units' cohorts were derived.

    With ``derived`` the column is a 0/1 treatment: a unit's cohort is its first period with
    treatment 1 (0 if never), and a treatment that switches off is refused naming the units.
    Without it the column is the cohort itself and must be constant within units; a column
    that looks like a 0/1 treatment is refused with a hint to pass ``treatment=``. Rows whose
    unit or period is missing get NaN (the estimators drop them). ``unit_codes``, when the
    caller has them (dense codes of the unit column, which then has no missing values), spare
    the constancy check a second factorisation."""
    u = df.get_column(unit)
    tv = df.get_column(time)
    if not derived:
        g = _frame.numeric(df, column)
        _check_cohort_constant(u, g, column, unit_codes)
        return g, 0
    if not (tv.dtype.is_integer() or tv.dtype.is_float()):
        raise PilotdidError(f"column '{time}' must hold integer periods (e.g. years)")
    tnum = tv.cast(pl.Float64).fill_null(np.nan).to_numpy()
    ok = (~u.is_null()).to_numpy() & np.isfinite(tnum)
    if np.any(tnum[ok] != np.floor(tnum[ok])):
        raise PilotdidError(f"column '{time}' must hold integer periods (e.g. years)")
    d = _frame.numeric(df, column)
    codes, labels_series = _unit_codes(u.filter(pl.Series(ok)))
    try:
        info = panel_info(
            codes,
            [str(v) for v in labels_series.to_list()],
            np.ascontiguousarray(tnum[ok], dtype=np.int64),
            treatment=np.ascontiguousarray(d[ok]),
        )
    except PilotdidError as err:
        text = str(err)
        if "switches off" in text:
            # the core names the first case ("treatment switches off for unit 'a' at time
            # t"); the message lists every unit
            first = text.split(":")[0].replace("treatment switches off for ", "")
            off = _switch_off_units(codes, tnum[ok], d[ok], labels_series)
            raise PilotdidError(
                f"option 'treatment' (column '{column}'): the treatment switches off (1, then "
                f"0 in a later period) in {_unit_list(off)} (first: {first}); the staggered "
                "estimators need an "
                "absorbing treatment (once 1, always 1). For a treatment that turns off, "
                "estimate a TWFE DID with feols on the 0/1 column, or give cohort= (the first "
                "treated period) to define the timing yourself"
            ) from None
        text = text.replace("column 'treatment': ", "")
        raise PilotdidError(f"option 'treatment' (column '{column}'): {text}") from None
    by_unit = np.array([0.0 if g is None else float(g) for g in info.cohort])
    _warn_uncertain_adoption(codes, tnum[ok], by_unit, labels_series, column)
    out = np.full(df.height, np.nan)
    out[ok] = by_unit[codes]
    return np.ascontiguousarray(out), int(info.n_units)


def _warn_uncertain_adoption(
    codes: np.ndarray, t: np.ndarray, cohort_by_unit: np.ndarray, labels: pl.Series, column: str
) -> None:
    """Warns when a derived cohort is uncertain: the unit is not observed in the period just
    before its first observed treated period (a gap in the panel), so adoption may have been
    earlier. The cohort is still the first observed treated period (the only one the data
    show); the warning names the units so the user can give ``cohort=``."""
    periods = np.unique(t)
    observed = set(zip(codes.tolist(), t.tolist()))
    uncertain = []
    for code, g in enumerate(cohort_by_unit):
        if g <= 0:
            continue
        earlier = periods[periods < g]
        if earlier.size == 0:
            continue  # treated from the panel's first period: nothing before to miss
        if (code, float(earlier[-1])) not in observed:
            uncertain.append(f"{labels[code]} (first observed treated in {int(g)})")
    if uncertain:
        warnings.warn(
            f"option 'treatment' (column '{column}'): the adoption period is uncertain for "
            f"{_unit_list(uncertain)}: the period before the first observed treated one is "
            "missing, so adoption may have been earlier; the cohort is taken as the first "
            "observed treated period. Give cohort= (the first treated period) if you know it",
            UserWarning,
            stacklevel=3,
        )


def _unit_list(units: list[str]) -> str:
    """'3 units: a, b, c' (at most LISTED_IDS ids, as plain strings)."""
    return f"{len(units)} unit{'s' if len(units) != 1 else ''}: {id_list(units)}"


def _switch_off_units(
    codes: np.ndarray, t: np.ndarray, d: np.ndarray, labels: pl.Series
) -> list[str]:
    """Ids of the units whose 0/1 treatment is 1 in some period and 0 in a later one (order
    of first appearance)."""
    order = np.lexsort((t, codes))
    c, dd = codes[order], d[order]
    off = set()
    on_unit, on = -1, False
    for ci, di in zip(c.tolist(), dd.tolist()):
        if ci != on_unit:
            on_unit, on = ci, False
        if di == 1.0:
            on = True
        elif on and di == 0.0:
            off.add(ci)
    names = labels.to_list()
    return [str(names[i]) for i in sorted(off)]


def _check_cohort_constant(
    u: pl.Series, g: np.ndarray, column: str, unit_codes: np.ndarray | None = None
) -> None:
    """A cohort column must hold one value per unit (0, NaN and inf all mean never treated,
    as in every estimator). A column that varies within units and holds only 0 and 1 is a
    0/1 treatment passed as a cohort: say so, since the estimators would read 1 as "first
    treated in period 1". ``unit_codes``: the caller's dense codes of ``u`` (no nulls)."""
    gn = np.where(~np.isfinite(g) | (g == 0), 0.0, g)
    if unit_codes is not None and len(unit_codes) == len(u) and u.null_count() == 0:
        codes, labels = unit_codes, None
        n_levels = int(codes.max()) + 1 if len(codes) else 0
    else:
        keep = ~u.is_null().to_numpy()
        gn = gn[keep]
        codes, labels = _unit_codes(u.filter(pl.Series(keep)))
        n_levels = labels.len()
    lowest = np.full(n_levels, np.inf)
    highest = np.full(n_levels, -np.inf)
    np.minimum.at(lowest, codes, gn)
    np.maximum.at(highest, codes, gn)
    varies = lowest != highest
    if not varies.any():
        return
    if labels is None:
        # only on the error path: the ids, for the message (the caller's codes follow first
        # appearance, as _unit_codes' do)
        _, labels = _unit_codes(u)
    varying = labels.filter(pl.Series(varies))
    if np.all((gn == 0.0) | (gn == 1.0)):
        raise PilotdidError(
            f"column '{column}' looks like a 0/1 treatment, not a first-treated period: "
            f"pass treatment='{column}'"
        )
    ids = [str(v) for v in varying.to_list()]
    raise PilotdidError(
        f"option 'cohort' (column '{column}'): the first treated period changes within "
        f"{_unit_list(ids)}; a cohort must be constant per unit (0 or missing = never "
        "treated). For a 0/1 treatment column pass treatment= instead"
    )

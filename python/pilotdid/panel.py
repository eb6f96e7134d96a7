"""`Panel`: the unit × period structure of a data set, its balance and each unit's cohort."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from pilotdid import _frame
from pilotdid._core import PilotdidError, panel_info


class Panel:
    """Unit and time structure of a panel, with each unit's first treated period (cohort).

    Give either ``treatment`` (a 0/1 column; the cohort is the first period with 1) or
    ``cohort`` (the first treated period; 0 or missing = never treated). A treatment that
    turns off again is rejected unless ``allow_switch_off=True``.
    """

    def __init__(
        self,
        data: Any,
        unit: str,
        time: str,
        treatment: str | None = None,
        cohort: str | None = None,
        allow_switch_off: bool = False,
    ) -> None:
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
        u = df.get_column(unit)
        labels_series = u.unique(maintain_order=True)
        codes = (
            u.to_frame("u")
            .join(labels_series.to_frame("u").with_row_index("code"), on="u", how="left")
            .get_column("code")
            .cast(pl.UInt32)
            .to_numpy()
        )
        labels = [str(v) for v in labels_series.to_list()]
        info = panel_info(
            np.ascontiguousarray(codes, dtype=np.uint32),
            labels,
            np.ascontiguousarray(tv, dtype=np.int64),
            _frame.numeric(df, treatment) if treatment else None,
            _frame.numeric(df, cohort) if cohort else None,
            allow_switch_off,
        )
        self.unit, self.time = unit, time
        self.units: list = labels_series.to_list()
        self.periods: list[int] = list(info["periods"])
        self.is_balanced: bool = bool(info["is_balanced"])
        self.n_units: int = int(info["n_units"])
        self.n_periods: int = int(info["n_periods"])
        self._cohort: list = list(info["cohort"])

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

"""What the robustness checks read from a fitted baseline model: its data, panel ids,
variance options and treatment, and refits of it."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from pilotdid import _frame
from pilotdid._args import (
    check_str,
)
from pilotdid._core import (
    PilotdidError,
)
from pilotdid.regression import feols
from pilotdid.results.feols import FeolsResult


# ------------------------------------------------------------------------------------------
# helpers shared by the checks
# ------------------------------------------------------------------------------------------
def _check_model(model: Any) -> Any:
    if not isinstance(model, FeolsResult):
        raise PilotdidError(
            f"option 'model': expected a fitted pilotdid.feols result, got {type(model).__name__}"
        )
    return model


def _optional_str(name: str, value: Any) -> str | None:
    return None if value is None else check_str(name, value)


def _model_data(model: Any, data: Any) -> Any:
    if data is None:
        data = getattr(model, "data", None)
    if data is None:
        raise PilotdidError(
            "option 'data': pass the data frame the model was fitted on "
            "(FeolsResult does not keep it)"
        )
    return data


def _panel_ids(model: Any, unit: str | None, time: str | None) -> tuple[str, str]:
    plain = [f for f in model.fixef if "^" not in f]
    if unit is None:
        if not plain:
            raise PilotdidError("option 'unit': the model has no plain fixed effect; name it")
        unit = plain[0]
    if time is None:
        rest = [f for f in plain if f != unit]
        if not rest:
            raise PilotdidError("option 'time': the model has no second fixed effect; name it")
        time = rest[0]
    return unit, time


def _vcov_spec(model: Any) -> Any:
    if model.clusters:
        return {"CR1": "+".join(model.clusters)}
    return "hetero" if model.vcov_type == "HC1" else "iid"


def _fixef_rm(model: Any) -> str:
    info = getattr(model, "_info", {})
    return "singleton" if info.get("singletons_dropped") else "none"


def _refit(model: Any, data: Any, formula: str | None = None) -> Any:
    """Re-runs the model's regression (same formula, vcov, weights, singleton rule)."""
    return feols(
        formula or model.formula,
        data,
        vcov=_vcov_spec(model),
        weights=model.weights,
        fixef_rm=_fixef_rm(model),
    )


def _treatment(model: Any, treatment: str | None) -> str:
    t = treatment or model.coefnames[0]
    if t not in model.coefnames:
        raise PilotdidError(
            f"option 'treatment': '{t}' is not a coefficient of the model "
            f"({', '.join(model.coefnames)})"
        )
    return t


def _all_columns(data: Any) -> pl.DataFrame:
    return _frame.to_polars(data, sorted(_frame._column_names(data), key=str))


def _time_values(df: pl.DataFrame, name: str) -> np.ndarray:
    v = _frame.numeric(df, name)
    if np.any(~np.isfinite(v)) or np.any(v != np.floor(v)):
        raise PilotdidError(f"column '{name}' (time) must hold whole numbers (years, periods)")
    return v.astype(np.int64)

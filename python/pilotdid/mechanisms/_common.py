"""Argument handling shared by the mechanism analyses: mediators, fixed-effect terms,
clustering, column roles and group checks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from pilotdid import _frame
from pilotdid._args import (
    check_columns,
    check_float,
    check_int,
    check_str,
)
from pilotdid._core import (
    PilotdidError,
)

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

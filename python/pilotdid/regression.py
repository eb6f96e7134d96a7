"""`feols`: fixed-effects OLS with fixest formula syntax. Argument handling only; the Rust
core does every number."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Union

import numpy as np
import polars as pl

from pilotdid import _frame
from pilotdid._args import check_choice, check_float, check_int, check_str, vocabulary
from pilotdid._core import PilotdidError, feols_fit
from pilotdid._formula import parse_formula, required_columns
from pilotdid.results.feols import FeolsResult

VcovSpec = Union[str, dict]

#: vcov strings (case-insensitive). "HC1" is an accepted synonym of "hetero" (the TOML study
#: spec writes "HC1"); the cluster kinds need the columns, from a dict or from ``cluster=``.
_VCOV_IID = ("iid",)
_VCOV_HETERO = ("hetero", "hc1")
_VCOV_CLUSTER = ("cr1", "crv1", "cluster")


def _cluster_names(option: str, value: Any) -> list[str]:
    """'a', 'a+b', ['a'] or ['a', 'b'] -> one or two column names."""
    if isinstance(value, str):
        names = [c.strip() for c in value.split("+")]
    elif isinstance(value, Sequence) and all(isinstance(c, str) for c in value):
        names = [c.strip() for c in value]
    else:
        raise PilotdidError(
            f"option '{option}': expected a column name ('unit'), two joined by '+' "
            f"('unit+year') or a list of one or two names, got {value!r}"
        )
    if not 1 <= len(names) <= 2 or any(not c for c in names):
        raise PilotdidError(
            f"option '{option}': cluster spec {value!r} must name one or two columns"
        )
    return names


def _parse_vcov(
    vcov: VcovSpec | None, fixef: list[str], cluster: Any = None
) -> tuple[str, list[str], str]:
    """-> (kind, cluster column names, label). Default: CR1 by the first fixed effect.

    ``cluster="a+b"`` is pyfixest's shortcut for ``vcov={"CR1": "a+b"}``. Given together,
    they must agree: ``vcov`` None or a cluster kind ("CR1", "CRV1", "cluster") takes the
    columns from ``cluster``; a dict must name the same columns in the same order (the wild
    bootstrap clusters by the first); "iid" or "hetero" with ``cluster`` is refused.
    """
    clusters = None if cluster is None else _cluster_names("cluster", cluster)
    if vcov is None:
        if clusters is not None:
            return "cluster", clusters, "CR1 by " + " and ".join(clusters)
        if fixef and "^" not in fixef[0]:
            return "cluster", [fixef[0]], f"CR1 by {fixef[0]}"
        return "iid", [], "iid"
    if isinstance(vcov, str):
        key = vcov.lower()
        if key in _VCOV_CLUSTER:
            if clusters is None:
                raise PilotdidError(
                    f"option 'vcov': {vcov!r} needs the cluster columns: "
                    f"vcov={{'CR1': 'unit'}} or cluster='unit'"
                )
            return "cluster", clusters, "CR1 by " + " and ".join(clusters)
        if key in _VCOV_IID + _VCOV_HETERO and clusters is not None:
            raise PilotdidError(
                f"options 'vcov' and 'cluster' disagree: vcov={vcov!r} is not clustered but "
                f"cluster={cluster!r} asks for CR1; give one of them"
            )
        if key in _VCOV_IID:
            return "iid", [], "iid"
        if key in _VCOV_HETERO:
            return "hetero", [], "HC1"
        raise PilotdidError(
            f"option 'vcov': unknown value '{vcov}'; use 'iid', 'hetero' (alias 'HC1') or "
            "{'CR1': 'cluster_var'} (two-way: {'CR1': 'a+b'}; 'CRV1' is an alias of 'CR1'), "
            "or cluster='cluster_var'"
        )
    if isinstance(vcov, Mapping) and len(vcov) == 1:
        ((kind, cl),) = vcov.items()
        if not isinstance(kind, str) or kind.upper() not in ("CR1", "CRV1"):
            raise PilotdidError(
                f"option 'vcov': {kind!r} is not supported; use 'CR1' (or its alias 'CRV1')"
            )
        names = _cluster_names("vcov", cl)
        if clusters is not None and clusters != names:
            raise PilotdidError(
                f"options 'vcov' and 'cluster' disagree: vcov={vcov!r} clusters by "
                f"{' and '.join(names)} but cluster={cluster!r} by {' and '.join(clusters)}; "
                "give one of them"
            )
        return "cluster", names, "CR1 by " + " and ".join(names)
    raise PilotdidError(
        f"option 'vcov': cannot read {vcov!r}; use 'iid', 'hetero' or {{'CR1': 'a+b'}}"
    )


@vocabulary()
def feols(
    fml: str,
    data: Any,
    *,
    vcov: VcovSpec | None = None,
    cluster: str | Sequence[str] | None = None,
    weights: str | None = None,
    fixef_rm: str = "none",
    fixef_tol: float = 1e-11,
    fixef_maxiter: int = 10_000,
) -> FeolsResult:
    """Fixed-effects OLS, fixest syntax: ``feols("y ~ x1 + x2 | unit + year", df)``.

    Parameters
    ----------
    fml : regressors left of ``|``, fixed effects right of it (``a^b`` interacts two ids).
    data : polars or pandas DataFrame, or a dict of numpy arrays. Never modified.
    vcov : "iid", "hetero" (HC1; the string "HC1" is accepted as a synonym), {"CR1": "unit"},
        or two-way {"CR1": "unit+year"} ("CRV1" is an alias of "CR1", as in pyfixest).
        Default: clustered by the first fixed effect (as fixest), iid without fixed effects.
        Small-sample corrections follow fixest / pyfixest defaults (see ARCHITECTURE.md).
    cluster : shortcut for ``vcov={"CR1": cluster}`` ("unit", "unit+year" or a list). With
        ``vcov`` too, the two must agree (``vcov="CR1"`` takes the columns from ``cluster``).
    weights : column of analytic weights (rows with weight 0 are dropped and counted).
    fixef_rm : "none" (default, as fixest) or "singleton" (remove singleton observations, as
        reghdfe does by default). Singletons are counted either way (``n_singletons``).
    fixef_tol, fixef_maxiter : convergence of the iterative fixed-effect projection.
    """
    _frame.check_data(data)
    f = parse_formula(fml)
    fixef_rm = check_choice("fixef_rm", fixef_rm, ("none", "singleton"))
    fixef_tol = check_float("fixef_tol", fixef_tol, lo=0.0, lo_open=True)
    fixef_maxiter = check_int("fixef_maxiter", fixef_maxiter, lo=1)
    if weights is not None:
        weights = check_str("weights", weights)
    kind, clusters, vcov_label = _parse_vcov(vcov, f.fixef_names, cluster)
    cols = required_columns(f) + clusters + ([weights] if weights else [])
    n_input = _frame.n_rows(data)
    if n_input == 0:
        raise PilotdidError("no rows: the data frame is empty")
    df = _frame.to_polars(data, cols)

    y = _frame.numeric(df, f.depvar)
    x_names, x_cols = _design(f, df)
    valid = np.ones(df.height, dtype=bool)
    fe_ids = []
    for names in f.fixef:
        parts = []
        for name in names:
            v, ok = _frame.ids(df, name)
            valid &= ok
            parts.append(v)
        fe_ids.append(parts[0] if len(parts) == 1 else _frame.interacted_ids(parts))
    cl_ids = []
    for name in clusters:
        v, ok = _frame.ids(df, name)
        valid &= ok
        cl_ids.append(v)
    w = _frame.numeric(df, weights) if weights else None

    core = feols_fit(
        f.depvar,
        y,
        x_names,
        x_cols,
        fe_names=f.fixef_names,
        fe=fe_ids,
        cluster_names=clusters,
        clusters=cl_ids,
        weights_name=weights,
        weights=w,
        valid=None if valid.all() else valid,
        vcov=kind,
        vcov_clusters=list(range(len(clusters))),
        drop_singletons=fixef_rm == "singleton",
        tol=fixef_tol,
        max_iter=fixef_maxiter,
    )
    return FeolsResult(
        core,
        formula=f.text,
        depvar=f.depvar,
        fixef=f.fixef_names,
        vcov_label=vcov_label,
        clusters=clusters,
        weights=weights,
        columns=(y, x_cols),
        data=data,
    )


def _design(f, df: pl.DataFrame) -> tuple[list[str], list[np.ndarray]]:
    """Regressor names and float64 columns. Intercept only without fixed effects."""
    if f.simple:
        names = list(f.rhs)
        cols = [_frame.numeric(df, c) for c in names]
        if f.intercept and not f.fixef:
            names = ["Intercept"] + names
            cols = [np.ones(df.height)] + cols
        return names, cols
    import pandas as pd
    from formulaic import Formula

    pdf = pd.DataFrame({c: df.get_column(c).to_numpy() for c in df.columns})
    rhs = " + ".join(f.rhs)
    if not f.intercept or f.fixef:
        rhs = "0 + " + rhs
    try:
        mm = Formula(rhs).get_model_matrix(pdf, na_action="ignore", ensure_full_rank=True)
    except Exception as exc:
        raise PilotdidError(f"formula '{f.text}': {exc}") from exc
    names = [str(c) for c in mm.columns]
    cols = [np.ascontiguousarray(mm[c].to_numpy(dtype=np.float64)) for c in mm.columns]
    return names, cols

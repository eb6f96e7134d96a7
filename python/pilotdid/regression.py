"""`feols`: fixed-effects OLS with fixest formula syntax. Argument handling only; the Rust
core does every number."""

from __future__ import annotations

from typing import Any, Union

import numpy as np
import polars as pl

from pilotdid import _frame
from pilotdid._core import PilotdidError, feols_fit
from pilotdid._formula import parse_formula, required_columns
from pilotdid.results.feols import FeolsResult

VcovSpec = Union[str, dict]


def _parse_vcov(vcov: VcovSpec | None, fixef: list[str]) -> tuple[str, list[str], str]:
    """-> (kind, cluster column names, label). Default: CR1 by the first fixed effect."""
    if vcov is None:
        if fixef and "^" not in fixef[0]:
            return "cluster", [fixef[0]], f"CR1 by {fixef[0]}"
        return "iid", [], "iid"
    if isinstance(vcov, str):
        key = vcov.lower()
        if key == "iid":
            return "iid", [], "iid"
        if key in ("hetero", "hc1"):
            return "hetero", [], "HC1"
        raise PilotdidError(
            f"option 'vcov': unknown value '{vcov}'; use 'iid', 'hetero'/'HC1' or "
            "{'CR1': 'cluster_var'} (two-way: {'CR1': 'a+b'})"
        )
    if isinstance(vcov, dict) and len(vcov) == 1:
        ((kind, cl),) = vcov.items()
        if str(kind).upper() not in ("CR1", "CRV1"):
            raise PilotdidError(f"option 'vcov': '{kind}' is not supported; use 'CR1'")
        names = [c.strip() for c in str(cl).split("+")]
        if not 1 <= len(names) <= 2 or any(not c for c in names):
            raise PilotdidError(f"option 'vcov': cluster spec '{cl}' must name one or two columns")
        return "cluster", names, "CR1 by " + " and ".join(names)
    raise PilotdidError(f"option 'vcov': cannot read {vcov!r}")


def feols(
    fml: str,
    data: Any,
    vcov: VcovSpec | None = None,
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
    vcov : "iid", "hetero" (HC1), {"CR1": "unit"}, or two-way {"CR1": "unit+year"}.
        Default: clustered by the first fixed effect (as fixest), iid without fixed effects.
        Small-sample corrections follow fixest / pyfixest defaults (see ARCHITECTURE.md).
    weights : column of analytic weights (rows with weight 0 are dropped and counted).
    fixef_rm : "none" (default, as fixest) or "singleton" (remove singleton observations, as
        reghdfe does by default). Singletons are counted either way (``n_singletons``).
    fixef_tol, fixef_maxiter : convergence of the iterative fixed-effect projection.
    """
    f = parse_formula(fml)
    if fixef_rm not in ("none", "singleton"):
        raise PilotdidError(f"option 'fixef_rm': '{fixef_rm}' is not one of 'none', 'singleton'")
    kind, clusters, vcov_label = _parse_vcov(vcov, f.fixef_names)
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
        f.fixef_names,
        fe_ids,
        clusters,
        cl_ids,
        weights,
        w,
        None if valid.all() else valid,
        kind,
        list(range(len(clusters))),
        fixef_rm == "singleton",
        float(fixef_tol),
        int(fixef_maxiter),
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

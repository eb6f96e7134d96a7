"""PSM-DID: a logit propensity score, nearest-neighbour or kernel matching, balance
tables, and the DID on the matched sample or with matching weights (Rust core)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from pilotdid import _frame
from pilotdid._args import (
    check_bool,
    check_choice,
    check_columns,
    check_float,
    check_int,
    check_str,
    vocabulary,
)
from pilotdid._core import (
    PilotdidError,
    logit_fit,
    psm_balance,
    psm_match,
)
from pilotdid.regression import feols
from pilotdid.results.robustness import PsmDidResult
from pilotdid.robust._model import _all_columns, _optional_str

__all__ = ["psm_did"]

_PSM_METHODS = ("nearest", "kernel")


_KERNELS = ("epanechnikov", "gaussian")


_DID_SAMPLES = ("matched", "weights")


# ------------------------------------------------------------------------------------------
# PSM-DID
# ------------------------------------------------------------------------------------------
def _psm_options(
    *,
    treatment: Any,
    controls: Any,
    fml: Any = None,
    method: Any = "nearest",
    k: Any = 1,
    caliper: Any = None,
    replace: Any = True,
    kernel: Any = "epanechnikov",
    bandwidth: Any = 0.06,
    common_support: Any = True,
    by: Any = None,
    did_sample: Any = "matched",
    vcov: Any = None,
    cluster: Any = None,
    weights_name: Any = "_psm_weight",
) -> dict[str, Any]:
    """psm_did's options, checked before any work (also used by Check("psm", ...))."""
    ctrls = check_columns("controls", controls)
    if not ctrls:
        raise PilotdidError("option 'controls': give at least one covariate of the score")
    if cluster is not None:
        name = check_str("cluster", cluster)
        if vcov is not None:
            raise PilotdidError(
                f"options 'vcov' and 'cluster': give one of them (cluster={name!r} is "
                f"vcov={{'CR1': {name!r}}})"
            )
        vcov = {"CR1": name}
    return {
        "treatment": check_str("treatment", treatment),
        "controls": ctrls,
        "fml": _optional_str("fml", fml),
        "method": check_choice("method", method, _PSM_METHODS),
        "k": check_int("k", k, lo=1),
        "caliper": None
        if caliper is None
        else check_float("caliper", caliper, lo=0.0, lo_open=True),
        "replace": check_bool("replace", replace),
        "kernel": check_choice("kernel", kernel, _KERNELS),
        "bandwidth": check_float("bandwidth", bandwidth, lo=0.0, lo_open=True),
        "common_support": check_bool("common_support", common_support),
        "by": _optional_str("by", by),
        "did_sample": check_choice("did_sample", did_sample, _DID_SAMPLES),
        "vcov": vcov,
        "weights_name": check_str("weights_name", weights_name),
    }


@vocabulary(renamed={"treat": "treatment", "covariates": "controls", "formula": "fml"})
def psm_did(
    data: Any,
    *,
    treatment: str,
    controls: Sequence[str] | str,
    fml: str | None = None,
    method: str = "nearest",
    k: int = 1,
    caliper: float | None = None,
    replace: bool = True,
    kernel: str = "epanechnikov",
    bandwidth: float = 0.06,
    common_support: bool = True,
    by: str | None = None,
    did_sample: str = "matched",
    vcov: Any = None,
    cluster: str | None = None,
    weights_name: str = "_psm_weight",
) -> PsmDidResult:
    """Propensity-score matching DID.

    1. Logit of ``treatment`` (0/1 per row, e.g. the ever-treated group) on a constant and
       the covariates ``controls`` (Newton-Raphson in Rust; perfect separation is an error).
    2. Matching on the score, pooled (``by=None``) or within each value of ``by`` (e.g. the
       year: year-by-year matching): ``method="nearest"`` 1:k with or without replacement and
       an optional caliper (ties: the control first in the data wins; without replacement the
       treated rows are served in data order), or ``method="kernel"`` (``kernel`` =
       "epanechnikov" | "gaussian", ``bandwidth`` on the score scale). With
       ``common_support`` treated rows outside the controls' score range are dropped.
    3. Balance table (standardised bias before/after, t-tests; psmatch2 ``pstest``).
    4. If ``fml`` is given, the DID re-estimated by ``pilotdid.feols`` on the matched
       sample (``did_sample="matched"``: rows with a positive matching weight) or with the
       matching weights (``did_sample="weights"``). ``vcov`` (or ``cluster=``) is passed to
       feols.

    Rows with a missing treatment/control/by value are left out of matching (counted).
    """
    o = _psm_options(
        treatment=treatment,
        controls=controls,
        fml=fml,
        method=method,
        k=k,
        caliper=caliper,
        replace=replace,
        kernel=kernel,
        bandwidth=bandwidth,
        common_support=common_support,
        by=by,
        did_sample=did_sample,
        vcov=vcov,
        cluster=cluster,
        weights_name=weights_name,
    )
    treat, covariates, by, weights_name = o["treatment"], o["controls"], o["by"], o["weights_name"]
    df = _all_columns(data)
    needed = [treat, *covariates] + ([by] if by else [])
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise PilotdidError(f"column '{missing[0]}' not found in the data")
    t = _frame.numeric(df, treat)
    xs = [_frame.numeric(df, c) for c in covariates]
    ok = np.isfinite(t)
    for x in xs:
        ok &= np.isfinite(x)
    group = None
    if by:
        g, gok = _frame.ids(df, by)
        ok &= gok
        group = np.ascontiguousarray(g[ok])
    bad = np.setdiff1d(np.unique(t[ok]), [0.0, 1.0])
    if bad.size:
        raise PilotdidError(f"column '{treat}': must be 0 or 1, found {bad[0]}")
    ts = np.ascontiguousarray(t[ok])
    xs_ok = [np.ascontiguousarray(x[ok]) for x in xs]
    fit = logit_fit(ts, ["Intercept", *covariates], [np.ones(ts.size), *xs_ok])
    ps_ok = np.asarray(fit["fitted"])
    m = psm_match(
        ps_ok,
        ts,
        group,
        o["method"],
        o["k"],
        o["replace"],
        o["caliper"],
        o["kernel"],
        o["bandwidth"],
        o["common_support"],
    )
    w_ok = np.asarray(m["weights"])
    bal = psm_balance(covariates, xs_ok, ts, w_ok)
    pscore = np.full(df.height, np.nan)
    pscore[ok] = ps_ok
    weights = np.zeros(df.height)
    weights[ok] = w_ok
    idx = np.flatnonzero(ok)
    logit_tab = pl.DataFrame(
        {
            "term": ["Intercept", *covariates],
            "estimate": np.asarray(fit["beta"]),
            "std_error": np.asarray(fit["se"]),
        }
    )
    balance = pl.DataFrame({"covariate": covariates, **{k_: list(v) for k_, v in bal.items()}})
    if weights_name in df.columns:
        raise PilotdidError(f"option 'weights_name': column '{weights_name}' already exists")
    full = df.with_columns(pl.Series(weights_name, weights), pl.Series("_pscore", pscore))
    matched = full.filter(pl.col(weights_name) > 0)
    did = None
    if o["fml"] is not None:
        if o["did_sample"] == "matched":
            did = feols(o["fml"], matched, vcov=o["vcov"])
        else:
            did = feols(o["fml"], full, vcov=o["vcov"], weights=weights_name)
    caliper = o["caliper"]
    label = (
        f"nearest 1:{o['k']}, {'with' if o['replace'] else 'without'} replacement"
        + (f", caliper {caliper}" if caliper is not None else "")
        if o["method"] == "nearest"
        else f"kernel {o['kernel']}, bandwidth {o['bandwidth']}"
    ) + (f", by {by}" if by else ", pooled")
    return PsmDidResult(
        logit=logit_tab,
        pscore=pscore,
        weights=weights,
        balance=balance,
        matched_data=matched,
        did=did,
        method=label,
        n_off_support=len(m["off_support"]),
        n_unmatched=len(m["unmatched"]),
        n_dropped_missing=int((~ok).sum()),
        pairs=[(int(idx[a]), int(idx[b])) for a, b in m["pairs"]],
    )

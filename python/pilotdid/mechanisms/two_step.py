"""Two-step (Jiang 2022) mechanism effects: the policy's effect on each mediator, by
TWFE or by a heterogeneity-robust DID estimator reached through :mod:`pilotdid.registry`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from pilotdid import _frame
from pilotdid._args import (
    check_choice,
    check_columns,
    check_str,
    vocabulary,
)
from pilotdid._core import (
    PilotdidError,
)
from pilotdid.mechanisms._common import (
    _ESTIMATORS,
    _check_variation,
    _fe_terms,
    _fml,
    _mediators,
    _numeric_columns,
    _roles,
    _with_cluster,
)
from pilotdid.panel import cohort_values
from pilotdid.registry import overall_estimator
from pilotdid.regression import feols
from pilotdid.results._inference import z975_row
from pilotdid.results.mechanisms import (
    MechanismEffects,
)

__all__ = ["mechanism_effects"]


@vocabulary()
def mechanism_effects(
    data: Any,
    *,
    treatment: str,
    mediators: str | Sequence[str],
    controls: str | Sequence[str] | None = None,
    fixef: str | None = None,
    vcov: Any = None,
    cluster: str | None = None,
    estimator: str = "twfe",
    unit: str | None = None,
    time: str | None = None,
) -> MechanismEffects:
    """Two-step (Jiang 2022) mechanism evidence: the DID effect of the policy on each mediator.

    ``estimator="twfe"``: ``feols(m ~ treatment + controls | fixef)`` per mediator.
    ``"cs"`` (Callaway-Sant'Anna overall ATT, ``aggte(type="simple")``), ``"sa"``
    (Sun-Abraham ATT), ``"bjs"`` (imputation ATT) or ``"did2s"`` (Gardner static ATT): the
    heterogeneity-robust effect on each mediator, with cohorts derived from the 0/1
    ``treatment`` (``pilotdid.Panel``); ``unit``/``time`` default to the first two fixed
    effects. Each robust estimator uses its own default variance (clustered by unit).
    """
    treatment = check_str("treatment", treatment)
    meds = _mediators(mediators)
    ctrls = check_columns("controls", controls)
    fe_terms = _fe_terms(fixef)
    vcov = _with_cluster(vcov, cluster)
    estimator = check_choice("estimator", estimator, _ESTIMATORS)
    unit = None if unit is None else check_str("unit", unit)
    time = None if time is None else check_str("time", time)
    _numeric_columns(
        _frame.to_polars(data, [treatment, *meds, *ctrls]), _roles(None, treatment, meds, ctrls)
    )
    if estimator != "twfe":
        return _robust_mechanism_effects(
            data, treatment, meds, ctrls, fe_terms, estimator, unit, time
        )
    fits = {}
    rows = []
    for m in meds:
        df = _frame.to_polars(data, [m])
        _check_variation(df.drop_nulls(), [m], "mediator")
        fit = feols(_fml(m, [treatment, *ctrls], fe_terms), data, vcov=vcov)
        if treatment not in fit.coef():
            raise PilotdidError(f"column '{treatment}': dropped as collinear")
        tid = fit.tidy().filter(pl.col("term") == treatment).row(0, named=True)
        rows.append({"mediator": m, **{k: v for k, v in tid.items() if k != "term"}})
        fits[m] = fit
    return MechanismEffects(
        treatment=treatment, table=pl.DataFrame(rows), fits=fits, estimator=estimator
    )


def _robust_mechanism_effects(
    data: Any,
    treatment: str,
    meds: list[str],
    ctrls: list[str],
    fe_terms: list[str],
    estimator: str,
    unit: str | None,
    time: str | None,
) -> MechanismEffects:
    """Heterogeneity-robust DID effect of the policy on each mediator."""
    if unit is None or time is None:
        if len(fe_terms) < 2:
            raise PilotdidError(
                f"estimator '{estimator}' needs the panel ids: pass unit= and time= "
                "(or fixef='unit + time')"
            )
        unit = unit or fe_terms[0]
        time = time or fe_terms[1]
    g = "_mechanism_cohort"
    df = _frame.to_polars(data, list(dict.fromkeys([unit, time, treatment, *meds, *ctrls])))
    # the one path from a 0/1 treatment to cohorts (absorbing; switch-offs refused by unit)
    cohort, _ = cohort_values(df, unit=unit, time=time, column=treatment, derived=True)
    df = df.with_columns(pl.Series(g, np.nan_to_num(cohort, nan=0.0)))
    rows, fits = [], {}
    for m in meds:
        _check_variation(df.select(m).drop_nulls(), [m], "mediator")
        fitter = overall_estimator(estimator)
        fit = fitter.fit(df, y=m, unit=unit, time=time, cohort=g, controls=ctrls)
        est, se = fitter.overall(fit)
        rows.append(
            {"mediator": m, "estimate": float(est), "std_error": float(se), **z975_row(est, se)}
        )
        fits[m] = fit
    return MechanismEffects(
        treatment=treatment, table=pl.DataFrame(rows), fits=fits, estimator=estimator
    )

"""Principal-components composite index (beside the entropy-weight index of
:mod:`~pilotdid.green.indices`) and the path from any index to a dose column.

Numbers come from the Rust core (``src/green/pca.rs``); :func:`to_dose` only rearranges the
index within units (a difference from a base year)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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
from pilotdid._core import PilotdidError, green_pca
from pilotdid.green._prepare import _cols, _drop_incomplete, _names
from pilotdid.results.pca import PcaResult

__all__ = ["pca_index", "to_dose"]


@vocabulary(renamed={"columns": "indicators", "weights": "component_weights"})
def pca_index(
    data: Any,
    *,
    indicators: Sequence[str],
    negative: Sequence[str] = (),
    unit: str | None = None,
    time: str | None = None,
    n_components: int | None = None,
    select: str = "eigenvalue",
    share_threshold: float = 0.85,
    standardize: bool = True,
    component_weights: str = "variance",
    name: str = "pca_index",
) -> PcaResult:
    """Principal-components composite index with KMO and Bartlett diagnostics.

    The indicators are pooled over all rows (unit-years), centred and, with
    ``standardize=True`` (the default), divided by their standard deviations (``n - 1``), so
    the components are those of the correlation matrix; ``standardize=False`` analyses the
    covariance matrix. Indicators listed in ``negative`` enter with their sign reversed (a
    higher value means less of the construct), as in :func:`entropy_index`. The eigenvalues
    ``lambda_k`` are ``s_k**2 / (n - 1)`` for the singular values ``s_k`` of the (standardised)
    data matrix ``Z = U S V'``; the scores are ``Z V``.

    Components kept: ``n_components`` when given (1 .. number of indicators; it overrides
    ``select``); otherwise ``select="eigenvalue"`` (Kaiser's rule: eigenvalue above the mean
    eigenvalue, which is 1 for standardised indicators; at least one component) or
    ``select="share"`` (the fewest components whose cumulative share of variance is at least
    ``share_threshold``, 0.85 by default).

    The index is ``sum_k w_k score_k`` over the kept components, with
    ``component_weights="variance"`` (default) ``w_k = lambda_k / sum of the kept lambdas``:
    components weighted by their explained-variance shares, the usual composite-index practice
    in the Chinese smart-city / digital-economy literature (F = sum (lambda_k / sum lambda) F_k);
    or ``"equal"``, ``w_k = 1 / m``. The index has mean 0 over the rows used (scores are
    centred); shift or rescale it as needed -- :func:`to_dose` uses only its changes.

    **Sign convention**: each eigenvector is flipped so that its largest-modulus loading is
    positive (among loadings equal to it within 1e-12 -- as with two standardised indicators,
    both 1/sqrt(2) -- the first indicator's). Scores and index are therefore unique; compare
    with other software up to this convention.

    Diagnostics (on the correlation matrix ``R`` whatever the scaling): the Kaiser-Meyer-Olkin
    measure, overall and per indicator, from the partial correlations
    ``-P_ij / sqrt(P_ii P_jj)`` with ``P = R^-1``; Bartlett's sphericity test
    ``chi2 = -(n - 1 - (2p + 5) / 6) ln|R|`` on ``p (p - 1) / 2`` degrees of freedom. For
    collinear indicators (singular ``R``) both are NaN and ``result.notes`` says why.

    Rows with a missing (null/NaN) indicator or id are dropped with a warning and counted in
    ``result.dropped_rows``. Errors name the column or option: fewer than two indicators, a
    constant indicator, infinite values, no more complete rows than indicators,
    ``n_components`` outside 1 .. number of indicators.

    Returns a :class:`~pilotdid.results.PcaResult`: ``scores`` (polars: ``unit``/``time`` when
    given, ``name`` (the index), ``PC1`` .. ``PCm``), ``loadings`` (indicator x component:
    ``eigenvector`` and ``loading`` = eigenvector * sqrt(eigenvalue), the indicator's
    correlation with the component when standardised), ``components`` (eigenvalue, explained,
    cumulative, kept, weight), ``eigenvalues``, ``explained``, ``n_components``, ``kmo``,
    ``kmo_per_variable``, ``bartlett`` (chi2, df, p_value), ``summary()``.

    From index to dose: ``to_dose(result.scores, index=name, unit=..., time=..., cohort=...)``
    (after joining the pilot cohort column); see :func:`to_dose`.
    """
    inds = _names(check_columns("indicators", indicators), "indicators", True)
    dup = sorted({c for c in inds if inds.count(c) > 1})
    if dup:
        raise PilotdidError(f"option 'indicators': column '{dup[0]}' is listed twice")
    neg = check_columns("negative", negative)
    unknown = [c for c in neg if c not in inds]
    if unknown:
        raise PilotdidError(f"option 'negative': '{unknown[0]}' is not among the indicators")
    if len(inds) < 2:
        raise PilotdidError(
            f"option 'indicators': got 1 indicator ('{inds[0]}'); principal components need at "
            "least two (one indicator is its own index)"
        )
    if n_components is not None:
        n_components = check_int("n_components", n_components, lo=1, hi=len(inds))
    select = check_choice("select", select, ("eigenvalue", "share"))
    share_threshold = check_float("share_threshold", share_threshold, lo=0.0, hi=1.0, lo_open=True)
    standardize = check_bool("standardize", standardize)
    component_weights = check_choice("component_weights", component_weights, ("variance", "equal"))
    name = check_str("name", name)
    ids = [check_str(opt, c) for opt, c in (("unit", unit), ("time", time)) if c is not None]
    clash = [c for c in ids if c in inds]
    if clash:
        raise PilotdidError(f"column '{clash[0]}' is both an id and an indicator")
    df = _frame.to_polars(data, ids + inds)
    n_in = df.height
    df = _drop_incomplete(df, ids + inds, "pca_index")
    dropped = n_in - df.height
    core = green_pca(
        _cols(df, inds),
        [c not in neg for c in inds],
        standardize=standardize,
        n_components=n_components,
        select=select,
        share_threshold=share_threshold,
        component_weights=component_weights,
    )
    return PcaResult(
        core,
        ids=df.select(ids) if ids else None,
        indicators=inds,
        negative=neg,
        name=name,
        standardize=standardize,
        rule=_rule_text(n_components, select, share_threshold),
        component_weights=component_weights,
        dropped_rows={"missing indicator or id": dropped} if dropped else {},
    )


def _rule_text(n_components: int | None, select: str, share_threshold: float) -> str:
    if n_components is not None:
        return f"n_components = {n_components}"
    if select == "share":
        return f"cumulative share >= {share_threshold:g}"
    return "eigenvalue > mean eigenvalue (Kaiser)"


@vocabulary()
def to_dose(
    data: Any,
    *,
    index: str,
    unit: str,
    time: str,
    cohort: str,
    kind: str = "path",
    name: str = "dose",
) -> pl.DataFrame:
    """Turn a composite index (``pca_index``'s or ``entropy_index``'s) into a dose column.

    The dose of a pilot unit is its index's change since the pilot: with ``g`` the unit's
    ``cohort`` (first pilot year; 0 or null for units never in the pilot) and ``b`` the unit's
    last period before ``g`` with a non-missing index (the pre-pilot base year, usually
    ``g - 1``):

    - ``kind="path"`` (default): ``dose_it = index_it - index_ib`` for ``t >= g`` and 0 before
      the pilot and for never-pilot units -- a time-varying, possibly non-binary treatment
      that is 0 until the pilot, the input of de Chaisemartin-D'Haultfoeuille ``DID_l``.
    - ``kind="unit"``: one dose per unit, ``D_i`` = the mean of ``index_it - index_ib`` over
      its pilot years (0 for never-pilot units), repeated on every row of the unit -- the
      time-invariant dose of the continuous-dose DID of Callaway, Goodman-Bacon and Sant'Anna
      (2024), whose timing comes from ``cohort``.

    Changes can be negative (an index that fell after the pilot); the continuous-dose
    estimator needs positive doses among pilot units, so check ``D_i > 0`` there. Rows whose
    index is missing after the pilot get a null dose (``kind="path"``) and are left out of
    the unit's mean (``kind="unit"``). A pilot unit with no index value before its pilot year
    is an error naming it; so is a cohort that varies within a unit or a repeated
    (unit, time) pair.

    Returns ``data`` as a new polars frame with the ``name`` column added (the caller's frame
    is not modified).
    """
    for opt, val in (("index", index), ("unit", unit), ("time", time), ("cohort", cohort)):
        check_str(opt, val)
    kind = check_choice("kind", kind, ("path", "unit"))
    name = check_str("name", name)
    if isinstance(data, pl.DataFrame):
        df = data.clone()
    else:
        df = _frame.to_polars(data, list(_frame_columns(data)))
    for c in (index, unit, time, cohort):
        if c not in df.columns:
            raise PilotdidError(f"column '{c}' not found in the data")
    if name in (index, unit, time, cohort):
        raise PilotdidError(f"option 'name': '{name}' would overwrite an input column")
    for c in (index, time, cohort):
        if not df.schema[c].is_numeric():
            raise PilotdidError(f"column '{c}' must be numeric (type {df.schema[c]})")
    if df.select(pl.struct(unit, time).is_duplicated().any()).item():
        raise PilotdidError(f"columns '{unit}', '{time}': a (unit, time) pair appears twice")
    varying = (
        df.group_by(unit)
        .agg(pl.col(cohort).fill_null(0).n_unique().alias("k"))
        .filter(pl.col("k") > 1)
    )
    if varying.height:
        raise PilotdidError(
            f"column '{cohort}': the cohort varies within unit '{varying[unit][0]}'; it must be "
            "the unit's first pilot period (0 or null when never in the pilot)"
        )
    x = pl.col(index).cast(pl.Float64)
    g = pl.col(cohort).cast(pl.Float64).fill_null(0.0)
    t = pl.col(time).cast(pl.Float64)
    work = df.with_row_index("__row").with_columns(
        x.fill_nan(None).alias("__x"), g.alias("__g"), t.alias("__t")
    )
    base = (
        work.filter(
            (pl.col("__g") > 0) & (pl.col("__t") < pl.col("__g")) & pl.col("__x").is_not_null()
        )
        .sort("__t")
        .group_by(unit)
        .agg(pl.col("__x").last().alias("__base"))
    )
    work = work.join(base, on=unit, how="left").sort("__row")
    no_base = work.filter((pl.col("__g") > 0) & pl.col("__base").is_null())
    if no_base.height:
        u, gg = no_base[unit][0], no_base["__g"][0]
        raise PilotdidError(
            f"unit '{u}' (cohort {gg:g}) has no '{index}' value before its pilot period: the "
            "dose is the change from the last pre-pilot value"
        )
    post = (pl.col("__g") > 0) & (pl.col("__t") >= pl.col("__g"))
    change = pl.when(post).then(pl.col("__x") - pl.col("__base")).otherwise(0.0)
    work = work.with_columns(change.alias("__d"))
    if kind == "unit":
        work = work.with_columns(
            pl.when(pl.col("__g") > 0)
            .then(pl.col("__d").filter(post).mean().over(unit))
            .otherwise(0.0)
            .alias("__d")
        )
    return df.with_columns(work.get_column("__d").alias(name))


def _frame_columns(data: Any) -> list[str]:
    cols = getattr(data, "columns", None)
    if cols is None and isinstance(data, dict):
        cols = list(data)
    if cols is None:
        raise PilotdidError("data: expected a polars or pandas DataFrame or a dict of columns")
    return [str(c) for c in cols]

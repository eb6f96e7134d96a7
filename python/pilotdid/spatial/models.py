"""Spatial panel models (SAR, SDM, SEM, SDEM, SAC) by quasi-maximum likelihood with
fixed effects, and the LM tests that choose between them (Rust core)."""

from __future__ import annotations

import warnings
from typing import Any

from pilotdid import _core
from pilotdid._args import (
    check_bool,
    check_choice,
    check_columns,
    check_float,
    check_level,
    check_str,
    vocabulary,
)
from pilotdid._core import PilotdidError
from pilotdid.results.spatial import SpatialResult, WeakIdentificationWarning
from pilotdid.spatial._inputs import (
    _INCOMPLETE,
    _METHODS,
    _as_weights,
    _check_effects,
    _check_fml,
    _prepare,
    _same_weights,
)
from pilotdid.spatial.weights import _key

__all__ = ["gns", "lm_tests", "sac", "sar", "sdem", "sdm", "sem"]

#: The core's LM test statistics and p-values, in the order of lm_tests()' dict.
_LM_TESTS = (
    "lm_lag",
    "lm_error",
    "rlm_lag",
    "rlm_error",
    "p_lm_lag",
    "p_lm_error",
    "p_rlm_lag",
    "p_rlm_error",
)


@vocabulary(renamed={"formula": "fml"})
def lm_tests(
    fml: str,
    data: Any,
    *,
    W: Any,
    unit: str,
    time: str,
    effects: str = "twoways",
    incomplete: str = "error",
) -> dict[str, float]:
    """LM and robust LM tests for a spatial lag and a spatial error on the non-spatial
    fixed-effects model (Anselin 1988; Anselin et al. 1996; panel form as in Elhorst 2014).

    Returns a dict of the four statistics (``lm_lag``, ``lm_error``, ``rlm_lag``,
    ``rlm_error``; chi-squared, 1 df) and their p-values (``p_lm_lag``, ...). The panel must
    be balanced: a unit with a missing period or a missing or infinite outcome or regressor
    is an error that names it (the tests would otherwise all be NaN), unless
    ``incomplete="drop_units"`` (see :func:`sar`). No N x N matrix is formed: the trace
    T_W = tr(W'W + WW) comes from the sparse W in O(nnz), so 50,000 units take about a second."""
    fml = _check_fml(fml)
    unit = check_str("unit", unit)
    time = check_str("time", time)
    effects = _check_effects(effects)
    incomplete = check_choice("incomplete", incomplete, _INCOMPLETE)
    p = _prepare(fml, data, W, unit, time, incomplete)
    r = _core.sp_lm_tests(p.y, p.xs, p.pos, p.tcode, p.w._sparse(), effects=effects)
    return {k: getattr(r, k) for k in _LM_TESTS}


def _w_note(p: Any) -> str | None:
    """What was done to W, and whether it varies by period (shown in summary())."""
    if p.w_periods is None:
        return p.w_note
    distinct: list[Any] = []
    for v in p.w_periods:
        if not any(_same_weights(v, u) for u in distinct):
            distinct.append(v)
    note = f"W varies by period ({len(distinct)} distinct W_t over {len(p.w_periods)} periods)"
    return note if p.w_note is None else f"{p.w_note}; {note}"


def _dynamic(
    model: str,
    fml: Any,
    data: Any,
    W: Any,
    unit: Any,
    time: Any,
    effects: Any,
    dlag: Any,
    durbin: Any,
    incomplete: Any,
    **refused: Any,
) -> SpatialResult:
    # The dynamic model lives in spatial/dynamic.py; here only the shared checks.
    from pilotdid.spatial.dynamic import _check_dlag, _fit_dynamic

    if isinstance(W, (dict, list, tuple)):
        raise PilotdidError(
            "option 'dlag': the dynamic model takes one W; a W per period (dict or list) is "
            "available for the static models only"
        )

    res = _fit_dynamic(
        model,
        _check_fml(fml),
        data,
        W,
        check_str("unit", unit),
        check_str("time", time),
        _check_effects(effects),
        _check_dlag(dlag),
        None if durbin is None else check_columns("durbin", durbin),
        check_choice("incomplete", incomplete, _INCOMPLETE),
        refused,
    )
    return res


def _fit(
    model: str,
    fml: Any,
    data: Any,
    W: Any,
    unit: Any,
    time: Any,
    effects: Any,
    lee_yu: Any,
    durbin: Any,
    fixed_rho: Any,
    rho_search: Any = "exact",
    method: Any = "auto",
    fixed_name: str = "fixed_rho",
    level: Any = 0.95,
    incomplete: Any = "error",
    M: Any = None,
    fixed_lambda: Any = None,
) -> SpatialResult:
    # Every option is checked before the data are read.
    fml = _check_fml(fml)
    unit = check_str("unit", unit)
    time = check_str("time", time)
    effects = _check_effects(effects)
    if lee_yu is not None:
        lee_yu = check_bool("lee_yu", lee_yu)
    method = check_choice("method", method, _METHODS)
    rho_search = check_choice("rho_search", rho_search, ("exact", "sdpdmod"))
    level = check_level(level)
    incomplete = check_choice("incomplete", incomplete, _INCOMPLETE)
    if fixed_rho is not None:
        fixed_rho = check_float(fixed_name, fixed_rho)
    if fixed_lambda is not None:
        fixed_lambda = check_float("fixed_lambda", fixed_lambda)
    if durbin is not None:
        durbin = check_columns("durbin", durbin)
    p = _prepare(fml, data, W, unit, time, incomplete, time_varying=True)
    xnames, w, pos, tcode, periods, y, xs = p.xnames, p.w, p.pos, p.tcode, p.periods, p.y, p.xs
    m_core = None
    if M is not None:
        m_w = _as_weights(M)
        if [_key(v) for v in m_w.ids] != [_key(v) for v in w.ids]:
            raise PilotdidError(
                f"option 'M': M must have W's units in W's order (W: {w.n} units, M: {m_w.n} units)"
            )
        m_core = m_w._sparse()
    if p.w_periods is not None:
        # Lee and Yu's (2010) orthonormal time transformation mixes periods and so assumes
        # one W for all periods.
        if lee_yu:
            raise PilotdidError(
                "option 'lee_yu': the Lee-Yu transformation assumes one W for all periods; "
                "with a time-varying W use lee_yu=False (the default then)"
            )
        lee_yu = False
    if lee_yu is None:
        # With two-way effects the direct likelihood counts the common-shock direction that
        # the time effects absorb, which biases rho (Lee and Yu 2010; on the 41-city
        # inverse-distance W the mean rho-hat was -0.25 for a true 0.4): use their
        # transformation whenever it applies (it needs a row-standardised W).
        lee_yu = effects == "twoways" and w.is_row_standardised()
    dur_idx = None
    if model in ("sdm", "sdem", "gns") and durbin is not None:
        bad = [d for d in durbin if d not in xnames]
        if bad:
            raise PilotdidError(f"option 'durbin': {bad[0]!r} is not a regressor")
        dur_idx = [xnames.index(d) for d in durbin]
    core = _core.sp_fit(
        y,
        xs,
        xnames,
        pos,
        tcode,
        w._sparse(),
        kind=model,
        effects=effects,
        lee_yu=lee_yu,
        durbin=dur_idx,
        fixed_rho=fixed_rho,
        grid_incr=0.001 if rho_search == "sdpdmod" else None,
        method=method,
        level=level,
        w_periods=None if p.w_periods is None else [v._sparse() for v in p.w_periods],
        m=m_core,
        fixed_lambda=fixed_lambda,
    )
    res = SpatialResult(
        core,
        model=model,
        formula=fml,
        effects=effects,
        lee_yu=lee_yu,
        unit_ids=w.ids,
        periods=periods,
        unit=unit,
        time=time,
        dropped_units=p.dropped_units,
        dropped_rows=p.dropped_rows,
        w_note=_w_note(p),
    )
    # Islands, a spatial parameter at or near its bound: reported when they happen (and kept
    # on res.warnings and in summary()).
    for msg in res.warnings:
        warnings.warn(f"{model.upper()}: {msg}", UserWarning, stacklevel=4)
    # A flat likelihood in rho / lambda: reported when it happens (and in summary()).
    for line in res._identification_lines():
        if "weakly identified" in line:
            warnings.warn(f"{model.upper()}: {line}", WeakIdentificationWarning, stacklevel=4)
    return res


@vocabulary(renamed={"formula": "fml"})
def sar(
    fml: str,
    data: Any,
    *,
    W: Any,
    unit: str,
    time: str,
    effects: str = "twoways",
    lee_yu: bool | None = None,
    fixed_rho: float | None = None,
    rho_search: str = "exact",
    method: str = "auto",
    level: float = 0.95,
    incomplete: str = "error",
    dlag: int | str | None = None,
) -> SpatialResult:
    """Spatial lag panel y = rho W y + X beta + FE + e by ML (concentrated likelihood).

    ``effects``: "twoways" (default: unit and period fixed effects, as in a DID), "individual",
    "time" or "none". ``lee_yu=True`` uses the Lee-Yu (2010) transformation: sigma2 divides
    by N(T-1) / (N-1)T / (N-1)(T-1) and, with time effects, the likelihood drops the
    common-shock direction (needs row-standardised W). ``lee_yu=None`` (default) uses it with
    two-way effects on a row-standardised W, where the direct likelihood biases rho, and the
    direct approach otherwise; ``result.lee_yu`` says which ran.

    ``method``: "dense" (W's eigenvalues and dense (I - rho W)^-1, exact, N <= 8,000),
    "sparse" (exact log-determinant per rho from a sparse Cholesky factor when W is similar
    to a symmetric matrix, e.g. a row-standardised symmetric W, else a sparse LU; the
    information-matrix and effects traces by finite differences of the exact
    log-determinant plus seeded Hutchinson estimation, ``result.trace_se``; with the LU the
    rho interval is (-1, 1) for row-standardised W) or "auto" (dense up to 1,500 units,
    sparse beyond). The path used is ``result.method``; per-unit effects
    (``result.unit_impacts()``) use exact sparse solves above 1,500 units (N = 10,000 in
    about 3 s).

    ``level``: level of the likelihood-ratio interval of rho (``result.rho_interval``,
    ``result.spatial_intervals()``); when that interval reaches a bound of the admissible
    interval or is wider than a quarter of it (capped at [-1, 1]) the fit warns
    (``WeakIdentificationWarning``) and ``result.weakly_identified`` is True (every spatial
    model does the same for its rho / lambda).

    ``incomplete``: the panel must be balanced. ``"error"`` (default) refuses a panel in
    which some unit lacks a period or has a missing / infinite outcome or regressor, naming
    every such unit, its missing periods and columns. ``"drop_units"`` drops those units
    entirely, subsets W to the remaining units and row-standardises it again if it was
    row-standardised; ``result.dropped_units`` lists them (W's ids), ``result.dropped_rows``
    counts the rows and ``result.w_note`` says what was done to W. Units of W with no rows
    at all count as incomplete too.

    ``W`` may change by period: a dict ``{period: Weights}`` (keys are the values of the
    ``time`` column) or a list of matrices ordered like the sorted periods. Each W_t must
    have the same units in the same order. The spatial lags use W_t within period t, the
    log-determinant is sum_t ln|I - rho W_t| (each distinct W_t's eigenvalues or sparse
    factor once), and the information matrix uses the per-period G_t = W_t (I - rho W_t)^-1.
    ``impacts()`` reports the period average of the per-period LeSage-Pace summaries
    (xsmle has no time-varying W to follow); per-unit effects are refused. The Lee-Yu
    transformation assumes one W, so ``lee_yu`` is False with a time-varying W. When every
    W_t is equal the fit is the static one, number for number.

    ``dlag``: the time-space dynamic model (xsmle's ``dlag``): 1 / "time" adds y_{t-1},
    2 / "spacetime" W y_{t-1}, 3 / "both" both; fitted by QML with the Yu, de Jong & Lee
    (2008) bias correction (``effects="individual"``) or Lee & Yu (2010) (``"twoways"``,
    row-standardised W) and returned as a
    :class:`~pilotdid.results.spatial_dynamic.DynamicSpatialResult` (see
    :mod:`pilotdid.spatial.dynamic`). Needs at least 3 periods; ``lee_yu``, ``fixed_rho``,
    ``rho_search`` and ``method`` stay at their defaults. A time-varying W is not available
    with ``dlag``.

    There is no random-effects spatial model and hence no Hausman test (fixed effects only).
    """
    if dlag is not None:
        return _dynamic(
            "sar",
            fml,
            data,
            W,
            unit,
            time,
            effects,
            dlag,
            None,
            incomplete,
            lee_yu=lee_yu,
            fixed_rho=fixed_rho,
            rho_search=None if rho_search == "exact" else rho_search,
            method=None if method == "auto" else method,
        )
    return _fit(
        "sar",
        fml,
        data,
        W,
        unit,
        time,
        effects,
        lee_yu,
        None,
        fixed_rho,
        rho_search,
        method,
        level=level,
        incomplete=incomplete,
    )


@vocabulary(renamed={"formula": "fml"})
def sdm(
    fml: str,
    data: Any,
    *,
    W: Any,
    unit: str,
    time: str,
    effects: str = "twoways",
    lee_yu: bool | None = None,
    durbin: list[str] | None = None,
    fixed_rho: float | None = None,
    rho_search: str = "exact",
    method: str = "auto",
    level: float = 0.95,
    incomplete: str = "error",
    dlag: int | str | None = None,
) -> SpatialResult:
    """Spatial Durbin panel y = rho W y + X beta + W X theta + FE + e by ML.

    ``durbin`` lists the regressors that get a spatial lag (default: all). See :func:`sar`
    for ``effects``, ``lee_yu``, ``method``, a time-varying ``W`` (W_t X_t per period) and
    ``dlag`` (the dynamic SDM). There is no random-effects spatial model and hence no
    Hausman test (fixed effects only).
    """
    if dlag is not None:
        return _dynamic(
            "sdm",
            fml,
            data,
            W,
            unit,
            time,
            effects,
            dlag,
            durbin,
            incomplete,
            lee_yu=lee_yu,
            fixed_rho=fixed_rho,
            rho_search=None if rho_search == "exact" else rho_search,
            method=None if method == "auto" else method,
        )
    return _fit(
        "sdm",
        fml,
        data,
        W,
        unit,
        time,
        effects,
        lee_yu,
        durbin,
        fixed_rho,
        rho_search,
        method,
        level=level,
        incomplete=incomplete,
    )


@vocabulary(renamed={"formula": "fml"})
def sem(
    fml: str,
    data: Any,
    *,
    W: Any,
    unit: str,
    time: str,
    effects: str = "twoways",
    lee_yu: bool | None = None,
    fixed_lambda: float | None = None,
    method: str = "auto",
    level: float = 0.95,
    incomplete: str = "error",
) -> SpatialResult:
    """Spatial error panel y = X beta + FE + u, u = lambda W u + e, by ML (concentrated
    likelihood in lambda; beta by GLS given lambda). See :func:`sar` for ``effects``,
    ``lee_yu`` and a time-varying ``W`` (u_t = lambda W_t u_t + e_t). The spatial parameter
    is reported as ``lambda``."""
    return _fit(
        "sem",
        fml,
        data,
        W,
        unit,
        time,
        effects,
        lee_yu,
        None,
        fixed_lambda,
        "exact",
        method,
        fixed_name="fixed_lambda",
        level=level,
        incomplete=incomplete,
    )


@vocabulary(renamed={"formula": "fml"})
def sdem(
    fml: str,
    data: Any,
    *,
    W: Any,
    unit: str,
    time: str,
    effects: str = "twoways",
    lee_yu: bool | None = None,
    durbin: list[str] | None = None,
    fixed_lambda: float | None = None,
    method: str = "auto",
    level: float = 0.95,
    incomplete: str = "error",
) -> SpatialResult:
    """Spatial Durbin error panel y = X beta + W X theta + FE + u, u = lambda W u + e."""
    return _fit(
        "sdem",
        fml,
        data,
        W,
        unit,
        time,
        effects,
        lee_yu,
        durbin,
        fixed_lambda,
        "exact",
        method,
        fixed_name="fixed_lambda",
        level=level,
        incomplete=incomplete,
    )


@vocabulary(renamed={"formula": "fml"})
def sac(
    fml: str,
    data: Any,
    *,
    W: Any,
    unit: str,
    time: str,
    effects: str = "twoways",
    lee_yu: bool | None = None,
    method: str = "auto",
    level: float = 0.95,
    incomplete: str = "error",
) -> SpatialResult:
    """SAC / SARAR panel y = rho W y + X beta + FE + u, u = lambda W u + e, by ML
    (Elhorst 2014; Stata xsmle ``model(sac)``): beta and sigma2 concentrated out, (rho,
    lambda) by nested Brent searches, SEs from the analytic information matrix. Effects
    (``impacts()``) are those of the lag part, (I - rho W)^-1 beta_k. See :func:`sar` for
    ``effects``, ``lee_yu`` and ``method`` (the sparse path estimates tr(H'G~), tr(G~'G~),
    tr(H'H) with control-variate Hutchinson probes, H = W(I - lambda W)^-1). There is no
    random-effects spatial model and hence no Hausman test (fixed effects only).
    """
    return _fit(
        "sac",
        fml,
        data,
        W,
        unit,
        time,
        effects,
        lee_yu,
        None,
        None,
        "exact",
        method,
        level=level,
        incomplete=incomplete,
    )


@vocabulary(renamed={"formula": "fml"})
def gns(
    fml: str,
    data: Any,
    *,
    W: Any,
    unit: str,
    time: str,
    M: Any = None,
    effects: str = "twoways",
    lee_yu: bool | None = None,
    durbin: list[str] | None = None,
    fixed_lambda: float | None = None,
    method: str = "auto",
    level: float = 0.95,
    incomplete: str = "error",
) -> SpatialResult:
    """General nesting spatial panel (Elhorst 2014, ch. 2; Manski 1993)
    y = rho W y + X beta + W X theta + FE + u, u = lambda M u + e, by ML: the SAC model with
    Durbin terms. beta and sigma2 are concentrated out, (rho, lambda) found by nested Brent
    searches, SEs from the analytic information matrix (as :func:`sac`). ``M`` (the error
    weights) defaults to ``W``; a separate ``M`` needs the dense path. ``durbin`` lists the
    regressors with a W X term (default: all). Effects (``impacts()``) are those of the SDM
    part, (I - rho W)^-1 (beta_k I + theta_k W). ``fixed_lambda=0`` gives the SDM
    likelihood; ``durbin=[]`` gives the SAC model.

    Weak identification: Gibbons and Overman (2012, J. Regional Science 52(2)) show that
    the GNS parameters are at best weakly identified: rho W y, W X theta and lambda M u can
    all produce the same spatial covariance, so (rho, theta, lambda) trade off against each
    other, estimates are unstable and their standard errors large (Elhorst 2014 finds
    GNS parameters "either inflated or wrongly insignificant"). Read the LR intervals of
    rho and lambda (``result.spatial_intervals()``; a ``WeakIdentificationWarning`` when
    they are wide) and prefer the SDM or SDEM unless the application separates the
    channels. See :func:`sar` for ``effects``, ``lee_yu``, ``method``, ``incomplete`` and
    a time-varying ``W`` (then M_t = W_t unless ``M`` is given).
    """
    return _fit(
        "gns",
        fml,
        data,
        W,
        unit,
        time,
        effects,
        lee_yu,
        durbin,
        None,
        "exact",
        method,
        level=level,
        incomplete=incomplete,
        M=M,
        fixed_lambda=fixed_lambda,
    )

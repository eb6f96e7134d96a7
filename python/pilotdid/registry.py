"""The estimator registry: the one documented way an estimator family reaches another.

Mechanism effects (:mod:`pilotdid.mechanisms.two_step`) and the placebo statistic
(:mod:`pilotdid.robust.randomization`) re-estimate the policy effect with the
heterogeneity-robust DID estimators. Rather than importing the DID family's modules, they look
an estimator up here by its code (``"cs"``, ``"sa"``, ``"bjs"``, ``"did2s"``: the codes of
``pilotdid.event_study(estimator=...)``; ``"sdid"``: synthetic DID by cohort) and get

- ``fit(data, y=, unit=, time=, cohort=, controls=)``: the estimator's fit for an overall
  effect, with ``cohort`` the first-treated period column (0 = never treated) and
  ``controls`` a list of column names (or None), and
- ``overall(result)``: ``(estimate, std_error)`` of the overall ATT of that fit.

The DID modules are imported when an estimator is fitted, not when this module is, so
importing the registry imports no family. A new estimator family that offers an overall ATT
registers here and every caller can use it.

Spatial panels (``"sar"``, ``"sdm"``; :func:`spatial_estimator`) are registered for
:func:`pilotdid.power`: a two-way FE fit ``y ~ regressors`` with ``W``, and the
``(estimate, std_error)`` of a coefficient, of rho, or of a direct / indirect / total effect;
:func:`spatial_layout` maps a unit column onto W's ids the way the spatial family does.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pilotdid._core import PilotdidError

__all__ = [
    "OverallEstimator",
    "overall_estimator",
    "OVERALL_ESTIMATORS",
    "SpatialEstimator",
    "spatial_estimator",
    "SPATIAL_ESTIMATORS",
    "SPATIAL_TARGETS",
]


@dataclass(frozen=True)
class OverallEstimator:
    """A DID estimator as seen by other families: its fit and its overall-ATT accessor."""

    code: str
    name: str
    fit: Callable[..., Any]
    overall: Callable[[Any], tuple[float, float]]


def _controls(controls: Sequence[str] | None) -> list[str] | None:
    return list(controls) if controls else None


def _quiet_few_clusters(fit: Callable[..., Any]) -> Callable[..., Any]:
    """The fit without its FewClustersWarning: callers refit many times (a placebo loop runs
    one fit per draw) on samples whose cluster count the user's own fit already warned about."""

    @functools.wraps(fit)
    def quiet(*args: Any, **kwargs: Any) -> Any:
        from pilotdid.results.event_study import FewClustersWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FewClustersWarning)
            return fit(*args, **kwargs)

    return quiet


@_quiet_few_clusters
def _fit_cs(data: Any, *, y: str, unit: str, time: str, cohort: str, controls: Any) -> Any:
    from pilotdid.did.staggered import aggte, att_gt

    ctrls = _controls(controls)
    xf = ("~ " + " + ".join(ctrls)) if ctrls else None
    fit = att_gt(data, y=y, time=time, unit=unit, cohort=cohort, controls=xf)
    return aggte(fit, type="simple")


@_quiet_few_clusters
def _fit_sa(data: Any, *, y: str, unit: str, time: str, cohort: str, controls: Any) -> Any:
    from pilotdid.did.sun_abraham import sunab

    return sunab(data, y=y, time=time, unit=unit, cohort=cohort, controls=_controls(controls))


@_quiet_few_clusters
def _fit_bjs(data: Any, *, y: str, unit: str, time: str, cohort: str, controls: Any) -> Any:
    from pilotdid.did.event_studies import imputation

    return imputation(data, y=y, time=time, unit=unit, cohort=cohort, controls=_controls(controls))


@_quiet_few_clusters
def _fit_did2s(data: Any, *, y: str, unit: str, time: str, cohort: str, controls: Any) -> Any:
    from pilotdid.did.event_studies import did2s

    return did2s(
        data,
        y=y,
        time=time,
        unit=unit,
        cohort=cohort,
        controls=_controls(controls),
        event=False,
    )


def _fit_sdid(data: Any, *, y: str, unit: str, time: str, cohort: str, controls: Any) -> Any:
    """Synthetic DID by cohort (Arkhangelsky et al. 2021) with the jackknife s.e.: the
    variance that needs no replicate loop of its own, so a caller's replicates stay one fit
    each (the placebo s.e. would nest 200 refits in every replicate)."""
    from pilotdid.did.synthetic_did import synthdid

    return synthdid(
        data,
        y=y,
        unit=unit,
        time=time,
        cohort=cohort,
        vcov="jackknife",
        controls=_controls(controls),
    )


OVERALL_ESTIMATORS: dict[str, OverallEstimator] = {
    e.code: e
    for e in (
        OverallEstimator(
            "cs",
            "Callaway & Sant'Anna (aggte simple)",
            _fit_cs,
            lambda r: (r.overall_att, r.overall_se),
        ),
        OverallEstimator("sa", "Sun & Abraham", _fit_sa, lambda r: (r.att, r.att_se)),
        OverallEstimator(
            "bjs",
            "Borusyak-Jaravel-Spiess imputation",
            _fit_bjs,
            lambda r: (r.extra["att"], r.extra["att_se"]),
        ),
        OverallEstimator(
            "did2s",
            "Gardner two-stage DID",
            _fit_did2s,
            lambda r: (r.estimate[0], r.std_error[0]),
        ),
        OverallEstimator(
            "sdid",
            "synthetic DID (jackknife s.e.)",
            _fit_sdid,
            lambda r: (r.estimate, r.std_error),
        ),
    )
}


def overall_estimator(estimator: str) -> OverallEstimator:
    """The registered estimator with this code; a PilotdidError naming the codes otherwise."""
    try:
        return OVERALL_ESTIMATORS[estimator]
    except (KeyError, TypeError):
        codes = ", ".join(f"'{c}'" for c in OVERALL_ESTIMATORS)
        raise PilotdidError(f"option 'estimator': {estimator!r} is not one of {codes}") from None


def aggregate_att_gt(att_gt_result: Any, **options: Any) -> Any:
    """``pilotdid.aggte`` for families outside did/ that build ATT(g,t) cells (the exposure DID
    of spatial/): the one way they reach the CS aggregations."""
    from pilotdid.did.staggered import aggte

    return aggte(att_gt_result, **options)


# --- spatial models, as seen by pilotdid.power (issue 19: power "for their rho and effects") ---

#: What a spatial power run can test: the treatment's coefficient, the spatial lag rho, or the
#: treatment's LeSage-Pace direct / indirect / total effect.
SPATIAL_TARGETS = ("coef", "rho", "direct", "indirect", "total")


@dataclass(frozen=True)
class SpatialEstimator:
    """A spatial panel model as seen by other families: ``fit(data, y=, regressors=, W=,
    unit=, time=)`` (two-way fixed effects, the DID design) and ``target(result, target,
    term)``: ``(estimate, std_error)`` of the term's coefficient, of rho, or of the term's
    direct / indirect / total effect (delta-method s.e., no simulation draws)."""

    code: str
    name: str
    fit: Callable[..., Any]
    durbin: bool

    def target(self, result: Any, target: str, term: str) -> tuple[float, float]:
        if target == "coef":
            return float(result.coef()[term]), float(result.se()[term])
        if target == "rho":
            return float(result.rho), float(result.se()["rho"])
        imp = result.impacts(reps=0)
        key = f"{target}:{term}"
        return float(imp.coef()[key]), float(imp.se()[key])


def _spatial_fit(model: str) -> Callable[..., Any]:
    def fit(data: Any, *, y: str, regressors: Sequence[str], W: Any, unit: str, time: str) -> Any:
        from pilotdid.results.spatial import WeakIdentificationWarning
        from pilotdid.spatial import models

        # replicate loops refit many times: the user's own fit already showed these warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", WeakIdentificationWarning)
            warnings.simplefilter("ignore", UserWarning)
            return getattr(models, model)(
                f"{y} ~ {' + '.join(regressors)}", data, W=W, unit=unit, time=time
            )

    return fit


SPATIAL_ESTIMATORS: dict[str, SpatialEstimator] = {
    e.code: e
    for e in (
        SpatialEstimator("sar", "spatial lag (SAR) panel, two-way FE", _spatial_fit("sar"), False),
        SpatialEstimator(
            "sdm", "spatial Durbin (SDM) panel, two-way FE", _spatial_fit("sdm"), True
        ),
    )
}


def spatial_estimator(estimator: str) -> SpatialEstimator:
    """The registered spatial model with this code; a PilotdidError naming the codes otherwise."""
    try:
        return SPATIAL_ESTIMATORS[estimator]
    except (KeyError, TypeError):
        codes = ", ".join(f"'{c}'" for c in SPATIAL_ESTIMATORS)
        raise PilotdidError(f"option 'estimator': {estimator!r} is not one of {codes}") from None


def spatial_layout(W: Any, unit_values: Sequence[Any]) -> tuple[Any, Any]:
    """W as a dense array in W's unit order and each row's position in it (the spatial
    family's own mapping of a unit column onto W's ids); an error names units not in W."""
    import numpy as np

    from pilotdid.spatial._inputs import _as_weights, _is_period_weights
    from pilotdid.spatial.weights import _key

    if _is_period_weights(W):
        raise PilotdidError(
            "option 'W': power simulates with one W; a W per period (dict or list) is not "
            "available here"
        )
    w = _as_weights(W)
    index = {_key(v): i for i, v in enumerate(w.ids)}
    missing = list(dict.fromkeys(v for v in unit_values if _key(v) not in index))
    if missing:
        raise PilotdidError(
            f"option 'W': {len(missing)} unit(s) of the data are not in W's ids, e.g. "
            f"{missing[:3]}; build W for the data's units"
        )
    pos = np.asarray([index[_key(v)] for v in unit_values], dtype=np.int64)
    return np.ascontiguousarray(w.to_dense()), pos

"""Time-space dynamic spatial panels (dynamic SAR / SDM) by QML with the bias correction of
Yu, de Jong & Lee (2008, J. Econometrics 146) for unit effects and of Lee & Yu (2010,
Econometric Theory 26) for two-way effects; reached through ``sar(..., dlag=)`` and
``sdm(..., dlag=)``. The numbers are computed in ``src/spatial/dynamic.rs``."""

from __future__ import annotations

import warnings
from typing import Any

from pilotdid import _core
from pilotdid._core import PilotdidError
from pilotdid.results.spatial_dynamic import DynamicSpatialResult
from pilotdid.spatial._inputs import _prepare

__all__ = ["DLAGS"]

#: dlag spellings: xsmle's codes and their names.
DLAGS = {1: 1, 2: 2, 3: 3, "time": 1, "spacetime": 2, "both": 3}


def _check_dlag(dlag: Any) -> int:
    """xsmle's ``dlag``: 1 or "time" (y_{t-1}), 2 or "spacetime" (W y_{t-1}), 3 or "both"."""
    if isinstance(dlag, bool) or dlag not in DLAGS:
        raise PilotdidError(
            f"option 'dlag': {dlag!r} (use 1 or 'time' for y(t-1), 2 or 'spacetime' for "
            "W y(t-1), 3 or 'both'; None for the static model)"
        )
    return DLAGS[dlag]


def _fit_dynamic(
    model: str,
    fml: str,
    data: Any,
    W: Any,
    unit: str,
    time: str,
    effects: str,
    dlag: int,
    durbin: list[str] | None,
    incomplete: str,
    refused: dict[str, Any],
) -> DynamicSpatialResult:
    """Fits a dynamic SAR / SDM; ``refused`` holds the static-only options the caller got
    (name -> value), each of which must be at its default."""
    for name, value in refused.items():
        if value is not None:
            raise PilotdidError(
                f"option '{name}' is not available with dlag= (the dynamic model is fitted by "
                "the direct QML with an exact log-determinant and a dense bias correction)"
            )
    if effects not in ("individual", "twoways"):
        raise PilotdidError(
            f"option 'effects': {effects!r} is not available with dlag= (use 'individual', "
            "Yu, de Jong & Lee 2008, or 'twoways', Lee & Yu 2010)"
        )
    p = _prepare(fml, data, W, unit, time, incomplete)
    if len(p.periods) < 3:
        raise PilotdidError(
            f"option 'dlag': a dynamic spatial panel needs at least 3 periods (one is lost to "
            f"the lag y(t-1) and the fixed effects need two more); the panel has "
            f"{len(p.periods)} ({', '.join(map(str, p.periods))})"
        )
    dur_idx = None
    if model == "sdm" and durbin is not None:
        bad = [d for d in durbin if d not in p.xnames]
        if bad:
            raise PilotdidError(f"option 'durbin': {bad[0]!r} is not a regressor")
        dur_idx = [p.xnames.index(d) for d in durbin]
    core = _core.sp_dynamic_fit(
        p.y,
        p.xs,
        p.xnames,
        p.pos,
        p.tcode,
        p.w._sparse(),
        model=model,
        dlag=dlag,
        effects=effects,
        durbin=dur_idx,
    )
    res = DynamicSpatialResult(
        core,
        model=model,
        formula=fml,
        effects=effects,
        lee_yu=False,
        unit_ids=p.w.ids,
        periods=p.periods[1:],
        unit=unit,
        time=time,
        dropped_units=p.dropped_units,
        dropped_rows=p.dropped_rows,
        w_note=p.w_note,
        dlag=dlag,
        depvar=p.depvar,
    )
    for msg in res.warnings:
        warnings.warn(f"dynamic {model.upper()}: {msg}", UserWarning, stacklevel=4)
    return res

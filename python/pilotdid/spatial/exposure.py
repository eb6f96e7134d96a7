"""Exposure-based spatial difference-in-differences (Butts 2023, "Difference-in-Differences
with Spatial Spillovers", arXiv 2105.03737).

Butts shows that when treatment spills over onto nearby units, a DID that uses nearby untreated
units as controls is biased: the comparison group is itself affected. His fix is an *exposure
mapping*: each unit's exposure at time t is a function of who is treated at t (treated
neighbours under a weights matrix ``W``, or the distance to the nearest treated unit, binned in
rings). The direct effect compares treated units with untreated units that are *unexposed*; the
spillover effect (per ring) compares untreated exposed units with untreated unexposed units.

The group-time effects are computed in Rust (``core/src/did/exposure.rs``) as an ``AttGtCore``, so
the aggregations (:func:`pilotdid.aggte`, R ``did``'s weights and ``wif``), the influence-function
standard errors (clustered by unit) and the multiplier bootstrap with uniform bands are the ones
of :func:`pilotdid.att_gt`.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from pilotdid import _core
from pilotdid._args import (
    MAX_REPS,
    check_bool,
    check_choice,
    check_float,
    check_int,
    check_level,
    check_seed,
    check_str,
    vocabulary,
)
from pilotdid._core import PilotdidError
from pilotdid._frame import ids, numeric, to_polars
from pilotdid.registry import aggregate_att_gt
from pilotdid.results._inference import normal_quantile
from pilotdid.results.exposure import ExposureDidResult, SmallGroupsWarning, small_groups_note
from pilotdid.results.staggered import AttGtResult
from pilotdid.spatial.weights import Weights

#: mean Earth radius (km), as :func:`pilotdid.spatial.weights.inverse_distance`
EARTH_RADIUS_KM = 6371.0088


def haversine_km(lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> np.ndarray:
    """Great-circle distance in km between points (degrees), broadcasting."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp = p2 - p1
    dl = np.radians(lon2) - np.radians(lon1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def _check_coords(lat: np.ndarray, lon: np.ndarray) -> None:
    if not (np.all(np.isfinite(lat)) and np.all(np.isfinite(lon))):
        raise PilotdidError("coordinates: 'lat' and 'lon' must be finite for every unit")
    if np.any(np.abs(lat) > 90):
        raise PilotdidError(
            f"coordinates: 'lat' must be in [-90, 90] degrees, found {lat[np.abs(lat) > 90][0]}"
        )
    if np.any(np.abs(lon) > 180):
        raise PilotdidError(
            f"coordinates: 'lon' must be in [-180, 180] degrees, found {lon[np.abs(lon) > 180][0]}"
        )


def check_rings(rings_km: Any) -> np.ndarray:
    """Ring cutoffs in km: at least two, finite, starting at 0, strictly increasing."""
    try:
        r = np.asarray(rings_km, dtype=float).ravel()
    except (TypeError, ValueError) as exc:
        raise PilotdidError(f"option 'rings_km': expected numbers, got {rings_km!r}") from exc
    if len(r) < 2 or not np.all(np.isfinite(r)):
        raise PilotdidError(
            "option 'rings_km': give at least two finite cutoffs in km, e.g. (0, 50, 100, 200)"
        )
    if r[0] != 0:
        raise PilotdidError(f"option 'rings_km': the first cutoff must be 0 km, got {r[0]:g}")
    if np.any(np.diff(r) <= 0):
        raise PilotdidError(
            f"option 'rings_km': cutoffs must be strictly increasing, got {tuple(r.tolist())} "
            "(a zero-width ring or a cutoff of zero after the first is not allowed)"
        )
    return r


def nearest_treated_km(lat: Any, lon: Any, treated: Any) -> np.ndarray:
    """Distance (km, haversine) from each unit to the nearest *other* unit treated at each
    period. ``treated`` is n × T boolean; returns n × T (inf when no other unit is treated)."""
    la = np.asarray(lat, dtype=float)
    lo = np.asarray(lon, dtype=float)
    _check_coords(la, lo)
    d = haversine_km(la[:, None], lo[:, None], la[None, :], lo[None, :])
    np.fill_diagonal(d, np.inf)
    tr = np.asarray(treated, dtype=bool)
    out = np.full(tr.shape, np.inf)
    for k in range(tr.shape[1]):
        if tr[:, k].any():
            out[:, k] = d[:, tr[:, k]].min(axis=1)
    return out


def ring_exposure(dist_km: Any, rings_km: Any) -> np.ndarray:
    """Ring index: k (1-based) when ``rings_km[k-1] <= d < rings_km[k]``, 0 beyond the outer
    cutoff (unexposed)."""
    r = check_rings(rings_km)
    d = np.asarray(dist_km, dtype=float)
    k = np.searchsorted(r, d, side="right")  # d in [r[k-1], r[k]) -> k
    return np.where(k >= len(r), 0, k).astype(np.int64)


def treated_share(W: Weights | np.ndarray, treated: Any) -> tuple[np.ndarray, np.ndarray]:
    """(sum_j w_ij D_jt, share of i's neighbours treated at t), both n × T."""
    m = W.to_dense() if isinstance(W, Weights) else np.asarray(W, dtype=float)
    tr = np.asarray(treated, dtype=float)
    s = m @ tr
    nb = (m != 0).astype(float) @ tr
    deg = (m != 0).sum(axis=1).astype(float)
    share = np.divide(nb, deg[:, None], out=np.zeros_like(nb), where=deg[:, None] > 0)
    return s, share


def _weights_by_period(W: Any, periods: np.ndarray, unit_ids: np.ndarray) -> list[np.ndarray]:
    """One dense matrix per period, rows/columns in ``unit_ids`` order."""
    if isinstance(W, Weights):
        Ws = [W] * len(periods)
    elif isinstance(W, Mapping):
        missing = [p for p in periods.tolist() if p not in W]
        if missing:
            raise PilotdidError(f"option 'W': no weights matrix for period(s) {missing[:5]}")
        Ws = [W[p] for p in periods.tolist()]
    elif isinstance(W, Sequence) and not isinstance(W, str):
        if len(W) != len(periods):
            raise PilotdidError(f"option 'W': {len(W)} weights matrices for {len(periods)} periods")
        Ws = list(W)
    else:
        raise PilotdidError("option 'W': expected a Weights, a {time: Weights} dict or a list")
    first_ids = None
    out = []
    for p, w in zip(periods.tolist(), Ws):
        if not isinstance(w, Weights):
            raise PilotdidError(f"option 'W': the matrix for period {p} is not a Weights")
        key = sorted(map(str, w.ids.tolist()))
        if first_ids is None:
            first_ids = key
        elif key != first_ids:
            raise PilotdidError(
                f"option 'W': the weights for period {p} cover a different set of units than "
                f"those for period {periods[0]}; every W_t must have the same units"
            )
        out.append(w.subset(list(unit_ids)).to_dense())
    return out


def _ring_labels(r: np.ndarray) -> list[str]:
    return [f"spillover[{a:g},{b:g})" for a, b in zip(r[:-1], r[1:])]


@vocabulary()
def exposure_did(
    data: Any,
    *,
    y: str,
    unit: str,
    time: str,
    cohort: str | None = None,
    treatment: str | None = None,
    W: Any = None,
    share_threshold: float | None = None,
    lat: str | None = None,
    lon: str | None = None,
    coords: Any = None,
    rings_km: Any = None,
    control_group: str = "never",
    level: float = 0.95,
    bstrap: bool = False,
    reps: int = 1000,
    cband: bool = False,
    seed: int = 0,
) -> ExposureDidResult:
    """Direct and spillover effects with exposure-clean comparisons (Butts 2023).

    Exposure at t follows who is treated at t (time-varying as neighbours adopt):

    - ``W=`` a :class:`~pilotdid.spatial.Weights` (or ``{time: Weights}`` / a list, one per
      period): exposed if sum_j w_ij D_jt > 0, or if the share of treated neighbours is
      ``>= share_threshold``;
    - ``rings_km=(0, 50, 100, 200)`` with coordinates (``lat=``/``lon=`` columns of ``data``,
      or ``coords=`` a frame with ``unit``, ``lat``, ``lon``): the ring of the distance
      (haversine km) to the nearest other treated unit; beyond the outer cutoff is unexposed.

    Each ATT(g,t) is the difference in mean changes (base period: the last before g for post
    cells, t - 1 for pre cells, R ``did``'s varying base) between the units of group g and
    the comparison units that are never treated (``control_group="notyet"``: or not yet
    treated at the base period and t) **and** unexposed at the base period and at t.

    - direct: groups are treatment cohorts;
    - spillover: groups are never-treated units by the period they are first exposed;
      per ring, the units whose ring at first exposure is that ring.

    With two periods this is the 2×2 of Butts (2023, Section 3). Aggregations (simple,
    dynamic, group, calendar) use :func:`pilotdid.aggte`'s code with R ``did``'s weight
    influence function; analytic SEs are influence-function SEs clustered by unit;
    ``bstrap=True`` gives the multiplier bootstrap with uniform bands (``cband``).
    """
    y = check_str("y", y)
    unit = check_str("unit", unit)
    time = check_str("time", time)
    if (cohort is None) == (treatment is None):
        raise PilotdidError("give exactly one of 'cohort' (first treated period) or 'treatment'")
    control_group = check_choice("control_group", control_group, ("never", "notyet"))
    level = check_level(level)
    bstrap = check_bool("bstrap", bstrap)
    cband = check_bool("cband", cband)
    seed = check_seed(seed)
    reps = check_int("reps", reps, lo=2, hi=MAX_REPS)
    if cband and not bstrap:
        raise PilotdidError(
            "option 'cband': a uniform band needs the multiplier bootstrap (bstrap=True)"
        )
    if (W is None) == (rings_km is None):
        raise PilotdidError("give exactly one exposure mapping: 'W' or 'rings_km'")
    if share_threshold is not None:
        if W is None:
            raise PilotdidError("option 'share_threshold' is for W-based exposure only")
        share_threshold = check_float(
            "share_threshold", share_threshold, lo=0.0, hi=1.0, lo_open=True
        )
    rings = check_rings(rings_km) if rings_km is not None else None
    timing = check_str("cohort" if cohort is not None else "treatment", cohort or treatment)
    cols = [y, unit, time, timing]
    if rings is not None and coords is None:
        if lat is None or lon is None:
            raise PilotdidError("rings_km needs coordinates: lat=/lon= columns or coords=")
        cols += [check_str("lat", lat), check_str("lon", lon)]
    df = to_polars(data, cols)
    uid, uvalid = ids(df, unit)
    if not uvalid.all():
        raise PilotdidError(f"column '{unit}' has missing values")
    tv = numeric(df, time)
    if not np.all(np.isfinite(tv)) or np.any(tv != np.floor(tv)):
        raise PilotdidError(f"column '{time}' must hold whole-number periods without gaps")
    yv = numeric(df, y)
    if not np.all(np.isfinite(yv)):
        raise PilotdidError(f"column '{y}' has missing values: exposure DID needs a balanced panel")
    units, ui = np.unique(uid.astype(str), return_inverse=True)
    periods, ti = np.unique(tv.astype(np.int64), return_inverse=True)
    n, T = len(units), len(periods)
    if len(df) != n * T or len(np.unique(ui * T + ti)) != n * T:
        raise PilotdidError(
            f"exposure DID needs a balanced panel: {len(df)} rows for {n} units x {T} periods "
            f"(one row per '{unit}' and '{time}')"
        )
    Y = np.empty((n, T))
    Y[ui, ti] = yv
    tim = numeric(df, timing)
    if cohort is not None:
        c = np.where(~np.isfinite(tim), 0.0, tim)
        per_unit = np.zeros(n)
        per_unit[ui] = c
        if np.any(per_unit[ui] != c):
            raise PilotdidError(f"column '{cohort}' must be constant within each unit")
        if np.any(per_unit != np.floor(per_unit)):
            raise PilotdidError(f"column '{cohort}' must hold whole periods (0 = never)")
        coh = per_unit.astype(np.int64)
    else:
        D = np.zeros((n, T))
        D[ui, ti] = np.nan_to_num(tim)
        if np.any((D != 0) & (D != 1)):
            raise PilotdidError(f"column '{treatment}' must be 0/1")
        if np.any(np.diff(D, axis=1) < 0):
            raise PilotdidError(f"column '{treatment}' switches off: staggered adoption only")
        first = np.argmax(D > 0, axis=1)
        coh = np.where(D.any(axis=1), periods[first], 0).astype(np.int64)
    treated_at = (coh[:, None] != 0) & (coh[:, None] <= periods[None, :])

    # exposure grid (n x T): 0 unexposed, k >= 1 ring (1 for W)
    if rings is not None:
        if coords is not None:
            cf = to_polars(coords, [unit, "lat", "lon"])
            cid = ids(cf, unit)[0].astype(str)
            la_map = dict(zip(cid.tolist(), numeric(cf, "lat").tolist()))
            lo_map = dict(zip(cid.tolist(), numeric(cf, "lon").tolist()))
            miss = [u for u in units if u not in la_map]
            if miss:
                raise PilotdidError(f"coords: no coordinates for unit(s) {miss[:5]}")
            la = np.array([la_map[u] for u in units])
            lo = np.array([lo_map[u] for u in units])
        else:
            la_row, lo_row = numeric(df, lat), numeric(df, lon)
            la, lo = np.empty(n), np.empty(n)
            la[ui], lo[ui] = la_row, lo_row
            if np.any(la[ui] != la_row) or np.any(lo[ui] != lo_row):
                raise PilotdidError("coordinates must be constant within each unit")
        dist = nearest_treated_km(la, lo, treated_at)
        expo = ring_exposure(dist, rings)
        ring_names = _ring_labels(rings)
    else:
        Wt = _weights_by_period(W, periods, units)
        expo = np.zeros((n, T), dtype=np.int64)
        for k, m in enumerate(Wt):
            s, share = treated_share(m, treated_at[:, [k]])
            hit = share[:, 0] >= share_threshold if share_threshold else s[:, 0] > 0
            expo[:, k] = hit.astype(np.int64)
        ring_names = []

    # spillover groups: never-treated units by first exposure period, ring at that period
    never = coh == 0
    ever_exposed = (expo > 0).any(axis=1)
    first_k = np.argmax(expo > 0, axis=1)
    e_cohort = np.where(never & ever_exposed, periods[first_k], 0).astype(np.int64)
    e_ring = np.where(e_cohort != 0, expo[np.arange(n), first_k], 0)

    kinds: dict[str, np.ndarray] = {"direct": coh, "spillover": e_cohort}
    for k, name in enumerate(ring_names, start=1):
        kinds[name] = np.where(e_ring == k, e_cohort, 0).astype(np.int64)

    alpha = 1 - level
    z = normal_quantile(1 - alpha / 2)
    params = dict(
        y=y,
        time=time,
        unit=unit,
        cohort=cohort,
        treatment=treatment,
        controls=[],
        control_group=control_group,
        anticipation=0,
        base_period="varying",
        est_method="exposure",
        weights=None,
        cluster=None,
        bstrap=bstrap,
        reps=reps,
        cband=cband,
        level=float(level),
        alp=alpha,
        seed=seed,
        weight_type="mammen",
    )
    fits: dict[str, AttGtResult] = {}
    yflat = np.ascontiguousarray(Y.ravel())
    eflat = np.ascontiguousarray(expo.ravel())
    for name, grp in kinds.items():
        if not np.any(grp > periods[0]):
            if name == "direct":
                raise PilotdidError("no unit is first treated after the first period")
            continue  # a ring nobody enters: no term
        core = _core.exposure_att_gt_fit(
            np.ascontiguousarray(periods, dtype=np.int64),
            yflat,
            np.ascontiguousarray(grp, dtype=np.int64),
            np.ascontiguousarray(coh, dtype=np.int64),
            eflat,
            control_group=control_group,
            label=name,
            z_crit=z,
            bstrap=bstrap,
            biters=reps,
            cband=cband,
            seed=seed,
            alpha=alpha,
        )
        fits[name] = AttGtResult(core, dict(params))
    grid = dict(
        units=units,
        periods=periods,
        cohort=coh,
        exposure=expo,
        exposure_cohort=e_cohort,
        exposure_ring=e_ring,
    )
    res = ExposureDidResult(
        fits=fits,
        params=dict(params, rings_km=None if rings is None else rings.tolist()),
        grid=grid,
        ring_names=ring_names,
        data=df,
        aggregate=aggregate_att_gt,
    )
    cells = {}
    for kind in res.kinds:
        post = res.att_gt(kind).tidy().filter(pl.col("post"))
        if post.height:
            cells[kind] = (
                post.height,
                int(post.get_column("n_treated").min()),
                int(post.get_column("n_control").min()),
            )
    note = small_groups_note(cells)
    if note is not None:
        warnings.warn(note, SmallGroupsWarning, stacklevel=3)
    return res

"""Bundled data: the 41 Yangtze River Delta cities and a SYNTHETIC smart-city panel.

* :func:`yrd_cities` - the real city table (names, province, GCJ-02 coordinates, smart-city
  pilot batch and how sure it is). Read the caveats in ``data/yrd/README.md``.
* :func:`yrd` - a SYNTHETIC panel, 41 cities x 2006-2021: the pilot list and coordinates are
  real, every covariate, mediator and outcome is SIMULATED from a documented DGP with a
  known truth. It illustrates the toolkit; it says nothing about real cities.
* :func:`yrd_truth` - the true parameters and effects behind :func:`yrd` (``truth.json``),
  including the known dose-response of ``gtfp_dose`` in the construction intensity.
* :func:`simulate_yrd`, :func:`simulate_cities` - the generator itself (any seed, coding,
  number of cities) for Monte Carlo work and benchmarks.
"""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

import numpy as np
import polars as pl

from pilotdid.datasets._simulate import (
    DgpParams,
    simulate_cities,
    simulate_yrd,
    spatial_weights,
)

__all__ = [
    "DgpParams",
    "simulate_cities",
    "simulate_yrd",
    "spatial_weights",
    "yrd",
    "yrd_cities",
    "yrd_truth",
    "yrd_weights",
]

#: dtypes of the columns of ``panel_synthetic.csv`` (all others are Float64).
_PANEL_INT_COLUMNS = (
    "city_id",
    "district_only",
    "year",
    "pilot_batch",
    "cohort",
    "treat",
    "post",
    "did",
    "event_time",
    "green_patents",
    "pilot_programmes",
)
_PANEL_STR_COLUMNS = ("city", "city_zh", "province")


def _panel_dtype(column: str) -> type[pl.DataType]:
    if column in _PANEL_INT_COLUMNS:
        return pl.Int64
    if column in _PANEL_STR_COLUMNS:
        return pl.String
    return pl.Float64


def _yrd_file(name: str) -> Any:
    return files("pilotdid.datasets") / "yrd" / name


def yrd() -> pl.DataFrame:
    """The bundled SYNTHETIC YRD smart-city panel: 41 cities x 2006-2021 (656 rows).

    SYNTHETIC: the cities, coordinates and pilot batches are real (with the caveats of
    ``data/yrd/README.md``); all covariates, mediators (``ln_green_patents``,
    ``ind_upgrade``, ``energy_intensity``) and the outcome ``gtfp`` are simulated, and so are
    the construction-intensity columns: the true latent ``intensity_latent`` (0 before the
    pilot and for never-pilot cities), five indicators of it (``sc_invest_pc``,
    ``broadband_per100``, ``egov_index``, ``pilot_programmes`` (Int64),
    ``iot_stations_km2``) and ``gtfp_dose``, an outcome with a known dose-response
    (``yrd_truth()["dose_response"]``). It equals
    ``simulate_yrd()`` with its defaults: seed 20121, batch 1/2/3 treated from 2013/2014/2015,
    district-only pilot cities coded untreated, no anticipation. The true effects are in
    :func:`yrd_truth`.
    """
    raw = _yrd_file("panel_synthetic.csv").read_bytes()
    header = raw.split(b"\n", 1)[0].decode("utf-8").strip().split(",")
    return pl.read_csv(raw, schema={c: _panel_dtype(c) for c in header})


def yrd_truth() -> dict[str, Any]:
    """The truth behind the SYNTHETIC :func:`yrd` panel (``truth.json``) as a dict.

    Keys include ``parameters`` (every DGP parameter), ``att_gt`` (records with
    ``tau_direct``, ``att_structural``, ``att_total``, ``spillover_never`` by group and
    time), ``aggregations`` (simple / group / dynamic / calendar, as R ``did::aggte``),
    ``overall_att``, ``twfe_estimand``, ``mediation`` (a-paths, b-paths, indirect = a*b,
    direct), ``spatial_effects`` (LeSage-Pace direct / indirect / total) and
    ``dose_response`` (ATT(d|d) and ACRT(d|d) of ``gtfp_dose`` on a dose grid and at
    quantiles, their averages, by cohort-year and by city); ``definitions``
    states exactly what each one means. ``pl.DataFrame(yrd_truth()["att_gt"])`` gives a
    table.
    """
    return json.loads(_yrd_file("truth.json").read_text(encoding="utf-8"))


def yrd_cities() -> pl.DataFrame:
    """The 41 YRD prefecture-level cities (real data, with caveats).

    Columns: ``city_en``, ``city_zh``, ``province``, ``lat``, ``lon`` (GCJ-02 city centres,
    within about 0.5 km of WGS-84), ``pilot_batch`` (1 = "2012" batch, 2 = "2013", 3 =
    "2014"; null = not a whole-city pilot as far as known) and ``pilot_status`` (verified /
    unverified / district-only). Papers code the treatment year of a batch differently: see
    the ``coding`` option of :func:`simulate_yrd` and ``data/yrd/README.md``.
    """
    return pl.read_csv(
        _yrd_file("cities.csv").read_bytes(),
        schema_overrides={"pilot_batch": pl.Int64, "lat": pl.Float64, "lon": pl.Float64},
    )


def yrd_weights() -> np.ndarray:
    """The 41 x 41 spatial weights W of the SYNTHETIC panel's DGP, in ``city_id`` order.

    Row-standardised inverse great-circle distance (km) with a zero diagonal, built from the
    coordinates of :func:`yrd_cities`.
    """
    cities = yrd_cities()
    return spatial_weights(cities["lat"].to_numpy(), cities["lon"].to_numpy())

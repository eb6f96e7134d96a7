"""SYNTHETIC city panels with a known truth: the pilotdid data-generating process (DGP).

Everything this module returns is SIMULATED. The 41 Yangtze River Delta (YRD) cities, their
coordinates and their smart-city pilot batches are real (with the uncertainty documented in
``data/yrd/README.md``); every covariate, mediator and outcome is drawn from the DGP below.

The DGP (``data/yrd/README.md`` and ``../shared/data/DGP.md`` give the full account)
-----------------------------------------------------------------------------------
For city ``i`` and year ``t``, with ``D_it = 1`` once the city's pilot has started::

    M_it   = mediator base_it + a_m * D_it                  (ind_upgrade, energy_intensity)
    log E[green_patents_it] = base_it + a_p * D_it,  green_patents ~ NegBin(mean, size r)
    u_it   = alpha_i + lambda_t + sum_k beta_k (X_kit - ref_k)
             + sum_m b_m (M_mit - ref_m) + tau_it + theta (W D_t)_i + eps_it
    y_t    = (I - rho W)^{-1} u_t                            (spatial Durbin process)

``tau_it`` is the direct effect ``tau(batch, e) = impact_b + slope_b * min(e, cap)`` for
``e = t - g >= 0`` (heterogeneous by batch, growing with event time; zero before adoption
unless ``anticipation > 0``); ``eps`` is AR(1) within city; ``W`` is the row-standardised
inverse-distance matrix (great-circle km, zero diagonal). The mediators are
``ln_green_patents = ln(1 + green_patents)``, ``ind_upgrade`` and ``energy_intensity``; the
covariates are pre-determined (never affected by the pilot). The truth dictionary defines
every reported effect in its ``definitions`` entry.

Construction intensity (own stream, spawn key 1001; see ``_intensity_block``)::

    d_it        = speed_i * (t - g_i + 1) for pilot cities in t >= g_i, else 0
    indicators  = increasing transforms of d_it plus city, trend and noise terms
    gtfp_dose   = y0 + dose_theta * ln(1 + d_it)

``y0`` is ``gtfp``'s untreated part (no tau, no theta W D, untreated mediators), so the
dose-response ATT(d|d) = dose_theta ln(1 + d) is known exactly (truth ``dose_response``).

Every random draw comes from ``numpy.random.default_rng(seed)`` (through fixed child streams),
so one seed reproduces the panel exactly. Options that change the treatment or the spatial
process (coding, anticipation, rho, theta) reuse the same shocks (common random numbers);
only the Poisson part of ``green_patents`` is redrawn where a changed treatment moves its
mean.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import polars as pl

__all__ = [
    "DgpParams",
    "great_circle_km",
    "nb_expected_log1p",
    "simulate_cities",
    "simulate_yrd",
    "spatial_weights",
]

#: Mean Earth radius (km) used for great-circle distances.
EARTH_RADIUS_KM = 6371.0
#: Above this many cities, ``weights="auto"`` switches from dense inverse distance to kNN.
DENSE_MAX = 2000
#: Treatment year of each pilot batch under the two codings.
CODINGS: dict[str, dict[int, int]] = {
    "default": {1: 2013, 2: 2014, 3: 2015},
    "announcement": {1: 2012, 2: 2013, 3: 2014},
}
#: Economic hubs of the YRD and their weight in the centrality index.
YRD_HUBS: tuple[tuple[str, float], ...] = (
    ("Shanghai", 1.0),
    ("Nanjing", 0.8),
    ("Hangzhou", 0.8),
    ("Hefei", 0.6),
)
#: The lat/lon box (degrees) in which ``simulate_cities`` places its cities.
CHINA_BOX = {"lat": (22.0, 42.0), "lon": (100.0, 122.0)}
#: AR(1) coefficient of the idiosyncratic part of every covariate and mediator.
X_AR1 = 0.6
#: Reference values (near the 2006 YRD means): the DGP uses ``beta * (x - ref)``.
REFERENCE_VALUES: dict[str, float] = {
    "ln_gdp_pc": 10.65,
    "pop_density": 1000.0,
    "urbanization": 0.56,
    "gov_exp_share": 0.14,
    "fdi_share": 0.025,
    "fin_dev": 1.3,
    "human_capital": 200.0,
    "ln_green_patents": 4.0,
    "ind_upgrade": 0.85,
    "energy_intensity": 0.9,
}
MEDIATORS = ("ln_green_patents", "ind_upgrade", "energy_intensity")

COLUMNS: dict[str, str] = {
    "city": "city name in English (str); YRD: city_en of cities.csv",
    "city_zh": "city name in Chinese (str)",
    "city_id": "integer city id, 1..N in the order of cities.csv (int)",
    "province": "province (str); simulate_cities: synthetic P01..P30 grid cells",
    "lat": "latitude, degrees (GCJ-02 approximation for the YRD cities)",
    "lon": "longitude, degrees (GCJ-02 approximation for the YRD cities)",
    "district_only": "1 if only a district/zone of the city was a pilot (coded untreated)",
    "year": "calendar year (int)",
    "pilot_batch": "smart-city pilot batch 1/2/3 of the whole city; null if none",
    "cohort": "first treated year under the chosen coding; 0 = never treated",
    "treat": "1 if the city is ever treated (cohort > 0)",
    "post": "1 if treated and year >= cohort (the staggered treatment indicator)",
    "did": "same as post (treat x post), the name used in applied papers",
    "event_time": "year - cohort for treated cities; null for never-treated",
    "ln_gdp_pc": "log real GDP per capita (yuan)",
    "pop_density": "population density, persons per km^2",
    "urbanization": "urban population share (0-1)",
    "gov_exp_share": "general budget expenditure / GDP (0-1)",
    "fdi_share": "actually used FDI / GDP (0-1)",
    "fin_dev": "year-end loans of financial institutions / GDP (ratio)",
    "human_capital": "college students per 10,000 people",
    "green_patents": "green patent applications (count; negative binomial)",
    "ln_green_patents": "ln(1 + green_patents): the innovation mediator",
    "ind_upgrade": "tertiary / secondary output ratio: the industrial mediator",
    "energy_intensity": "tonnes of standard coal per 10,000 yuan GDP: the energy mediator",
    "gtfp": "green total factor productivity index (around 1): the outcome",
    "labour": "employment, 10,000 persons (raw DEA input; GREEN_INPUTS DGP)",
    "investment": "real fixed-asset investment, 100 million yuan (for capital stock by PIM)",
    "energy": "energy use, 10,000 tce (= energy_intensity x real_gdp)",
    "real_gdp": "real GDP, 100 million yuan (= exp(ln_gdp_pc) x population)",
    "so2": "industrial SO2 emissions, tonnes (bad output)",
    "wastewater": "industrial wastewater, 10,000 tonnes (bad output)",
    "dust": "industrial soot and dust, tonnes (bad output)",
    "intensity_latent": (
        "TRUE latent smart-city construction intensity (index units; 0 before the pilot and"
        " for never-pilot cities): the dose of gtfp_dose, unobserved in real data"
    ),
    "sc_invest_pc": "smart-city investment per capita, yuan per person and year (indicator)",
    "broadband_per100": "fixed-broadband subscribers per 100 residents (indicator)",
    "egov_index": "e-government online service index, 0-100 (indicator)",
    "pilot_programmes": "national/provincial digital pilot programmes in force (count; indicator)",
    "iot_stations_km2": "IoT / mobile base stations per km^2 (indicator)",
    "gtfp_dose": (
        "gtfp's untreated part (no binary pilot effect, no spillover) + dose_theta *"
        " ln(1 + intensity_latent): the outcome with a known dose-response"
    ),
}


@dataclass(frozen=True)
class DgpParams:
    """True parameters of the pilotdid synthetic DGP (structural form; see module doc).

    Effects are in outcome (``gtfp``) units unless stated. ``tau_impact``/``tau_slope`` are by
    pilot batch (1, 2, 3): ``tau(b, e) = tau_impact[b] + tau_slope[b] * min(e, cap)``.
    ``beta`` maps each covariate to its structural coefficient per raw unit. Construction
    intensity grows by ``speed_i = intensity_speed_median * exp(intensity_speed_sd * N)``
    a year from adoption; ``gtfp_dose`` gains ``dose_theta * ln(1 + intensity)``.
    """

    rho: float = 0.3
    theta: float = 0.01
    tau_impact: tuple[float, float, float] = (0.020, 0.015, 0.010)
    tau_slope: tuple[float, float, float] = (0.012, 0.008, 0.004)
    tau_growth_cap: int = 10
    anticipation_effect: float = 0.01
    a_patents: float = 0.20
    a_ind_upgrade: float = 0.08
    a_energy_intensity: float = -0.04
    b_patents: float = 0.03
    b_ind_upgrade: float = 0.05
    b_energy_intensity: float = -0.10
    beta: dict[str, float] = field(
        default_factory=lambda: {
            "ln_gdp_pc": 0.04,
            "pop_density": 1e-5,
            "urbanization": 0.10,
            "gov_exp_share": -0.20,
            "fdi_share": 0.50,
            "fin_dev": 0.02,
            "human_capital": 5e-5,
        }
    )
    sigma: float = 0.03
    ar1: float = 0.5
    nb_size: float = 4.0
    gtfp_level: float = 0.95
    year_trend: float = -0.010
    city_load_centrality: float = 0.08
    city_effect_sd: float = 0.04
    year_effect_sd: float = 0.008
    hub_decay_km: float = 300.0
    # Construction intensity and the dose-response of gtfp_dose (see _intensity_block).
    intensity_speed_median: float = 1.0
    intensity_speed_sd: float = 0.4
    dose_theta: float = 0.02

    def validate(self) -> None:
        """Raise ``ValueError`` naming the offending parameter."""
        if not -1.0 < self.rho < 1.0:
            raise ValueError(f"rho={self.rho}: must lie in (-1, 1) for row-standardised W")
        if self.sigma < 0:
            raise ValueError(f"sigma={self.sigma}: must be >= 0")
        if not -1.0 < self.ar1 < 1.0:
            raise ValueError(f"ar1={self.ar1}: must lie in (-1, 1)")
        if self.nb_size <= 0:
            raise ValueError(f"nb_size={self.nb_size}: must be > 0")
        if len(self.tau_impact) != 3 or len(self.tau_slope) != 3:
            raise ValueError("tau_impact and tau_slope need one value per batch (3)")
        if self.tau_growth_cap < 0:
            raise ValueError(f"tau_growth_cap={self.tau_growth_cap}: must be >= 0")
        if not self.intensity_speed_median > 0:
            raise ValueError(f"intensity_speed_median={self.intensity_speed_median}: must be > 0")
        if self.intensity_speed_sd < 0:
            raise ValueError(f"intensity_speed_sd={self.intensity_speed_sd}: must be >= 0")
        missing = set(_COVARIATE_NAMES) - set(self.beta)
        if missing:
            raise ValueError(f"beta lacks coefficients for {sorted(missing)}")

    @property
    def a_paths(self) -> dict[str, float]:
        """Pilot -> mediator effects (patents: on log expected count)."""
        return {
            "ln_green_patents": self.a_patents,
            "ind_upgrade": self.a_ind_upgrade,
            "energy_intensity": self.a_energy_intensity,
        }

    @property
    def b_paths(self) -> dict[str, float]:
        """Mediator -> outcome effects (per raw unit of the observed mediator)."""
        return {
            "ln_green_patents": self.b_patents,
            "ind_upgrade": self.b_ind_upgrade,
            "energy_intensity": self.b_energy_intensity,
        }


class _Design(NamedTuple):
    """Latent-index design of one covariate or mediator (see ``_design_block``)."""

    name: str
    lo: float | None
    hi: float | None
    scale: str  # "identity", "logit" (lo..hi) or "loglogit" (log-normal-like, lo..hi)
    base: float  # latent value at centrality 0.5, z = 0, first year
    load_c: float  # loading on centrality (distance to hubs)
    load_z: float  # loading on the common development factor z0
    sd_city: float  # sd of the city-specific level
    trend: float  # mean latent trend per year
    sd_trend: float  # sd of the city-specific trend
    sd_noise: float  # marginal sd of the AR(1) idiosyncratic part


_COVARIATE_DESIGN: tuple[_Design, ...] = (
    _Design("ln_gdp_pc", None, None, "identity", 10.64, 0.40, 0.08, 0.05, 0.070, 0.006, 0.015),
    _Design("pop_density", 300.0, 4000.0, "loglogit", -0.13, 2.0, 0.2, 0.5, 0.01, 0.005, 0.02),
    _Design("urbanization", 0.45, 0.90, "logit", -1.25, 1.5, 0.4, 0.3, 0.11, 0.01, 0.05),
    _Design("gov_exp_share", 0.08, 0.25, "logit", -0.6, -1.0, -0.2, 0.4, 0.03, 0.01, 0.08),
    _Design("fdi_share", 0.005, 0.06, "logit", -0.56, 1.5, 0.3, 0.5, -0.04, 0.01, 0.15),
    _Design("fin_dev", 0.8, 2.5, "logit", -0.87, 1.0, 0.3, 0.4, 0.06, 0.01, 0.08),
    _Design("human_capital", 50.0, 900.0, "loglogit", -0.08, 1.5, 0.5, 0.5, 0.05, 0.01, 0.05),
)
_MEDIATOR_DESIGN: tuple[_Design, ...] = (
    _Design("log_mu_green_patents", None, None, "identity", 4.0, 2.0, 0.8, 0.4, 0.17, 0.02, 0.10),
    _Design("ind_upgrade", 0.6, 2.3, "logit", -1.76, 1.5, 0.3, 0.3, 0.08, 0.01, 0.08),
    _Design("energy_intensity", 0.35, 1.2, "logit", 0.6, -1.0, -0.3, 0.35, -0.143, 0.01, 0.05),
)
_COVARIATE_NAMES = tuple(d.name for d in _COVARIATE_DESIGN)
#: DGP of the raw green inputs and outputs (drawn from their own stream, see _green_block).
#: Each bad output is an intensity times its base (energy or real GDP) times
#: exp(trend * (year - first year) + effect * did + noise): ``effect`` is the pilot's true
#: effect on the log emission intensity (per unit of the base), holding the base fixed.
GREEN_INPUTS: dict[str, Any] = {
    "spawn_key": 1000,
    "population_10k": {"log_mean": math.log(500.0), "log_sd": 0.5, "growth": 0.005},
    "labour_share": (0.45, 0.60),
    "investment_rate": (0.30, 0.50),
    "investment_rate_noise_sd": 0.05,
    "bad_outputs": {
        "so2": {
            "base": "energy",
            "intensity_log_mean": math.log(10.0),
            "trend": -0.06,
            "effect": -0.10,
            "noise_sd": 0.10,
        },
        "wastewater": {
            "base": "real_gdp",
            "intensity_log_mean": math.log(1.5),
            "trend": -0.04,
            "effect": -0.05,
            "noise_sd": 0.10,
        },
        "dust": {
            "base": "energy",
            "intensity_log_mean": math.log(6.0),
            "trend": -0.05,
            "effect": -0.08,
            "noise_sd": 0.10,
        },
    },
    "intensity_city_sd": 0.4,
}
#: DGP of the construction-intensity indicators (their own stream, see _intensity_block).
#: With ``d`` the latent intensity, ``t`` years since the first year, ``z_i`` a city draw and
#: ``n_it`` an iid N(0, 1) draw (one set per indicator):
#: "level": ``base * exp(city_sd z_i + trend t + noise_sd n_it) + slope * d``;
#: "share": ``top * logistic(logit0 + city_sd z_i + trend t + slope d + noise_sd n_it)``;
#: "count": ``Poisson(base * exp(city_sd z_i))`` (one draw per city: programmes held anyway)
#: ``+ Poisson(slope * d)`` (drawn each year). Every indicator increases with ``d``.
INTENSITY_INDICATORS: dict[str, Any] = {
    "spawn_key": 1001,
    "indicators": {
        "sc_invest_pc": {
            "form": "level",
            "units": "yuan per person and year",
            "base": 60.0,
            "city_sd": 0.3,
            "trend": 0.03,
            "noise_sd": 0.15,
            "slope": 40.0,
        },
        "broadband_per100": {
            "form": "share",
            "units": "subscribers per 100 residents",
            "top": 100.0,
            "logit0": -1.8,
            "city_sd": 0.3,
            "trend": 0.04,
            "noise_sd": 0.05,
            "slope": 0.15,
        },
        "egov_index": {
            "form": "share",
            "units": "index 0-100",
            "top": 100.0,
            "logit0": -0.8,
            "city_sd": 0.3,
            "trend": 0.03,
            "noise_sd": 0.10,
            "slope": 0.25,
        },
        "pilot_programmes": {
            "form": "count",
            "units": "programmes in force",
            "base": 1.0,
            "city_sd": 0.3,
            "slope": 0.5,
        },
        "iot_stations_km2": {
            "form": "level",
            "units": "stations per km^2",
            "base": 0.5,
            "city_sd": 0.4,
            "trend": 0.06,
            "noise_sd": 0.10,
            "slope": 0.4,
        },
    },
}
# Named child streams of default_rng(seed); the position of a name fixes its stream.
_STREAMS = ("geography", "city", "year", "covariates", "mediators", "patents", "counts", "noise")


# --------------------------------------------------------------------------- geography


def great_circle_km(
    lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray
) -> np.ndarray:
    """Haversine great-circle distance in km (broadcasting), Earth radius 6371 km."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dlmb = np.radians(lon2) - np.radians(lon1)
    h = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    return 2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def spatial_weights(
    lat: Sequence[float] | np.ndarray,
    lon: Sequence[float] | np.ndarray,
    *,
    method: str = "invdist",
    k: int = 10,
) -> np.ndarray:
    """Dense row-standardised spatial weights used by the DGP, in the order given.

    ``method="invdist"``: ``w_ij = 1/d_ij`` (great-circle km), zero diagonal, then each row
    divided by its sum. ``method="knn"``: the same inverse distances kept only for the ``k``
    nearest neighbours of each city, then row-standardised (not symmetric).
    """
    lat_a, lon_a = np.asarray(lat, dtype=float), np.asarray(lon, dtype=float)
    n = lat_a.size
    if method == "invdist":
        return _dense_invdist(lat_a, lon_a)
    if method == "knn":
        idx, wts = _knn_invdist(lat_a, lon_a, k)
        w = np.zeros((n, n))
        np.put_along_axis(w, idx, wts, axis=1)
        return w
    raise ValueError(f"method={method!r}: expected 'invdist' or 'knn'")


def _dense_invdist(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    d = great_circle_km(lat[:, None], lon[:, None], lat[None, :], lon[None, :])
    np.fill_diagonal(d, np.inf)
    if np.any(d <= 0.0):
        raise ValueError("two cities share the same coordinates (lat, lon): distance 0")
    w = 1.0 / d
    return w / w.sum(axis=1, keepdims=True)


def _knn_invdist(
    lat: np.ndarray, lon: np.ndarray, k: int, chunk: int = 1024
) -> tuple[np.ndarray, np.ndarray]:
    """Return the k nearest neighbours (great-circle) of each city and row-standardised 1/d."""
    n = lat.size
    if not 1 <= k < n:
        raise ValueError(f"k={k}: need 1 <= k < number of cities ({n})")
    # Nearest by chord length on the unit sphere (monotone in great-circle distance).
    phi, lmb = np.radians(lat), np.radians(lon)
    xyz = np.column_stack((np.cos(phi) * np.cos(lmb), np.cos(phi) * np.sin(lmb), np.sin(phi)))
    idx = np.empty((n, k), dtype=np.int64)
    wts = np.empty((n, k))
    for s in range(0, n, chunk):
        rows = np.arange(s, min(s + chunk, n))
        sim = xyz[rows] @ xyz.T  # cosine of the central angle
        sim[np.arange(rows.size), rows] = -np.inf
        near = np.sort(np.argpartition(-sim, k - 1, axis=1)[:, :k], axis=1)
        dk = great_circle_km(lat[rows, None], lon[rows, None], lat[near], lon[near])
        if np.any(dk <= 0.0):
            raise ValueError("two cities share the same coordinates (lat, lon): distance 0")
        inv = 1.0 / dk
        idx[rows] = near
        wts[rows] = inv / inv.sum(axis=1, keepdims=True)
    return idx, wts


class _SpatialProcess:
    """``y = (I - rho W)^{-1} u`` for a row-standardised W, dense or k-nearest-neighbour.

    Dense W: the inverse, computed once. kNN W: the Neumann series ``sum_m (rho W)^m u`` to
    machine precision (converges since ``||rho W||_inf = |rho| < 1``). No W: no process.
    """

    def __init__(
        self,
        rho: float,
        dense: np.ndarray | None = None,
        knn: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        self.rho = rho
        self.dense = dense
        self.knn = knn
        self._s0: np.ndarray | None = None

    def s0(self) -> np.ndarray:
        """Dense ``(I - rho W)^{-1}``, computed once (dense W only)."""
        if self.dense is None:
            raise ValueError("the spatial multiplier matrix needs a dense W")
        if self._s0 is None:
            self._s0 = np.linalg.inv(np.eye(self.dense.shape[0]) - self.rho * self.dense)
        return self._s0

    @property
    def kind(self) -> str:
        if self.dense is not None:
            return "dense"
        return "knn" if self.knn is not None else "none"

    def wmul(self, v: np.ndarray) -> np.ndarray:
        """``W @ v`` for ``v`` of shape (n, m)."""
        if self.dense is not None:
            return self.dense @ v
        if self.knn is not None:
            idx, wts = self.knn
            return np.einsum("ik,ikm->im", wts, v[idx])
        return np.zeros_like(v)

    def solve(self, u: np.ndarray) -> np.ndarray:
        """``(I - rho W)^{-1} u`` for ``u`` of shape (n, m)."""
        if self.rho == 0.0 or self.kind == "none":
            return u.copy()
        if self.dense is not None:
            return self.s0() @ u
        acc = u.copy()
        term = u
        scale = max(1.0, float(np.max(np.abs(u))))
        for _ in range(10_000):
            term = self.rho * self.wmul(term)
            acc += term
            if float(np.max(np.abs(term))) <= 1e-17 * scale:
                break
        return acc

    def lesage_pace(self, tau: float, theta: float) -> dict[str, float | None]:
        """LeSage-Pace effects of S = (I - rho W)^{-1}(tau I + theta W) (mean diag, rows)."""
        if self.dense is not None:
            n = self.dense.shape[0]
        elif self.knn is not None:
            n = self.knn[0].shape[0]
        else:
            raise ValueError("LeSage-Pace effects need a spatial weights matrix")
        ones = np.ones((n, 1))
        total = float(np.mean(self.solve(tau * ones + theta * self.wmul(ones))))
        if self.dense is None:
            return {
                "direct": None,
                "indirect": None,
                "total": total,
                "mean_diag_S0": None,
                "mean_diag_S0W": None,
            }
        s0 = self.s0()
        md0 = float(np.mean(np.diag(s0)))
        md1 = float(np.mean(np.sum(s0 * self.dense.T, axis=1)))  # diag(S0 W)
        direct = tau * md0 + theta * md1
        return {
            "direct": direct,
            "indirect": total - direct,
            "total": total,
            "mean_diag_S0": md0,
            "mean_diag_S0W": md1,
        }


# --------------------------------------------------------------------------- helpers


def nb_expected_log1p(mu: np.ndarray | float, size: float, step: float = 0.05) -> np.ndarray:
    """``E[ln(1 + Y)]`` for ``Y ~ NegBin(mean mu, size r)``, to about 1e-13.

    Uses Frullani's integral and the NB generating function,
    ``E ln(1+Y) = int_0^inf e^{-s} (1 - (1 + mu (1 - e^{-s}) / r)^{-r}) ds / s``, evaluated
    by the trapezoid rule in ``x = ln s`` on a fixed grid (spectrally accurate).
    """
    mu_a = np.asarray(mu, dtype=float)
    flat = mu_a.ravel()
    if np.any(flat < 0):
        raise ValueError("mu must be >= 0")
    x = np.arange(-60.0, 4.0 + step / 2, step)
    s = np.exp(x)
    em = -np.expm1(-s) / size  # (1 - e^{-s}) / r
    w = np.exp(-s) * step
    out = np.empty_like(flat)
    chunk = max(1, 4_000_000 // x.size)
    for a in range(0, flat.size, chunk):
        z = np.outer(flat[a : a + chunk], em)
        out[a : a + chunk] = (-np.expm1(-size * np.log1p(z))) @ w
    return out.reshape(mu_a.shape)


def _ar1(eta: np.ndarray, phi: float) -> np.ndarray:
    """Stationary AR(1) with unit marginal variance along axis 0 of ``eta`` (T, ...)."""
    out = np.empty_like(eta)
    out[0] = eta[0]
    c = math.sqrt(1.0 - phi * phi)
    for t in range(1, eta.shape[0]):
        out[t] = phi * out[t - 1] + c * eta[t]
    return out


def _transform(latent: np.ndarray, d: _Design) -> np.ndarray:
    if d.scale == "identity":
        return latent
    frac = 1.0 / (1.0 + np.exp(-latent))
    if d.scale == "logit":
        return d.lo + (d.hi - d.lo) * frac  # type: ignore[operator]
    lo, hi = math.log(d.lo), math.log(d.hi)  # type: ignore[arg-type]
    return np.exp(lo + (hi - lo) * frac)


def _design_block(
    designs: tuple[_Design, ...],
    rng: np.random.Generator,
    centrality: np.ndarray,
    z0: np.ndarray,
    tt: np.ndarray,
) -> dict[str, np.ndarray]:
    """Draw one block of covariates or mediators; returns name -> (n, T) array.

    Each is ``transform(base + load_c (c - 0.5) + load_z z0 + sd_city z_i
    + (trend + sd_trend v_i) t + sd_noise AR1_it)`` with ``transform`` the identity, a
    logistic map onto ``(lo, hi)``, or its log-scale version (``"loglogit"``).
    """
    n, k, n_t = centrality.size, len(designs), tt.size
    zc = rng.standard_normal((n, k))
    vc = rng.standard_normal((n, k))
    noise = _ar1(rng.standard_normal((n_t, n, k)), X_AR1)  # (T, n, k)
    out = {}
    for j, d in enumerate(designs):
        latent = (
            d.base
            + d.load_c * (centrality - 0.5)[:, None]
            + d.load_z * z0[:, None]
            + d.sd_city * zc[:, j, None]
            + (d.trend + d.sd_trend * vc[:, j, None]) * tt[None, :]
            + d.sd_noise * noise[:, :, j].T
        )
        out[d.name] = _transform(latent, d)
    return out


def _centrality(
    lat: np.ndarray,
    lon: np.ndarray,
    hub_lat: np.ndarray,
    hub_lon: np.ndarray,
    hub_w: np.ndarray,
    decay_km: float,
) -> np.ndarray:
    """``c_i = max_h w_h exp(-d_ih / decay)``: closeness to economic hubs, in (0, 1]."""
    d = great_circle_km(lat[:, None], lon[:, None], hub_lat[None, :], hub_lon[None, :])
    return np.max(hub_w[None, :] * np.exp(-d / decay_km), axis=1)


@dataclass
class _World:
    """The cities of one simulation: identities, geography and treatment timing."""

    city: list[str]
    city_zh: list[str]
    province: list[str]
    lat: np.ndarray
    lon: np.ndarray
    batch: np.ndarray  # 0 = not a whole-city pilot
    district_only: np.ndarray  # bool
    cohort_years: dict[int, int]
    years: np.ndarray
    centrality: np.ndarray
    process: _SpatialProcess
    weights_info: dict[str, Any]

    @property
    def cohort(self) -> np.ndarray:
        lookup = np.array([0] + [self.cohort_years[b] for b in (1, 2, 3)], dtype=np.int64)
        return lookup[self.batch]


# --------------------------------------------------------------------------- the DGP


def _tau_direct(
    world: _World, p: DgpParams, anticipation: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Direct effect tau_it, treatment indicator D_it and event time e_it (n, T)."""
    cohort = world.cohort
    treated = cohort > 0
    e = world.years[None, :] - cohort[:, None]
    post = treated[:, None] & (e >= 0)
    b = np.clip(world.batch - 1, 0, 2)
    impact = np.asarray(p.tau_impact, dtype=float)[b][:, None]
    slope = np.asarray(p.tau_slope, dtype=float)[b][:, None]
    tau = np.where(post, impact + slope * np.minimum(e, p.tau_growth_cap), 0.0)
    ant = treated[:, None] & (e < 0) & (e >= -anticipation)
    tau = np.where(ant, p.anticipation_effect, tau)
    return tau, post, e


def _green_block(
    seed: int,
    ln_gdp_pc: np.ndarray,
    energy_intensity: np.ndarray,
    dpost: np.ndarray,
    tt: np.ndarray,
) -> dict[str, np.ndarray]:
    """Raw DEA inputs and outputs (arrays city x year) from their OWN random stream.

    The stream is ``SeedSequence(seed, spawn_key=(1000,))``, disjoint from the child streams
    (spawn keys 0..7) that draw every other column, so adding this block leaves all existing
    columns unchanged. ``real_gdp`` and ``energy`` are tied to the simulated ``ln_gdp_pc`` and
    ``energy_intensity`` (so the pilot's effect on energy intensity carries over to energy).
    """
    g = GREEN_INPUTS
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(g["spawn_key"],)))
    n, n_t = ln_gdp_pc.shape
    pop_p = g["population_10k"]
    pop = np.exp(
        pop_p["log_mean"]
        + pop_p["log_sd"] * rng.standard_normal(n)[:, None]
        + pop_p["growth"] * tt[None, :]
        + 0.01 * rng.standard_normal((n, n_t))
    )
    real_gdp = np.exp(ln_gdp_pc) * pop / 1e4  # yuan x 10k persons -> 100 million yuan
    energy = energy_intensity * real_gdp  # tce per 10k yuan x 10k x 100m yuan -> 10k tce
    share = rng.uniform(*g["labour_share"], n)[:, None] * np.exp(
        0.02 * rng.standard_normal((n, n_t))
    )
    rate = rng.uniform(*g["investment_rate"], n)[:, None] * np.exp(
        g["investment_rate_noise_sd"] * rng.standard_normal((n, n_t))
    )
    out = {
        "labour": pop * share,
        "investment": rate * real_gdp,
        "energy": energy,
        "real_gdp": real_gdp,
    }
    bases = {"energy": energy, "real_gdp": real_gdp}
    for name, b in g["bad_outputs"].items():
        z = rng.standard_normal(n)
        intensity = np.exp(b["intensity_log_mean"] + g["intensity_city_sd"] * z)
        out[name] = (
            bases[b["base"]]
            * intensity[:, None]
            * np.exp(
                b["trend"] * tt[None, :]
                + b["effect"] * dpost
                + b["noise_sd"] * rng.standard_normal((n, n_t))
            )
        )
    return out


def _intensity_block(
    seed: int, p: DgpParams, post: np.ndarray, event: np.ndarray, tt: np.ndarray
) -> tuple[dict[str, np.ndarray], np.ndarray, np.random.Generator]:
    """Latent construction intensity and its indicators (city x year) from their OWN stream.

    The stream is ``SeedSequence(seed, spawn_key=(1001,))``, disjoint from the child streams
    (spawn keys 0..7) and from the green block's (1000), so every earlier column stays
    byte-identical. Intensity: ``d_it = speed_i * (t - g_i + 1)`` in the pilot years
    (``t >= g_i``) and 0 otherwise -- before the pilot, for never-pilot cities (they build
    nothing in this DGP) and in anticipation years; ``speed_i = intensity_speed_median *
    exp(intensity_speed_sd * N(0, 1))``, independent of every other draw. Indicators: see
    ``INTENSITY_INDICATORS``. Returns (columns, speed, the stream, for later draws).
    """
    spawn_key = INTENSITY_INDICATORS["spawn_key"]
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(spawn_key,)))
    n, n_t = post.shape
    speed = p.intensity_speed_median * np.exp(p.intensity_speed_sd * rng.standard_normal(n))
    d = np.where(post, speed[:, None] * (event + 1.0), 0.0)
    out = {"intensity_latent": d}
    # Draws whose number does not depend on the treatment come first, the treatment-driven
    # Poisson counts last, so that coding/anticipation/district options keep the same
    # shocks for every other indicator (common random numbers).
    later: list[tuple[str, np.ndarray]] = []
    for name, spec in INTENSITY_INDICATORS["indicators"].items():
        city = spec["city_sd"] * rng.standard_normal(n)[:, None]
        if spec["form"] == "count":
            out[name] = rng.poisson(spec["base"] * np.exp(city), size=(n, 1))
            later.append((name, spec["slope"] * d))
            continue
        noise = spec["noise_sd"] * rng.standard_normal((n, n_t))
        if spec["form"] == "level":
            out[name] = spec["base"] * np.exp(city + spec["trend"] * tt + noise) + spec["slope"] * d
        else:
            logit = spec["logit0"] + city + spec["trend"] * tt + spec["slope"] * d + noise
            out[name] = spec["top"] / (1.0 + np.exp(-logit))
    for name, lam in later:
        out[name] = out[name] + rng.poisson(lam)
    return out, speed, rng


def _untreated_patents(
    rng: np.random.Generator,
    patents: np.ndarray,
    mu0_gamma: np.ndarray,
    post: np.ndarray,
    a_patents: float,
) -> np.ndarray:
    """Green patents had the pilot not happened, coupled with the observed counts.

    Given the gamma mixing draw, observed counts are Poisson(mu0 gamma e^a) in the pilot
    years; the untreated count is Poisson(mu0 gamma): a binomial thinning of the observed
    count with probability e^-a when a >= 0, the observed count plus an independent
    Poisson(mu0 gamma (1 - e^a)) when a < 0. Elsewhere it is the observed count.
    """
    out = patents.copy()
    if not post.any():
        return out
    if a_patents >= 0.0:
        out[post] = rng.binomial(patents[post], math.exp(-a_patents))
    else:
        out[post] = patents[post] + rng.poisson(mu0_gamma[post] * -math.expm1(a_patents))
    return out


def _generate(
    world: _World,
    p: DgpParams,
    anticipation: int,
    rngs: dict[str, np.random.Generator],
    keep: np.ndarray,
    digits: int | None,
    meta: dict[str, Any],
) -> tuple[pl.DataFrame, dict[str, Any]]:
    n, n_t = world.lat.size, world.years.size
    tt = (world.years - world.years[0]).astype(float)
    one_minus_rho = 1.0 - p.rho

    # City and year effects (scaled by 1 - rho so gtfp_level is the reduced-form level).
    z0 = rngs["city"].standard_normal(n)
    z_alpha = rngs["city"].standard_normal(n)
    alpha = one_minus_rho * (
        p.gtfp_level
        + p.city_load_centrality * (world.centrality - 0.5)
        + p.city_effect_sd * z_alpha
    )
    lam = one_minus_rho * (p.year_trend * tt + p.year_effect_sd * rngs["year"].standard_normal(n_t))

    # Covariates (pre-determined) and mediator bases.
    x = _design_block(_COVARIATE_DESIGN, rngs["covariates"], world.centrality, z0, tt)
    m = _design_block(_MEDIATOR_DESIGN, rngs["mediators"], world.centrality, z0, tt)

    tau, post, event = _tau_direct(world, p, anticipation)
    dpost = post.astype(float)

    # Mediators: additive a-paths; patents through the NB log link.
    ind_upgrade = m["ind_upgrade"] + p.a_ind_upgrade * dpost
    energy = m["energy_intensity"] + p.a_energy_intensity * dpost
    mu0 = np.exp(m["log_mu_green_patents"])
    mu = mu0 * np.exp(p.a_patents * dpost)
    gamma = rngs["patents"].gamma(shape=p.nb_size, scale=1.0 / p.nb_size, size=(n, n_t))
    patents = rngs["counts"].poisson(mu * gamma)
    ln_patents = np.log1p(patents)
    mediators = {
        "ln_green_patents": ln_patents,
        "ind_upgrade": ind_upgrade,
        "energy_intensity": energy,
    }

    # Outcome: structural index u, then the spatial Durbin process.
    eps = p.sigma * _ar1(rngs["noise"].standard_normal((n_t, n)), p.ar1).T
    u = alpha[:, None] + lam[None, :] + tau + eps
    for name in _COVARIATE_NAMES:
        u += p.beta[name] * (x[name] - REFERENCE_VALUES[name])
    for name, b in p.b_paths.items():
        u += b * (mediators[name] - REFERENCE_VALUES[name])
    if p.theta != 0.0:
        u += p.theta * world.process.wmul(dpost)
    gtfp = world.process.solve(u)

    # ---- truth
    d_patents = np.zeros((n, n_t))
    if post.any():
        d_patents[post] = nb_expected_log1p(mu0[post] * math.exp(p.a_patents), p.nb_size)
        d_patents[post] -= nb_expected_log1p(mu0[post], p.nb_size)
    own = (
        tau
        + p.b_patents * d_patents
        + (p.b_ind_upgrade * p.a_ind_upgrade + p.b_energy_intensity * p.a_energy_intensity) * dpost
    )
    truth = _truth(world, p, anticipation, keep, tau, own, post, d_patents, meta)

    # ---- construction intensity and gtfp_dose (own stream; nothing above depends on it)
    intensity, speed, irng = _intensity_block(int(meta["seed"]), p, post, event, tt)
    patents0 = _untreated_patents(irng, patents, mu0 * gamma, post, p.a_patents)
    u0 = alpha[:, None] + lam[None, :] + eps
    for name in _COVARIATE_NAMES:
        u0 += p.beta[name] * (x[name] - REFERENCE_VALUES[name])
    untreated_mediators = {
        "ln_green_patents": np.log1p(patents0),
        "ind_upgrade": m["ind_upgrade"],
        "energy_intensity": m["energy_intensity"],
    }
    for name, b in p.b_paths.items():
        u0 += b * (untreated_mediators[name] - REFERENCE_VALUES[name])
    dose = intensity["intensity_latent"]
    gtfp_dose = world.process.solve(u0) + p.dose_theta * np.log1p(dose)
    truth["dose_response"] = _dose_truth(world, p, keep, dose, speed)

    # ---- panel
    def rnd(a: np.ndarray) -> np.ndarray:
        return a if digits is None else np.round(a, digits)

    cohort = world.cohort
    rows = np.repeat(np.flatnonzero(keep), n_t)
    cols = np.tile(np.arange(n_t), int(keep.sum()))
    batch = world.batch[rows]
    treat = (cohort[rows] > 0).astype(np.int64)
    ev = event[rows, cols]
    data: dict[str, Any] = {
        "city": [world.city[i] for i in rows],
        "city_zh": [world.city_zh[i] for i in rows],
        "city_id": (rows + 1).astype(np.int64),
        "province": [world.province[i] for i in rows],
        "lat": world.lat[rows],
        "lon": world.lon[rows],
        "district_only": world.district_only[rows].astype(np.int64),
        "year": world.years[cols].astype(np.int64),
        "pilot_batch": pl.Series(np.where(batch > 0, batch, 0), dtype=pl.Int64),
        "cohort": cohort[rows].astype(np.int64),
        "treat": treat,
        "post": post[rows, cols].astype(np.int64),
        "did": post[rows, cols].astype(np.int64),
        "event_time": pl.Series(ev.astype(np.int64), dtype=pl.Int64),
    }
    for name in _COVARIATE_NAMES:
        data[name] = rnd(x[name][rows, cols])
    data["green_patents"] = patents[rows, cols].astype(np.int64)
    data["ln_green_patents"] = rnd(ln_patents[rows, cols])
    data["ind_upgrade"] = rnd(ind_upgrade[rows, cols])
    data["energy_intensity"] = rnd(energy[rows, cols])
    data["gtfp"] = rnd(gtfp[rows, cols])
    green = _green_block(int(meta["seed"]), x["ln_gdp_pc"], energy, dpost, tt)
    for name, arr in green.items():
        data[name] = rnd(arr[rows, cols])
    for name, arr in intensity.items():
        if name == "pilot_programmes":
            data[name] = arr[rows, cols].astype(np.int64)
        else:
            data[name] = rnd(arr[rows, cols])
    data["gtfp_dose"] = rnd(gtfp_dose[rows, cols])
    panel = pl.DataFrame(data).with_columns(
        pl.when(pl.col("pilot_batch") > 0).then(pl.col("pilot_batch")).alias("pilot_batch"),
        pl.when(pl.col("treat") == 1).then(pl.col("event_time")).alias("event_time"),
    )
    return panel, truth


# --------------------------------------------------------------------------- truth


DEFINITIONS: dict[str, str] = {
    "synthetic": "All covariates, mediators and outcomes are SIMULATED from this DGP.",
    "structural_equation": (
        "u_it = alpha_i + lambda_t + sum_k beta_k (X_kit - ref_k) + sum_m b_m (M_mit - ref_m)"
        " + tau_it + theta (W D_t)_i + eps_it; y_t = (I - rho W)^{-1} u_t (y = gtfp)."
    ),
    "tau_direct": (
        "tau(g,t): the direct (non-mediated, non-spatial) effect of the pilot on u for a city of"
        " cohort g in year t: tau_impact[b] + tau_slope[b] * min(t - g, cap) for t >= g,"
        " anticipation_effect for g - anticipation <= t < g, else 0 (b = batch of cohort g)."
    ),
    "att_structural": (
        "ATT_structural(g,t): mean over cohort-g cities of the own, non-spatial total effect"
        " tau(g,t) + sum_m b_m * dE[M_mit], where dE[M] = a_m for ind_upgrade and"
        " energy_intensity and, for ln_green_patents, E[ln(1+Y)|mu0 e^a] - E[ln(1+Y)|mu0]"
        " (exact NB expectation). This is the ATT(g,t) that DID estimators recover when"
        " rho = theta = 0 (SUTVA holds)."
    ),
    "att_total": (
        "ATT_total(g,t): mean over cohort-g cities of E[y_it(D) - y_it(D^{-g})], where D^{-g}"
        " is the actual treatment path with cohort g's own treatment (and anticipation, and"
        " mediator shifts) removed and every other cohort's kept; expectation over the patent"
        " draws, all other shocks held fixed (they cancel). Computed exactly as"
        " (I - rho W)^{-1} du with du = own effects of cohort g + theta W dD. It includes"
        " spatial feedback and spillovers among cohort-g cities, not spillovers from other"
        " cohorts."
    ),
    "spillover_never": (
        "spillover_never(g,t): mean over never-treated cities in the sample of"
        " E[y_it(D) - y_it(D^{-g})]: how much cohort g's treatment moved the controls (the"
        " SUTVA violation that biases DID with never-treated controls when rho, theta != 0)."
    ),
    "aggregations": (
        "As R did::aggte. simple: average of ATT(g,t) over post cells (t >= g) weighted by"
        " cohort size n_g (= mean over treated post city-years). group: ATT(g) = mean of"
        " ATT(g,t) over t >= g; group_overall = n_g-weighted mean of ATT(g). dynamic: ATT(e) ="
        " n_g-weighted mean of ATT(g, g+e) over cohorts with g+e in the panel; dynamic_overall"
        " = mean of ATT(e) over e >= 0. calendar: ATT(t) = n_g-weighted mean of ATT(g,t) over"
        " cohorts with g <= t; calendar_overall = mean over those t."
    ),
    "mediation": (
        "Structural, non-spatial, averaged over treated post city-years. a_paths: effect of"
        " the pilot on E[mediator] (ln_green_patents: the exact implied effect on E[ln(1+Y)];"
        " a_paths_structural gives the NB log-link value). b_paths: effect of a unit of the"
        " observed mediator on u. indirect = a * b. direct = mean tau over treated post"
        " city-years. total = direct + sum(indirect) = aggregations.structural.simple."
    ),
    "twfe_estimand": (
        "sum_it w_it * effect_it with w = Dd / sum(Dd^2), Dd the treatment indicator"
        " two-way demeaned over the (balanced) sample: the value of the static TWFE"
        " coefficient on did (city + year effects, no covariates) if the outcome held only"
        " fixed effects and the effect (rho = theta = 0, no noise). Its gap to"
        " overall_att is the TWFE bias from variance weighting and already-treated controls"
        " (Goodman-Bacon 2021; de Chaisemartin & D'Haultfoeuille 2020). negative_weights"
        " counts treated city-years with w < 0."
    ),
    "spatial_effects": (
        "LeSage-Pace effects of the treatment in the SDM for a constant own effect tau_ref"
        " (= aggregations.structural.simple): S = (I - rho W)^{-1} (tau_ref I + theta W);"
        " direct = mean diag(S); total = mean row sum of S (= (tau_ref + theta)/(1 - rho)"
        " for row-standardised W); indirect = total - direct. mean_diag_S0 and mean_diag_S0W"
        " let you recompute them for any tau: direct = tau*mean_diag_S0 + theta*mean_diag_S0W."
    ),
    "dose_response": (
        "gtfp_dose_it = y0_it + dose_theta * ln(1 + d_it), d = intensity_latent; y0 = (I - rho"
        " W)^{-1} u0 is gtfp's untreated part: u without tau, without theta W D and with the"
        " untreated mediators (ind_upgrade, energy_intensity minus their a-paths; green"
        " patents coupled to the observed counts, see README). The dose effect has no"
        " spillover and no mediation, so ATT(d|d) = f(d) = dose_theta ln(1 + d) and ACRT(d|d)"
        " = f'(d) = dose_theta / (1 + d) exactly, for every city-year dose d (the path dose)."
        " average: means of f and f' over treated city-years (d > 0) of the sample. att_gt:"
        " mean f(d_it) over cohort-g cities in year t. by_city: a pilot city's mean dose and"
        " mean effect over its pilot years (the unit dose of to_dose(kind='unit') on the"
        " latent intensity)."
    ),
}


def _aggregate(att: np.ndarray, groups: np.ndarray, sizes: np.ndarray, years: np.ndarray) -> dict:
    """R did::aggte aggregations of an ATT(g,t) array of shape (G, T)."""
    e = years[None, :] - groups[:, None]
    postm = e >= 0
    wts = np.broadcast_to(sizes[:, None].astype(float), att.shape)
    simple = float(np.sum(att * wts * postm) / np.sum(wts * postm))
    group = [float(att[i, postm[i]].mean()) for i in range(groups.size)]
    group_overall = float(np.dot(sizes, group) / sizes.sum())
    dynamic = []
    for ev in range(int(e.min()), int(e.max()) + 1):
        sel = e == ev
        wsum = float(np.sum(wts * sel))
        dynamic.append({"event_time": ev, "att": float(np.sum(att * wts * sel) / wsum)})
    calendar = []
    for j, t in enumerate(years):
        sel = postm[:, j]
        if sel.any():
            val = float(np.dot(sizes[sel], att[sel, j]) / sizes[sel].sum())
            calendar.append({"time": int(t), "att": val})
    return {
        "simple": simple,
        "group": [{"group": int(g), "att": a} for g, a in zip(groups, group)],
        "group_overall": group_overall,
        "dynamic": dynamic,
        "dynamic_overall": float(np.mean([d["att"] for d in dynamic if d["event_time"] >= 0])),
        "calendar": calendar,
        "calendar_overall": float(np.mean([c["att"] for c in calendar])),
    }


def _truth(
    world: _World,
    p: DgpParams,
    anticipation: int,
    keep: np.ndarray,
    tau: np.ndarray,
    own: np.ndarray,
    post: np.ndarray,
    d_patents: np.ndarray,
    meta: dict[str, Any],
) -> dict[str, Any]:
    cohort = world.cohort
    years = world.years
    groups = np.unique(cohort[keep & (cohort > 0)])
    sizes = np.array([int(np.sum(keep & (cohort == g))) for g in groups], dtype=np.int64)
    never = keep & (cohort == 0)
    n_g, n_t = groups.size, years.size
    att_tau = np.empty((n_g, n_t))
    att_str = np.empty((n_g, n_t))
    att_tot = np.empty((n_g, n_t))
    spill = np.full((n_g, n_t), np.nan)
    dpost = post.astype(float)
    for i, g in enumerate(groups):
        mask = cohort == g
        du = own * mask[:, None]
        if p.theta != 0.0:
            du = du + p.theta * world.process.wmul(dpost * mask[:, None])
        dy = world.process.solve(du)
        att_tau[i] = tau[mask].mean(axis=0)
        att_str[i] = own[mask].mean(axis=0)
        att_tot[i] = dy[mask].mean(axis=0)
        if never.any():
            spill[i] = dy[never].mean(axis=0)

    batch_of = {g: int(world.batch[cohort == g][0]) for g in groups}
    records = []
    for i, g in enumerate(groups):
        for j, t in enumerate(years):
            records.append(
                {
                    "group": int(g),
                    "time": int(t),
                    "event_time": int(t - g),
                    "batch": batch_of[g],
                    "n_cities": int(sizes[i]),
                    "tau_direct": float(att_tau[i, j]),
                    "att_structural": float(att_str[i, j]),
                    "att_total": float(att_tot[i, j]),
                    "spillover_never": None if np.isnan(spill[i, j]) else float(spill[i, j]),
                }
            )

    tp = post & keep[:, None]  # treated post city-years in the sample
    if not tp.any():
        raise ValueError("the sample has no treated city-years: nothing to define effects for")
    a_obs = {
        "ln_green_patents": float(d_patents[tp].mean()),
        "ind_upgrade": p.a_ind_upgrade,
        "energy_intensity": p.a_energy_intensity,
    }
    b = p.b_paths
    indirect = {k: a_obs[k] * b[k] for k in MEDIATORS}
    direct = float(tau[tp].mean())
    agg = {
        "direct": _aggregate(att_tau, groups, sizes, years),
        "structural": _aggregate(att_str, groups, sizes, years),
        "total": _aggregate(att_tot, groups, sizes, years),
    }
    dk = dpost[keep]
    dd = dk - dk.mean(axis=1, keepdims=True) - dk.mean(axis=0, keepdims=True) + dk.mean()
    ss = float(np.sum(dd * dd))
    twfe_w = dd / ss if ss > 0 else np.zeros_like(dd)
    twfe = {
        "direct": float(np.sum(twfe_w * tau[keep])),
        "structural": float(np.sum(twfe_w * own[keep])),
        "negative_weights": int(np.sum((twfe_w < 0) & (dk > 0))),
    }
    tau_ref = agg["structural"]["simple"]
    spatial = {"tau_ref": tau_ref, "theta": p.theta, "rho": p.rho}
    if world.process.kind == "none":
        spatial.update({"direct": tau_ref, "indirect": 0.0, "total": tau_ref})
    else:
        spatial.update(world.process.lesage_pace(tau_ref, p.theta))
    spatial["total_formula"] = (tau_ref + p.theta) / (1.0 - p.rho)

    params = asdict(p)
    params["tau_impact"] = {str(k + 1): v for k, v in enumerate(p.tau_impact)}
    params["tau_slope"] = {str(k + 1): v for k, v in enumerate(p.tau_slope)}
    return {
        "synthetic": True,
        "note": (
            "SYNTHETIC panel: outcomes, covariates and mediators are simulated by"
            " pilotdid.datasets._simulate; only city identities, coordinates and pilot"
            " batches are real (see data/yrd/README.md)."
        ),
        **meta,
        "anticipation": anticipation,
        "cohort_years": {str(b_): y for b_, y in world.cohort_years.items()},
        "cohort_sizes": {str(int(g)): int(s) for g, s in zip(groups, sizes)},
        "n_cities": int(keep.sum()),
        "n_cities_world": int(keep.size),
        "n_never_treated": int(never.sum()),
        "years": [int(years[0]), int(years[-1])],
        "n_rows": int(keep.sum()) * int(n_t),
        "parameters": params,
        "reference_values": dict(REFERENCE_VALUES),
        "covariate_design": [d._asdict() for d in _COVARIATE_DESIGN + _MEDIATOR_DESIGN],
        "x_ar1": X_AR1,
        "weights": world.weights_info,
        "definitions": dict(DEFINITIONS),
        "columns": dict(COLUMNS),
        "att_gt": records,
        "aggregations": agg,
        "overall_att": {k: agg[k]["simple"] for k in ("direct", "structural", "total")},
        "twfe_estimand": twfe,
        "mediation": {
            "a_paths": a_obs,
            "a_paths_structural": {
                "log_expected_green_patents": p.a_patents,
                "ind_upgrade": p.a_ind_upgrade,
                "energy_intensity": p.a_energy_intensity,
            },
            "b_paths": dict(b),
            "indirect": indirect,
            "indirect_total": float(sum(indirect.values())),
            "direct": direct,
            "total": direct + float(sum(indirect.values())),
        },
        "spatial_effects": spatial,
        "green_inputs": {
            **GREEN_INPUTS,
            "note": (
                "Raw inputs (labour, investment, energy), good output (real_gdp) and bad"
                " outputs (so2, wastewater, dust) for building GTFP (SBM / GML) or a capital"
                " stock (PIM). Known truth: the pilot changes each bad output's log intensity"
                " (per unit of its base, given the base) by 'effect' in the years with"
                " did = 1, and energy through energy_intensity (a_energy_intensity). No true"
                " effect on an SBM/GML-based GTFP is derived: those indices depend on the"
                " whole frontier."
            ),
        },
    }


#: Quantile levels of the treated dose distribution reported in ``dose_response``.
DOSE_QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)


def _dose_truth(
    world: _World, p: DgpParams, keep: np.ndarray, dose: np.ndarray, speed: np.ndarray
) -> dict[str, Any]:
    """The ``dose_response`` section of the truth: f(d) = theta ln(1 + d), f'(d) = theta/(1+d).

    The dose effect is deterministic and homogeneous, so ATT(d|d) = f(d) and ACRT(d|d) =
    f'(d) at every dose; the averages are over the treated city-years (d > 0) in the sample.
    """
    theta = p.dose_theta

    def att(d: np.ndarray) -> np.ndarray:
        return theta * np.log1p(d)

    def acrt(d: np.ndarray) -> np.ndarray:
        return theta / (1.0 + d)

    cohort = world.cohort
    treated = (dose > 0.0) & keep[:, None]
    d_tr = dose[treated]
    grid = np.arange(0.0, math.ceil(float(d_tr.max())) + 0.25, 0.5)
    q = np.quantile(d_tr, DOSE_QUANTILES)
    att_gt = []
    for g in np.unique(cohort[keep & (cohort > 0)]):
        mask = keep & (cohort == g)
        for j, t in enumerate(world.years):
            att_gt.append(
                {
                    "group": int(g),
                    "time": int(t),
                    "event_time": int(t - g),
                    "dose_mean": float(dose[mask, j].mean()),
                    "att": float(att(dose[mask, j]).mean()),
                }
            )
    # Means over each pilot city's pilot years (d > 0 exactly there; f(0) = 0), vectorised
    # because simulate_cities may have thousands of pilot cities.
    pilots = np.flatnonzero(keep & (cohort > 0))
    n_on = np.maximum((dose[pilots] > 0.0).sum(axis=1), 1)
    dose_mean = dose[pilots].sum(axis=1) / n_on
    att_mean = att(dose[pilots]).sum(axis=1) / n_on
    by_city = [
        {
            "city": world.city[i],
            "city_id": int(i + 1),
            "cohort": int(cohort[i]),
            "speed": float(speed[i]),
            "dose_mean": float(dm),
            "att_mean": float(am),
        }
        for i, dm, am in zip(pilots, dose_mean, att_mean)
    ]
    return {
        "outcome": "gtfp_dose",
        "dose": "intensity_latent",
        "function": "att(d) = dose_theta * ln(1 + d); acrt(d) = dose_theta / (1 + d)",
        "parameters": {
            "dose_theta": theta,
            "intensity_speed_median": p.intensity_speed_median,
            "intensity_speed_sd": p.intensity_speed_sd,
        },
        "intensity": (
            "d_it = speed_i * (t - g_i + 1) for pilot cities in t >= g_i, else 0 (never-pilot"
            " cities build nothing); speed_i = intensity_speed_median *"
            " exp(intensity_speed_sd * N(0,1)), independent of every other draw"
        ),
        "grid": [{"dose": float(d), "att": float(att(d)), "acrt": float(acrt(d))} for d in grid],
        "quantiles": [
            {"level": lv, "dose": float(d), "att": float(att(d)), "acrt": float(acrt(d))}
            for lv, d in zip(DOSE_QUANTILES, q)
        ],
        "average": {
            "att": float(att(d_tr).mean()),
            "acrt": float(acrt(d_tr).mean()),
            "dose_mean": float(d_tr.mean()),
            "n_city_years": int(d_tr.size),
            "n_cities": len(by_city),
        },
        "att_gt": att_gt,
        "by_city": by_city,
        "indicators": INTENSITY_INDICATORS,
    }


# --------------------------------------------------------------------------- public API


def _params(
    params: DgpParams | None, rho: float | None, theta: float | None, sigma: float | None
) -> DgpParams:
    p = params if params is not None else DgpParams()
    if not isinstance(p, DgpParams):
        raise TypeError(f"params must be a DgpParams, got {type(p).__name__}")
    over = {
        k: float(v) for k, v in (("rho", rho), ("theta", theta), ("sigma", sigma)) if v is not None
    }
    p = replace(p, **over) if over else p
    p.validate()
    return p


def _streams(seed: int) -> dict[str, np.random.Generator]:
    children = np.random.default_rng(seed).spawn(len(_STREAMS))
    return dict(zip(_STREAMS, children))


def _check_anticipation(anticipation: int, first_cohort: int, first_year: int) -> None:
    if not isinstance(anticipation, (int, np.integer)) or anticipation < 0:
        raise ValueError(f"anticipation={anticipation!r}: must be an integer >= 0")
    if first_cohort - anticipation <= first_year:
        raise ValueError(
            f"anticipation={anticipation}: the first cohort ({first_cohort}) needs at least one"
            f" untreated year after {first_year} before its anticipation starts"
        )


def _default_cities_csv() -> Path:
    here = Path(__file__).resolve().parent
    for cand in (here / "yrd" / "cities.csv", here.parents[2] / "data" / "yrd" / "cities.csv"):
        if cand.is_file():
            return cand
    raise FileNotFoundError("cannot find yrd/cities.csv beside pilotdid.datasets")


def simulate_yrd(
    *,
    seed: int = 20121,
    coding: str = "default",
    district_only: str = "untreated",
    anticipation: int = 0,
    rho: float | None = None,
    theta: float | None = None,
    sigma: float | None = None,
    params: DgpParams | None = None,
    cities: pl.DataFrame | None = None,
    digits: int | None = 6,
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Simulate the SYNTHETIC YRD smart-city panel: 41 cities x 2006-2021 (656 rows).

    The cities, coordinates and pilot batches are real (``cities.csv``, with its caveats);
    all covariates, mediators and the outcome ``gtfp`` come from the pilotdid DGP (module
    docstring; ``data/yrd/README.md``). Returns ``(panel, truth)``: a polars DataFrame
    sorted by city then year, and a JSON-ready dict of every true parameter and effect.

    Parameters
    ----------
    seed
        Seed of ``numpy.random.default_rng``; the same seed gives the same panel.
    coding
        Treatment year of each batch: ``"default"`` batch 1/2/3 -> 2013/2014/2015 (first
        full year after the announcements of Jan 2013, Aug 2013, Apr 2015);
        ``"announcement"`` -> 2012/2013/2014 (the batches' nominal years). The coding sets
        when the simulated pilot actually starts.
    district_only
        Cities where only a district or zone was a pilot (``pilot_status`` starting with
        "district-only"): ``"untreated"`` keeps them as never-treated, ``"drop"`` removes
        their rows. The simulated world (and W) always has all 41 cities.
    anticipation
        Years before adoption in which the direct effect ``anticipation_effect`` already
        applies (0 = no anticipation).
    rho, theta, sigma
        Overrides of the spatial autoregressive parameter, the spillover of neighbours'
        treatment, and the sd of the outcome noise (defaults in ``DgpParams``).
    params
        A full ``DgpParams``; ``rho``/``theta``/``sigma`` override it.
    cities
        The city table (default: the bundled ``yrd/cities.csv``).
    digits
        Round float columns to this many decimals (``None``: full precision).

    """
    p = _params(params, rho, theta, sigma)
    if coding not in CODINGS:
        raise ValueError(f"coding={coding!r}: expected one of {sorted(CODINGS)}")
    if district_only not in ("untreated", "drop"):
        raise ValueError(f"district_only={district_only!r}: expected 'untreated' or 'drop'")
    years = np.arange(2006, 2022)
    _check_anticipation(anticipation, min(CODINGS[coding].values()), int(years[0]))
    if cities is None:
        cities = pl.read_csv(_default_cities_csv(), schema_overrides={"pilot_batch": pl.Int64})
    need = {"city_en", "city_zh", "province", "lat", "lon", "pilot_batch", "pilot_status"}
    missing = need - set(cities.columns)
    if missing:
        raise ValueError(f"cities table lacks columns {sorted(missing)}")

    lat = cities["lat"].cast(pl.Float64).to_numpy()
    lon = cities["lon"].cast(pl.Float64).to_numpy()
    names = cities["city_en"].to_list()
    status = cities["pilot_status"].fill_null("").to_list()
    district = np.array([s.startswith("district-only") for s in status])
    batch = cities["pilot_batch"].fill_null(0).cast(pl.Int64).to_numpy()
    if np.any((batch < 0) | (batch > 3)):
        raise ValueError("pilot_batch must be 1, 2, 3 or empty")
    batch = np.where(district, 0, batch)
    absent = [h for h, _ in YRD_HUBS if h not in names]
    if absent:
        raise ValueError(f"cities table lacks the hub cities {absent} (column city_en)")
    hub_idx = [names.index(h) for h, _ in YRD_HUBS]
    centrality = _centrality(
        lat, lon, lat[hub_idx], lon[hub_idx], np.array([w for _, w in YRD_HUBS]), p.hub_decay_km
    )
    process = _SpatialProcess(p.rho, dense=_dense_invdist(lat, lon))
    world = _World(
        city=names,
        city_zh=cities["city_zh"].to_list(),
        province=cities["province"].to_list(),
        lat=lat,
        lon=lon,
        batch=batch,
        district_only=district,
        cohort_years=dict(CODINGS[coding]),
        years=years,
        centrality=centrality,
        process=process,
        weights_info={
            "type": "inverse distance, row-standardised, zero diagonal",
            "distance": "great-circle (haversine) km from lat/lon, Earth radius 6371 km",
            "order": "city_id (the row order of cities.csv)",
            "rebuild": "pilotdid.datasets._simulate.spatial_weights(lat, lon)",
        },
    )
    keep = ~district if district_only == "drop" else np.ones(lat.size, dtype=bool)
    meta = {
        "generator": "pilotdid.datasets._simulate.simulate_yrd",
        "seed": seed,
        "coding": coding,
        "district_only": district_only,
        "district_only_cities": [c for c, d in zip(names, district) if d],
        "hubs": {h: w for h, w in YRD_HUBS},
    }
    return _generate(world, p, anticipation, _streams(seed), keep, digits, meta)


def simulate_cities(
    *,
    n_cities: int = 290,
    n_years: int = 20,
    seed: int = 0,
    start_year: int = 2001,
    batch_shares: tuple[float, float, float] = (0.15, 0.12, 0.10),
    cohort_years: tuple[int, int, int] | None = None,
    anticipation: int = 0,
    W: str = "auto",
    k: int = 10,
    rho: float | None = None,
    theta: float | None = None,
    sigma: float | None = None,
    params: DgpParams | None = None,
    digits: int | None = 6,
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Simulate a SYNTHETIC panel of ``n_cities`` random cities for Monte Carlo work.

    Same DGP and columns as :func:`simulate_yrd`. Cities get uniform random coordinates in
    a China-like box (lat 22-42, lon 100-122), synthetic provinces (a 5 x 6 grid of that
    box, ``P01``..``P30``), hubs (one per ~40 cities) for the centrality index, and pilot
    batches assigned completely at random: exactly ``round(share * n)`` cities per batch.

    Parameters
    ----------
    n_cities, n_years, start_year
        Panel size: ``n_cities`` cities observed in ``start_year .. start_year + n_years - 1``.
    seed
        Seed of ``numpy.random.default_rng``; the same seed gives the same panel.
    batch_shares
        Share of cities in pilot batches 1, 2, 3 (the rest are never treated).
    cohort_years
        Treatment year of batches 1/2/3; default ``start_year + k`` and the two following
        years with ``k = min(round(0.6 * n_years), n_years - 3)`` (2013/2014/2015 for the
        defaults), so that every batch has a pre-period and a post-period.
    anticipation
        Years before adoption in which ``anticipation_effect`` already applies.
    W, k
        ``"invdist"``: dense row-standardised inverse distance (memory n^2; fine up to a
        few thousand cities). ``"knn"``: inverse distance among the ``k`` nearest
        neighbours (sparse; LeSage-Pace direct/indirect are then not computed, total is).
        ``"auto"``: ``"invdist"`` up to 2000 cities, ``"knn"`` above. With ``rho=0`` and
        ``theta=0`` no W is built at all (the fastest path, e.g. for DID Monte Carlo).
    rho, theta, sigma, params, digits
        As in :func:`simulate_yrd`.

    """
    p = _params(params, rho, theta, sigma)
    if n_cities < 2 or n_years < 4:
        raise ValueError(f"need n_cities >= 2 and n_years >= 4, got {n_cities}, {n_years}")
    years = np.arange(start_year, start_year + n_years)
    if cohort_years is None:
        k0 = min(round(0.6 * n_years), n_years - 3)
        cohort_years = (start_year + k0, start_year + k0 + 1, start_year + k0 + 2)
    cy = tuple(int(c) for c in cohort_years)
    if len(cy) != 3 or not (years[0] < cy[0] < cy[1] < cy[2] <= years[-1]):
        raise ValueError(
            f"cohort_years={cohort_years}: need 3 increasing years in"
            f" ({int(years[0])}, {int(years[-1])}]"
        )
    _check_anticipation(anticipation, cy[0], int(years[0]))
    shares = np.asarray(batch_shares, dtype=float)
    if shares.size != 3 or np.any(shares < 0) or shares.sum() > 1.0:
        raise ValueError(f"batch_shares={batch_shares}: need 3 shares >= 0 summing to <= 1")
    if W not in ("auto", "invdist", "knn"):
        raise ValueError(f"option 'W': {W!r} is not one of 'auto', 'invdist' or 'knn'")

    rngs = _streams(seed)
    geo = rngs["geography"]
    # Rounded to 4 decimals (as in cities.csv) before anything uses them, so that W can be
    # rebuilt exactly from the panel's lat/lon columns.
    lat = np.round(geo.uniform(*CHINA_BOX["lat"], size=n_cities), 4)
    lon = np.round(geo.uniform(*CHINA_BOX["lon"], size=n_cities), 4)
    counts = np.round(shares * n_cities).astype(np.int64)
    perm = geo.permutation(n_cities)
    batch = np.zeros(n_cities, dtype=np.int64)
    start = 0
    for b, cnt in enumerate(counts, start=1):
        batch[perm[start : start + cnt]] = b
        start += cnt
    n_hubs = max(1, round(n_cities / 40))
    hubs = geo.choice(n_cities, size=n_hubs, replace=False)
    hub_w = geo.uniform(0.6, 1.0, size=n_hubs)
    centrality = _centrality(lat, lon, lat[hubs], lon[hubs], hub_w, p.hub_decay_km)

    nlat = 5
    nlon = 6
    lat_band = np.minimum(((lat - 22.0) / 20.0 * nlat).astype(int), nlat - 1)
    lon_band = np.minimum(((lon - 100.0) / 22.0 * nlon).astype(int), nlon - 1)
    province = [f"P{b * nlon + c + 1:02d}" for b, c in zip(lat_band, lon_band)]

    method = W
    if method == "auto":
        method = "invdist" if n_cities <= DENSE_MAX else "knn"
    if p.rho == 0.0 and p.theta == 0.0:
        process = _SpatialProcess(0.0)
        info: dict[str, Any] = {"type": "none (rho = theta = 0: no spatial process)"}
    elif method == "invdist":
        process = _SpatialProcess(p.rho, dense=_dense_invdist(lat, lon))
        info = {"type": "inverse distance, row-standardised, zero diagonal"}
    else:
        process = _SpatialProcess(p.rho, knn=_knn_invdist(lat, lon, k))
        info = {"type": f"inverse distance among the k={k} nearest neighbours, row-standardised"}
    if process.kind != "none":
        info["distance"] = "great-circle (haversine) km from lat/lon, Earth radius 6371 km"
        info["rebuild"] = (
            f"pilotdid.datasets._simulate.spatial_weights(lat, lon, method={method!r}, k={k})"
        )
    info["order"] = "city_id"

    world = _World(
        city=[f"C{i + 1:05d}" for i in range(n_cities)],
        city_zh=[f"合成{i + 1:05d}" for i in range(n_cities)],
        province=province,
        lat=lat,
        lon=lon,
        batch=batch,
        district_only=np.zeros(n_cities, dtype=bool),
        cohort_years={1: cy[0], 2: cy[1], 3: cy[2]},
        years=years,
        centrality=centrality,
        process=process,
        weights_info=info,
    )
    meta = {
        "generator": "pilotdid.datasets._simulate.simulate_cities",
        "seed": seed,
        "coding": "cohort_years",
        "batch_shares": [float(s) for s in shares],
        "hubs": {f"C{int(h) + 1:05d}": float(w) for h, w in zip(hubs, hub_w)},
    }
    keep = np.ones(n_cities, dtype=bool)
    return _generate(world, p, anticipation, rngs, keep, digits, meta)

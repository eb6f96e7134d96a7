"""Golden calls, spatial family: every weights constructor and transform (the CSR arrays),
eigenvalues, Moran's I (vector and panel, seeded permutations) and local Moran, LM tests,
SAR / SDM / SEM / SDEM / SAC (dense and sparse paths, Lee-Yu, fixed spatial parameter),
LeSage-Pace impacts (delta method and seeded simulation draws), per-unit impacts, Wald and LR
tests, ``spatial_did`` and ``spatial_event_study``.

Each call runs one fixed call on fixed data and returns a flat dict of the numbers the result
exposes today (see _golden.py for how they are stored)."""

from __future__ import annotations

import json
import warnings
from typing import Any

import _data as D
import numpy as np
import polars as pl
from _golden import frame, named

import pilotdid as pdid
import pilotdid.weights as pw

KW = {"unit": "city_id", "time": "year"}
FML = "gtfp ~ did + ln_gdp_pc + urbanization"


def _w(w: pw.Weights, prefix: str) -> dict[str, Any]:
    """A Weights object: its ids, CSR arrays, transform and kind."""
    return {
        f"{prefix}.ids": [str(i) for i in w.ids],
        f"{prefix}.indptr": w.indptr,
        f"{prefix}.indices": w.indices,
        f"{prefix}.data": w.data,
        f"{prefix}.transform": w.transform,
        f"{prefix}.kind": w.kind,
        f"{prefix}.islands": [str(i) for i in w.islands],
    }


def _coords() -> tuple[Any, Any]:
    c = D.yrd_cities()
    return c["lat"], c["lon"]


# ------------------------------------------------------------------------------------------
# weights
# ------------------------------------------------------------------------------------------
def weights_inverse_distance():
    lat, lon = _coords()
    out = _w(pw.inverse_distance(lat, lon, ids=list(range(1, 42))), "row")
    out.update(_w(pw.inverse_distance(lat, lon, power=2.0, cutoff_km=250.0, transform=None), "p2"))
    out.update(_w(pw.inverse_distance(lat, lon, radius_km=6371.0, transform="spectral"), "spec"))
    return out


def weights_knn_band():
    lat, lon = _coords()
    out = _w(pw.knn(lat, lon, k=5), "knn5")
    out.update(_w(pw.distance_band(lat, lon, threshold_km=150.0), "band150"))
    band80 = pw.distance_band(lat, lon, threshold_km=80.0).row_standardise(allow_islands=True)
    out.update(_w(band80, "band80"))
    return out


def weights_economic_nested():
    z = D.yrd().group_by("city_id", maintain_order=True).agg(pl.col("ln_gdp_pc").mean())
    zz = z["ln_gdp_pc"].to_numpy()
    lat, lon = _coords()
    out = _w(pw.economic(zz, ids=z["city_id"].to_list()), "economic")
    nested = pw.nested(pw.knn(lat, lon, k=6, transform=None), zz)
    out.update(_w(nested, "nested"))
    out.update(_w(nested.subset([5, 3, 1, 2, 4, 8, 13]).row_standardise(), "nested_subset"))
    return out


def weights_dense_sparse_adjacency():
    rng = np.random.default_rng(21)
    m = rng.uniform(0.0, 1.0, (7, 7)) * (rng.uniform(size=(7, 7)) < 0.5)
    np.fill_diagonal(m, 0.0)
    sym = m + m.T
    out = _w(pw.from_dense(sym, ids=list("abcdefg"), transform="row"), "dense")
    out.update(
        _w(
            pw.from_sparse(rows=[0, 1, 2, 3], cols=[1, 2, 3, 0], values=[1.0, 2.0, 0.5, 1.5], n=5),
            "sparse",
        )
    )
    adj = {"a": ["b", "c"], "b": ["d"], "c": [], "d": ["a"], "e": []}
    adj_w = pw.from_adjacency(adj, symmetric=True).row_standardise(allow_islands=True)
    out.update(_w(adj_w, "adj"))
    out.update(_w(pw.from_adjacency([(1, 2), (2, 3), (3, 1), (4, 1)], symmetric=False), "pairs"))
    w = pw.from_dense(sym)
    out["spectral.data"] = w.spectral_normalise().data
    out["eigenvalues.sym_row"] = np.sort(w.row_standardise().eigenvalues().real)
    out["eigenvalues.sparse"] = pw.from_sparse(
        rows=[0, 1, 2, 3], cols=[1, 2, 3, 0], values=[1.0, 2.0, 0.5, 1.5], n=5
    ).eigenvalues()
    out["lag"] = w.row_standardise().lag(np.arange(7.0))
    out["dense"] = w.to_dense()
    return out


def _square(x: float, y: float) -> dict[str, Any]:
    ring = [[x, y], [x + 1, y], [x + 1, y + 1], [x, y + 1], [x, y]]
    return {"type": "Polygon", "coordinates": [ring]}


def weights_contiguity():
    """A 3 x 3 grid of unit squares, an L-shaped MultiPolygon touching it, and an island."""
    feats = [
        {"type": "Feature", "properties": {"id": f"g{i}{j}"}, "geometry": _square(i, j)}
        for i in range(3)
        for j in range(3)
    ]
    multi = {"type": "MultiPolygon", "coordinates": [_square(3, 0)["coordinates"],
                                                     _square(4, 1)["coordinates"]]}  # fmt: skip
    feats.append({"type": "Feature", "properties": {"id": "L"}, "geometry": multi})
    feats.append({"type": "Feature", "properties": {"id": "island"}, "geometry": _square(9, 9)})
    gj = {"type": "FeatureCollection", "features": feats}
    out = _w(pw.contiguity(gj, id_field="id", kind="queen"), "queen")
    out.update(_w(pw.contiguity(json.dumps(gj), id_field="id", kind="rook"), "rook"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        queen = pw.contiguity(gj, id_field="id", kind="queen", transform=None)
        out.update(_w(queen.row_standardise(allow_islands=True), "queen_row"))
    return out


# ------------------------------------------------------------------------------------------
# Moran
# ------------------------------------------------------------------------------------------
def _year(y: int) -> np.ndarray:
    return D.yrd().filter(pl.col("year") == y).sort("city_id")["gtfp"].to_numpy()


def moran_vector():
    return dict(pdid.moran(_year(2015), W=D.yrd_w(), reps=199, seed=1))


def moran_panel():
    tab = pdid.moran(D.yrd(), W=D.yrd_w(), y="gtfp", reps=99, seed=2, **KW)
    return frame(tab, "moran")


def moran_local_perm():
    return frame(pdid.moran_local(_year(2018), W=D.yrd_w(), reps=199, seed=3), "lisa")


# ------------------------------------------------------------------------------------------
# models
# ------------------------------------------------------------------------------------------
def _fit(res: Any, prefix: str = "fit") -> dict[str, Any]:
    out: dict[str, Any] = named(res.coef(), f"{prefix}.coef")
    out.update(named(res.se(), f"{prefix}.se"))
    out.update(
        {
            f"{prefix}.vcov": res.vcov(),
            f"{prefix}.rho": res.rho,
            f"{prefix}.lambda": res.lambda_,
            f"{prefix}.sigma2": res.sigma2,
            f"{prefix}.loglik": res.loglik,
            f"{prefix}.nobs": res.nobs,
            f"{prefix}.warnings": res.warnings,
            f"{prefix}.rho_bounds": res.rho_bounds,
            f"{prefix}.method": res.method,
            f"{prefix}.trace_se": res.trace_se,
        }
    )
    out.update(frame(res.tidy(), f"{prefix}.tidy"))
    out.update(frame(res.confint(0.9), f"{prefix}.confint90"))
    return out


def _impacts(imp: Any, prefix: str = "imp") -> dict[str, Any]:
    out: dict[str, Any] = {f"{prefix}.draws": imp.draws, f"{prefix}.rejected": imp.rejected}
    out.update(named(imp.direct, f"{prefix}.direct"))
    out.update(named(imp.indirect, f"{prefix}.indirect"))
    out.update(named(imp.total, f"{prefix}.total"))
    out.update(frame(imp.tidy(), f"{prefix}.delta"))
    out.update(frame(imp.tidy(method="simulation"), f"{prefix}.sim"))
    return out


def lm_tests_individual_twoways():
    out = named(pdid.lm_tests(FML, D.yrd(), W=D.yrd_w(), effects="individual", **KW), "individual")
    out.update(named(pdid.lm_tests(FML, D.yrd(), W=D.yrd_w(), effects="twoways", **KW), "twoways"))
    return out


def sar_individual_impacts():
    res = pdid.sar(FML, D.yrd(), W=D.yrd_w(), effects="individual", lee_yu=False, **KW)
    out = _fit(res)
    out.update(_impacts(res.impacts(reps=199, seed=5)))
    out.update(frame(res.unit_impacts(), "unit_impacts"))
    return out


def sar_twoways_lee_yu():
    return _fit(pdid.sar(FML, D.yrd(), W=D.yrd_w(), effects="twoways", lee_yu=True, **KW))


def sar_sparse_time_effects():
    res = pdid.sar(FML, D.yrd(), W=D.yrd_w(), effects="time", method="sparse", lee_yu=False, **KW)
    out = _fit(res)
    out.update(_impacts(res.impacts(reps=99, seed=6)))
    return out


def sar_fixed_rho_sdpdmod():
    out = _fit(
        pdid.sar(
            FML, D.yrd(), W=D.yrd_w(), fixed_rho=0.2, effects="individual", lee_yu=False, **KW
        ),
        "fixed",
    )
    out.update(
        _fit(
            pdid.sar(
                FML,
                D.yrd(),
                W=D.yrd_w(),
                rho_search="sdpdmod",
                effects="individual",
                lee_yu=False,
                **KW,
            ),
            "sdpdmod",
        )
    )
    return out


def sdm_twoways_wald_lr():
    sdm = pdid.sdm(FML, D.yrd(), W=D.yrd_w(), effects="twoways", lee_yu=True, **KW)
    sar = pdid.sar(FML, D.yrd(), W=D.yrd_w(), effects="twoways", lee_yu=True, **KW)
    out = _fit(sdm)
    out.update(_impacts(sdm.impacts(reps=199, seed=7)))
    out.update(named(sdm.wald_theta(), "wald_theta"))
    out.update(named(sdm.lr_test(sar), "lr_test"))
    return out


def sdm_durbin_subset_none():
    res = pdid.sdm(FML, D.yrd(), W=D.yrd_w(), effects="none", durbin=["did"], lee_yu=False, **KW)
    return _fit(res)


def sem_individual():
    return _fit(pdid.sem(FML, D.yrd(), W=D.yrd_w(), effects="individual", lee_yu=False, **KW))


def sem_twoways_fixed_lambda_sparse():
    res = pdid.sem(
        FML,
        D.yrd(),
        W=D.yrd_w(),
        effects="twoways",
        lee_yu=False,
        fixed_lambda=0.3,
        method="sparse",
        **KW,
    )
    return _fit(res)


def sdem_twoways():
    res = pdid.sdem(FML, D.yrd(), W=D.yrd_w(), effects="twoways", lee_yu=True, **KW)
    return _fit(res)


def sac_individual_impacts():
    res = pdid.sac(FML, D.yrd(), W=D.yrd_w(), effects="individual", lee_yu=False, **KW)
    out = _fit(res)
    out.update(_impacts(res.impacts(reps=99, seed=8)))
    return out


def sac_twoways_sparse():
    return _fit(
        pdid.sac(FML, D.yrd(), W=D.yrd_w(), effects="twoways", method="sparse", lee_yu=False, **KW)
    )


def spatial_did_twoways():
    fit, tab = pdid.spatial_did(
        D.yrd(),
        y="gtfp",
        treatment="did",
        W=D.yrd_w(),
        controls=["ln_gdp_pc"],
        reps=199,
        seed=3,
        **KW,
    )  # fmt: skip
    out = _fit(fit)
    out.update(frame(tab, "effects"))
    return out


def spatial_event_study_window():
    fit, tab = pdid.spatial_event_study(
        D.yrd(),
        y="gtfp",
        treatment="did",
        W=D.yrd_w(),
        window=(-3, 3),
        reps=99,
        seed=4,
        **KW,
    )  # fmt: skip
    out = _fit(fit)
    out.update(frame(tab, "effects"))
    return out


CALLS = {
    f.__name__: f
    for f in (
        weights_inverse_distance,
        weights_knn_band,
        weights_economic_nested,
        weights_dense_sparse_adjacency,
        weights_contiguity,
        moran_vector,
        moran_panel,
        moran_local_perm,
        lm_tests_individual_twoways,
        sar_individual_impacts,
        sar_twoways_lee_yu,
        sar_sparse_time_effects,
        sar_fixed_rho_sdpdmod,
        sdm_twoways_wald_lr,
        sdm_durbin_subset_none,
        sem_individual,
        sem_twoways_fixed_lambda_sparse,
        sdem_twoways,
        sac_individual_impacts,
        sac_twoways_sparse,
        spatial_did_twoways,
        spatial_event_study_window,
    )
}

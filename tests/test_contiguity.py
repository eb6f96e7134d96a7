"""GeoJSON queen / rook contiguity: pilotdid.weights.contiguity.

References: libpysal 4.14 ``Queen.from_iterable`` / ``Rook.from_iterable`` on shapely
polygons (an independent implementation) for an irregular polygon set built here (a 6 x 6
grid with perturbed shared vertices, some cells split into triangles, a MultiPolygon and an
island); hand-known adjacency of a k x k square grid (exact).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import pilotdid.weights as pw
from pilotdid._core import PilotdidError


def _feature(fid, coords, multi=False):
    return {
        "type": "Feature",
        "properties": {"name": fid, "other": 1},
        "geometry": {"type": "MultiPolygon" if multi else "Polygon", "coordinates": coords},
    }


def _ring(pts):
    pts = [list(map(float, p)) for p in pts]
    return pts + [pts[0]]


def _irregular_collection():
    rng = np.random.default_rng(0)
    k = 6
    v = np.stack(np.meshgrid(np.arange(k + 1.0), np.arange(k + 1.0)), -1)  # v[i, j] = (j, i)
    v[1:-1, 1:-1] += rng.uniform(-0.3, 0.3, size=(k - 1, k - 1, 2))
    feats = []
    for i in range(k):
        for j in range(k):
            a, b, c, d = v[i, j], v[i, j + 1], v[i + 1, j + 1], v[i + 1, j]
            if (i + j) % 5 == 0:
                feats.append(_feature(f"c{i}_{j}a", [_ring([a, b, c])]))
                feats.append(_feature(f"c{i}_{j}b", [_ring([a, c, d])]))
            else:
                feats.append(_feature(f"c{i}_{j}", [_ring([a, b, c, d])]))
    # A MultiPolygon touching the grid's right edge at two places, and an island.
    feats.append(
        _feature(
            "multi",
            [
                [_ring([(k, 0), (k + 1, 0), (k + 1, 1), (k, 1)])],
                [_ring([(k, 4), (k + 1, 4), (k + 1, 5), (k, 5)])],
            ],
            multi=True,
        )
    )
    feats.append(_feature("island", [_ring([(20, 20), (21, 20), (21, 21)])]))
    # A unit touching the grid at a single corner only (queen, not rook).
    feats.append(_feature("corner", [_ring([(-1, -1), (0, -1), (0, 0), (-1, 0)])]))
    return {"type": "FeatureCollection", "features": feats}


def _neigh(W):
    d = W.to_dense()
    return {W.ids[i]: sorted(W.ids[j] for j in np.flatnonzero(d[i])) for i in range(W.n)}


@pytest.mark.parametrize("kind", ["queen", "rook"])
def test_matches_libpysal(kind):
    """Irregular polygons (perturbed grid, triangles, MultiPolygon, island, corner-touching
    unit): the neighbour sets equal libpysal's Queen / Rook exactly."""
    shapely = pytest.importorskip("shapely.geometry")
    libpysal = pytest.importorskip("libpysal")
    gj = _irregular_collection()
    W = pw.contiguity(gj, id_field="name", kind=kind)
    shapes = [shapely.shape(f["geometry"]) for f in gj["features"]]
    ids = [f["properties"]["name"] for f in gj["features"]]
    cls = libpysal.weights.Queen if kind == "queen" else libpysal.weights.Rook
    ref = cls.from_iterable(shapes, ids=ids, silence_warnings=True)
    got = _neigh(W)
    for i in ids:
        assert got[i] == sorted(ref.neighbors[i]), i
    expected = ["island"] if kind == "queen" else ["island", "corner"]
    assert sorted(map(str, W.islands)) == sorted(expected)
    assert ("c0_0a" in got["corner"]) is (kind == "queen")


def test_square_grid_hand_known_and_inputs(tmp_path):
    """k x k unit squares (k = 4): queen degrees 3/5/8 (corner/edge/interior), rook 2/3/4,
    nnz = 2(2k(k-1)) rook and rook + 2*2(k-1)^2 queen; a path, a JSON string and a dict
    give the same W; transform="row" row-standardises."""
    k = 4
    feats = []
    for i in range(k):
        for j in range(k):
            feats.append(
                _feature(i * k + j, [_ring([(j, i), (j + 1, i), (j + 1, i + 1), (j, i + 1)])])
            )
    gj = {"type": "FeatureCollection", "features": feats}
    q = pw.contiguity(gj, id_field="name", kind="queen")
    r = pw.contiguity(gj, id_field="name", kind="rook")
    deg = lambda W: np.diff(W.indptr)  # noqa: E731
    assert deg(q)[[0, 1, 5]].tolist() == [3, 5, 8]
    assert deg(r)[[0, 1, 5]].tolist() == [2, 3, 4]
    assert len(r.data) == 2 * 2 * k * (k - 1)
    assert len(q.data) == len(r.data) + 2 * 2 * (k - 1) ** 2
    path = tmp_path / "grid.geojson"
    path.write_text(json.dumps(gj))
    for src in (path, str(path), json.dumps(gj)):
        w2 = pw.contiguity(src, id_field="name", kind="queen")
        np.testing.assert_array_equal(w2.to_dense(), q.to_dense())
    rs = pw.contiguity(gj, id_field="name", kind="queen", transform="row").to_dense()
    np.testing.assert_allclose(rs.sum(1), 1.0)


def test_tolerance_merges_near_vertices():
    """Two squares whose shared edge is off by 1e-9: not neighbours with tolerance=0,
    rook and queen neighbours with tolerance=1e-6."""
    a = _feature("a", [_ring([(0, 0), (1, 0), (1, 1), (0, 1)])])
    b = _feature("b", [_ring([(1 + 1e-9, 0), (2, 0), (2, 1), (1 + 1e-9, 1)])])
    gj = {"type": "FeatureCollection", "features": [a, b]}
    assert pw.contiguity(gj, id_field="name", kind="rook").to_dense().sum() == 0
    for kind in ("queen", "rook"):
        d = pw.contiguity(gj, id_field="name", kind=kind, tolerance=1e-6).to_dense()
        np.testing.assert_array_equal(d, [[0, 1], [1, 0]])


def test_errors():
    """Missing id_field, duplicate ids, non-polygon geometry, bad kind, bad input."""
    a = _feature("a", [_ring([(0, 0), (1, 0), (1, 1)])])
    b = _feature("a", [_ring([(1, 0), (2, 0), (1, 1)])])
    with pytest.raises(PilotdidError, match="no property 'nom'"):
        pw.contiguity({"type": "FeatureCollection", "features": [a]}, id_field="nom")
    with pytest.raises(PilotdidError, match="duplicate id 'a'"):
        pw.contiguity({"type": "FeatureCollection", "features": [a, b]}, id_field="name")
    pt = {
        "type": "Feature",
        "properties": {"name": "p"},
        "geometry": {"type": "Point", "coordinates": [0, 0]},
    }
    with pytest.raises(PilotdidError, match="'Point'"):
        pw.contiguity({"type": "FeatureCollection", "features": [a, pt]}, id_field="name")
    with pytest.raises(PilotdidError, match="kind"):
        pw.contiguity(
            {"type": "FeatureCollection", "features": [a]}, id_field="name", kind="bishop"
        )
    with pytest.raises(PilotdidError, match="FeatureCollection"):
        pw.contiguity({"type": "Feature"}, id_field="name")
    with pytest.raises(PilotdidError, match="cannot be read"):
        pw.contiguity("/nonexistent/file.geojson", id_field="name")
    with pytest.raises(PilotdidError, match="tolerance"):
        pw.contiguity(
            {"type": "FeatureCollection", "features": [a]}, id_field="name", tolerance=-1.0
        )

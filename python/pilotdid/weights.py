"""Spatial weights: build, transform and inspect N x N matrices (sparse CSR storage).

Every constructor returns a :class:`Weights` whose ``ids`` name the units in row order;
estimators match these ids to the panel's unit column and refuse a mismatch. The numbers
(distances, neighbours, standardisation, eigenvalues) are computed in the Rust core.

Constructors: :func:`from_dense`, :func:`from_sparse`, :func:`from_adjacency`,
:func:`inverse_distance`, :func:`knn`, :func:`distance_band`, :func:`economic`,
:func:`nested`. Transforms: :meth:`Weights.row_standardise`,
:meth:`Weights.spectral_normalise`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pilotdid import _core
from pilotdid._core import PilotdidError

__all__ = [
    "Weights",
    "contiguity",
    "distance_band",
    "economic",
    "from_adjacency",
    "from_dense",
    "from_sparse",
    "inverse_distance",
    "knn",
    "nested",
]


@dataclass(frozen=True)
class Weights:
    """A spatial weights matrix in CSR form.

    Attributes: ``ids`` (unit ids in row order), ``indptr``, ``indices``, ``data`` (CSR),
    ``transform`` (``"raw"``, ``"row"`` or ``"spectral"``), ``kind`` (how it was built).
    """

    ids: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    transform: str = "raw"
    kind: str = "custom"
    _meta: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def n(self) -> int:
        """Number of units."""
        return len(self.ids)

    @property
    def nnz(self) -> int:
        """Number of non-zero weights."""
        return len(self.data)

    @property
    def islands(self) -> list[Any]:
        """Ids of units with no neighbours."""
        counts = np.diff(self.indptr)
        return [self.ids[i] for i in np.flatnonzero(counts == 0)]

    @property
    def cardinalities(self) -> np.ndarray:
        """Number of neighbours of each unit."""
        return np.diff(self.indptr)

    def _csr(self) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
        return self.n, self.indptr, self.indices, self.data

    def to_dense(self) -> np.ndarray:
        """The N x N matrix as a dense array."""
        out = np.zeros((self.n, self.n))
        rows = np.repeat(np.arange(self.n), np.diff(self.indptr))
        out[rows, self.indices] = self.data
        return out

    def to_scipy(self) -> Any:
        """A ``scipy.sparse.csr_array`` (needs scipy)."""
        import scipy.sparse as sp

        return sp.csr_array((self.data, self.indices, self.indptr), shape=(self.n, self.n))

    def _with(self, csr: tuple[np.ndarray, np.ndarray, np.ndarray], transform: str) -> Weights:
        return Weights(self.ids, csr[0], csr[1], csr[2], transform, self.kind, dict(self._meta))

    def row_standardise(self, allow_islands: bool = False) -> Weights:
        """Rows sum to one. Islands raise an error unless ``allow_islands`` (rows stay 0)."""
        return self._with(_core.sp_transform(*self._csr(), "row", allow_islands), "row")

    def spectral_normalise(self) -> Weights:
        """Divide by the largest eigenvalue modulus (keeps symmetry of symmetric W)."""
        return self._with(_core.sp_transform(*self._csr(), "spectral"), "spectral")

    def eigenvalues(self) -> np.ndarray:
        """All eigenvalues (complex array; real for symmetric or row-standardised symmetric W)."""
        re, im = _core.sp_eigenvalues(*self._csr())
        return re + 1j * im if np.any(im != 0) else re

    def is_row_standardised(self) -> bool:
        """Every non-empty row sums to one (1e-10)."""
        s = np.add.reduceat(self.data, self.indptr[:-1]) if self.nnz else np.zeros(self.n)
        s = np.where(np.diff(self.indptr) == 0, 1.0, s)
        return bool(np.all(np.abs(s - 1) < 1e-10))

    def lag(self, x: np.ndarray) -> np.ndarray:
        """W x for a vector in the order of ``ids``."""
        x = np.asarray(x, dtype=np.float64)
        if x.shape[0] != self.n:
            raise PilotdidError(f"W.lag: vector of length {x.shape[0]} for {self.n} units")
        rows = np.repeat(np.arange(self.n), np.diff(self.indptr))
        return np.bincount(rows, weights=self.data * x[self.indices], minlength=self.n)

    def subset(self, ids: Sequence[Any]) -> Weights:
        """The sub-matrix for ``ids`` (in that order), before any re-standardisation."""
        pos = self.positions(ids)
        dense = self.to_dense()[np.ix_(pos, pos)]
        return from_dense(dense, ids=list(ids))

    def positions(self, ids: Sequence[Any]) -> np.ndarray:
        """Row of each id; a clear error names ids that W does not have."""
        index = {_key(v): i for i, v in enumerate(self.ids)}
        out, missing = [], []
        for v in ids:
            i = index.get(_key(v))
            if i is None:
                missing.append(v)
            else:
                out.append(i)
        if missing:
            raise PilotdidError(
                f"{len(missing)} unit id(s) are not in W's ids: {missing[:5]!r}"
                + (" ..." if len(missing) > 5 else "")
                + f"; W has {self.n} units, e.g. {list(self.ids[:3])!r}"
            )
        return np.asarray(out, dtype=np.int64)

    def __repr__(self) -> str:
        return (
            f"Weights(n={self.n}, nnz={self.nnz}, kind={self.kind!r}, "
            f"transform={self.transform!r}, islands={len(self.islands)})"
        )


def _key(v: Any) -> Any:
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)) and float(v).is_integer():
        return int(v)
    if isinstance(v, np.str_):
        return str(v)
    return v


def _ids(ids: Sequence[Any] | None, n: int) -> np.ndarray:
    if ids is None:
        return np.arange(n)
    arr = np.asarray(list(ids))
    if arr.shape[0] != n:
        raise PilotdidError(f"ids has {arr.shape[0]} entries for a {n} x {n} W")
    if len({_key(v) for v in arr}) != n:
        raise PilotdidError("ids are not unique")
    return arr


def _make(ids: np.ndarray, csr: tuple, kind: str, transform: str | None) -> Weights:
    w = Weights(ids, np.asarray(csr[0]), np.asarray(csr[1]), np.asarray(csr[2]), "raw", kind)
    if transform in (None, "raw", "none"):
        return w
    if transform in ("row", "r"):
        return w.row_standardise()
    if transform == "spectral":
        return w.spectral_normalise()
    raise PilotdidError(f"option 'transform': unknown value {transform!r} (row, spectral, raw)")


def from_dense(
    matrix: Any, ids: Sequence[Any] | None = None, transform: str | None = None
) -> Weights:
    """From a dense N x N array (numpy, polars/pandas frame of numbers).

    A non-square matrix or a non-zero diagonal is an error. ``transform="row"`` standardises.
    """
    m = np.asarray(matrix.to_numpy() if hasattr(matrix, "to_numpy") else matrix, dtype=float)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise PilotdidError(f"W must be a square matrix, got shape {m.shape}")
    if np.any(np.diag(m) != 0):
        raise PilotdidError("W has a non-zero diagonal (a unit is its own neighbour)")
    if not np.all(np.isfinite(m)):
        raise PilotdidError("W has missing or infinite entries")
    r, c = np.nonzero(m)
    csr = _core.sp_from_triplets(m.shape[0], r.astype(np.int64), c.astype(np.int64), m[r, c])
    return _make(_ids(ids, m.shape[0]), csr, "dense", transform)


def from_sparse(
    matrix: Any = None,
    ids: Sequence[Any] | None = None,
    *,
    rows: Any = None,
    cols: Any = None,
    values: Any = None,
    n: int | None = None,
    transform: str | None = None,
) -> Weights:
    """From a scipy sparse matrix, or from ``rows``, ``cols``, ``values`` triplets (with ``n``)."""
    if matrix is not None:
        coo = matrix.tocoo()
        if coo.shape[0] != coo.shape[1]:
            raise PilotdidError(f"W must be square, got shape {coo.shape}")
        n, rows, cols, values = coo.shape[0], coo.row, coo.col, coo.data
    if rows is None or cols is None or n is None:
        raise PilotdidError("from_sparse needs a scipy sparse matrix or rows, cols and n")
    values = np.ones(len(rows)) if values is None else np.asarray(values, dtype=float)
    csr = _core.sp_from_triplets(
        int(n), np.asarray(rows, np.int64), np.asarray(cols, np.int64), values
    )
    return _make(_ids(ids, int(n)), csr, "sparse", transform)


def from_adjacency(
    neighbours: Mapping[Any, Iterable[Any]] | Iterable[tuple[Any, Any]],
    ids: Sequence[Any] | None = None,
    *,
    symmetric: bool = True,
    transform: str | None = None,
) -> Weights:
    """Binary contiguity from ``{id: [neighbour ids]}`` or an iterable of ``(id, id)`` pairs.

    ``symmetric=True`` adds each pair in both directions. Units listed in ``ids`` without
    neighbours become islands (reported by ``Weights.islands``).
    """
    if isinstance(neighbours, Mapping):
        pairs = [(a, b) for a, nbs in neighbours.items() for b in nbs]
        seen = list(neighbours.keys())
    else:
        pairs = [tuple(p) for p in neighbours]
        seen = []
    if ids is None:
        order: list[Any] = []
        for v in seen + [x for p in pairs for x in p]:
            if _key(v) not in {_key(o) for o in order}:
                order.append(v)
        ids = order
    arr = _ids(ids, len(ids))
    index = {_key(v): i for i, v in enumerate(arr)}
    rr, cc = [], []
    for a, b in pairs:
        if _key(a) not in index or _key(b) not in index:
            raise PilotdidError(f"adjacency pair ({a!r}, {b!r}) names an id not in ids")
        i, j = index[_key(a)], index[_key(b)]
        if i == j:
            continue
        rr.append(i)
        cc.append(j)
        if symmetric:
            rr.append(j)
            cc.append(i)
    m = np.zeros((len(arr), len(arr)))
    m[rr, cc] = 1.0
    r, c = np.nonzero(m)
    csr = _core.sp_from_triplets(len(arr), r.astype(np.int64), c.astype(np.int64), m[r, c])
    return _make(arr, csr, "adjacency", transform)


def _coords(lat: Any, lon: Any) -> tuple[np.ndarray, np.ndarray]:
    la = np.ascontiguousarray(np.asarray(lat, dtype=np.float64))
    lo = np.ascontiguousarray(np.asarray(lon, dtype=np.float64))
    return la, lo


def inverse_distance(
    lat: Any,
    lon: Any,
    ids: Sequence[Any] | None = None,
    *,
    power: float = 1.0,
    cutoff_km: float | None = None,
    transform: str | None = "row",
    radius_km: float = 6371.0088,
) -> Weights:
    """Inverse great-circle distance 1/d^power (km, haversine; mean Earth radius 6371.0088
    km by default, ``radius_km=6371.0`` for the other common convention).

    Pairs farther than ``cutoff_km`` get zero. Row-standardised by default.
    """
    la, lo = _coords(lat, lon)
    csr = _core.sp_from_coords(
        la,
        lo,
        "inverse_distance",
        power=float(power),
        cutoff=cutoff_km,
        radius_km=float(radius_km),
    )
    return _make(_ids(ids, len(la)), csr, "inverse_distance", transform)


def knn(
    lat: Any, lon: Any, k: int, ids: Sequence[Any] | None = None, *, transform: str | None = "row"
) -> Weights:
    """k nearest neighbours (binary) by great-circle distance (ties: the lower index)."""
    la, lo = _coords(lat, lon)
    csr = _core.sp_from_coords(la, lo, "knn", k=int(k))
    return _make(_ids(ids, len(la)), csr, "knn", transform)


def distance_band(
    lat: Any,
    lon: Any,
    threshold_km: float,
    ids: Sequence[Any] | None = None,
    *,
    transform: str | None = None,
    radius_km: float = 6371.0088,
) -> Weights:
    """Binary: 1 for pairs within ``threshold_km`` (great-circle)."""
    la, lo = _coords(lat, lon)
    csr = _core.sp_from_coords(
        la, lo, "distance_band", threshold=float(threshold_km), radius_km=float(radius_km)
    )
    return _make(_ids(ids, len(la)), csr, "distance_band", transform)


def economic(z: Any, ids: Sequence[Any] | None = None, *, transform: str | None = "row") -> Weights:
    """Economic distance: w_ij = 1/|z_i - z_j| (e.g. z = mean GDP per capita)."""
    zz = np.ascontiguousarray(np.asarray(z, dtype=np.float64))
    return _make(_ids(ids, len(zz)), _core.sp_economic(zz), "economic", transform)


def nested(geo: Weights, z: Any, *, transform: str | None = "row") -> Weights:
    """Nested geographic x economic weights: w_ij = geo_ij / |z_i - z_j| (elementwise)."""
    zz = np.ascontiguousarray(np.asarray(z, dtype=np.float64))
    csr = _core.sp_nested(*geo._csr(), zz)
    return _make(geo.ids, csr, "nested", transform)


def _load_geojson(geojson: Any) -> dict[str, Any]:
    import json
    import os

    if isinstance(geojson, dict):
        return geojson
    if isinstance(geojson, os.PathLike) or (
        isinstance(geojson, str) and not geojson.lstrip().startswith(("{", "["))
    ):
        try:
            with open(os.fspath(geojson), encoding="utf-8") as fh:
                return json.load(fh)
        except OSError as e:
            raise PilotdidError(f"GeoJSON file {os.fspath(geojson)!r} cannot be read: {e}") from e
        except json.JSONDecodeError as e:
            raise PilotdidError(
                f"GeoJSON file {os.fspath(geojson)!r} is not valid JSON: {e}"
            ) from e
    if isinstance(geojson, str):
        try:
            return json.loads(geojson)
        except json.JSONDecodeError as e:
            raise PilotdidError(f"GeoJSON string is not valid JSON: {e}") from e
    raise PilotdidError(
        f"geojson must be a path, a JSON string or a dict, got {type(geojson).__name__}"
    )


def contiguity(
    geojson: Any,
    id_field: str,
    kind: str = "queen",
    *,
    tolerance: float = 0.0,
    transform: str | None = None,
) -> Weights:
    """Queen or rook contiguity from a GeoJSON FeatureCollection of Polygon / MultiPolygon
    features (a path, a JSON string or an already-parsed dict).

    Queen neighbours share at least one vertex, rook neighbours at least one edge (the
    vertex-set method of GeoDa / libpysal). ``tolerance`` (in coordinate units) merges
    vertices closer than it before matching. ``id_field`` names the feature property that
    identifies units (ids in feature order). Binary weights unless ``transform="row"``.
    Features without neighbours are islands (``Weights.islands``).
    """
    if kind not in ("queen", "rook"):
        raise PilotdidError(f"option 'kind': {kind!r} (use 'queen' or 'rook')")
    gj = _load_geojson(geojson)
    if not isinstance(gj, dict) or gj.get("type") != "FeatureCollection":
        raise PilotdidError("geojson must be a FeatureCollection")
    feats = gj.get("features")
    if not isinstance(feats, list) or not feats:
        raise PilotdidError("geojson FeatureCollection has no features")
    ids: list[Any] = []
    xs: list[float] = []
    ys: list[float] = []
    ring_ptr = [0]
    unit_ptr = [0]
    for i, f in enumerate(feats):
        props = (f or {}).get("properties") or {}
        if id_field not in props:
            raise PilotdidError(f"feature {i} has no property {id_field!r} (id_field)")
        ids.append(props[id_field])
        geom = (f or {}).get("geometry") or {}
        gtype = geom.get("type")
        if gtype == "Polygon":
            polys = [geom.get("coordinates") or []]
        elif gtype == "MultiPolygon":
            polys = geom.get("coordinates") or []
        else:
            raise PilotdidError(
                f"feature {i} ({id_field} = {props[id_field]!r}) has geometry {gtype!r}: "
                "only Polygon and MultiPolygon are supported"
            )
        for poly in polys:
            for ring in poly:
                try:
                    arr = np.asarray(ring, dtype=float)
                except (TypeError, ValueError) as e:
                    raise PilotdidError(
                        f"feature {i} ({id_field} = {props[id_field]!r}) has invalid coordinates"
                    ) from e
                if arr.ndim != 2 or arr.shape[1] < 2:
                    raise PilotdidError(
                        f"feature {i} ({id_field} = {props[id_field]!r}) has invalid coordinates"
                    )
                xs.extend(arr[:, 0].tolist())
                ys.extend(arr[:, 1].tolist())
                ring_ptr.append(len(xs))
        unit_ptr.append(len(ring_ptr) - 1)
    seen: dict[Any, int] = {}
    for i, v in enumerate(ids):
        k = _key(v)
        if k in seen:
            raise PilotdidError(
                f"duplicate id {v!r} in property {id_field!r} (features {seen[k]} and {i})"
            )
        seen[k] = i
    csr = _core.sp_contiguity(
        np.asarray(xs, dtype=np.float64),
        np.asarray(ys, dtype=np.float64),
        np.asarray(ring_ptr, dtype=np.int64),
        np.asarray(unit_ptr, dtype=np.int64),
        kind,
        float(tolerance),
    )
    return _make(_ids(ids, len(ids)), csr, kind, transform)

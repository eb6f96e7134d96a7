"""Spatial weights: build, transform and inspect N x N matrices (sparse CSR storage).

Every constructor returns a :class:`Weights` whose ``ids`` name the units in row order;
estimators match these ids to the panel's unit column and refuse a mismatch. The numbers
(distances, neighbours, standardisation, eigenvalues) are computed in the Rust core.

Constructors: :func:`from_dense`, :func:`from_sparse`, :func:`from_adjacency`,
:func:`inverse_distance`, :func:`knn`, :func:`distance_band`, :func:`economic`,
:func:`nested`, :func:`contiguity`. Transforms: :meth:`Weights.row_standardise`,
:meth:`Weights.spectral_normalise`.

Why these are the exception to "data first": a weights constructor does not read a data frame.
Its first inputs are the geometry itself -- coordinates (``lat, lon``), a matrix, a neighbour
list, a GeoJSON collection or an economic variable ``z`` -- and they stay positional, as in
libpysal and spdep (``knn(lat, lon, k=4)``). Everything after them (``k``, ``ids``,
``transform``, distances) is keyword-only, as everywhere else in the package. Every option is
checked (type, range, finiteness) before the core is called, and an empty W is refused: an
estimator given zero units would otherwise fail far from the cause.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pilotdid import _core
from pilotdid._args import (
    available_memory,
    check_bool,
    check_choice,
    check_float,
    check_int,
    vocabulary,
)
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

    def _sparse(self) -> _core.SparseWeights:
        """The matrix as the core takes it (the core checks the CSR arrays)."""
        return _core.SparseWeights(self.n, self.indptr, self.indices, self.data)

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

    def _with(self, csr: _core.SparseWeights, transform: str) -> Weights:
        return Weights(
            self.ids, csr.indptr, csr.indices, csr.data, transform, self.kind, dict(self._meta)
        )

    def row_standardise(self, *, allow_islands: bool = False) -> Weights:
        """Rows sum to one. Islands raise an error unless ``allow_islands`` (rows stay 0)."""
        allow_islands = check_bool("allow_islands", allow_islands)
        w = _core.sp_transform(self._sparse(), how="row", allow_islands=allow_islands)
        return self._with(w, "row")

    def spectral_normalise(self) -> Weights:
        """Divide by the largest eigenvalue modulus (keeps symmetry of symmetric W)."""
        return self._with(_core.sp_transform(self._sparse(), how="spectral"), "spectral")

    def eigenvalues(self, *, extremes: bool = False) -> np.ndarray:
        """All eigenvalues (complex array; real for symmetric or row-standardised symmetric W),
        from the dense N x N matrix.

        ``extremes=True``: only the smallest and largest, ``array([min, max])``, the bounds of
        the admissible rho interval (1/min, 1/max), by Lanczos on the symmetrised W without an
        N x N matrix (converged to 1e-10 relative; seeded, so repeatable). It needs W
        symmetric or similar to a symmetric matrix (row-standardised contiguity, distance
        band or symmetrised kNN); any other W is an error that says so."""
        extremes = check_bool("extremes", extremes)
        if extremes:
            lo, hi = _core.sp_extreme_eigenvalues(self._sparse())
            return np.array([lo, hi])
        ev = _core.sp_eigenvalues(self._sparse())
        re, im = ev.re, ev.im
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
        # From the CSR arrays (no N x N matrix: the spatial models subset large W when they
        # drop incomplete units); the same triplets, in the same order, as the dense
        # sub-matrix's non-zeros, and the same kind ("dense") as before.
        new_of = np.full(self.n, -1, dtype=np.int64)
        new_of[pos] = np.arange(pos.size)
        counts = np.diff(self.indptr)
        rows_old = np.repeat(np.arange(self.n), counts)
        cols_new = new_of[self.indices]
        rows_new = new_of[rows_old]
        keep = (rows_new >= 0) & (cols_new >= 0) & (self.data != 0)
        r, c, v = rows_new[keep], cols_new[keep], self.data[keep]
        order = np.lexsort((c, r))
        csr = _core.sp_from_triplets(pos.size, r[order], c[order], v[order].astype(float))
        return _make(_ids(list(ids), pos.size), csr, "dense", None)

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


#: Accepted spellings of ``transform`` (None and "raw"/"none" leave W as built).
_TRANSFORMS = ("row", "r", "spectral", "raw", "none")
#: Bytes per unit of the smallest W the core can hold: CSR row pointer and the id (int64).
_BYTES_PER_UNIT = 16


def _nonempty(n: int, what: str) -> None:
    if n == 0:
        raise PilotdidError(
            f"{what} has no units: a spatial weights matrix needs at least one unit "
            "(estimators and Moran's I need several)"
        )


def _ids(ids: Sequence[Any] | None, n: int) -> np.ndarray:
    if ids is None:
        return np.arange(n)
    if isinstance(ids, (str, bytes)):
        raise PilotdidError(f"option 'ids': expected a sequence of unit ids, got {ids!r}")
    arr = np.asarray(list(ids))
    if arr.shape[0] != n:
        raise PilotdidError(f"ids has {arr.shape[0]} entries for a {n} x {n} W")
    if len({_key(v) for v in arr}) != n:
        raise PilotdidError("ids are not unique")
    return arr


def _check_transform(transform: Any) -> str | None:
    return None if transform is None else check_choice("transform", transform, _TRANSFORMS)


def _make(ids: np.ndarray, csr: _core.SparseWeights, kind: str, transform: str | None) -> Weights:
    w = Weights(ids, csr.indptr, csr.indices, csr.data, "raw", kind)
    if transform in (None, "raw", "none"):
        return w
    if transform in ("row", "r"):
        return w.row_standardise()
    return w.spectral_normalise()


def _vector(name: str, value: Any) -> np.ndarray:
    """A one-dimensional float64 array (contiguous) or an error naming the input."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise PilotdidError(f"'{name}': expected numbers, got {type(value).__name__}") from e
    if arr.ndim != 1:
        raise PilotdidError(f"'{name}': expected a one-dimensional array, got shape {arr.shape}")
    return np.ascontiguousarray(arr)


def _index_vector(name: str, value: Any) -> np.ndarray:
    """0-based row or column indices: whole numbers (0.5 is refused, never truncated)."""
    raw = np.asarray(value)
    if raw.dtype == np.bool_ or not (
        np.issubdtype(raw.dtype, np.integer) or np.issubdtype(raw.dtype, np.floating)
    ):
        raise PilotdidError(
            f"option '{name}': expected 0-based integer indices, got values of type {raw.dtype}"
        )
    if raw.ndim != 1:
        raise PilotdidError(f"option '{name}': expected a one-dimensional array, got {raw.shape}")
    if np.issubdtype(raw.dtype, np.floating):
        bad = np.flatnonzero(~np.isfinite(raw) | (raw != np.floor(raw)))
        if bad.size:
            k = int(bad[0])
            raise PilotdidError(
                f"option '{name}': entry {k} is {float(raw[k])!r}, not a whole number "
                "(indices are 0-based integers; they are never truncated)"
            )
    return raw.astype(np.int64)


def _check_n(n: Any, ids: Sequence[Any] | None) -> int:
    """The number of units of a triplet W, checked before anything of size n is allocated."""
    n = check_int("n", n, lo=1)
    if ids is not None and not isinstance(ids, (str, bytes)) and hasattr(ids, "__len__"):
        if len(ids) != n:
            raise PilotdidError(f"option 'n': n = {n} but ids has {len(ids)} entries")
        return n
    need = _BYTES_PER_UNIT * (n + 1)
    budget = available_memory() / 2
    if need > budget:
        raise PilotdidError(
            f"option 'n': a W with {n} units would need {need / 1e9:.3g} GB for its row "
            f"pointers and ids alone, more than half of the {2 * budget / 1e9:.3g} GB available"
        )
    return n


@vocabulary()
def from_dense(
    matrix: Any, *, ids: Sequence[Any] | None = None, transform: str | None = None
) -> Weights:
    """From a dense N x N array (numpy, polars/pandas frame of numbers).

    A non-square or empty matrix, a non-zero diagonal and missing or infinite entries are
    errors. ``transform="row"`` standardises.
    """
    transform = _check_transform(transform)
    try:
        m = np.asarray(matrix.to_numpy() if hasattr(matrix, "to_numpy") else matrix, dtype=float)
    except (TypeError, ValueError) as e:
        raise PilotdidError(f"W must be a square matrix of numbers: {e}") from e
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise PilotdidError(f"W must be a square matrix, got shape {m.shape}")
    _nonempty(m.shape[0], "the matrix")
    if not np.all(np.isfinite(m)):
        raise PilotdidError("W has missing or infinite entries")
    if np.any(np.diag(m) != 0):
        raise PilotdidError("W has a non-zero diagonal (a unit is its own neighbour)")
    r, c = np.nonzero(m)
    csr = _core.sp_from_triplets(m.shape[0], r.astype(np.int64), c.astype(np.int64), m[r, c])
    return _make(_ids(ids, m.shape[0]), csr, "dense", transform)


@vocabulary()
def from_sparse(
    matrix: Any = None,
    *,
    ids: Sequence[Any] | None = None,
    rows: Any = None,
    cols: Any = None,
    values: Any = None,
    n: int | None = None,
    transform: str | None = None,
) -> Weights:
    """From a scipy sparse matrix, or from ``rows``, ``cols``, ``values`` triplets (with ``n``).

    Indices are 0-based whole numbers below ``n`` (fractions are refused, never truncated);
    ``rows``, ``cols`` and ``values`` have one entry per non-zero weight (``values`` defaults
    to ones); weights must be finite. ``n`` must equal ``len(ids)`` when ids are given.
    """
    transform = _check_transform(transform)
    if matrix is not None:
        if not hasattr(matrix, "tocoo"):
            raise PilotdidError(
                f"from_sparse: expected a scipy sparse matrix, got {type(matrix).__name__} "
                "(use from_dense for a dense array)"
            )
        coo = matrix.tocoo()
        if coo.shape[0] != coo.shape[1]:
            raise PilotdidError(f"W must be square, got shape {coo.shape}")
        if any(v is not None for v in (rows, cols, values, n)):
            raise PilotdidError("from_sparse: give a sparse matrix or rows/cols/n, not both")
        n, rows, cols, values = coo.shape[0], coo.row, coo.col, coo.data
        _nonempty(n, "the sparse matrix")
    if rows is None or cols is None or n is None:
        raise PilotdidError("from_sparse needs a scipy sparse matrix or rows, cols and n")
    n = _check_n(n, ids)
    rr = _index_vector("rows", rows)
    cc = _index_vector("cols", cols)
    if rr.shape[0] != cc.shape[0]:
        raise PilotdidError(
            f"from_sparse: rows has {rr.shape[0]} entries and cols has {cc.shape[0]}"
        )
    if values is None:
        vals = np.ones(rr.shape[0])
    else:
        vals = _vector("values", values)
        if vals.shape[0] != rr.shape[0]:
            raise PilotdidError(
                f"from_sparse: values has {vals.shape[0]} entries for {rr.shape[0]} index pairs"
            )
        bad = np.flatnonzero(~np.isfinite(vals))
        if bad.size:
            k = int(bad[0])
            raise PilotdidError(
                f"option 'values': weight {k} (row {rr[k]}, col {cc[k]}) is {vals[k]}; "
                "weights must be finite"
            )
    csr = _core.sp_from_triplets(n, rr, cc, vals)
    return _make(_ids(ids, n), csr, "sparse", transform)


@vocabulary()
def from_adjacency(
    neighbours: Mapping[Any, Iterable[Any]] | Iterable[tuple[Any, Any]],
    *,
    ids: Sequence[Any] | None = None,
    symmetric: bool = True,
    transform: str | None = None,
) -> Weights:
    """Binary contiguity from ``{id: [neighbour ids]}`` or an iterable of ``(id, id)`` pairs.

    ``symmetric=True`` adds each pair in both directions. Units listed in ``ids`` without
    neighbours become islands (reported by ``Weights.islands``). No units at all is an error.
    """
    symmetric = check_bool("symmetric", symmetric)
    transform = _check_transform(transform)
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
    _nonempty(len(ids), "the adjacency list")
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
    # Unique (row, col) pairs, no N x N array: a pair listed twice is still one weight of 1.
    pairs_rc = np.unique(np.array([rr, cc], dtype=np.int64).reshape(2, -1), axis=1)
    r, c = np.ascontiguousarray(pairs_rc[0]), np.ascontiguousarray(pairs_rc[1])
    csr = _core.sp_from_triplets(len(arr), r, c, np.ones(r.size))
    return _make(arr, csr, "adjacency", transform)


def _coords(lat: Any, lon: Any) -> tuple[np.ndarray, np.ndarray]:
    la = _vector("lat", lat)
    lo = _vector("lon", lon)
    _nonempty(len(la), "lat/lon")
    return la, lo


def _radius(radius_km: Any) -> float:
    return check_float("radius_km", radius_km, lo=0.0, lo_open=True)


@vocabulary()
def inverse_distance(
    lat: Any,
    lon: Any,
    *,
    ids: Sequence[Any] | None = None,
    power: float = 1.0,
    cutoff_km: float | None = None,
    transform: str | None = "row",
    radius_km: float = 6371.0088,
) -> Weights:
    """Inverse great-circle distance 1/d^power (km, haversine; mean Earth radius 6371.0088
    km by default, ``radius_km=6371.0`` for the other common convention).

    Pairs farther than ``cutoff_km`` get zero. Row-standardised by default. ``power`` > 0.
    With ``cutoff_km`` the pairs come from a k-d tree (O(N log N) plus the number of pairs);
    without it every pair is a neighbour (N^2 weights). Identical coordinates are an error.
    """
    power = check_float("power", power, lo=0.0, lo_open=True)
    if cutoff_km is not None:
        cutoff_km = check_float("cutoff_km", cutoff_km, lo=0.0, lo_open=True)
    radius = _radius(radius_km)
    transform = _check_transform(transform)
    la, lo = _coords(lat, lon)
    csr = _core.sp_from_coords(
        la, lo, "inverse_distance", power=power, cutoff=cutoff_km, radius_km=radius
    )
    return _with_options(
        lambda: _make(_ids(ids, len(la)), csr, "inverse_distance", transform),
        power=power,
        cutoff_km=cutoff_km,
    )


def _with_options(build: Any, **options: Any) -> Weights:
    """Builds W; when some units end up without neighbours, the message also names the
    options that decided it (a large power underflows every weight to zero; a short
    cutoff leaves units alone)."""
    try:
        return build()
    except PilotdidError as err:
        if "no neighbours" not in str(err):
            raise
        shown = ", ".join(f"{k} = {v!r}" for k, v in options.items())
        raise PilotdidError(f"{err} (W built with {shown})") from None


@vocabulary()
def knn(
    lat: Any,
    lon: Any,
    *,
    k: int,
    ids: Sequence[Any] | None = None,
    transform: str | None = "row",
) -> Weights:
    """k nearest neighbours (binary) by great-circle distance (ties: the lower index);
    1 <= k <= n - 1.

    O(N log N): a k-d tree on 3-D unit-sphere coordinates (the chord is monotone in the
    great-circle distance) collects candidates, which are ranked by the haversine distance
    itself wherever they are near-tied, so the neighbour sets are exactly those of a
    brute-force haversine search (1,000,000 points in about 8 s on two shared cores). Other
    units at the same coordinates are neighbours (distance 0); a unit never is its own."""
    k = check_int("k", k, lo=1)
    transform = _check_transform(transform)
    la, lo = _coords(lat, lon)
    csr = _core.sp_from_coords(la, lo, "knn", k=k)
    return _make(_ids(ids, len(la)), csr, "knn", transform)


@vocabulary()
def distance_band(
    lat: Any,
    lon: Any,
    *,
    threshold_km: float,
    ids: Sequence[Any] | None = None,
    transform: str | None = None,
    radius_km: float = 6371.0088,
) -> Weights:
    """Binary: 1 for pairs within ``threshold_km`` (great-circle; ``threshold_km`` > 0).
    Pairs come from a k-d tree (O(N log N) plus the number of pairs, no N x N scan)."""
    threshold = check_float("threshold_km", threshold_km, lo=0.0, lo_open=True)
    radius = _radius(radius_km)
    transform = _check_transform(transform)
    la, lo = _coords(lat, lon)
    csr = _core.sp_from_coords(la, lo, "distance_band", threshold=threshold, radius_km=radius)
    return _with_options(
        lambda: _make(_ids(ids, len(la)), csr, "distance_band", transform),
        threshold_km=threshold,
    )


@vocabulary()
def economic(z: Any, *, ids: Sequence[Any] | None = None, transform: str | None = "row") -> Weights:
    """Economic distance: w_ij = 1/|z_i - z_j| (e.g. z = mean GDP per capita)."""
    transform = _check_transform(transform)
    zz = _vector("z", z)
    _nonempty(len(zz), "z")
    return _make(_ids(ids, len(zz)), _core.sp_economic(zz), "economic", transform)


@vocabulary()
def nested(geo: Weights, z: Any, *, transform: str | None = "row") -> Weights:
    """Nested geographic x economic weights: w_ij = geo_ij / |z_i - z_j| (elementwise)."""
    if not isinstance(geo, Weights):
        raise PilotdidError(
            f"nested: 'geo' must be a Weights (from knn, inverse_distance, ...), got "
            f"{type(geo).__name__}"
        )
    transform = _check_transform(transform)
    zz = _vector("z", z)
    csr = _core.sp_nested(geo._sparse(), zz)
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


@vocabulary()
def contiguity(
    geojson: Any,
    *,
    id_field: str,
    kind: str = "queen",
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
    if not isinstance(id_field, str) or not id_field:
        raise PilotdidError(f"option 'id_field': expected a property name, got {id_field!r}")
    kind = check_choice("kind", kind, ("queen", "rook"))
    tolerance = check_float("tolerance", tolerance, lo=0.0)
    transform = _check_transform(transform)
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
        tolerance=tolerance,
    )
    return _make(_ids(ids, len(ids)), csr, kind, transform)

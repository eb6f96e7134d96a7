"""Spatial weights constructors and transforms.

References: the acceptance inverse-distance matrix for the YRD cities
(../shared/acceptance-data/yrd_invdist_raw.csv, haversine with R = 6371.0 km), the bundled
DGP weights (pilotdid.datasets.yrd_weights, R = 6371.0088 km), libpysal's KNN (test-only), and
exact identities."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import pilotdid.datasets as ds
import pilotdid.weights as pw
from pilotdid._core import PilotdidError

ACC = Path(__file__).resolve().parents[1] / ".." / "shared" / "acceptance-data"


@pytest.fixture(scope="module")
def cities():
    return ds.yrd_cities()


def test_inverse_distance_matches_acceptance_matrix(cities):
    """Raw 1/d (km) equals the acceptance matrix to 1e-12 relative with R = 6371.0 km."""
    path = ACC / "yrd_invdist_raw.csv"
    if not path.exists():
        pytest.skip("acceptance data not available")
    raw = np.loadtxt(path, delimiter=",", skiprows=1)
    W = pw.inverse_distance(
        cities["lat"], cities["lon"], ids=cities["city_en"], transform=None, radius_km=6371.0
    )
    d = W.to_dense()
    mask = raw > 0
    assert np.array_equal(mask, d > 0)
    assert np.max(np.abs(d[mask] / raw[mask] - 1)) < 1e-12


def test_row_standardised_matches_bundled_dgp_weights(cities):
    """Row-standardised inverse distance equals pilotdid.datasets.yrd_weights() to 1e-14."""
    W = pw.inverse_distance(cities["lat"], cities["lon"], ids=cities["city_en"])
    assert np.max(np.abs(W.to_dense() - ds.yrd_weights())) < 1e-14
    assert W.is_row_standardised() and W.transform == "row"


def test_knn_matches_libpysal(cities):
    """kNN neighbour sets equal libpysal's KNN on arc distance (test-only reference)."""
    libpysal = pytest.importorskip("libpysal")
    k = 4
    W = pw.knn(cities["lat"], cities["lon"], k=k, transform=None)
    pts = np.column_stack([cities["lon"].to_numpy(), cities["lat"].to_numpy()])
    ref = libpysal.weights.KNN.from_array(pts, k=k, distance_metric="haversine", radius=6371.0088)
    d = W.to_dense()
    for i in range(W.n):
        assert set(np.flatnonzero(d[i])) == set(ref.neighbors[i])


def test_distance_band_and_cutoff(cities):
    """Distance band and inverse distance with a cutoff keep the same pairs."""
    band = pw.distance_band(cities["lat"], cities["lon"], threshold_km=150.0)
    cut = pw.inverse_distance(cities["lat"], cities["lon"], cutoff_km=150.0, transform=None)
    assert np.array_equal(band.to_dense() > 0, cut.to_dense() > 0)


def test_islands_and_errors():
    """Islands are reported and refused under row standardisation unless allowed; a
    non-square W, a non-zero diagonal and unknown ids are clear errors."""
    W = pw.from_adjacency({"a": ["b"], "b": ["a"], "c": []})
    assert W.islands == ["c"]
    with pytest.raises(PilotdidError, match="island"):
        W.row_standardise()
    R = W.row_standardise(allow_islands=True)
    assert np.allclose(R.to_dense().sum(1), [1, 1, 0])
    with pytest.raises(PilotdidError, match="square"):
        pw.from_dense(np.zeros((3, 4)))
    with pytest.raises(PilotdidError, match="diagonal"):
        pw.from_dense(np.eye(3))
    with pytest.raises(PilotdidError, match="not in W's ids"):
        W.positions(["a", "zz"])


def test_spectral_normalisation_and_eigenvalues():
    """Spectral normalisation divides by the largest |eigenvalue| (numpy reference); the
    eigenvalues of a row-standardised symmetric W are real and equal numpy's."""
    rng = np.random.default_rng(1)
    m = (rng.random((30, 30)) < 0.2).astype(float)
    m = np.triu(m, 1)
    m = m + m.T
    W = pw.from_dense(m)
    S = W.spectral_normalise()
    lam = np.max(np.abs(np.linalg.eigvalsh(m)))
    assert np.allclose(S.to_dense(), m / lam, atol=1e-10)
    R = W.row_standardise(allow_islands=True)
    ev = np.sort(np.real(R.eigenvalues()))
    ref = np.sort(np.real(np.linalg.eigvals(R.to_dense())))
    assert np.max(np.abs(ev - ref)) < 1e-10


def test_economic_and_nested(cities):
    """Economic weights 1/|z_i - z_j| and nested geo x econ (elementwise) against numpy."""
    z = np.linspace(1.0, 3.0, cities.height) ** 2
    E = pw.economic(z, transform=None).to_dense()
    ref = 1 / np.abs(z[:, None] - z[None, :] + np.eye(len(z))) * (1 - np.eye(len(z)))
    assert np.allclose(E, ref, rtol=1e-14)
    G = pw.inverse_distance(cities["lat"], cities["lon"], transform=None)
    N = pw.nested(G, z, transform=None).to_dense()
    assert np.allclose(N, G.to_dense() * ref, rtol=1e-14)

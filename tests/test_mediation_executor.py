"""The mediation cluster bootstrap on executors (issue 19, item 2): ``mediation(reps>0,
executor=, chunks=, progress=)`` runs replicates [start, stop) of the core bootstrap on a
ProcessPoolExecutor, an owned process pool or a 2-process dask LocalCluster and joins them in
the core.

Reference: the serial core run itself (``executor=None``, one call of
``core/src/mediation/bootstrap.rs``): replicate r draws its clusters from stream (seed, r) whatever
the chunk, and the chunks are stacked in r order, so draws, the failed count, the bootstrap
s.e. and both intervals are equal bit for bit (``==``), for 1, 3 and 7 chunks.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing

import numpy as np
import polars as pl
import pytest

from pilotdid._core import PilotdidError, mediation_boot_join, mediation_bootstrap
from pilotdid.mechanisms.baron_kenny import mediation

distributed = pytest.importorskip("distributed")


def _sim(seed: int = 3, g: int = 24, t: int = 6) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(g), t)
    year = np.tile(np.arange(t), g)
    d = ((year >= 3) & (unit < g // 2)).astype(float)
    x = rng.normal(size=g * t)
    m1 = 0.5 * d + 0.2 * x + rng.normal(size=g)[unit] + rng.normal(size=g * t)
    m2 = -0.3 * d + rng.normal(size=g * t)
    y = 0.4 * m1 + 0.2 * m2 + 0.3 * d + 0.1 * x + rng.normal(size=g)[unit] + rng.normal(size=g * t)
    return pl.DataFrame({"unit": unit, "year": year, "d": d, "x": x, "m1": m1, "m2": m2, "y": y})


KW = dict(
    y="y",
    treatment="d",
    mediators=["m1", "m2"],
    controls=["x"],
    fixef="unit + year",
    vcov={"CR1": "unit"},
    reps=21,
    seed=11,
)


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
    )
    c = Client(cluster)
    yield c
    c.close()
    cluster.close()


def _assert_same(par, serial):
    np.testing.assert_array_equal(par.boot_draws[0], serial.boot_draws[0])
    np.testing.assert_array_equal(par.boot_draws[1], serial.boot_draws[1])
    assert par.boot_failed == serial.boot_failed
    assert par.table.equals(serial.table)  # boot s.e. and percentile interval included
    assert par.tidy().equals(serial.tidy())


@pytest.mark.parametrize("joint", [False, True])
def test_mediation_bootstrap_identical_on_every_executor(client, joint):
    """serial == spawned ProcessPoolExecutor == dask LocalCluster (2 processes) == owned pool
    (executor=2), chunks 1/3/7; separate and joint b-paths."""
    df = _sim()
    serial = mediation(df, **KW, joint=joint)
    a, b = serial.boot_draws
    assert a.shape == (21, 2) and np.isfinite(a).all() and np.isfinite(b).all()
    for chunks in (1, 3, 7):
        _assert_same(mediation(df, **KW, joint=joint, executor=client, chunks=chunks), serial)
    ctx = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(2, mp_context=ctx) as pool:
        for chunks in (1, 3, 7):
            _assert_same(mediation(df, **KW, joint=joint, executor=pool, chunks=chunks), serial)
    _assert_same(mediation(df, **KW, joint=joint, executor=2, chunks=3, progress=True), serial)


def test_chunks_equal_rows_of_the_whole_run_and_join_counts_failures():
    """The core's boot_range rows are the whole run's rows r in [start, stop); the join
    counts a replicate as failed when any path is NaN (as the whole run does)."""
    df = _sim()
    cols = dict(
        y=df["y"].to_numpy(),
        d=df["d"].to_numpy(),
        mediators=[("m1", df["m1"].to_numpy())],
        controls=[],
        fe=[("unit", df["unit"].to_numpy().astype(np.int64))],
        cluster=df["unit"].to_numpy().astype(np.int64),
        reps=9,
        seed=4,
        joint=False,
    )
    whole = mediation_bootstrap(**cols)
    part = mediation_bootstrap(**cols, boot_range=(2, 7))
    np.testing.assert_array_equal(part.a, whole.a[2:7])
    np.testing.assert_array_equal(part.b, whole.b[2:7])
    a, b = whole.a.copy(), whole.b.copy()
    a[1, 0] = np.nan
    b[4, 0] = np.inf
    joined = mediation_boot_join(a, b)
    assert joined.n_failed == 2
    np.testing.assert_array_equal(joined.a, a)
    with pytest.raises(PilotdidError, match="not a chunk of 0..9"):
        mediation_bootstrap(**cols, boot_range=(5, 10))
    with pytest.raises(PilotdidError, match="replicates x mediators"):
        mediation_boot_join(a, b[:, :0])


def test_executor_needs_the_bootstrap():
    with pytest.raises(PilotdidError, match="option 'executor'.*reps=0"):
        mediation(_sim(), **dict(KW, reps=0), executor=2)
    with pytest.raises(PilotdidError, match="option 'chunks'"):
        mediation(_sim(), **KW, executor=2, chunks=0)

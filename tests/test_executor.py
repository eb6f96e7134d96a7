"""Replicates on executors (issue 19, item 1): serial, ProcessPoolExecutor and a 2-process
dask LocalCluster give the same numbers bit for bit with 1, 3 and 7 chunks, and a worker
killed mid-run is survived with identical results.

Reference: the serial path itself (``executor=None``): every replicate draws from its own
(seed, r) stream and chunks are assembled in r order, so equality is exact (``==``).
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import sys
import threading
import time

import numpy as np
import pytest

import pilotdid
from pilotdid._core import PilotdidError
from pilotdid._executor import chunk_ranges, run_replicates

distributed = pytest.importorskip("distributed")
import cloudpickle  # noqa: E402

# dask workers cannot import this test module: ship its functions by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def _dgp(rng: np.random.Generator):
    x = rng.normal(size=50)
    return x + 0.5, 0.5


def _mean_se(x: np.ndarray) -> tuple[float, float]:
    return float(x.mean()), float(x.std(ddof=1) / np.sqrt(x.size))


def _slow_dgp(rng: np.random.Generator):
    time.sleep(0.05)
    return _dgp(rng)


def _die_once_dgp(rng: np.random.Generator):
    marker = os.environ["PILOTDID_TEST_DIE_ONCE"]
    if not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(3)  # the worker process dies without cleanup
    return _dgp(rng)


def _spawn_pool() -> cf.ProcessPoolExecutor:
    """A pool of spawned workers (forking after the Rust thread pool ran can deadlock)."""
    return cf.ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn"))


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


@pytest.fixture(scope="module")
def yrd():
    return pilotdid.datasets.yrd()


def test_chunk_ranges_cover_reps_in_order():
    """Chunks are contiguous [start, stop) ranges covering 0..reps-1, none empty."""
    assert chunk_ranges(10, 3) == [(0, 4), (4, 7), (7, 10)]
    assert chunk_ranges(2, 7) == [(0, 1), (1, 2)]


def test_placebo_cs_statistic_identical_on_every_executor(client, yrd):
    """placebo(statistic='cs'): serial == ProcessPool == dask, chunks 1/3/7."""
    m = pilotdid.feols("gtfp ~ did | city + year", yrd, vcov={"CR1": "city"})
    serial = pilotdid.placebo(m, data=yrd, reps=7, seed=5, statistic="cs")
    assert serial.estimates.shape == (7,) and np.isfinite(serial.estimates).all()
    with _spawn_pool() as pool:
        for chunks in (1, 3, 7):
            par = pilotdid.placebo(
                m, data=yrd, reps=7, seed=5, statistic="cs", executor=pool, chunks=chunks
            )
            np.testing.assert_array_equal(par.estimates, serial.estimates)
            assert par.p_value_ri == serial.p_value_ri
    for chunks in (1, 3, 7):
        par = pilotdid.placebo(
            m, data=yrd, reps=7, seed=5, statistic="cs", executor=client, chunks=chunks
        )
        np.testing.assert_array_equal(par.estimates, serial.estimates)
        assert par.actual == serial.actual


def test_power_identical_on_every_executor(client, yrd):
    """pilotdid.power (CS): serial == ProcessPool == dask, chunks 1/3/7."""
    kw = dict(y="gtfp", unit="city", time="year", cohort="cohort", estimator="cs")
    kw.update(effects=[0.0, 0.04], reps=7, seed=2)
    serial = pilotdid.power(yrd, **kw)
    assert np.isfinite(serial.estimates).all()
    with _spawn_pool() as pool:
        for chunks in (1, 3, 7):
            par = pilotdid.power(yrd, executor=pool, chunks=chunks, **kw)
            np.testing.assert_array_equal(par.estimates, serial.estimates)
            np.testing.assert_array_equal(par.std_errors, serial.std_errors)
    for chunks in (1, 3, 7):
        par = pilotdid.power(yrd, executor=client, chunks=chunks, **kw)
        np.testing.assert_array_equal(par.estimates, serial.estimates)
        np.testing.assert_array_equal(par.rejection, serial.rejection)


def test_monte_carlo_identical_on_every_executor(client):
    """pilotdid.monte_carlo: serial == ProcessPool == dask, chunks 1/3/7."""
    serial = pilotdid.monte_carlo(_dgp, _mean_se, reps=21, seed=9)
    assert np.isfinite(serial.estimates).all()
    with _spawn_pool() as pool:
        for chunks in (1, 3, 7):
            par = pilotdid.monte_carlo(
                _dgp, _mean_se, reps=21, seed=9, executor=pool, chunks=chunks
            )
            np.testing.assert_array_equal(par.estimates, serial.estimates)
    for chunks in (1, 3, 7):
        par = pilotdid.monte_carlo(_dgp, _mean_se, reps=21, seed=9, executor=client, chunks=chunks)
        np.testing.assert_array_equal(par.estimates, serial.estimates)
        np.testing.assert_array_equal(par.std_errors, serial.std_errors)


def test_dcdh_bootstrap_identical_on_every_executor(client, yrd):
    """dcdh(bstrap=True, executor=...): the cluster bootstrap (a full DID_l re-estimation per
    replicate) run in chunks on the executor equals the serial core run bit for bit: draws,
    SEs, failed draws and the result table; an executor without bstrap is refused."""
    kw = dict(y="gtfp_dose", unit="city", time="year", treatment="intensity_latent",
              window=(-2, 3), bstrap=True, reps=40, seed=7)  # fmt: skip
    serial = pilotdid.dcdh(yrd, **kw)
    assert serial.bootstrap.reps == 40
    runs = [pilotdid.dcdh(yrd, **kw, executor=client, chunks=c) for c in (1, 3, 7)]
    with _spawn_pool() as pool:
        runs.append(pilotdid.dcdh(yrd, **kw, executor=pool, chunks=3))
    for r in runs:
        b, s = r.bootstrap, serial.bootstrap
        np.testing.assert_array_equal(b.effects, s.effects)
        np.testing.assert_array_equal(b.placebos, s.placebos)
        np.testing.assert_array_equal(b.ate, s.ate)
        assert b.effects_se == s.effects_se and b.placebos_se == s.placebos_se
        assert b.ate_se == s.ate_se and b.n_failed == s.n_failed and b.reps == 40
        assert b.n_clusters == s.n_clusters
        assert r.tidy().equals(serial.tidy())
    with pytest.raises(PilotdidError, match="option 'executor'.*bstrap=True"):
        pilotdid.dcdh(yrd, **dict(kw, bstrap=False), executor=client)


def test_dask_worker_killed_mid_run_is_survived(client):
    """A dask worker killed by PID mid-run (its nanny restarts it; the scheduler reruns the
    lost chunks): the result equals the serial run."""
    serial = pilotdid.monte_carlo(_slow_dgp, _mean_se, reps=60, seed=4)
    pids = list(client.run(os.getpid).values())
    assert len(pids) == 2
    killer = threading.Timer(0.8, os.kill, args=(pids[0], 9))
    killer.start()
    t0 = time.time()
    par = pilotdid.monte_carlo(_slow_dgp, _mean_se, reps=60, seed=4, executor=client, chunks=12)
    killer.join()
    assert time.time() - t0 > 0.8  # the kill happened while chunks were running
    np.testing.assert_array_equal(par.estimates, serial.estimates)
    client.wait_for_workers(2, timeout=60)
    assert pids[0] not in client.run(os.getpid).values()


def test_owned_process_pool_reruns_chunks_of_a_dead_worker(tmp_path, monkeypatch):
    """executor=<n>: pilotdid owns the pool, rebuilds it after BrokenProcessPool and reruns
    the unfinished chunks; a pool passed in cannot be repaired and raises a clear error."""
    monkeypatch.setenv("PILOTDID_TEST_DIE_ONCE", str(tmp_path / "died"))
    serial = run_replicates(_mc_rows, None, reps=12, seed=3)
    out = run_replicates(_mc_rows_die_once, None, reps=12, seed=3, executor=2, chunks=4)
    np.testing.assert_array_equal(out, serial)
    assert (tmp_path / "died").exists()
    monkeypatch.setenv("PILOTDID_TEST_DIE_ONCE", str(tmp_path / "died2"))
    with _spawn_pool() as pool:
        with pytest.raises(PilotdidError, match="worker process died"):
            run_replicates(_mc_rows_die_once, None, reps=12, seed=3, executor=pool, chunks=4)


def _mc_rows(data, seed, start, stop):
    from pilotdid.simulation import _replicate_rng

    return np.array([_replicate_rng(seed, r).normal() for r in range(start, stop)])


def _mc_rows_die_once(data, seed, start, stop):
    marker = os.environ["PILOTDID_TEST_DIE_ONCE"]
    if start > 0 and not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(3)
    return _mc_rows(data, seed, start, stop)


def test_executor_option_refused_with_its_allowed_values():
    with pytest.raises(PilotdidError, match="option 'executor'"):
        run_replicates(_mc_rows, None, reps=3, seed=0, executor="threads")

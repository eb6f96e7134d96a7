"""Replicate work on an executor: the one place where seeded replicate loops (placebo
statistics, power simulations, Monte Carlo runs) are split into chunks and run on a
``concurrent.futures.Executor`` or a ``dask.distributed.Client``.

A replicate computation is ``fn(data, seed, r_start, r_stop) -> np.ndarray`` returning one
row (or value) per replicate r in [r_start, r_stop), replicate r drawing only from its own
(seed, r) stream. Chunks are identified by their (seed, r) range and the results are
assembled in r order, so the returned array is the same bit for bit whatever the executor,
the number of chunks, or the order in which chunks complete.

What is guaranteed about shipping the data and about dying workers:

- ``executor=None``: one process, chunk after chunk (the caller's serial path).
- ``executor=int`` (n workers) or ``"processes"``: a ``ProcessPoolExecutor`` that WE own. The
  data is shipped once per worker process (pool initializer stores it in a module global).
  If a worker dies (``BrokenProcessPool``), the pool is rebuilt and the chunks that had not
  returned are resubmitted, at most ``retries`` times; finished chunks are kept.
- a ready-made ``concurrent.futures.Executor`` (ProcessPool/ThreadPool): we do not own it,
  so the data is pickled with every chunk and a broken pool cannot be repaired by us (a broken
  ``ProcessPoolExecutor`` refuses all further work): a ``PilotdidError`` says which chunks were
  lost and suggests ``executor=<n workers>`` or a dask client, which recover.
- a ``dask.distributed.Client``: the data is scattered once to every worker
  (``client.scatter(data, broadcast=True)``) and each chunk is a task submitted with
  ``retries=``; dask itself reschedules a task whose worker died (a nanny restarts the
  worker and the scattered data is refetched from a surviving replica).

``fn`` and ``data`` must be picklable for process pools and dask (module-level functions;
dask uses cloudpickle, so closures work there).
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
from collections.abc import Callable
from typing import Any

import numpy as np

from pilotdid._core import PilotdidError

__all__ = ["run_replicates", "chunk_ranges", "is_dask_client"]

_WORKER_DATA: Any = None


def _store_data(data: Any) -> None:
    """ProcessPool initializer: keep the data in this worker for every chunk it runs."""
    global _WORKER_DATA
    _WORKER_DATA = data


def _aligned(data: Any) -> Any:
    """The data with every numpy array C-contiguous and aligned: dask deserialises arrays as
    views of its transport frames, which can be unaligned, and the Rust core refuses those."""
    if isinstance(data, np.ndarray):
        return np.require(data, requirements=["C_CONTIGUOUS", "ALIGNED"])
    if isinstance(data, dict):
        return {k: _aligned(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return type(data)(_aligned(v) for v in data)
    return data


def _run_stored(fn: Callable[..., Any], seed: int, start: int, stop: int) -> np.ndarray:
    return np.asarray(fn(_WORKER_DATA, seed, start, stop))


def _run_shipped(fn: Callable[..., Any], data: Any, seed: int, start: int, stop: int) -> np.ndarray:
    return np.asarray(fn(_aligned(data), seed, start, stop))


def is_dask_client(executor: Any) -> bool:
    """A dask.distributed.Client, detected without importing dask."""
    mod = type(executor).__module__ or ""
    return mod.split(".")[0] == "distributed" and hasattr(executor, "scatter")


def chunk_ranges(reps: int, chunks: int) -> list[tuple[int, int]]:
    """[start, stop) replicate ranges, ``chunks`` of them as even as possible (never empty)."""
    chunks = max(1, min(int(chunks), reps))
    base, extra = divmod(reps, chunks)
    out, start = [], 0
    for c in range(chunks):
        stop = start + base + (1 if c < extra else 0)
        out.append((start, stop))
        start = stop
    return out


def _n_workers(executor: Any) -> int:
    if is_dask_client(executor):
        try:
            return max(1, len(executor.scheduler_info().get("workers", {})))
        except Exception:  # a scheduler that cannot answer: a guess that only sets chunking
            return 2
    n = getattr(executor, "_max_workers", None)
    return int(n) if isinstance(n, int) and n > 0 else 2


def run_replicates(
    fn: Callable[[Any, int, int, int], Any],
    data: Any,
    *,
    reps: int,
    seed: int,
    executor: Any = None,
    chunks: int | None = None,
    progress: bool | str = False,
    retries: int = 2,
) -> np.ndarray:
    """Replicates 0..reps-1 of ``fn`` concatenated in r order (see the module docstring).

    ``chunks`` defaults to 1 serially and to 4 per worker on an executor. ``progress`` (True
    or a label) shows a tqdm bar updated as chunks return.
    """
    if reps < 1:
        raise PilotdidError(f"option 'reps': {reps}; at least 1 replicate is needed")
    if executor is not None and not (
        is_dask_client(executor)
        or isinstance(executor, cf.Executor)
        or executor == "processes"
        or (isinstance(executor, int) and not isinstance(executor, bool) and executor >= 1)
    ):
        raise PilotdidError(
            f"option 'executor': {executor!r} is not None, a concurrent.futures.Executor, a "
            "dask.distributed.Client, 'processes' or a number of worker processes >= 1"
        )
    if chunks is None:
        chunks = 1 if executor is None else 4 * _n_workers(executor)
    elif isinstance(chunks, bool) or not isinstance(chunks, int) or chunks < 1:
        raise PilotdidError(f"option 'chunks': {chunks!r}; a whole number >= 1")
    ranges = chunk_ranges(reps, chunks)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=reps, desc=progress if isinstance(progress, str) else "replicates")
    try:
        if executor is None:
            parts = []
            for a, b in ranges:
                parts.append(np.asarray(fn(data, seed, a, b)))
                if bar is not None:
                    bar.update(b - a)
        elif is_dask_client(executor):
            parts = _run_dask(executor, fn, data, seed, ranges, bar, retries)
        elif isinstance(executor, cf.Executor):
            parts = _run_foreign_pool(executor, fn, data, seed, ranges, bar)
        else:
            n = None if executor == "processes" else int(executor)
            parts = _run_own_pool(n, fn, data, seed, ranges, bar, retries)
    finally:
        if bar is not None:
            bar.close()
    return np.concatenate(parts, axis=0)


def _run_dask(
    client: Any, fn: Callable, data: Any, seed: int, ranges: list, bar: Any, retries: int
) -> list[np.ndarray]:
    from distributed import as_completed

    # A list of one: scatter(dict) would scatter each value under its key (keys shared
    # across calls); hash=False gives this call's data its own key.
    (shipped,) = client.scatter([data], broadcast=True, hash=False)
    futs = [
        client.submit(_run_shipped, fn, shipped, seed, a, b, retries=retries, pure=False)
        for a, b in ranges
    ]
    index = {f.key: i for i, f in enumerate(futs)}
    parts: list[Any] = [None] * len(ranges)
    for fut in as_completed(futs):
        i = index[fut.key]
        parts[i] = fut.result()
        if bar is not None:
            bar.update(ranges[i][1] - ranges[i][0])
    return parts


def _run_foreign_pool(
    pool: cf.Executor, fn: Callable, data: Any, seed: int, ranges: list, bar: Any
) -> list[np.ndarray]:
    futs = {pool.submit(_run_shipped, fn, data, seed, a, b): i for i, (a, b) in enumerate(ranges)}
    parts: list[Any] = [None] * len(ranges)
    for fut in cf.as_completed(futs):
        i = futs[fut]
        try:
            parts[i] = fut.result()
        except cf.process.BrokenProcessPool as err:
            lost = [ranges[j] for j, p in enumerate(parts) if p is None]
            raise PilotdidError(
                f"executor: a worker process died; replicate ranges {lost} were not computed. "
                "A ProcessPoolExecutor passed in is broken for good and is not ours to "
                "replace: pass executor=<number of workers> (pilotdid owns and rebuilds the "
                "pool) or a dask.distributed.Client (retries) to survive dying workers"
            ) from err
        if bar is not None:
            bar.update(ranges[i][1] - ranges[i][0])
    return parts


def _run_own_pool(
    n: int | None, fn: Callable, data: Any, seed: int, ranges: list, bar: Any, retries: int
) -> list[np.ndarray]:
    parts: list[Any] = [None] * len(ranges)
    attempt = 0
    while True:
        todo = [i for i, p in enumerate(parts) if p is None]
        if not todo:
            return parts
        try:
            # spawn, not fork: forking a process whose Rust thread pool is running deadlocks
            with cf.ProcessPoolExecutor(
                max_workers=n,
                initializer=_store_data,
                initargs=(data,),
                mp_context=multiprocessing.get_context("spawn"),
            ) as pool:
                futs = {
                    pool.submit(_run_stored, fn, seed, ranges[i][0], ranges[i][1]): i for i in todo
                }
                for fut in cf.as_completed(futs):
                    i = futs[fut]
                    parts[i] = fut.result()
                    if bar is not None:
                        bar.update(ranges[i][1] - ranges[i][0])
        except cf.process.BrokenProcessPool as err:
            attempt += 1
            if attempt > retries:
                lost = [ranges[j] for j, p in enumerate(parts) if p is None]
                raise PilotdidError(
                    f"executor: worker processes died {attempt} times (retries={retries}); "
                    f"replicate ranges {lost} were not computed"
                ) from err

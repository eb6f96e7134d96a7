"""Timing helper shared by the benchmark scripts (each runs as ``python benchmarks/<name>.py``,
so this folder is on ``sys.path``)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def time_it(fn: Callable[[], Any], reps: int) -> tuple[float, Any]:
    """Median wall time of ``reps`` calls of ``fn`` and the last call's result (no warm-up:
    the caller decides whether one is needed)."""
    times, out = [], None
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out

"""Fuzz runner: drives pilotdid's public entry points with bad and unusual inputs in worker
subprocesses and classifies every outcome (issue 13).

A *case* is (entry point, the one or two options replaced, their bad values). Cases come from
``cases.generate(n, seed)``: a seeded generator, so a case number always means the same inputs.
Workers run cases one by one and report each outcome on a pipe; the parent kills a worker whose
case runs past ``timeout`` (a *hang*) or notices one that died (a *crash*: SIGABRT, SIGSEGV, an
abort on a failed allocation) and starts a new worker at the next case.

Outcomes:

* ``ok``          the call returned (the bad value was acceptable, e.g. a larger window);
* ``named``       it raised an exception whose message names the option, column or value;
* ``unnamed``     it raised an exception whose message names none of them (unhelpful);
* ``panic``       a Rust panic reached Python (``PanicException``, or the guard's "internal
                  error in pilotdid" message);
* ``foreign``     an exception raised inside numpy/polars/pandas/matplotlib (not ours);
* ``mutated``     the caller's frame changed;
* ``crash``       the worker process died;
* ``interrupted`` the case ran past the timeout but stopped at the SIGINT sent then (a long
                  but legitimate computation, e.g. 10**9 permutations: not a hang);
* ``hang``        the case ran past the timeout and ignored SIGINT for 2 s more;
* ``harness``     the case itself could not be built (a defect of this suite).

Usage (a larger budget than CI's)::

    python tests/fuzz/runner.py --cases 10000 --seed 0 --workers 2 --report fuzz-report.json
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import signal
import sys
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

FOREIGN_MODULES = ("numpy", "polars", "pandas", "matplotlib", "scipy", "formulaic")


def _classify_exception(exc: BaseException, case: dict[str, Any]) -> str:
    name = type(exc).__name__
    msg = str(exc)
    if name == "PanicException" or "internal error in pilotdid" in msg:
        return "panic"
    tb = traceback.extract_tb(exc.__traceback__)
    last = tb[-1].filename if tb else ""
    if isinstance(exc, (KeyboardInterrupt, SystemExit)):
        return "crash"
    ours = "pilotdid" in last or "_args.py" in last
    if (
        not ours
        and any(f"/{m}/" in last for m in FOREIGN_MODULES)
        and name
        not in (
            "PilotdidError",
            "SpecError",
        )
    ):
        return "foreign"
    needles = [str(n) for n in case.get("names", [])]
    needles += [v for v in case.get("shown", []) if v]
    low = msg.lower()
    if any(n and n.lower() in low for n in needles):
        return "named"
    return "unnamed"


def _worker(conn: Any, case_ids: list[int], seed: int) -> None:
    # the parent's SIGINT must raise KeyboardInterrupt here even when the test runner was
    # started with SIGINT ignored (a job started with & by a non-interactive shell), which a
    # spawned child inherits
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    import warnings

    warnings.simplefilter("ignore")
    import matplotlib

    matplotlib.use("Agg")
    import cases as case_mod

    for cid in case_ids:
        conn.send(("start", cid))
        try:
            case = case_mod.build(cid, seed)
        except Exception as exc:  # noqa: BLE001 - a broken template is a defect of the suite
            conn.send(
                (
                    "done",
                    {
                        "id": cid,
                        "target": f"case {cid}",
                        "names": [],
                        "shown": [],
                        "outcome": "harness",
                        "message": repr(exc)[:300],
                    },
                )
            )
            continue
        record = {
            "id": cid,
            "target": case["target"],
            "names": case["names"],
            "shown": case["shown"],
        }
        before = case_mod.fingerprint(case)
        try:
            case["call"]()
            outcome, message = "ok", ""
        except KeyboardInterrupt:
            # the parent's SIGINT after the timeout: the call stopped when asked (slow, not
            # hung); the worker goes on with the next case
            outcome, message = "interrupted", "KeyboardInterrupt after the timeout"
        except BaseException as exc:  # noqa: BLE001 - classifying every outcome is the point
            outcome = _classify_exception(exc, case)
            message = f"{type(exc).__name__}: {str(exc)[:300]}"
        returned = outcome in ("ok", "named", "unnamed", "foreign")
        if returned and case_mod.fingerprint(case) != before:
            outcome = "mutated"
        try:
            import matplotlib.pyplot as plt

            plt.close("all")
        except Exception:  # noqa: BLE001
            pass
        record.update(outcome=outcome, message=message)
        conn.send(("done", record))
    conn.send(("finished", None))


def run(n_cases: int, seed: int, workers: int, timeout: float, start: int = 0) -> list[dict]:
    """Runs cases start..start+n_cases-1 and returns one record per case."""
    ctx = mp.get_context("spawn")
    pending = list(range(start, start + n_cases))
    chunks = [pending[i::workers] for i in range(workers)]
    results: dict[int, dict] = {}
    active = []
    for chunk in chunks:
        if chunk:
            active.append(_Worker(ctx, chunk, seed))
    while active:
        for w in list(active):
            w.poll(results, timeout)
            if w.done:
                active.remove(w)
                rest = [c for c in w.case_ids if c not in results]
                if rest:
                    active.append(_Worker(ctx, rest, seed))
        time.sleep(0.005)
    return [results[c] for c in sorted(results)]


class _Worker:
    def __init__(self, ctx: Any, case_ids: list[int], seed: int) -> None:
        self.case_ids = case_ids
        parent, child = ctx.Pipe()
        self.conn = parent
        self.proc = ctx.Process(target=_worker, args=(child, case_ids, seed), daemon=True)
        self.proc.start()
        child.close()
        self.current: int | None = None
        self.started = time.monotonic()
        self.done = False

    def poll(self, results: dict[int, dict], timeout: float) -> None:
        try:
            while self.conn.poll():
                kind, payload = self.conn.recv()
                if kind == "start":
                    self.current, self.started = payload, time.monotonic()
                elif kind == "done":
                    results[payload["id"]] = payload
                    self.current = None
                elif kind == "finished":
                    self.done = True
                    self.proc.join(5)
                    return
        except (EOFError, OSError):
            pass
        if self.current is not None and time.monotonic() - self.started > timeout:
            # Ctrl-C, as a user would; a call that ignores it for 2 s more is a hang
            cid = self.current
            os.kill(self.proc.pid, signal.SIGINT)
            deadline = time.monotonic() + 2.0
            while time.monotonic() < deadline and cid not in results:
                if self.conn.poll(0.05):
                    try:
                        kind, payload = self.conn.recv()
                    except (EOFError, OSError):
                        break
                    if kind == "done":
                        results[payload["id"]] = payload
            if cid in results:
                self.current = None
                return
            self.proc.kill()
            self.proc.join(5)
            results[cid] = _lost(cid, "hang", f"over {timeout:g} s and ignored SIGINT")
            self.done = True
        elif not self.proc.is_alive() and not self.done:
            code = self.proc.exitcode
            if self.current is not None:
                results[self.current] = _lost(self.current, "crash", f"exit code {code}")
            self.done = True


def _lost(cid: int, outcome: str, message: str) -> dict:
    import cases as case_mod

    return {
        "id": cid,
        "target": case_mod.describe(cid),
        "names": [],
        "shown": [],
        "outcome": outcome,
        "message": message,
    }


def summarize(records: list[dict]) -> Counter:
    return Counter(r["outcome"] for r in records)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=2000)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=20.0)
    ap.add_argument("--report", type=Path)
    args = ap.parse_args(argv)
    t0 = time.monotonic()
    records = run(args.cases, args.seed, args.workers, args.timeout, args.start)
    counts = summarize(records)
    print(
        f"{len(records)} cases in {time.monotonic() - t0:.1f} s: "
        + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    )
    bad = [r for r in records if r["outcome"] not in ("ok", "named")]
    for r in bad[:40]:
        print(f"  #{r['id']} {r['outcome']}: {r['target']} -> {r['message'][:160]}")
    if args.report:
        args.report.write_text(json.dumps(records, indent=1, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

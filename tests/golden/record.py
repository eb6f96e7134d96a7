"""Record the golden files: ``python tests/golden/record.py [family ...]`` (default: all).

Runs every call of ``calls_<family>.py`` and (re)writes ``golden_<family>.json`` next to this
file. Re-record ONLY when a change of numbers is intended, and say in the commit message which
calls changed and why (see the docstring of test_golden.py). Run it twice and compare: the two
recordings must be byte-identical.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import _golden as G  # noqa: E402


def record(family: str) -> tuple[int, float]:
    t0 = time.perf_counter()
    recorded = {cid: G.encode_call(fn) for cid, fn in G.calls(family).items()}
    G.golden_path(family).write_text(G.dumps(family, recorded), encoding="utf-8")
    return len(recorded), time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("families", nargs="*", help=f"any of {', '.join(G.FAMILIES)} (default: all)")
    args = ap.parse_args(argv)
    unknown = [f for f in args.families if f not in G.FAMILIES]
    if unknown:
        ap.error(f"unknown family {unknown[0]!r}; choose from {', '.join(G.FAMILIES)}")
    families = args.families or list(G.FAMILIES)
    for fam in families:
        n, dt = record(fam)
        print(f"{fam:<12} {n:>3} calls  {dt:6.2f} s  -> {G.golden_path(fam).name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Golden numbers: every number pilotdid computes today, bit for bit.

What it guards
    Issue 14's API refactor (renaming public parameters, splitting modules) must not change a
    single number. ``golden_<family>.json`` holds the output of 60+ fixed calls (coefficients,
    standard errors, p-values, intervals, vcov matrices, test statistics, bootstrap and
    permutation draws with fixed seeds, weights matrices, efficiency scores...) recorded
    before the refactor; each test re-runs one call and asserts that every stored number is
    bit-identical (floats are compared as ``float.hex()`` strings; same names, same shapes).

Where the calls are
    ``calls_<family>.py`` (regression, did, robustness, mechanisms, spatial, green): ``CALLS``
    maps a call id to a zero-argument function that runs one fixed call on the fixed data of
    ``_data.py`` and returns a flat dict of named numbers read through the result objects'
    public attributes and methods. A refactor that renames a parameter, a method or a module
    changes only the spelling at these call sites; the returned names and numbers must stay
    as recorded.

Re-recording
    Only when a change of numbers is intended (a bug fix, a new default) and documented:
    ``python tests/golden/record.py <family>`` from the repository root, then name the calls
    whose numbers changed, and why, in the commit message. A new call needs a recording too
    (``test_every_call_is_recorded`` fails until then); a removed call must be removed from
    both places. Never re-record to make a refactor pass.

Determinism
    Every random procedure runs with a fixed seed; replicates are seeded per replicate, so
    the numbers do not depend on the number of rayon threads (checked when recorded: repeated
    recordings with RAYON_NUM_THREADS / POLARS_MAX_THREADS = 1, 2, 3 were byte-identical).
    Bit-identity is a promise of one build on one machine: the Rust toolchain, the CPU's SIMD
    level (faer dispatches at run time: AVX2 here, AVX-512 elsewhere) and the numpy / polars
    versions may move the last bits. Compare before and after a refactor on the same machine
    and environment; on a new machine, first check that main passes, else re-record main.
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import _golden as G  # noqa: E402

#: The acceptance criterion of the golden file: at least this many recorded calls.
MIN_CALLS = 60


@cache
def _recorded(family: str) -> dict:
    return G.load(family)


def _cases() -> list:
    return [
        pytest.param(fam, cid, id=f"{fam}-{cid}") for fam in G.FAMILIES for cid in _recorded(fam)
    ]


@pytest.mark.parametrize(("family", "call_id"), _cases())
def test_bit_identical(family: str, call_id: str) -> None:
    """The call's numbers equal the recorded ones bit for bit (same names, same shapes)."""
    fn = G.calls(family).get(call_id)
    assert fn is not None, f"{family}: call '{call_id}' is recorded but no longer defined"
    want = _recorded(family)[call_id]
    got = G.encode_call(fn)
    missing = [k for k in want if k not in got]
    extra = [k for k in got if k not in want]
    assert not missing and not extra, (
        f"{family}/{call_id}: names differ from the recording; "
        f"missing {missing[:10]}, not recorded {extra[:10]}"
    )
    diffs = []
    for k in want:
        d = G.first_difference(got[k], want[k], k)
        if d is not None:
            diffs.append(d)
    assert not diffs, f"{family}/{call_id}: {len(diffs)} of {len(want)} numbers changed:\n" + (
        "\n".join(diffs[:25])
    )


@pytest.mark.parametrize("family", G.FAMILIES)
def test_every_call_is_recorded(family: str) -> None:
    """calls_<family>.py and golden_<family>.json name the same calls (none can vanish)."""
    assert G.golden_path(family).exists(), f"{G.golden_path(family).name} is missing"
    defined, recorded = set(G.calls(family)), set(_recorded(family))
    assert defined == recorded, (
        f"{family}: defined but not recorded {sorted(defined - recorded)}; "
        f"recorded but not defined {sorted(recorded - defined)}"
    )


def test_every_family_is_listed() -> None:
    """No calls_*.py or golden_*.json outside FAMILIES, and at least MIN_CALLS calls."""
    files = {p.stem[len("calls_") :] for p in HERE.glob("calls_*.py")}
    files |= {p.stem[len("golden_") :] for p in HERE.glob("golden_*.json")}
    assert files == set(G.FAMILIES)
    total = sum(len(_recorded(f)) for f in G.FAMILIES)
    assert total >= MIN_CALLS, f"only {total} recorded calls (at least {MIN_CALLS} required)"

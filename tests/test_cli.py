"""The README's main command: `pilotdid demo` on the bundled SYNTHETIC YRD panel."""

from __future__ import annotations

import pilotdid as pdid
from pilotdid import datasets
from pilotdid.cli import BASELINE, main


def test_demo_prints_the_baseline_and_says_synthetic(capsys):
    """The demo prints the synthetic-data warning, the baseline TWFE coefficient (equal to a
    direct feols call) and the Callaway-Sant'Anna overall ATT (equal to att_gt/aggte)."""
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "SYNTHETIC" in out
    df = datasets.yrd()
    did = pdid.feols(BASELINE, df, vcov={"CR1": "city"}).coef()["did"]
    assert f"{did:.6f}" in out
    cs = pdid.aggte(pdid.att_gt(df, "gtfp", "year", "city", "cohort"), type="simple")
    assert f"{cs.overall_att:.4f}" in out

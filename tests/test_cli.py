"""The `pilotdid` console script: demo, run, validate and their exit codes.

References: direct feols / att_gt+aggte calls for the numbers the demo prints (exact identity
to the printed digits); exit codes and messages are the CLI's contract (0 ok, 1 an analysis
failed, 2 spec or usage error with a message and no traceback).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pilotdid as pdid
from pilotdid import datasets
from pilotdid.cli import BASELINE, bundled_spec, main


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pilotdid.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        check=False,
    )


def test_demo_prints_the_baseline_and_says_synthetic(capsys, tmp_path):
    """The demo writes the report, prints the synthetic-data warning, the baseline TWFE
    coefficient (equal to a direct feols call) and the Callaway-Sant'Anna overall ATT (equal
    to att_gt/aggte)."""
    out = tmp_path / "report"
    assert main(["demo", "--out", str(out), "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "SYNTHETIC" in text
    df = datasets.yrd()
    did = pdid.feols(BASELINE, df, vcov={"CR1": "city"}).coef()["did"]
    assert f"{did:.6f}" in text
    cs = pdid.aggte(
        pdid.att_gt(df, y="gtfp", time="year", unit="city", cohort="cohort"), type="simple"
    )
    assert f"{cs.overall_att:.4f}" in text
    assert f"report written to {out}/index.html" in text
    assert (out / "index.html").is_file() and (out / "provenance.json").is_file()


def test_demo_default_folder_is_in_the_cwd_and_is_not_overwritten(tmp_path):
    """`pilotdid demo` writes ./pilotdid-report; a second run exits 2 (folder exists) and
    leaves it alone; --overwrite replaces it."""
    r = _cli("demo", "--quiet", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "pilotdid-report" / "index.html").is_file()
    r = _cli("demo", cwd=tmp_path)
    assert r.returncode == 2
    assert "already exists; pass --overwrite" in r.stderr and "Traceback" not in r.stderr
    r = _cli("demo", "--overwrite", "--quiet", cwd=tmp_path)
    assert r.returncode == 0, r.stderr


def test_run_writes_next_to_the_spec_and_validate_reports_the_coding(tmp_path):
    """`pilotdid run SPEC` writes pilotdid-report beside the spec; `validate` prints the
    coding's counts (15 treated, 26 never treated) and writes nothing."""
    spec = tmp_path / "study.toml"
    spec.write_text(
        bundled_spec()
        .read_text(encoding="utf-8")
        .replace("[analyses.placebo]\nreps = 1000", "[analyses.placebo]\nreps = 50"),
        encoding="utf-8",
    )
    r = _cli("validate", str(spec), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "15 treated" in r.stdout and "26 never treated" in r.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["study.toml"]
    r = _cli("run", "study.toml", "--quiet", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "pilotdid-report" / "tables" / "baseline.tex").is_file()


def test_spec_errors_exit_2_with_a_message_and_write_nothing(tmp_path):
    """Unknown key and missing column: exit 2, the message on stderr, no traceback, no
    folder; a usage error (no spec) exits 2 too."""
    base = bundled_spec().read_text(encoding="utf-8")
    bad = tmp_path / "bad.toml"
    bad.write_text(base.replace("[analyses.bacon]", "[analyses.bacon]\nfoo = 1"))
    for cmd in ("validate", "run"):
        r = _cli(cmd, str(bad), cwd=tmp_path)
        assert r.returncode == 2
        assert "unknown key 'foo' in [analyses.bacon]" in r.stderr
        assert "Traceback" not in r.stderr
    bad.write_text(base.replace('y = "gtfp"', 'y = "gfp"'))
    r = _cli("run", str(bad), "--out", str(tmp_path / "rep"), cwd=tmp_path)
    assert r.returncode == 2
    assert "column 'gfp' not found" in r.stderr and "did you mean 'gtfp'?" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]
    r = _cli("run", cwd=tmp_path)
    assert r.returncode == 2 and "usage:" in r.stderr
    r = _cli("validate", "missing.toml", cwd=tmp_path)
    assert r.returncode == 2 and "spec file 'missing.toml' not found" in r.stderr

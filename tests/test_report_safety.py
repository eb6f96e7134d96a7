"""The report writer never deletes or replaces anything it did not create (issue 13, part 1).

Reference: the contract itself. `--out` at the spec's folder, an ancestor of the data, the
home folder, the filesystem root, `..` and a folder that is not a pilotdid report are refused
without touching a byte; `--overwrite` replaces only a previous report that holds nothing
else; SIGINT and SIGTERM during a run leave neither a partial report nor a temporary folder;
the report folder follows the umask. Spec validation refuses derived columns that would
replace data columns (the spec that once reported `baseline TWFE y: 1.000000 (SE 0.000000)`).
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

import pilotdid as pdid
from pilotdid import datasets
from pilotdid.study.data import resolve_spec
from pilotdid.study.errors import SpecError
from pilotdid.study.report import check_target
from pilotdid.study.run import run_study
from pilotdid.study.spec import BUNDLED_CODING_COLUMNS

SMALL_SPEC = """\
title = "report safety"
seed = 1

[data]
path = "{data}"
unit = "city"
time = "year"

[treatment]
batch_column = "pilot_batch"
batch_years = {{ 1 = 2013, 2 = 2014, 3 = 2015 }}

[model]
y = "gtfp"
controls = ["ln_gdp_pc"]

[analyses.baseline]
steps = "full"
"""


def _project(root: Path, extra: str = "") -> tuple[Path, Path]:
    """A user's project: data in root/data/panel.csv, the spec in root/study/study.toml."""
    (root / "data").mkdir(parents=True)
    (root / "study").mkdir()
    (root / "work").mkdir()
    data = root / "data" / "panel.csv"
    datasets.yrd().drop(list(BUNDLED_CODING_COLUMNS)).write_csv(data)
    spec = root / "study" / "study.toml"
    spec.write_text(SMALL_SPEC.format(data="../data/panel.csv") + extra, encoding="utf-8")
    (root / "study" / "notes.txt").write_text("the user's own notes", encoding="utf-8")
    return spec, data


def _snapshot(root: Path) -> dict[str, str]:
    """Every file and folder below root with the sha256 of each file (and its mode)."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if p.is_dir():
            out[rel + "/"] = oct(p.stat().st_mode)
        else:
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _cli(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pilotdid.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        check=False,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.parametrize(
    ("out", "cwd", "why"),
    [
        (".", "study", "the folder of the input"),
        (".", "work", "the current folder"),
        ("{root}/study", "study", "the folder of the input"),
        ("..", "study", "the folder of the input"),
        ("{root}", "study", "the folder of the input"),
        ("{root}/data", "study", "the folder of the input"),
        ("~", "study", "the home folder"),
    ],
    ids=[
        "dot-in-spec-folder",
        "dot-elsewhere",
        "spec-folder",
        "dotdot",
        "ancestor-of-data",
        "data-folder",
        "home",
    ],
)
def test_protected_folders_are_refused_even_with_overwrite(tmp_path, out, cwd, why):
    """`pilotdid run spec --out X --overwrite` exits 2 with a one-line message and touches
    nothing when X is the spec's folder, a folder of the data, an ancestor of them, the home
    folder (HOME points into tmp_path here) or the current folder."""
    root = tmp_path / "project"
    spec, _ = _project(root)
    home = root / "study" if out == "~" else tmp_path / "home"  # never the real home
    before = _snapshot(tmp_path)
    target = out.format(root=root)
    r = _cli(
        "run",
        str(spec),
        "--out",
        target,
        "--overwrite",
        "--quiet",
        cwd=root / cwd,
        env={"HOME": str(home)},
    )
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    assert r.stderr.startswith("pilotdid: error: --out:") and why in r.stderr
    assert _snapshot(tmp_path) == before


def test_root_and_home_are_refused_by_check_target(tmp_path, monkeypatch):
    """The filesystem root and the home folder (and its parents) are never a report target."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    with pytest.raises(SpecError, match="is the filesystem root"):
        check_target("/", overwrite=True)
    with pytest.raises(SpecError, match="is the home folder"):
        check_target("~", overwrite=True)
    with pytest.raises(SpecError, match="parent of the home folder"):
        check_target(tmp_path, overwrite=True)


def test_a_folder_that_is_not_a_report_is_never_replaced(tmp_path):
    """--overwrite on a folder without a pilotdid provenance.json, or on a previous report
    that also holds a user's file, is refused; the folder is left byte for byte."""
    root = tmp_path / "project"
    spec, _ = _project(root)
    mine = root / "results"
    mine.mkdir()
    (mine / "draft.tex").write_text("my paper", encoding="utf-8")
    before = _snapshot(tmp_path)
    r = _cli("run", str(spec), "--out", str(mine), "--overwrite", "--quiet", cwd=root)
    assert r.returncode == 2
    assert "is not a pilotdid report" in r.stderr and "Traceback" not in r.stderr
    assert _snapshot(tmp_path) == before

    report = root / "report"
    r = _cli("run", str(spec), "--out", str(report), "--quiet", cwd=root)
    assert r.returncode == 0, r.stderr
    (report / "figures" / "my_edit.svg").write_text("<svg/>", encoding="utf-8")
    (report / "notes.md").write_text("keep", encoding="utf-8")
    before = _snapshot(tmp_path)
    r = _cli("run", str(spec), "--out", str(report), "--overwrite", "--quiet", cwd=root)
    assert r.returncode == 2
    assert "figures/my_edit.svg" in r.stderr and "notes.md" in r.stderr
    assert _snapshot(tmp_path) == before


def test_overwrite_replaces_a_previous_report_and_follows_the_umask(tmp_path):
    """A previous report is replaced as a whole, no temporary folder remains, and the folder
    gets the umask's permissions (mkdtemp's 0700 is not kept)."""
    root = tmp_path / "project"
    spec, _ = _project(root)
    report = root / "study" / "pilotdid-report"
    code = (
        "import os, sys; os.umask(0o027); from pilotdid.cli import main; "
        "sys.exit(main(sys.argv[1:]))"
    )
    for extra in ([], ["--overwrite"]):
        r = subprocess.run(
            [sys.executable, "-c", code, "run", str(spec), "--quiet", *extra],
            capture_output=True,
            text=True,
            cwd=root,
            timeout=300,
            check=False,
        )
        assert r.returncode == 0, r.stderr
        assert (report.stat().st_mode & 0o777) == 0o750
        assert (report / "provenance.json").is_file()
    assert sorted(p.name for p in report.parent.iterdir()) == [
        "notes.txt",
        "pilotdid-report",
        "study.toml",
    ]


def _wait_until_caught(proc: subprocess.Popen, sig: int, deadline: float) -> None:
    """Wait until process ``proc`` has a handler for ``sig`` (Linux: the SigCgt mask of
    /proc/<pid>/status); elsewhere wait a fixed 1.5 s."""
    status = Path(f"/proc/{proc.pid}/status")
    if not status.exists():
        time.sleep(1.5)
        return
    while True:
        assert proc.poll() is None, "finished before the signal"
        assert time.monotonic() < deadline, "the signal handler was never installed"
        caught = next(
            (ln.split()[1] for ln in status.read_text().splitlines() if ln.startswith("SigCgt:")),
            "0",
        )
        if int(caught, 16) >> (int(sig) - 1) & 1:
            return
        time.sleep(0.01)


@pytest.mark.parametrize(
    ("sig", "code", "word"),
    [
        (signal.SIGINT, 130, "interrupted (SIGINT)"),
        (signal.SIGTERM, 143, "terminated (SIGTERM)"),
    ],
)
@pytest.mark.parametrize("when", ["writing", "running"])
def test_a_signal_leaves_no_partial_or_temporary_folder(tmp_path, sig, code, word, when):
    """A signal sent by PID while the analyses run, or while the report is being written
    (the temporary folder exists), ends the run with one line on stderr, its exit code, and
    no report or temporary folder beside the spec."""
    root = tmp_path / "project"
    # a placebo of 500,000 reassignments keeps the "running" case busy for ~15 s on two cores
    # (50,000 took 1.35 s after the feols speed-ups of 2026-12-07, and a starved test process
    # once sent its signal only after the run had finished)
    spec, _ = _project(root, "\n[analyses.placebo]\nreps = 500000\n" if when == "running" else "")
    folder = spec.parent
    before = _snapshot(folder)
    proc = subprocess.Popen(
        [sys.executable, "-m", "pilotdid.cli", "run", str(spec), "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=root,
        # SIGINT at its default disposition in the child even when the test runner inherited
        # it ignored (a job started with & by a non-interactive shell): the CLI is meant to
        # stop on it, as under a terminal
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    try:
        if when == "writing":
            while not list(folder.glob(".pilotdid-report.tmp-*")):
                assert proc.poll() is None, "finished before the report was written"
                assert time.monotonic() < deadline
                time.sleep(0.002)
        else:
            # Send the signal once the CLI's main() runs: on a loaded machine importing the
            # package can take longer than any fixed sleep, and a signal during the import
            # ends the process with the default action (-15, or a KeyboardInterrupt traceback)
            # instead. main() installs its SIGTERM handler first: that is the marker for both.
            _wait_until_caught(proc, signal.SIGTERM, deadline)
            time.sleep(0.5)  # fitting; the report is written at the end
            assert proc.poll() is None, "finished before the signal"
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    if proc.returncode == 0 and when == "writing":
        # the signal was held back during the final renames and arrived after them: the
        # whole report is in place (never half of it) and the exit is still clean
        pytest.fail("the signal arrived after the run had finished: " + err)
    assert proc.returncode == code, err
    assert err.strip().splitlines() == [
        f"pilotdid: error: {word}; no partial report was left behind"
    ]
    assert _snapshot(folder) == before


# ------------------------------------------------------------------------------------------
# spec validation: derived columns never replace data columns (validate = run)
# ------------------------------------------------------------------------------------------
def _column_spec(tmp_path: Path, **treatment) -> dict:
    df = datasets.yrd().rename({"gtfp": "y"})
    df.write_csv(tmp_path / "panel.csv")
    return {
        "data": {"path": "panel.csv", "unit": "city", "time": "year"},
        "treatment": treatment,
        "model": {"y": "y", "controls": ["ln_gdp_pc"]},
        "analyses": {"baseline": {}},
    }


def test_a_treatment_named_like_the_outcome_fails_validation(tmp_path):
    """`[treatment] column = "did", name = "y"` with outcome y once passed `validate` and made
    `run` report a coefficient of exactly 1: the derived treatment replaced the outcome."""
    s = _column_spec(tmp_path, column="did", name="y", cohort_name="g")
    msg = r"\[treatment\] name = 'y' collides with the data column 'y' .*used as \[model\]"
    with pytest.raises(SpecError, match=msg):
        resolve_spec(s, base_dir=tmp_path)
    with pytest.raises(SpecError, match=msg):
        run_study(s, base_dir=tmp_path)


def test_derived_columns_cannot_collide_with_each_other_or_the_data(tmp_path):
    """cohort_name equal to the treatment name, and a cohort name that exists in the data,
    are refused with both places named."""
    s = _column_spec(tmp_path, column="did", name="d2", cohort_name="d2")
    with pytest.raises(SpecError, match=r"cohort_name = 'd2' collides with \[treatment\] name"):
        resolve_spec(s, base_dir=tmp_path)
    s = _column_spec(tmp_path, column="did")  # cohort_name defaults to "cohort", in the data
    with pytest.raises(SpecError, match=r"cohort_name = 'cohort' collides with the data column"):
        resolve_spec(s, base_dir=tmp_path)
    s = _column_spec(tmp_path, column="did", cohort_name="g")  # name = column: re-derived
    assert resolve_spec(s, base_dir=tmp_path)["treatment"]["name"] == "did"


def test_duplicate_rows_and_unformulable_names_fail_validation(tmp_path):
    """What `run` would reject, `validate` rejects first: duplicate (unit, time) rows, and a
    formula column whose name has a space (Chinese names without spaces are fine)."""
    df = datasets.yrd().drop(list(BUNDLED_CODING_COLUMNS))
    pl.concat([df, df.head(1)]).write_csv(tmp_path / "dup.csv")
    s = {
        "data": {"path": "dup.csv", "unit": "city", "time": "year"},
        "treatment": {
            "batch_column": "pilot_batch",
            "batch_years": {"1": 2013, "2": 2014, "3": 2015},
        },
        "model": {"y": "gtfp"},
        "analyses": {"baseline": {}},
    }
    with pytest.raises(SpecError, match=r"share their \(city, year\).*city = 'Shanghai'"):
        resolve_spec(s, base_dir=tmp_path)
    df.rename({"gtfp": "绿色 TFP"}).write_csv(tmp_path / "zh.csv")
    s["data"]["path"] = "zh.csv"
    s["model"]["y"] = "绿色 TFP"
    with pytest.raises(SpecError, match="column '绿色 TFP'.*cannot be used in a model formula"):
        resolve_spec(s, base_dir=tmp_path)
    df.rename({"gtfp": "绿色TFP"}).write_csv(tmp_path / "zh2.csv")
    s["data"]["path"] = "zh2.csv"
    s["model"]["y"] = "绿色TFP"
    study = run_study(s, base_dir=tmp_path)
    direct = pdid.feols("gtfp ~ did | city + year", datasets.yrd(), vcov={"CR1": "city"})
    assert study.results["baseline_model"].coef()["did"] == pytest.approx(
        direct.coef()["did"], abs=1e-12
    )

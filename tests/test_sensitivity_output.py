"""HonestDiD in the paper outputs: etable's robust-CI and breakdown rows, the sensitivity
figure, and the study's [analyses.sensitivity] section (issue 16, part 4)."""

from __future__ import annotations

import shutil
import subprocess
import warnings

import numpy as np
import pytest

import pilotdid as pdid
from pilotdid import datasets
from pilotdid._core import PilotdidError
from pilotdid.output._adapters import sensitivity_shown


@pytest.fixture(scope="module")
def study():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pdid.event_study(
            datasets.yrd(),
            y="gtfp",
            unit="city",
            time="year",
            cohort="cohort",
            estimator="sa",
            window=(-4, 3),
        )


@pytest.fixture(scope="module")
def sens(study):
    return pdid.honest_did(study, m_bar=[0, 0.5, 1, 1.5, 2])


def test_etable_shows_the_event_study_and_the_robust_ci_at_m_bar_one(study, sens):
    """The sensitivity column repeats the event study's coefficients (same cells as the
    study's own column) and adds the robust CI at M̄ = 1 and the breakdown value, read from
    the result; the note says which class, value, target and method."""
    tab = pdid.etable([study, sens], digits=3)
    f = tab.frame
    labels = f["variable"].to_list()
    coef_rows = [i for i, lab in enumerate(labels) if lab.startswith("e = ")]
    assert coef_rows and all(f["(1)"][i] == f["(2)"][i] for i in coef_rows)
    value, lo, hi = sensitivity_shown(sens)
    j = int(np.flatnonzero(np.asarray(sens.grid) == 1.0)[0])
    assert value == 1.0 and (lo, hi) == (sens.lb[j], sens.ub[j])
    ci = f["(2)"][labels.index("Robust CI")]
    assert ci == f"[{lo:.3f}, {hi:.3f}]".replace("-0.000", "0.000")
    assert f["(1)"][labels.index("Robust CI")] == ""
    assert f["(2)"][labels.index("Breakdown value")] == f"{sens.breakdown:.3f}"
    text = str(tab)
    assert "Δ^RM with M̄ = 1" in text and "e = 0" in text and "method C-LF" in text


def test_sd_rows_use_the_middle_of_the_m_grid_and_average_target(study):
    s = pdid.honest_did(study, delta="sd", m=[0, 0.01, 0.02, 0.03, 0.04], l_vec="average")
    value, lo, hi = sensitivity_shown(s)
    assert value == 0.02 and (lo, hi) == (s.lb[2], s.ub[2])
    text = str(pdid.etable([s]))
    assert "Δ^SD with M = 0.02" in text and "average of e = 0..3" in text


def test_chinese_rows_and_latex_symbols(sens):
    zh = pdid.etable([sens], lang="zh")
    labels = zh.frame["variable"].to_list()
    assert "稳健置信区间" in labels and "临界值（breakdown）" in labels
    tex = pdid.etable([sens]).to_latex()
    assert r"$\Delta^{RM}$" in tex and r"$\bar{M}$" in tex
    assert "Δ" not in tex and "\u0304" not in tex


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_latex_with_the_robust_rows_compiles(sens, study, tmp_path):
    tex = pdid.etable({"Sun-Abraham": study, "HonestDiD": sens}).to_latex()
    doc = (
        "\\documentclass{article}\\usepackage{booktabs,threeparttable}"
        "\\usepackage[a4paper,margin=2.5cm]{geometry}\\begin{document}" + tex + "\\end{document}"
    )
    (tmp_path / "t.tex").write_text(doc, encoding="utf-8")
    run = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "t.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout[-2000:]
    assert "Overfull \\hbox" not in run.stdout


def test_open_interval_prints_infinity():
    from pilotdid.output.tables import _stat_cell

    assert _stat_cell("robust_ci", (-np.inf, 0.25), 3) == "[−∞, 0.250]"
    assert _stat_cell("robust_ci", (-0.0123, 0.25), 3) == "[-0.012, 0.250]"


def test_a_sensitivity_result_without_its_study_is_refused(sens):
    import copy

    bare = copy.copy(sens)
    bare.study = None
    with pytest.raises(PilotdidError, match="does not carry its event study"):
        pdid.etable([bare])


def test_sensitivity_figure_draws_what_its_caption_says(sens, tmp_path):
    fig = pdid.figures.sensitivity_figure(sens, y="Green TFP")
    ax = fig.axes[0]
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks == ["Original", "0", "0.5", "1", "1.5", "2"]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[0] == "Original 95% CI" and legend[1] == "Robust 95% CI (C-LF)"
    assert legend[2].startswith("Breakdown value M̄ = ")
    assert ax.get_ylabel() == "Robust CI for e = 0 (effect on Green TFP)"
    cap = pdid.figures.figure_caption(fig)
    assert "Rambachan & Roth 2023" in cap and "Sun-Abraham" in cap and "breakdown" in cap
    # the blue bars are the robust intervals, exactly
    bars = ax.collections[0].get_segments()
    assert [tuple(seg[:, 1]) for seg in bars] == list(zip(sens.lb, sens.ub))
    pdid.figures.save_figure(fig, tmp_path / "s", formats=("png",))
    assert (tmp_path / "s.png").stat().st_size < 200_000


def test_sensitivity_figure_refuses_other_results(study):
    with pytest.raises(PilotdidError, match="expects the result of honest_did"):
        pdid.figures.sensitivity_figure(study)

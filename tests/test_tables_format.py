"""Number formatting of every paper table (issue 15, acceptance): no non-zero estimate or
standard error prints as 0.000, no scientific notation, p-values below 0.001 print as
<0.001, randomization p-values print as computed with their replicate count R, readable
headers in every summary table.

References: the results' own numbers (coef(), se(), pvalue(), the frames behind the report)
re-read from the rendered cells; exact rules of pilotdid.output.numbers checked on chosen
values (a coefficient of 1.47e-4 needs four decimals, 1/1001 at R = 1000 prints 0.001).
"""

from __future__ import annotations

import re

import numpy as np
import polars as pl
import pytest

import pilotdid as pdid
from pilotdid import datasets
from pilotdid.cli import bundled_spec
from pilotdid.output import numbers
from pilotdid.output.frame_tables import Col, frame_table
from pilotdid.study.run import run_study
from pilotdid.study.spec import load_spec

#: a cell that prints a number as zero: 0.000, -0.000, (0.000), [0.000, ...], 0.000***
_ZERO_CELL = re.compile(r"^[(\[]?-?0\.0+[)\]]?\**$")
#: scientific notation anywhere in a number
_SCI = re.compile(r"\d[eE][-+]?\d")


def md_rows(md: str) -> list[list[str]]:
    rows = []
    for line in md.splitlines():
        if not line.startswith("|") or line.startswith("|:") or line.startswith("|---"):
            continue
        cells = re.split(r"(?<!\\)\|", line)[1:-1]
        rows.append([c.strip().replace("\\|", "|") for c in cells])
    return rows


def row_of(rows: list[list[str]], label: str) -> tuple[list[str], list[str]]:
    for i, r in enumerate(rows):
        if r[0] == label:
            return r[1:], rows[i + 1][1:]
    raise AssertionError(f"no row {label!r} in {[r[0] for r in rows]}")


@pytest.fixture(scope="module")
def df():
    return datasets.yrd()


@pytest.fixture(scope="module")
def moderation(df):
    """Moderation by human_capital (values in the hundreds): the interaction coefficient is
    about 1.5e-4, which three decimals used to print as 0.000** over (0.000)."""
    return pdid.moderation(
        df,
        y="gtfp",
        treatment="did",
        moderator="human_capital",
        fixef="city + year",
        vcov={"CR1": "city"},
    )


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("fmt") / "rep"
    study = run_study(bundled_spec(), out=out)
    return study, out


# --------------------------------------------------------------------------------------------
# the rules, on chosen numbers
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "digits", "text"),
    [
        (0.0642, 3, "0.064"),
        (-0.00034, 3, "-0.00034"),  # would be -0.000: two significant digits instead
        (0.000099, 3, "0.000099"),
        (0.0005, 3, "0.001"),  # rounds to a non-zero 0.001: no extra digits
        (0.00049, 3, "0.00049"),
        (-1e-13, 3, "-0.00000000000010"),
        (0.0, 3, "0.000"),
        (-0.0, 3, "0.000"),
        (1234567.891, 3, "1234567.891"),
        (1e20, 0, "1" + "0" * 20),
        (3, 3, "3"),
        (np.int64(656), 3, "656"),
        (float("nan"), 3, ""),
        (None, 3, ""),
    ],
)
def test_number_never_prints_a_non_zero_as_zero_nor_scientific(x, digits, text):
    """numbers.number: fixed point; a non-zero that rounds to zero gets two significant
    digits; integers as integers; NaN/None empty."""
    assert numbers.number(x, digits) == text
    assert not _SCI.search(numbers.number(x, digits))


@pytest.mark.parametrize(
    ("p", "digits", "text"),
    [
        (9.95e-19, 3, "<0.001"),
        (0.0009999, 3, "<0.001"),
        (0.001, 3, "0.001"),
        (0.0234, 3, "0.023"),
        (1.0, 3, "1.000"),
        (0.004, 2, "0.004"),  # p-values keep three decimals when digits = 2
        (4e-5, 4, "<0.0001"),
        (0.0, 3, "<0.001"),
        (float("nan"), 3, ""),
    ],
)
def test_pvalues_below_the_shown_decimals_print_as_less_than(p, digits, text):
    assert numbers.pvalue(p, digits) == text


def test_randomization_pvalues_print_as_computed_with_R():
    """(1 + k)/(1 + R) with k = 0 and R = 1000 is 1/1001 and prints 0.001 (R = 1000); a p of
    0 (a bootstrap's k/R with k = 0) prints <1/R with R beside it (never 0.000): the reader
    needs R to judge it. R = 9999 shows four decimals, enough for 1/10000."""
    assert numbers.rand_pvalue(1 / 1001, 1000) == "0.001 (R = 1000)"
    assert numbers.rand_pvalue(0.0, 1000) == "<0.001 (R = 1000)"
    assert numbers.rand_pvalue(0.0, 99) == "<0.010 (R = 99)"
    assert numbers.rand_pvalue(0.572, 200) == "0.572 (R = 200)"
    assert numbers.rand_pvalue(1 / 10000, 9999) == "0.0001 (R = 9999)"
    assert numbers.rand_pvalue(0.0, 9999) == "<0.0001 (R = 9999)"
    assert numbers.rand_pvalue(0.25, 99, with_reps=False) == "0.250"


def test_scale_is_a_power_of_three_only_when_many_decimals_would_be_needed():
    assert numbers.scale_for([0.0642, 0.009], 3) == 0
    assert numbers.scale_for([-0.00013, 0.00014], 3) == 0  # two extra decimals suffice
    assert numbers.scale_for([0.000146, 0.000064], 3) == 3
    assert numbers.scale_for([1.2e-9, 3e-10], 3) == 9
    assert numbers.power_text(3) == "×10³" and numbers.power_tex(3) == r"$\times 10^{3}$"


# --------------------------------------------------------------------------------------------
# etable, describe, frame tables
# --------------------------------------------------------------------------------------------


def test_moderation_in_the_hundreds_prints_no_zero_cells(moderation):
    """Reference: ModerationResult.fit coef()/se(). Every coefficient and standard error
    cell is non-zero; the interaction row is scaled by 10^3 (its label says so, the note
    explains it) and its cells equal coef x 1000 and se x 1000 to three decimals."""
    fit = moderation.fit
    t = pdid.etable(moderation)
    rows = md_rows(t.to_markdown())
    for kind_key, cells in zip(t.row_keys, t.frame.drop("variable").iter_rows()):
        if kind_key[0] in ("coef", "stat"):
            for c in cells:
                assert not _ZERO_CELL.match(c), (kind_key, c)
    name = "__did_x_human_capital"
    b, s = fit.coef()[name], fit.se()[name]
    assert 1e-4 < abs(b) < 1e-3  # the case: three decimals would print 0.000
    top, under = row_of(rows, "did × human_capital (×10³)")
    assert float(top[0].rstrip("*")) == pytest.approx(b * 1e3, abs=5e-4)
    assert under[0] == f"({s * 1e3:.3f})"
    assert "Rows marked (×10³): coefficient and standard error multiplied by 10³." in str(t)
    tex = t.to_latex()
    assert r"did $\times$ human\_capital ($\times 10^{3}$)" in tex
    # the main effect of the moderator needs two extra decimals, not a scale
    top, under = row_of(rows, "human_capital")
    hb, hs = fit.coef()["human_capital"], fit.se()["human_capital"]
    dec = numbers.decimals_for([hb, hs], 3)
    assert dec > 3 and top[0].rstrip("*") == f"{hb:.{dec}f}" and under[0] == f"({hs:.{dec}f})"


def test_etable_pvalues_and_no_scientific_notation(df, moderation):
    """stat='p': p-values below 0.001 print as <0.001 (reference: fit.pvalue()); no 'e-'
    in any format of the table."""
    fit = pdid.feols(
        "gtfp ~ did + ln_gdp_pc + urbanization | city + year", df, vcov={"CR1": "city"}
    )
    t = pdid.etable([fit, moderation], stat="p")
    rows = md_rows(t.to_markdown())
    _, under = row_of(rows, "did")
    p = fit.pvalue()["did"]
    assert p < 0.001 and under[0] == "(<0.001)"
    for text in (t.to_markdown(), t.to_latex(), t.to_html()):
        assert not _SCI.search(text)


def test_describe_small_values_are_not_zero():
    """describe on a column of values ~1e-4: mean and sd print with two significant digits
    (reference: numpy), not 0.000."""
    x = np.array([1.2e-4, 3.4e-4, 2.2e-4, 0.9e-4])
    t = pdid.describe(pl.DataFrame({"tiny": x}), columns=["tiny"])
    row = t.frame.row(0, named=True)
    assert row["mean"] == f"{x.mean():.5f}" and float(row["mean"]) != 0
    assert float(row["sd"]) == pytest.approx(x.std(ddof=1), rel=0.05)


def test_frame_table_headers_and_formats():
    """frame_table: dictionary headers (never snake_case), labels on variable names and
    headers, estimate/std_error/CI sharing decimals per row, p as <0.001, rand_p with R."""
    f = pl.DataFrame(
        {
            "term": ["did", "x"],
            "estimate": [0.0642, 0.00012],
            "std_error": [0.0091, 0.00004],
            "p_value": [1e-9, 0.02],
            "conf_low": [0.046, 0.00004],
            "conf_high": [0.082, 0.0002],
            "perm_p": [0.0, 0.5],
            "reps": [1000, 1000],
        }
    )
    cols = ["term", "estimate", "std_error", "p_value", Col("conf_low", high="conf_high")]
    cols.append(Col("perm_p", reps="reps"))
    t = frame_table(f, columns=cols, labels={"did": "Pilot"})
    rows = md_rows(t.to_markdown())
    assert rows[0] == [
        "Variable", "Estimate", "Std. error", "p-value", "95% CI", "Permutation p (equal effects)"
    ]  # fmt: skip
    assert rows[1] == ["Pilot", "0.064", "0.009", "<0.001", "[0.046, 0.082]", "<0.001 (R = 1000)"]
    assert rows[2][:3] == ["x", "0.000120", "0.000040"]  # estimate and SE: one decimal count
    zh = md_rows(frame_table(f, columns=cols, lang="zh").to_markdown())
    assert zh[0][:3] == ["变量", "估计值", "标准误"]
    with pytest.raises(pdid.PilotdidError, match="'nope'"):
        frame_table(f, columns=["nope"])


# --------------------------------------------------------------------------------------------
# the bundled report
# --------------------------------------------------------------------------------------------


#: raw frame column names that must never be a header of a summary table
_SNAKE = (
    "std_error", "delta_se", "sim_sd", "sim_mean", "placebo_q025", "placebo_q975",
    "placebo_mean", "p_value", "t_stat", "conf_low", "avg_est", "n_comparisons",
    "mean_treated_before", "bias_before", "perm_p", "wald_p",
)  # fmt: skip


def test_report_tables_have_no_zero_estimates_no_scientific_notation(report):
    """Every table the bundled report writes (.tex and .md): no 'e-' notation, no starred
    zero or zero standard error (0.000*, (0.000)), p-values never printed as 0.000 in a p
    column, and every regression table's coefficient cells non-zero (reference: the
    results behind them, none of which is exactly zero)."""
    study, out = report
    for p in sorted((out / "tables").glob("*")):
        text = p.read_text(encoding="utf-8")
        assert not _SCI.search(text), p.name
        assert not re.search(r"\(-?0\.0+\)|(?<![\d.])-?0\.0+\*", text), p.name
    for name, tab in study.tables.items():
        for kind_key, cells in zip(tab.row_keys, tab.frame.drop("variable").iter_rows()):
            if kind_key[0] in ("coef", "stat"):
                bad = [c for c in cells if c and _ZERO_CELL.match(c)]
                assert not bad, (name, kind_key, bad)


def test_report_summary_headers_are_words(report):
    """Summary tables: headers from the label dictionary (no frame column names), the
    heterogeneity columns headed by their group ('... above median', not '..._median=1'),
    the placebo p-value with R."""
    study, out = report
    for stem in (
        "placebo_summary", "bacon_summary", "heterogeneity_summary", "moderation_summary",
        "spatial_impacts", "psm_balance", "baseline_wildboot",
    ):  # fmt: skip
        header = md_rows((out / "tables" / f"{stem}.md").read_text(encoding="utf-8"))[0]
        assert not set(header) & set(_SNAKE), (stem, header)
    het = md_rows((out / "tables" / "heterogeneity.md").read_text(encoding="utf-8"))
    titles = het[1][1:]
    assert titles == ["ln GDP per capita at or below median", "ln GDP per capita above median"]
    assert not any("=" in c for r in het[:3] for c in r)
    plc = study.results["placebo"]
    reps = int(np.isfinite(plc.estimates).sum())
    placebo = (out / "tables" / "placebo_summary.md").read_text(encoding="utf-8")
    assert f"{numbers.fixed(plc.p_value_ri, 3)} (R = {reps})" in placebo
    spatial = md_rows((out / "tables" / "spatial_impacts.md").read_text(encoding="utf-8"))
    assert spatial[0] == ["Variable", "Direct", "Indirect", "Total"]


def test_zh_report_summary_headers_are_chinese(tmp_path):
    """lang = "zh": the summary tables' headers are Chinese words from the dictionary."""
    spec = load_spec(bundled_spec())
    spec["report"]["lang"] = "zh"
    spec["analyses"] = {k: spec["analyses"][k] for k in ("bacon", "moderation")}
    run_study(spec, out=tmp_path / "zh")
    bacon = md_rows((tmp_path / "zh" / "tables" / "bacon_summary.md").read_text("utf-8"))
    assert bacon[0] == ["比较类型", "权重", "2×2估计值加权平均", "2×2比较数"]
    mod = md_rows((tmp_path / "zh" / "tables" / "moderation_summary.md").read_text("utf-8"))
    assert mod[0][1:5] == ["估计值", "标准误", "t统计量", "p值"]

"""Publication tables (``pilotdid.etable``, ``pilotdid.describe``).

References: the results' own numbers (``coef()``, ``se()``, ``tstat()``, ``pvalue()``,
``confint()``, fit statistics) re-read from the rendered table; numpy/polars computations for
``describe``; exact rules for stars (p strictly below each threshold), LaTeX structure and
escaping; pdflatex itself for the compile test.
"""

from __future__ import annotations

import html.parser
import math
import os
import re
import shutil
import subprocess

import numpy as np
import polars as pl
import pytest
from scipy.stats import t as scipy_t

import pilotdid as pdid
from pilotdid import datasets
from pilotdid.output.tables import _star

CTRL = ["ln_gdp_pc", "urbanization", "gov_exp_share", "fdi_share", "fin_dev"]
RHS = "did + " + " + ".join(CTRL)


# --------------------------------------------------------------------------------------------
# fixtures and helpers
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def df():
    return datasets.yrd()


@pytest.fixture(scope="module")
def fits(df):
    return {
        "plain": pdid.feols("gtfp ~ did | city + year", df, vcov={"CR1": "city"}),
        "ctrl": pdid.feols(f"gtfp ~ {RHS} | city + year", df, vcov={"CR1": "city"}),
        "city_only": pdid.feols(f"gtfp ~ {RHS} | city", df, vcov={"CR1": "city"}),
        "ols": pdid.feols("gtfp ~ did + ln_gdp_pc", df),
    }


@pytest.fixture(scope="module")
def events(df):
    return {
        k: pdid.event_study(
            df,
            y="gtfp",
            time="year",
            unit="city",
            cohort="cohort",
            estimator=k,
            window=(-4, 4),
        )
        for k in ("twfe", "cs", "bjs")
    }


@pytest.fixture(scope="module")
def spatial(df):
    W = pdid.weights.from_dense(datasets.yrd_weights(), ids=list(range(1, 42)))
    fit = pdid.sdm(
        "gtfp ~ did + ln_gdp_pc", df, W=W, unit="city_id", time="year", effects="individual"
    )
    return fit, fit.impacts(reps=50, seed=0)


def md_rows(md: str) -> list[list[str]]:
    """Cells of every table row of a markdown table (header first, separator skipped)."""
    rows = []
    for line in md.splitlines():
        if not line.startswith("|") or line.startswith("|:"):
            continue
        cells = re.split(r"(?<!\\)\|", line)[1:-1]
        rows.append([c.strip().replace("\\|", "|") for c in cells])
    return rows


def row_of(rows: list[list[str]], label: str) -> tuple[list[str], list[str]]:
    """The row labelled ``label`` and the parenthesised row under it."""
    for i, r in enumerate(rows):
        if r[0] == label:
            return r[1:], (rows[i + 1][1:] if i + 1 < len(rows) else [])
    raise AssertionError(f"no row {label!r} in {[r[0] for r in rows]}")


def n_stars(p: float, thresholds=(0.10, 0.05, 0.01)) -> int:
    return sum(1 for t in thresholds if p < t)


def number(cell: str) -> float:
    return float(cell.rstrip("*"))


def p_cell(p: float, digits: int) -> str:
    """A p-value as tables print it: fixed with max(3, digits) decimals, "<0.0…1" below the
    smallest number those decimals show."""
    d = max(3, digits)
    return f"<{10.0**-d:.{d}f}" if p < 10.0**-d else f"{p:.{d}f}"


# --------------------------------------------------------------------------------------------
# numbers
# --------------------------------------------------------------------------------------------


def test_feols_cells_equal_the_fits_numbers(fits):
    """Reference: each fit's coef()/se()/pvalue()/nobs/r2/r2_within/n_clusters; the table's
    cells parse back to these rounded to 3 digits, with the stars the p-values call for."""
    models = [fits["plain"], fits["ctrl"], fits["ols"]]
    rows = md_rows(pdid.etable(models).to_markdown())
    assert rows[0] == ["Dependent variable", "gtfp", "gtfp", "gtfp"]
    assert rows[1] == ["", "(1)", "(2)", "(3)"]
    for term in ["did", *CTRL]:
        top, under = row_of(rows, term)
        for j, fit in enumerate(models):
            if term not in fit.coef():
                assert top[j] == "" and under[j] == ""
                continue
            b, s, p = fit.coef()[term], fit.se()[term], fit.pvalue()[term]
            assert number(top[j]) == round(b, 3)
            assert top[j] == f"{b:.3f}" + "*" * n_stars(p)
            assert under[j] == f"({s:.3f})"
    top, _ = row_of(rows, "Constant")
    assert number(top[2]) == round(fits["ols"].coef()["Intercept"], 3)
    assert row_of(rows, "Observations")[0] == [str(m.nobs) for m in models]
    assert row_of(rows, "R²")[0] == [f"{m.r2:.3f}" for m in models]
    assert row_of(rows, "Within R²")[0] == [
        f"{fits['plain'].r2_within:.3f}",
        f"{fits['ctrl'].r2_within:.3f}",
        "",
    ]
    assert row_of(rows, "Clusters")[0] == ["41", "41", ""]
    assert row_of(rows, "Std. errors")[0] == ["CR1 by city", "CR1 by city", "iid"]


@pytest.mark.parametrize("stat", ["t", "p", "ci"])
def test_stat_in_parentheses(fits, stat):
    """Reference: fit.tstat(), fit.pvalue(), fit.confint(0.95) under each coefficient
    (p-values below 10^-4 print as <0.0001 with digits=4)."""
    fit = fits["ctrl"]
    rows = md_rows(pdid.etable([fit], stat=stat, digits=4).to_markdown())
    ci = fit.confint(0.95)
    for k, term in enumerate(fit.coefnames):
        _, under = row_of(rows, term)
        if stat == "t":
            assert under[0] == f"({fit.tstat()[term]:.4f})"
        elif stat == "p":
            assert under[0] == f"({p_cell(fit.pvalue()[term], 4)})"
        else:
            lo, hi = ci["conf_low"][k], ci["conf_high"][k]
            assert under[0] == f"[{lo:.4f}, {hi:.4f}]"


def test_stars_at_the_thresholds():
    """Exact rule: one star per threshold the p-value is strictly below."""
    th = (0.10, 0.05, 0.01)
    assert _star(0.10, th) == ""
    assert _star(0.0999, th) == "*"
    assert _star(0.05, th) == "*"
    assert _star(0.0499, th) == "**"
    assert _star(0.01, th) == "**"
    assert _star(0.00999, th) == "***"
    assert _star(float("nan"), th) == ""
    assert _star(0.001, None) == ""
    assert _star(0.04, (0.05,)) == "*"


def test_stars_match_pvalues_and_custom_thresholds(fits):
    """Reference: fit.pvalue(); custom stars=(0.05, 0.01) and stars=None; the note line
    states the thresholds."""
    fit = fits["ctrl"]
    t = pdid.etable([fit], stars=(0.05, 0.01))
    rows = md_rows(t.to_markdown())
    for term, p in fit.pvalue().items():
        top, _ = row_of(rows, term)
        assert top[0].count("*") == n_stars(p, (0.05, 0.01))
    assert "* p<0.05, ** p<0.01." in t.to_markdown()
    plain = pdid.etable([fit], stars=None).to_markdown()
    assert "*" not in plain.replace("p<", "")
    default = pdid.etable([fit]).to_markdown()
    assert "* p<0.1, ** p<0.05, *** p<0.01." in default


def test_keep_drop_order(fits):
    """keep (regexes, rows in pattern order), drop, order on term names."""
    fit = fits["ctrl"]
    labels = lambda t: [r[0] for r in md_rows(t.to_markdown())[2:] if r[0]]  # noqa: E731
    t = pdid.etable([fit], keep=["fdi", "^did$"], stats_rows=[], fe_rows=False)
    assert labels(t) == ["fdi_share", "did"]
    t = pdid.etable([fit], drop=r"^(ln_|fin)", stats_rows=[], fe_rows=False)
    assert labels(t) == ["did", "urbanization", "gov_exp_share", "fdi_share"]
    t = pdid.etable([fit], order=["fin_dev", "urban"], stats_rows=[], fe_rows=False)
    assert labels(t)[:3] == ["fin_dev", "urbanization", "did"]
    assert len(labels(t)) == 6
    with pytest.raises(pdid.PilotdidError, match="keep"):
        pdid.etable([fit], keep=["("])


def test_fe_rows_controls_and_zh_labels(fits):
    """FE indicator rows follow each fit's fixef (city+year / city / none); controls
    collapse into one 控制变量 row; zh words and FE display names from labels."""
    models = [fits["plain"], fits["ctrl"], fits["city_only"], fits["ols"]]
    t = pdid.etable(
        models,
        controls=CTRL,
        labels={"city": "城市", "year": "年份", "did": "智慧城市试点"},
        lang="zh",
    )
    rows = md_rows(t.to_markdown())
    first = [r[0] for r in rows]
    for c in CTRL:
        assert c not in first
    assert row_of(rows, "控制变量")[0] == ["否", "是", "是", "是"]
    assert row_of(rows, "城市固定效应")[0] == ["是", "是", "是", "否"]
    assert row_of(rows, "年份固定效应")[0] == ["是", "是", "否", "否"]
    assert row_of(rows, "观测值")[0] == ["656"] * 4
    assert row_of(rows, "聚类数")[0] == ["41", "41", "41", ""]
    top, _ = row_of(rows, "智慧城市试点")
    assert [number(c) for c in top] == [round(m.coef()["did"], 3) for m in models]
    assert "常数项" in first
    assert "括号内为标准误" in t.to_markdown()
    en = md_rows(pdid.etable(models, controls=CTRL).to_markdown())
    assert row_of(en, "Controls")[0] == ["No", "Yes", "Yes", "Yes"]
    assert row_of(en, "city FE")[0] == ["Yes", "Yes", "Yes", "No"]
    assert row_of(en, "year FE")[0] == ["Yes", "Yes", "No", "No"]


def test_model_names_and_dict_titles(fits):
    """Column titles: dict keys, or model_names, under the dependent-variable row; equal
    neighbouring titles (and outcomes) share one \\multicolumn header with a rule under it."""
    t = pdid.etable({"Baseline": fits["plain"], "Controls": fits["ctrl"]})
    assert md_rows(t.to_markdown())[1] == ["", "Baseline", "Controls"]
    t = pdid.etable([fits["plain"], fits["ctrl"]], model_names=["A", "B"])
    assert md_rows(t.to_markdown())[1] == ["", "A", "B"]
    tex = pdid.etable([fits["plain"], fits["ctrl"]], model_names=["A", "A"]).to_latex()
    assert r"\multicolumn{2}{c}{A} \\" + "\n" + r"\cmidrule(lr){2-3}" in tex
    tex = pdid.etable([fits["plain"], fits["ctrl"]]).to_latex()
    assert r"\multicolumn{2}{c}{Dependent variable: gtfp}" in tex
    with pytest.raises(pdid.PilotdidError, match="model_names"):
        pdid.etable([fits["plain"]], model_names=["a", "b"])


def test_frame_holds_the_cells(fits):
    """ETable.frame: 'variable' + one string column per model, the same cells as the
    markdown body."""
    t = pdid.etable([fits["plain"], fits["ols"]])
    assert t.frame.columns == ["variable", "(1)", "(2)"]
    assert all(dt == pl.String for dt in t.frame.dtypes)
    body = md_rows(t.to_markdown())[2:]
    assert [list(r) for r in t.frame.iter_rows()] == body
    assert t.row_keys[0] == ("coef", "did")


def test_event_studies_aggte_and_sunab(df, events):
    """Reference: each EventStudyResult's coef()/se() (stars: scipy Student t on df_t for
    TWFE, normal otherwise); SunAbrahamResult.tidy(); the CS
    aggregation's overall_att/overall_se; rows e = k sorted by event time."""
    sa = pdid.sunab(df, y="gtfp", time="year", unit="city", cohort="cohort")
    agg = pdid.aggte(
        pdid.att_gt(df, y="gtfp", time="year", unit="city", cohort="cohort"), type="simple"
    )
    res = {**events, "sa": sa, "cs_att": agg}
    rows = md_rows(pdid.etable(res).to_markdown())
    assert rows[0][1:] == ["twfe", "cs", "bjs", "sa", "cs_att"]
    labels = [r[0] for r in rows if r[0].startswith("e = ")]
    ks = [int(x[4:]) for x in labels]
    assert ks == sorted(ks)
    for j, k in enumerate(("twfe", "cs", "bjs")):
        es = events[k]
        for term, b in es.coef().items():  # terms "rel::e"
            e = int(term.split("::")[1])
            top, under = row_of(rows, f"e = {e}")
            assert number(top[j]) == round(b, 3)
            assert under[j] == f"({es.se()[term]:.3f})"
            z = b / es.se()[term]
            if k == "twfe":  # Student t with the regression's df_t (scipy as reference)
                p = 2 * scipy_t.sf(abs(z), es.extra["df_t"])
            else:
                p = math.erfc(abs(z) / math.sqrt(2))
            assert top[j].count("*") == n_stars(p)
    tsa = sa.tidy()
    for e, b, p in zip(tsa["event_time"], tsa["estimate"], tsa["p_value"]):
        top, _ = row_of(rows, f"e = {e}")
        assert top[3] == f"{b:.3f}" + "*" * n_stars(p)
    top, under = row_of(rows, "ATT")
    assert number(top[4]) == round(agg.overall_att, 3)
    assert under[4] == f"({agg.overall_se:.3f})"
    assert row_of(rows, "Units")[0][1] == "41"
    assert row_of(rows, "Reference period")[0][0] == "-1"


def test_event_study_pvalues(events):
    """Reference: scipy.stats.t (TWFE, df_t) and the normal distribution (BJS) for the
    p-values of results that carry none."""
    rows = md_rows(pdid.etable([events["twfe"], events["bjs"]], stat="p", digits=6).to_markdown())
    for j, k in enumerate(("twfe", "bjs")):
        es = events[k]
        for term, b in es.coef().items():
            e = int(term.split("::")[1])
            z = abs(b / es.se()[term])
            ref = 2 * scipy_t.sf(z, es.extra["df_t"]) if k == "twfe" else 2 * scipy_t.sf(z, 1e12)
            assert row_of(rows, f"e = {e}")[1][j] == f"({p_cell(ref, 6)})"


def test_dynamic_aggte_rows(df):
    """Reference: AggteResult(type='dynamic').to_event_study() estimates and overall ATT."""
    dyn = pdid.aggte(
        pdid.att_gt(df, y="gtfp", time="year", unit="city", cohort="cohort"), type="dynamic"
    )
    rows = md_rows(pdid.etable([dyn]).to_markdown())
    assert number(row_of(rows, "ATT")[0][0]) == round(dyn.overall_att, 3)
    es = dyn.to_event_study()
    for term, b in es.coef().items():
        assert number(row_of(rows, f"e = {int(term.split('::')[1])}")[0][0]) == round(b, 3)


def test_placebo_and_psm_columns(df, fits):
    """Reference: PlaceboResult.actual / pvalue; PsmDidResult.did coef() and se()."""
    plc = pdid.placebo(fits["ctrl"], data=df, reps=99, seed=3)
    psm = pdid.psm_did(
        df,
        treatment="treat",
        controls=CTRL,
        fml=f"gtfp ~ {RHS} | city + year",
        vcov={"CR1": "city"},
    )
    rows = md_rows(pdid.etable([fits["ctrl"], plc, psm], keep="did").to_markdown())
    assert rows[0][1:] == ["gtfp", "", "gtfp"]  # a placebo result does not name its outcome
    assert rows[1][1:] == ["", "Placebo", "PSM-DID"]
    top, under = row_of(rows, "did")
    assert top[1] == f"{plc.actual:.3f}" + "*" * n_stars(plc.p_value_ri)
    assert under[1] == f"[{plc.p_value_ri:.3f}]"
    assert number(top[2]) == round(psm.did.coef()["did"], 3)
    assert under[2] == f"({psm.did.se()['did']:.3f})"
    # the p-value as computed, with R = the number of finite placebo estimates
    reps = int(np.isfinite(plc.estimates).sum())
    assert row_of(rows, "Placebo p-value")[0][1] == f"{plc.p_value_ri:.3f} (R = {reps})"
    assert row_of(rows, "Observations")[0][2] == str(psm.did.nobs)
    assert row_of(rows, "Matching")[0][2] == psm.method


def test_mediation_steps_are_columns(df):
    """Reference: MediationResult.total_fit, a_fits[m], b_fits[m] (each step one column)."""
    meds = ["ind_upgrade", "energy_intensity"]
    med = pdid.mediation(
        df,
        y="gtfp",
        treatment="did",
        mediators=meds,
        controls=CTRL,
        fixef="city + year",
        vcov={"CR1": "city"},
        reps=19,
        seed=0,
    )  # fmt: skip
    rows = md_rows(pdid.etable(med, controls=CTRL).to_markdown())
    assert rows[0][1:] == ["gtfp", "ind_upgrade", "energy_intensity", "gtfp", "gtfp"]
    steps = ["1: total effect", "2: on mediator", "2: on mediator"]
    assert rows[1][1:] == steps + ["3: with mediator"] * 2
    top, _ = row_of(rows, "did")
    fitted = [med.total_fit, med.a_fits[meds[0]], med.a_fits[meds[1]]]
    fitted += [med.b_fits[meds[0]], med.b_fits[meds[1]]]
    assert [number(c) for c in top] == [round(f.coef()["did"], 3) for f in fitted]
    top, _ = row_of(rows, "ind_upgrade")
    assert number(top[3]) == round(med.b_fits["ind_upgrade"].coef()["ind_upgrade"], 3)
    assert r"\multicolumn{2}{c}{2: on mediator}" in pdid.etable(med).to_latex()
    two = pdid.mediation(
        df,
        y="gtfp",
        treatment="did",
        mediators=meds,
        fixef="city + year",
        method="two_step",
    )
    rows = md_rows(pdid.etable(two).to_markdown())
    assert rows[0][1:] == meds  # the outcome of each column is its mediator
    assert row_of(rows, "Step")[0] == ["2: on mediator"] * 2
    top, _ = row_of(rows, "did")
    assert [number(c) for c in top] == [round(two.fits[m].coef()["did"], 3) for m in meds]


def test_sdm_and_impacts(spatial):
    """Reference: SpatialResult.coef()/se() (incl. W*x and rho) and SpatialImpacts
    direct/indirect/total."""
    fit, imp = spatial
    rows = md_rows(pdid.etable([fit, imp]).to_markdown())
    for term, label in [("did", "did"), ("W*did", "W×did"), ("rho", "ρ")]:
        top, under = row_of(rows, label)
        assert number(top[0]) == round(fit.coef()[term], 3)
        assert under[0] == f"({fit.se()[term]:.3f})"
    for eff, vals in [("Direct", imp.direct), ("Indirect", imp.indirect), ("Total", imp.total)]:
        for term, v in vals.items():
            assert number(row_of(rows, f"{eff}: {term}")[0][1]) == round(v, 3)
    # the FE rows are named by the panel's columns (unit="city_id"): SDM unit FE only
    assert row_of(rows, "city_id FE")[0] == ["Yes", "No"]
    assert not any(r[0] == "year FE" for r in rows)  # no model has time effects
    assert row_of(rows, "Observations")[0][0] == str(fit.nobs)


def test_robustness_heterogeneity_moderation(df, fits):
    """Reference: RobustnessResult.models, HeterogeneityResult.fits and ModerationResult.fit
    coefficients; moderation's generated names shown as d × z."""
    rob = pdid.robustness(fits["plain"], checks=[pdid.Check("drop_units", units=["Shanghai"])])
    rows = md_rows(pdid.etable(rob, keep="did").to_markdown())
    assert rows[1][1:] == list(rob.models)
    top, _ = row_of(rows, "did")
    assert [number(c) for c in top] == [round(m.coef()["did"], 3) for m in rob.models.values()]
    assert row_of(rows, "Observations")[0] == [str(m.nobs) for m in rob.models.values()]
    sub = df.filter(pl.col("province") != "Shanghai")
    het = pdid.heterogeneity(
        sub,
        y="gtfp",
        treatment="did",
        by="province",
        fixef="city + year",
        vcov={"CR1": "city"},
        reps=9,
    )  # fmt: skip
    mod = pdid.moderation(
        df,
        y="gtfp",
        treatment="did",
        moderator="human_capital",
        fixef="city + year",
    )
    rows = md_rows(pdid.etable([het, mod], digits=6).to_markdown())
    assert rows[0][1:] == ["gtfp"] * (len(het.fits) + 1)
    # group titles; the moderation column's title is its outcome, shown in the row above
    assert rows[1][1:] == [*het.fits, ""]
    top, _ = row_of(rows, "did")
    expect = [f.coef()["did"] for f in het.fits.values()] + [mod.fit.coef()["did"]]
    assert [number(c) for c in top] == [round(v, 6) for v in expect]
    top, _ = row_of(rows, "did × human_capital")
    assert number(top[-1]) == round(mod.fit.coef()["__did_x_human_capital"], 6)
    # no "Group" row: it would repeat the titles
    assert not any(r[0] == "Group" for r in rows)


def test_unsupported_and_bad_options(fits):
    """Errors name the option or the type at fault."""
    with pytest.raises(pdid.PilotdidError, match="int cannot be tabulated"):
        pdid.etable([3])
    with pytest.raises(pdid.PilotdidError, match="'stat'"):
        pdid.etable([fits["plain"]], stat="z")
    with pytest.raises(pdid.PilotdidError, match="'lang'"):
        pdid.etable([fits["plain"]], lang="fr")
    with pytest.raises(pdid.PilotdidError, match="suffix"):
        pdid.etable([fits["plain"]]).save("x.docx")


# --------------------------------------------------------------------------------------------
# describe
# --------------------------------------------------------------------------------------------


def test_describe_equals_numpy(df):
    """Reference: numpy mean, std(ddof=1), min, max, percentile (linear) of each column;
    missing and NaN values are excluded per column."""
    cols = ["gtfp", "ln_gdp_pc", "did"]
    d = df.with_columns(
        pl.when(pl.col("year") == 2006).then(None).otherwise(pl.col("gtfp")).alias("gtfp"),
        pl.when(pl.col("year") == 2007)
        .then(float("nan"))
        .otherwise(pl.col("ln_gdp_pc"))
        .alias("ln_gdp_pc"),
    )
    stats = ("N", "mean", "sd", "min", "max", "p25", "p50", "p75")
    t = pdid.describe(d, columns=cols, stats=stats, digits=4)
    assert t.frame.columns == ["variable", *stats]
    for row in t.frame.iter_rows(named=True):
        x = d[row["variable"]].drop_nulls().to_numpy().astype(float)
        x = x[np.isfinite(x)]
        assert row["N"] == str(x.size)
        assert row["mean"] == f"{x.mean():.4f}"
        assert row["sd"] == f"{x.std(ddof=1):.4f}"
        assert row["min"] == f"{x.min():.4f}"
        assert row["max"] == f"{x.max():.4f}"
        for q in (25, 50, 75):
            assert row[f"p{q}"] == f"{np.percentile(x, q):.4f}"
    assert t.frame["N"].to_list() == ["615", "615", "656"]
    # polars' own computation agrees
    assert t.frame["sd"][2] == f"{d['did'].std():.4f}"


def test_describe_labels_zh_pandas_and_defaults(df):
    """zh headers and labels; pandas input gives the same table; default columns are the
    numeric ones."""
    t = pdid.describe(df, columns=["gtfp"], labels={"gtfp": "绿色全要素生产率"}, lang="zh")
    rows = md_rows(t.to_markdown())
    assert rows[0] == ["变量", "观测值", "均值", "标准差", "最小值", "最大值"]
    assert rows[1][0] == "绿色全要素生产率"
    pd = pytest.importorskip("pandas")
    pdf = pd.DataFrame({c: df[c].to_numpy() for c in ("city", "gtfp", "did")})
    a = pdid.describe(pdf, columns=["gtfp", "did"]).to_markdown()
    assert a == pdid.describe(df, columns=["gtfp", "did"]).to_markdown()
    assert pdid.describe(pdf).to_markdown() == a
    numeric = [c for c, dt in df.schema.items() if dt.is_numeric()]
    assert pdid.describe(df).frame["variable"].to_list() == numeric
    with pytest.raises(pdid.PilotdidError, match="'city'"):
        pdid.describe(df, columns=["city"])
    with pytest.raises(pdid.PilotdidError, match="stats"):
        pdid.describe(df, columns=["gtfp"], stats=("N", "kurtosis"))


# --------------------------------------------------------------------------------------------
# determinism and formats
# --------------------------------------------------------------------------------------------


def _big_table(fits, events, spatial, lang="en"):
    fit, imp = spatial
    return pdid.etable(
        [fits["plain"], fits["ctrl"], events["twfe"], fit, imp],
        controls=CTRL,
        labels={"city": "城市", "year": "年份"} if lang == "zh" else {"did": "Pilot & post"},
        lang=lang,
        title="Smart-city pilots: 100% of the _main_ results #1 ($)",
        notes="Synthetic data; see data/yrd/README.md.",
    )


def test_deterministic_bytes(fits, events, spatial):
    """Same input -> byte-identical LaTeX, HTML and Markdown."""
    a, b = _big_table(fits, events, spatial), _big_table(fits, events, spatial)
    assert a.to_latex() == b.to_latex()
    assert a.to_html() == b.to_html()
    assert a.to_markdown() == b.to_markdown()
    assert str(a) == a.to_markdown()


def _tex_cells(line: str) -> int:
    """Columns covered by one tabular row (\\multicolumn spans counted)."""
    body = line.rsplit(r"\\", 1)[0]
    cells = re.split(r"(?<!\\)&", body)
    n = 0
    for c in cells:
        m = re.search(r"\\multicolumn\{(\d+)\}", c)
        n += int(m.group(1)) if m else 1
    return n


@pytest.mark.parametrize("booktabs", [True, False])
def test_latex_structure(fits, events, spatial, booktabs):
    """Balanced environments; every row spans the header's column count; specials
    (& % _ # $ < >) escaped; booktabs rules or \\hline."""
    t = _big_table(fits, events, spatial)
    tex = t.to_latex(booktabs=booktabs, float_env=True)
    # the first line is a comment naming the packages the table needs
    head, tex = tex.split("\n", 1)
    assert head.startswith("% pilotdid table: \\usepackage{") and "threeparttable" in head
    for env in ("table", "tabular"):
        assert tex.count(rf"\begin{{{env}}}") == tex.count(rf"\end{{{env}}}") == 1
    ncol = 6
    assert r"\begin{tabular}{lccccc}" in tex
    rows = [ln for ln in tex.splitlines() if ln.endswith(r"\\")]
    assert len(rows) > 20
    assert all(_tex_cells(r) == ncol for r in rows)
    assert r"Pilot \& post" in tex
    assert r"100\% of the \_main\_ results \#1 (\$)" in tex
    assert "data/yrd/README.md" in tex and r"README\_" not in tex
    assert "$R^2$" in tex and "R²" not in tex
    assert r"$^{*}$ p\textless{}0.1" in tex and "p<" not in tex
    if booktabs:
        assert tex.count(r"\toprule") == tex.count(r"\bottomrule") == 1
        assert r"\cmidrule" in tex
    else:
        assert r"\toprule" not in tex and r"\hline" in tex
    # unescaped specials never appear outside the allowed macros
    stripped = re.sub(r"\\[&%_#$]|\$R\^2\$|\$\\sigma\^2\$", "", tex)
    assert not re.search(r"[%#_]", stripped)
    assert "&" in stripped  # column separators remain


class _Checker(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack: list[str] = []
        self.tags: list[str] = []
        self.attrs: list[dict] = []

    def handle_starttag(self, tag, attrs):
        self.stack.append(tag)
        self.tags.append(tag)
        self.attrs.append(dict(attrs))

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, (self.stack, tag)
        self.stack.pop()


def test_html_fragment(fits):
    """A well-formed <table class="pilotdid-etable"> with escaped text and no script."""
    t = pdid.etable([fits["plain"]], labels={"did": "<b>DID</b> & co"}, title="T<1>")
    h = t.to_html()
    chk = _Checker()
    chk.feed(h)
    assert chk.stack == []
    assert chk.tags[0] == "table" and chk.attrs[0]["class"] == "pilotdid-etable"
    assert "script" not in chk.tags
    assert "&lt;b&gt;DID&lt;/b&gt; &amp; co" in h and "T&lt;1&gt;" in h
    assert t._repr_html_() == h
    assert 'colspan="1"' not in h


def test_save_by_suffix(tmp_path, fits):
    """save() writes the format its suffix names, UTF-8."""
    t = pdid.etable([fits["plain"]], lang="zh")
    for suffix, render in [(".tex", t.to_latex), (".html", t.to_html), (".md", t.to_markdown)]:
        p = tmp_path / f"t{suffix}"
        t.save(p)
        assert p.read_text(encoding="utf-8") == render()


# --------------------------------------------------------------------------------------------
# LaTeX compile
# --------------------------------------------------------------------------------------------


def test_latex_compiles_with_pdflatex(tmp_path, fits, events, spatial):
    """Reference: pdflatex (texlive-latex-base, -recommended for booktabs and pdflscape,
    -extra for threeparttable) compiles the tables (float and bare, booktabs and not,
    portrait and landscape) with -halt-on-error. Skipped without pdflatex unless $CI is
    set."""
    exe = shutil.which("pdflatex")
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("pdflatex is missing (apt-get install texlive-latex-base "
                        "texlive-latex-recommended texlive-latex-extra)")  # fmt: skip
        pytest.skip("pdflatex not installed")
    t = _big_table(fits, events, spatial)
    d = pdid.describe(datasets.yrd(), columns=["gtfp", "did"], stats=("N", "mean", "sd", "p50"))
    doc = "\n".join(
        [
            r"\documentclass{article}",
            r"\usepackage{booktabs}",
            r"\usepackage{threeparttable}",
            r"\usepackage{pdflscape}",
            r"\usepackage{graphicx}",
            r"\begin{document}",
            t.to_latex(float_env=True),
            r"\resizebox{\textwidth}{!}{"
            + t.to_latex(booktabs=False, float_env=False).strip()
            + "}",
            d.to_latex(),
            t.to_latex(landscape=True, size="small"),
            r"\end{document}",
        ]
    )
    (tmp_path / "doc.tex").write_text(doc, encoding="utf-8")
    out = subprocess.run(
        [exe, "-halt-on-error", "-interaction=nonstopmode", "doc.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout[-3000:]
    assert (tmp_path / "doc.pdf").stat().st_size > 1000


def test_event_study_p_values_use_the_intervals_t_distribution_for_sa_and_did2s():
    """SA and did2s event studies carry their intervals' t degrees of freedom (df_t), so the
    table's p-values reproduce the intervals: t quantile at the CI = the SE ratio (scipy)."""
    from scipy import stats as st

    import pilotdid as pdid
    from pilotdid import datasets

    df = datasets.yrd()
    for name in ("sa", "did2s"):
        r = pdid.event_study(
            df,
            y="gtfp",
            time="year",
            unit="city",
            cohort="cohort",
            estimator=name,
            window=(-3, 3),
        )
        dft = r.extra["df_t"]
        q = st.t.ppf(0.975, dft)
        np.testing.assert_allclose(r.conf_high - r.estimate, q * r.std_error, rtol=1e-8)
        md = pdid.etable({name: r}, stat="p", digits=6).to_markdown()
        t0 = r.estimate[list(r.event_time).index(0)] / r.std_error[list(r.event_time).index(0)]
        p0 = 2 * st.t.sf(abs(t0), dft)
        assert f"{p0:.6f}" in md


def test_caption_label_depvar_and_se_note(fits, events):
    """LaTeX float: caption defaults to the title, label to tab:<slug of the caption>;
    caption=/label= on etable and on to_latex override them. The dependent-variable row
    reads labels; y= names the outcome of results that do not carry it (event studies).
    A common vcov is said once in the notes (with the cluster count) instead of per column."""
    t = pdid.etable([fits["plain"], fits["ctrl"]], title="Main results", labels={"gtfp": "GTFP"})
    tex = t.to_latex()
    assert r"\caption{Main results}" in tex and r"\label{tab:main-results}" in tex
    assert r"\multicolumn{2}{c}{Dependent variable: GTFP}" in tex
    assert "Std. errors" not in tex and "Clusters" not in tex
    assert "Standard errors, clustered by city (41 clusters), in parentheses." in tex
    tex = t.to_latex(caption="Other", label="tab:x")
    assert r"\caption{Other}" in tex and r"\label{tab:x}" in tex
    t = pdid.etable([fits["plain"]], caption="Cap", label="tab:y")
    assert r"\caption{Cap}" in t.to_latex() and r"\label{tab:y}" in t.to_latex()
    assert r"\caption" not in pdid.etable([fits["plain"]]).to_latex()  # no title, no caption
    bare = pdid.etable([fits["plain"]], title="T").to_latex(float_env=False)
    assert r"\begin{table}" not in bare and r"\caption" not in bare
    assert r"\begin{threeparttable}" in bare
    rows = md_rows(pdid.etable([events["twfe"], events["bjs"]], y="gtfp").to_markdown())
    assert rows[0] == ["Dependent variable", "gtfp", "gtfp"]
    rows = md_rows(pdid.etable([events["twfe"]]).to_markdown())
    assert rows[0][0] != "Dependent variable"  # unknown outcome: no such row
    with pytest.raises(pdid.PilotdidError, match="'y'"):
        pdid.etable([fits["plain"], fits["ctrl"]], y=["a"])
    with pytest.raises(pdid.PilotdidError, match="'caption'"):
        pdid.etable([fits["plain"]], caption=3)
    with pytest.raises(pdid.PilotdidError, match="'size'"):
        pdid.etable([fits["plain"]]).to_latex(size="huge")
    with pytest.raises(pdid.PilotdidError, match="'text_width'"):
        pdid.etable([fits["plain"]]).to_latex(text_width=-1)

"""Words and escaping shared by every table and the report: the label vocabulary in
English and Chinese, LaTeX and Markdown escaping, rich text cells."""

from __future__ import annotations

import re

from pilotdid._core import PilotdidError

_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "controls": "Controls",
        "fe": "{} FE",
        "yes": "Yes",
        "no": "No",
        "constant": "Constant",
        "nobs": "Observations",
        "units": "Units",
        "r2": "R²",
        "r2_within": "Within R²",
        "clusters": "Clusters",
        "vcov": "Std. errors",
        "estimator": "Estimator",
        "reference": "Reference period",
        "placebo_p": "Placebo p-value",
        "placebo_reps": "Placebo replicates",
        "matching": "Matching",
        "robust_ci": "Robust CI",
        "breakdown": "Breakdown value",
        "step": "Step",
        "loglik": "Log-likelihood",
        "sigma2": "σ²",
        "draws": "Simulation draws",
        "group": "Group",
        "overall": "ATT",
        "event": "e = {}",
        "direct": "Direct",
        "indirect": "Indirect",
        "total": "Total",
        "step1": "1: total effect",
        "step2": "2: on mediator",
        "step3": "3: with mediator",
        "stars": "{} p<{}",
        "note_se": "Standard errors in parentheses.",
        "note_t": "t statistics in parentheses.",
        "note_p": "p-values in parentheses.",
        "note_ci": "{}% confidence intervals in brackets.",
        "note_placebo": "Placebo columns: randomization p-value in brackets; R is the number of "
        "placebo replicates.",
        "note_scaled": "Rows marked ({}): coefficient and standard error multiplied by {}.",
        "note_se_with": "Standard errors, {}, in parentheses.",
        "note_se_is": "Standard errors: {}.",
        "note_se_cols": "Standard errors in parentheses: {}.",
        "se_cluster": "clustered by {} ({} clusters)",
        "se_cluster_n": "clustered by {}",
        "se_hc1": "heteroskedasticity-robust (HC1)",
        "se_iid": "conventional (iid)",
        "and": " and ",
        "depvar": "Dependent variable",
        "below_median": "{} at or below median",
        "above_median": "{} above median",
        "variable": "Variable",
        "N": "N",
        "mean": "Mean",
        "sd": "SD",
        "min": "Min",
        "max": "Max",
        "p25": "P25",
        "p50": "Median",
        "p75": "P75",
        "sep": ", ",
    },
    "zh": {
        "controls": "控制变量",
        "fe": "{}固定效应",
        "yes": "是",
        "no": "否",
        "constant": "常数项",
        "nobs": "观测值",
        "units": "个体数",
        "r2": "R²",
        "r2_within": "组内R²",
        "clusters": "聚类数",
        "vcov": "标准误类型",
        "estimator": "估计方法",
        "reference": "基期",
        "placebo_p": "安慰剂检验p值",
        "placebo_reps": "安慰剂重复次数",
        "matching": "匹配方法",
        "robust_ci": "稳健置信区间",
        "breakdown": "临界值（breakdown）",
        "step": "步骤",
        "loglik": "对数似然值",
        "sigma2": "σ²",
        "draws": "模拟次数",
        "group": "组别",
        "overall": "ATT",
        "event": "第{}期",
        "direct": "直接效应",
        "indirect": "间接效应",
        "total": "总效应",
        "step1": "第一步：总效应",
        "step2": "第二步：中介变量",
        "step3": "第三步：加入中介变量",
        "stars": "{} p<{}",
        "note_se": "括号内为标准误。",
        "note_t": "括号内为t统计量。",
        "note_p": "括号内为p值。",
        "note_ci": "方括号内为{}%置信区间。",
        "note_placebo": "安慰剂检验列：方括号内为随机化p值，R为安慰剂重复次数。",
        "note_scaled": "标注（{}）的行：系数与标准误均乘以{}。",
        "note_se_with": "括号内为标准误（{}）。",
        "note_se_is": "标准误：{}。",
        "note_se_cols": "括号内为标准误：{}。",
        "se_cluster": "聚类到{}层面，{}个聚类",
        "se_cluster_n": "聚类到{}层面",
        "se_hc1": "异方差稳健，HC1",
        "se_iid": "普通标准误，iid",
        "and": "和",
        "depvar": "被解释变量",
        "below_median": "{}不高于中位数",
        "above_median": "{}高于中位数",
        "variable": "变量",
        "N": "观测值",
        "mean": "均值",
        "sd": "标准差",
        "min": "最小值",
        "max": "最大值",
        "p25": "25分位数",
        "p50": "中位数",
        "p75": "75分位数",
        "sep": "，",
    },
}


class _Rich(str):
    """A cell whose LaTeX form differs from its plain text (e.g. R² -> $R^2$)."""

    tex: str

    def __new__(cls, text: str, tex: str) -> _Rich:
        obj = super().__new__(cls, text)
        obj.tex = tex
        return obj


_TEX_WORDS = {
    "r2": {"en": "$R^2$", "zh": "$R^2$"},
    "r2_within": {"en": "Within $R^2$", "zh": "组内$R^2$"},
    "sigma2": {"en": r"$\sigma^2$", "zh": r"$\sigma^2$"},
}


#: Statistic rows in display order (keys of ``_Column.stats``); others follow, first seen.
_STAT_ORDER = (
    "step",
    "estimator",
    "nobs",
    "units",
    "r2",
    "r2_within",
    "clusters",
    "vcov",
    "reference",
    "placebo_p",
    "placebo_reps",
    "matching",
    "robust_ci",
    "breakdown",
    "loglik",
    "sigma2",
    "draws",
)


def _words(lang: str) -> dict[str, str]:
    if lang not in _WORDS:
        raise PilotdidError(f"option 'lang': {lang!r} (use 'en' or 'zh')")
    return _WORDS[lang]


def _word(key: str, lang: str) -> str:
    text = _WORDS[lang].get(key, key)
    if key in _TEX_WORDS:
        return _Rich(text, _TEX_WORDS[key][lang])
    return text


_TEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    # OT1 (LaTeX's default font encoding) prints < > | as ¡ ¿ —
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    # symbols the labels use: math mode typesets them in every engine and font (pdflatex
    # without textcomp glyphs, XeLaTeX with a CJK main font)
    "×": r"$\times$",
    "−": "$-$",
    "≤": r"$\leq$",
    "≥": r"$\geq$",
    "→": r"$\rightarrow$",
    "σ": r"$\sigma$",
    "ρ": r"$\rho$",
    "λ": r"$\lambda$",
    "β": r"$\beta$",
    # HonestDiD's restriction classes and parameters (Rambachan & Roth 2023); the longer
    # names first, since the pattern tries them in this order
    "Δ^SDRM": r"$\Delta^{SDRM}$",
    "Δ^RM": r"$\Delta^{RM}$",
    "Δ^SD": r"$\Delta^{SD}$",
    "Δ": r"$\Delta$",
    "∞": r"$\infty$",
    "M\u0304": r"$\bar{M}$",
}

_SUPERSCRIPTS = "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"
_SUPERSCRIPT_TO_TEXT = str.maketrans(_SUPERSCRIPTS, "-0123456789")
_TEX_RE = re.compile(f"[{_SUPERSCRIPTS}]+|" + "|".join(re.escape(k) for k in _TEX_SPECIAL))


def _tex_one(m: re.Match[str]) -> str:
    text = m.group(0)
    if text in _TEX_SPECIAL:
        return _TEX_SPECIAL[text]
    return "$^{" + text.translate(_SUPERSCRIPT_TO_TEXT) + "}$"  # ×10⁻³ -> ×10$^{-3}$


def _tex(s: str) -> str:
    if isinstance(s, _Rich):
        return s.tex
    # " - " between words is a dash, not a hyphen
    return _TEX_RE.sub(_tex_one, str(s)).replace(" - ", " -- ")


_NUMBER_MINUS = re.compile(r"(?<![A-Za-z0-9_.)\]])-(?=\d|\.\d)")
_NUMBER_STARS = re.compile(r"(?<=[\d)\]])(\*+)(?=\s|$|\)|\])")


def _tex_cell(s: str) -> str:
    """A table cell in LaTeX: escaped, with a true minus sign before numbers (``$-$0.03``)
    and significance stars as superscripts (``0.064$^{***}$``)."""
    if isinstance(s, _Rich):
        return s.tex
    text = _NUMBER_STARS.sub(lambda m: "\x00" + m.group(1) + "\x01", str(s))
    text = _NUMBER_MINUS.sub("\x02", text)
    out = _tex(text)
    return out.replace("\x02", "$-$").replace("\x00", "$^{").replace("\x01", "}$")


def _md(s: str) -> str:
    return str(s).replace("|", r"\|").replace("\n", " ")


#: Readable headers for the columns of the report's summary frames (every tidy and summary
#: frame column); :func:`column_label` falls back to "Snake case" for any other name.
_COLUMN_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "term": "Variable",
        "variable": "Variable",
        "covariate": "Covariate",
        "type": "Comparison",
        "weight": "Weight",
        "avg_est": "Average 2×2 estimate",
        "n_comparisons": "2×2 comparisons",
        "estimate": "Estimate",
        "std_error": "Std. error",
        "statistic": "t statistic",
        "t_stat": "t statistic",
        "z_stat": "z statistic",
        "p_value": "p-value",
        "ci": "{}% CI",
        "reps": "Replicates (R)",
        "weights": "Bootstrap weights",
        "seed": "Seed",
        "placebo_mean": "Placebo mean",
        "placebo_sd": "Placebo SD",
        "placebo_q025": "Placebo 2.5%",
        "placebo_median": "Placebo median",
        "placebo_q975": "Placebo 97.5%",
        "rand_p": "Randomization p",
        "boot_p": "Bootstrap p",
        "group": "Group",
        "by": "Split by",
        "nobs": "Observations",
        "perm_p": "Permutation p (equal effects)",
        "wald_p": "Wald p (equal effects)",
        "at": "Moderator value",
        "effect": "Effect",
        "delta_se": "Std. error (delta method)",
        "sim_mean": "Simulation mean",
        "sim_sd": "Simulation SD",
        "sim_ci": "Simulated {}% interval",
        "sample": "Sample",
        "mean_treated": "Mean, treated",
        "mean_control": "Mean, control",
        "bias": "Std. bias (%)",
        "bias_reduction": "Bias reduction (%)",
        "t": "t",
        "p": "p",
        "unmatched": "Unmatched",
        "matched": "Matched",
        "method": "Estimator",
        "event_time": "Event time",
        "check": "Check",
        "model": "Model",
        "n": "N",
        "mean": "Mean",
        "sd": "SD",
        "min": "Min",
        "max": "Max",
    },
    "zh": {
        "term": "变量",
        "variable": "变量",
        "covariate": "协变量",
        "type": "比较类型",
        "weight": "权重",
        "avg_est": "2×2估计值加权平均",
        "n_comparisons": "2×2比较数",
        "estimate": "估计值",
        "std_error": "标准误",
        "statistic": "t统计量",
        "t_stat": "t统计量",
        "z_stat": "z统计量",
        "p_value": "p值",
        "ci": "{}%置信区间",
        "reps": "重复次数（R）",
        "weights": "自助法权重",
        "seed": "随机种子",
        "placebo_mean": "安慰剂均值",
        "placebo_sd": "安慰剂标准差",
        "placebo_q025": "安慰剂2.5%分位数",
        "placebo_median": "安慰剂中位数",
        "placebo_q975": "安慰剂97.5%分位数",
        "rand_p": "随机化p值",
        "boot_p": "自助法p值",
        "group": "组别",
        "by": "分组变量",
        "nobs": "观测值",
        "perm_p": "置换检验p值（效应相等）",
        "wald_p": "Wald检验p值（效应相等）",
        "at": "调节变量取值",
        "effect": "效应",
        "delta_se": "标准误（Delta法）",
        "sim_mean": "模拟均值",
        "sim_sd": "模拟标准差",
        "sim_ci": "模拟{}%区间",
        "sample": "样本",
        "mean_treated": "处理组均值",
        "mean_control": "控制组均值",
        "bias": "标准化偏差（%）",
        "bias_reduction": "偏差降低（%）",
        "t": "t值",
        "p": "p值",
        "unmatched": "匹配前",
        "matched": "匹配后",
        "method": "估计方法",
        "event_time": "相对时间",
        "check": "检验",
        "model": "模型",
        "n": "观测值",
        "mean": "均值",
        "sd": "标准差",
        "min": "最小值",
        "max": "最大值",
    },
}


def group_title(label: str, group: object, lang: str, *, median_split: bool) -> str:
    """The title of a subgroup: "ln GDP per capita above median" / "... at or below median"
    for the 1/0 groups of a median split of ``label``, else "Province: Zhejiang"."""
    w = _WORDS["zh" if lang == "zh" else "en"]
    if median_split:
        above = str(group) in ("1", "1.0", "True", "true")
        return w["above_median" if above else "below_median"].format(label)
    return f"{label}{'：' if lang == 'zh' else ': '}{group}"


def column_label(name: str, lang: str, labels: dict[str, str] | None = None) -> str:
    """The header of a frame column: the user's label, the dictionary word, else the name
    with underscores as spaces and a capital first letter (never snake_case)."""
    if labels and name in labels:
        return labels[name]
    words = _COLUMN_WORDS.get(lang, _COLUMN_WORDS["en"])
    if name in words:
        return words[name]
    text = name.replace("_", " ").strip()
    return text[:1].upper() + text[1:]

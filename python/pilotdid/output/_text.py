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
        "note_placebo": "Placebo columns: randomization p-value in brackets.",
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
        "note_placebo": "安慰剂检验列：方括号内为随机化p值。",
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
}


_TEX_RE = re.compile("|".join(re.escape(k) for k in _TEX_SPECIAL))


def _tex(s: str) -> str:
    if isinstance(s, _Rich):
        return s.tex
    return _TEX_RE.sub(lambda m: _TEX_SPECIAL[m.group(0)], str(s))


def _md(s: str) -> str:
    return str(s).replace("|", r"\|").replace("\n", " ")

"""Captions of the paper figures (:mod:`pilotdid.figures`), in English and Chinese.

A caption says what is drawn: which estimates, which intervals (pointwise or uniform, the
level, how they were computed), what the lines and markers mean, and the numbers a referee
asks for (replicates, the randomization p-value). Every figure function attaches its caption
to the figure (``fig.pilotdid_caption``; read it with :func:`pilotdid.figures.figure_caption`).

The functions here build text only; they read no result and draw nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def number(x: float, digits: int = 4) -> str:
    """``x`` with ``digits`` significant digits in positional notation (no ``e-05``)."""
    if not math.isfinite(x):
        return str(x)
    return str(
        np.format_float_positional(x, precision=digits, unique=False, fractional=False, trim="-")
    )


def randomization_p(p: float, n_draws: int) -> str:
    """A randomization p-value with as many decimals as its resolution 1/(1 + R) needs (at
    least three): 1/1001 renders 0.001, 1/10000 renders 0.0001, never 0.000."""
    # the fewest decimals (at least three) at which the smallest possible p, 1/(1 + R), does
    # not round to zero
    decimals = max(3, math.ceil(-math.log10(2.0 / (1 + max(n_draws, 1)))))
    return f"{p:.{decimals}f}"


def pvalue(p: float) -> str:
    """A p-value as tables print it: three decimals, ``<0.001`` below."""
    if not math.isfinite(p):
        return "n/a"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _join(items: Sequence[str], lang: str) -> str:
    items = list(items)
    if lang == "zh":
        return "、".join(items)
    if len(items) <= 1:
        return "".join(items)
    if len(items) == 2:
        return f"{items[0]} and {items[1]}"
    return ", ".join(items[:-1]) + f" and {items[-1]}"


# --------------------------------------------------------------------------------------------
# event study
# --------------------------------------------------------------------------------------------


def interval_phrase(band: str, pct: str, lang: str) -> str:
    """Long form of an interval type, for captions."""
    if lang == "zh":
        return f"{pct}%一致（联合）置信带" if band == "uniform" else f"{pct}%逐点置信区间"
    if band == "uniform":
        return f"{pct}% uniform (simultaneous) confidence bands"
    return f"{pct}% pointwise confidence intervals"


def event_study(
    lang: str,
    *,
    names: Sequence[str],
    outcome: str | None,
    intervals: Sequence[str],
    references: Sequence[tuple[int, ...]],
) -> str:
    """``intervals``: the long interval phrase of each estimator (same order as ``names``);
    ``references``: each estimator's reference event times."""
    zh = lang == "zh"
    if len(set(intervals)) == 1:
        bars = intervals[0]
    else:
        sep = "；" if zh else "; "
        bars = sep.join((f"{n}为{i}" if zh else f"{i} for {n}") for n, i in zip(names, intervals))
    groups: dict[tuple[int, ...], list[str]] = {}
    for n, ref in zip(names, references):
        groups.setdefault(tuple(sorted(ref)), []).append(n)
    parts = []
    for ref, who in groups.items():
        if ref:
            es = ", ".join(f"e = {r}" for r in ref)
            parts.append(f"{_join(who, lang)}为 {es}" if zh else f"{es} for {_join(who, lang)}")
        else:
            parts.append(
                f"{_join(who, lang)}估计每一期，无基期"
                if zh
                else f"none for {_join(who, lang)}, which estimate every period"
            )
    has_ref = any(ref for ref in groups)
    if zh:
        text = (
            f"事件研究估计：政策对{outcome or '结果变量'}的动态效应。横轴为事件时间 e"
            f"（相对个体首个处理期的期数，e = 0 为首个处理期）；估计方法：{_join(names, lang)}。"
            f"圆点为点估计，误差线为{bars}。"
        )
        if has_ref:
            text += f"空心灰点为基期，标准化为 0、不予估计（{'；'.join(parts)}）。"
        else:
            text += "没有标准化为 0 的基期。"
        text += "竖直虚线表示政策开始实施。"
        if len(names) > 1:
            text += "同一事件时间上的各估计量水平错开，以免误差线重叠。"
        return text
    text = (
        f"Event-study estimates of the effect on {outcome or 'the outcome'} by event time e, "
        "the periods since a unit's first treated period (e = 0 is the first treated "
        f"period), from {_join(names, lang)}. Points are estimates; bars are {bars}. "
    )
    if has_ref:
        text += (
            "Hollow grey points are reference periods, normalised to zero and not estimated "
            f"({'; '.join(parts)}). "
        )
    else:
        text += "No period is normalised to zero. "
    text += "The dashed vertical line marks the start of treatment."
    if len(names) > 1:
        text += (
            " Estimators are shifted horizontally within each event time so that their bars "
            "do not overlap."
        )
    return text


# --------------------------------------------------------------------------------------------
# placebo
# --------------------------------------------------------------------------------------------

_SCHEMES = {
    "en": {
        "units": "adoption periods permuted across units",
        "times": "treated units kept, adoption periods drawn at random",
        "both": "treated units and adoption periods drawn at random",
    },
    "zh": {
        "units": "在个体间随机置换政策实施时间",
        "times": "保持处理组不变、随机抽取实施时间",
        "both": "随机抽取处理组及其实施时间",
    },
}


def placebo(
    lang: str,
    *,
    treatment: str,
    scheme: str,
    actual: float,
    n_draws: int,
    n_extreme: int,
    p: float,
    enumerated: bool,
    n_degenerate: int,
) -> str:
    zh = lang == "zh"
    how = _SCHEMES[lang].get(scheme, scheme)
    if zh:
        text = (
            f"随机推断（安慰剂）检验：{treatment}系数在 R = {n_draws} 次"
            f"{'全部不同的' if enumerated else ''}安慰剂分配（{how}）下估计值的直方图与核密度；"
            f"虚线为真实估计（{number(actual)}）。"
        )
        if enumerated:
            text += (
                f"精确随机推断 p = {randomization_p(p, n_draws)}"
                "（含真实分配在内、绝对值不小于真实估计的分配所占比例）。"
            )
        else:
            text += (
                f"随机推断 p = (1 + k)/(1 + R) = {1 + n_extreme}/{1 + n_draws} = "
                f"{randomization_p(p, n_draws)}，其中 k = {n_extreme} 为绝对值不小于真实估计的"
                "安慰剂估计个数。"
            )
        if n_degenerate:
            text += f"另有 {n_degenerate} 次分配的安慰剂处理被固定效应吸收，已剔除。"
        return text
    text = (
        f"Randomization (placebo) test of the coefficient on {treatment}: histogram and kernel "
        f"density of its estimates under {'all ' if enumerated else ''}R = {n_draws} "
        f"{'distinct ' if enumerated else ''}placebo assignments ({how}); the dashed line is "
        f"the actual estimate ({number(actual)}). "
    )
    if enumerated:
        text += (
            f"Exact randomization p = {randomization_p(p, n_draws)} (the share of assignments, "
            "the actual one included, whose estimate is at least as large in absolute value)."
        )
    else:
        text += (
            f"Randomization p = (1 + k)/(1 + R) = {1 + n_extreme}/{1 + n_draws} = "
            f"{randomization_p(p, n_draws)}, where k = {n_extreme} placebo estimates are at "
            "least as large in absolute value as the actual one."
        )
    if n_degenerate:
        text += (
            f" {n_degenerate} further assignments, whose placebo treatment the fixed effects "
            "absorbed, are excluded."
        )
    return text


# --------------------------------------------------------------------------------------------
# Bacon
# --------------------------------------------------------------------------------------------


def bacon(lang: str, *, y: str, treatment: str, n_units: int, n_periods: int, twfe: float) -> str:
    if lang == "zh":
        return (
            f"Goodman-Bacon 分解：将{y}对{treatment}的双向固定效应（TWFE）DID 系数"
            f"（不含控制变量；{n_units} 个个体、{n_periods} 期）分解为全部 2×2 DID 比较。"
            "每个点为一个比较，横轴为其权重，形状表示比较类型。"
            f"虚线为该不含控制变量的 TWFE 系数（{number(twfe)}），即各点的加权平均；"
            "含控制变量的 TWFE（如基准回归）与之不同。"
        )
    return (
        f"Goodman-Bacon decomposition of the two-way fixed-effects (TWFE) DID coefficient of "
        f"{y} on {treatment} without controls ({n_units} units, {n_periods} periods) into "
        "all 2×2 DID comparisons: each point is one comparison, plotted against its weight "
        "and marked by comparison type. The dashed line is that no-controls TWFE coefficient "
        f"({number(twfe)}), the weighted mean of the points; a TWFE with controls (such as a "
        "headline estimate) differs from it."
    )


# --------------------------------------------------------------------------------------------
# spatial effects and W
# --------------------------------------------------------------------------------------------


def spatial_effects(
    lang: str,
    *,
    variables: Sequence[str],
    others: Sequence[str],
    pct: str,
    method: str,
    reps: int,
    percentiles: bool,
) -> str:
    zh = lang == "zh"
    if method == "delta":
        ci = f"{pct}% Delta 方法置信区间" if zh else f"{pct}% delta-method confidence intervals"
    elif percentiles:
        ci = (
            f"基于 {reps} 次模拟参数抽样的 {pct}% 分位数区间"
            if zh
            else f"{pct}% intervals from the 2.5th and 97.5th percentiles of {reps} simulated "
            "parameter draws"
        )
    else:
        ci = (
            f"以 {reps} 次模拟抽样标准差计算的 {pct}% 正态区间"
            if zh
            else f"{pct}% normal intervals with the standard deviation of {reps} simulated "
            "parameter draws"
        )
    if zh:
        text = (
            f"空间模型中{_join(variables, lang)}的 LeSage-Pace 直接效应、间接（溢出）效应与总效应，"
            f"误差线为{ci}。每个变量一个子图，各用自己的横轴刻度。"
        )
        if others:
            text += f"其他解释变量（{_join(others, lang)}）未画出。"
        return text
    text = (
        f"LeSage-Pace direct, indirect (spillover) and total effects of "
        f"{_join(variables, lang)} in the spatial model, with {ci}. One panel per variable, "
        "each on its own horizontal scale."
    )
    if others:
        text += f" The other regressors ({_join(others, lang)}) are not drawn."
    return text


def weights(
    lang: str,
    *,
    n: int,
    coordinates: bool,
    k: int | None,
    shown: int,
    total: int,
    labelled: bool,
    labels_given: bool,
    leaders: bool,
) -> str:
    zh = lang == "zh"
    if zh:
        text = f"空间权重矩阵 W（{n} 个个体）的邻接关系图："
        text += (
            "各点位于其经纬度坐标。" if coordinates else "点位由弹簧布局确定（不代表地理位置）。"
        )
        if k is None:
            text += f"权重非零的个体对之间连线（共 {total} 对，画出 {shown} 对）"
        else:
            text += (
                f"若 j 属于 i 权重最大的 {k} 个邻居之一（或反之）则连线"
                f"（{total} 个非零个体对中画出 {shown} 对）"
            )
        text += "；线条越深越粗，w_ij + w_ji 越大。"
        if labels_given and not labelled:
            text += "个体数超过 60，未标注名称。"
        elif leaders:
            text += "点位密集处的名称经引线移开。"
        return text
    text = f"Spatial weights matrix W of {n} units, drawn as a graph: "
    text += (
        "units at their coordinates (longitude, latitude). "
        if coordinates
        else "units placed by a spring layout (positions carry no geographic meaning). "
    )
    if k is None:
        text += f"A line joins every pair with a non-zero weight ({shown} of {total} pairs drawn)"
    else:
        text += (
            f"A line joins i and j when j is among the {k} strongest neighbours of i or i among "
            f"those of j ({shown} of {total} non-zero pairs drawn)"
        )
    text += "; darker and thicker lines are larger w_ij + w_ji."
    if labels_given and not labelled:
        text += " Unit names are omitted (more than 60 units)."
    elif leaders:
        text += " Where points are close, names are moved aside with a leader line."
    return text


# --------------------------------------------------------------------------------------------
# mechanisms
# --------------------------------------------------------------------------------------------


def mediation(
    lang: str,
    *,
    treatment: str,
    y: str,
    pct: str,
    boot_pct: str,
    ci_method: str,
    reps: int,
) -> str:
    zh = lang == "zh"
    method = {
        "percentile": ("百分位", "percentile"),
        "bc": ("偏差校正", "bias-corrected"),
    }.get(ci_method, (ci_method, ci_method))
    if zh:
        boot = (
            f"{boot_pct}% {method[0]}聚类自助法区间（{reps} 次重复）"
            if reps > 0
            else "无自助法区间（reps = 0）"
        )
        return (
            f"机制分析（{treatment} → {y} 的三步法中介效应）：左图为{treatment}对各中介变量的影响"
            f"（a 路径，{pct}%置信区间来自该回归）；右图为间接效应 a × b 及其{boot}。"
            "除非中介变量近似随机分配，中介效应仅为描述性结果（江艇 2022）。"
        )
    boot = (
        f"its {boot_pct}% {method[1]} cluster-bootstrap interval ({reps} replicates)"
        if reps > 0
        else "no bootstrap interval (reps = 0)"
    )
    return (
        f"Mechanism analysis (three-step mediation of {treatment} on {y}): left, the effect of "
        f"{treatment} on each mediator (the a path, {pct}% confidence interval of its "
        f"regression); right, the indirect effect a × b with {boot}. Mediation estimates are "
        "descriptive unless the mediator is as good as randomly assigned (Jiang 2022)."
    )


def mechanism_effects(lang: str, *, treatment: str, estimator: str) -> str:
    if lang == "zh":
        return (
            f"机制分析（两步法，{estimator}）：{treatment}对各机制变量的影响，"
            "误差线为 95%置信区间。"
        )
    return (
        f"Mechanism analysis (two-step approach, {estimator}): the effect of {treatment} on "
        "each mechanism variable, with 95% confidence intervals."
    )


def heterogeneity(
    lang: str, *, treatment: str, by: str, pct: str, perm_p: float, wald_p: float
) -> str:
    zh = lang == "zh"
    tests = []
    if math.isfinite(perm_p):
        tests.append(f"{'置换检验' if zh else 'permutation'} p = {pvalue(perm_p)}")
    if math.isfinite(wald_p):
        tests.append(f"Wald p = {pvalue(wald_p)}")
    if zh:
        text = f"异质性分析：按{by}分组回归，{treatment}在各组的效应，误差线为 {pct}%置信区间。"
        if tests:
            text += f"组间相等检验：{'，'.join(tests)}。"
        return text
    text = (
        f"Heterogeneity: the effect of {treatment} in each group of {by} (split-sample "
        f"regressions), with {pct}% confidence intervals."
    )
    if tests:
        text += f" Test of equal effects across groups: {', '.join(tests)}."
    return text


def moderation(lang: str, *, treatment: str, y: str, moderator: str, pct: str) -> str:
    if lang == "zh":
        return (
            f"调节效应：{treatment}对{y}的边际效应随{moderator}取值的变化，"
            f"误差线为交互项回归的 {pct}%置信区间。"
        )
    return (
        f"Moderation: the marginal effect of {treatment} on {y} at values of {moderator}, with "
        f"{pct}% confidence intervals from the interacted regression."
    )

"""The report folder of a study: index.html, tables/, figures/, results/, provenance.json.

Layout of ``OUT/`` (written into a temporary folder beside ``OUT`` and moved into place only
when everything succeeded; an existing ``OUT`` is replaced only with ``overwrite=True``)::

    index.html        every table (HTML) and figure (<img> of figures/*.png); offline, no
                      network; a SYNTHETIC DATA banner when the bundled panel is used
    tables/*.tex      LaTeX of each table (a table float with caption and label tab:<file
                      stem>, booktabs, notes in a threeparttable; fits A4 with 2.5 cm margins
                      or is laid out landscape on purpose), and *.md (Markdown)
    figures/*.png     each figure, and *.pdf
    results/*.csv     the tidy result frames behind the tables and figures
    provenance.json   sha256 of the data and the spec, the resolved spec, the seed of every
                      random step, package versions, platform; no timestamps or durations
    run.log           timings, warnings and notes of the run

Running the same spec twice gives byte-identical ``tables/*.tex`` and ``provenance.json``.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import json
import os
import platform
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from pilotdid.study.errors import SpecError

# Internal to the study: users write a report with Study.write_report(out) or
# run_study(spec, out=...).
__all__: list[str] = []

SECTION_TITLES = {
    "descriptives": "Descriptive statistics",
    "baseline": "Baseline DID",
    "event_study": "Event study",
    "sensitivity": "Sensitivity to parallel trends (HonestDiD)",
    "bacon": "Goodman-Bacon decomposition",
    "sdid": "Synthetic DID",
    "ddd": "Triple differences",
    "dcdh": "Dynamic effects of a switching treatment (DID_l)",
    "dose": "Continuous dose",
    "placebo": "Placebo test",
    "psm_did": "PSM-DID",
    "robustness": "Robustness checks",
    "mechanisms": "Mechanisms",
    "heterogeneity": "Heterogeneity",
    "moderation": "Moderation",
    "spatial": "Spatial spillovers",
    "exposure": "Exposure-based spillovers (Butts 2023)",
}

#: The same sections under [report] lang = "zh".
SECTION_TITLES_ZH = {
    "descriptives": "描述性统计",
    "baseline": "基准回归",
    "event_study": "事件研究（平行趋势检验）",
    "sensitivity": "平行趋势敏感性分析（HonestDiD）",
    "bacon": "Goodman-Bacon 分解",
    "sdid": "合成双重差分",
    "ddd": "三重差分",
    "dcdh": "非二元、可反复处理的动态效应（DID_l）",
    "dose": "连续处理强度",
    "placebo": "安慰剂检验",
    "psm_did": "PSM-DID",
    "robustness": "稳健性检验",
    "mechanisms": "机制检验",
    "heterogeneity": "异质性分析",
    "moderation": "调节效应",
    "spatial": "空间溢出效应",
    "exposure": "基于暴露的空间溢出（Butts 2023）",
    "provenance": "可复现信息",
}

#: Summary tables of each analysis (file stem, caption), built from its frames by
#: :func:`_summary_table` with the label dictionary and number formatting of every table.
SUMMARY_TABLES = {
    "baseline": [("baseline_wildboot", "Wild cluster bootstrap (WCR) of the treatment effect")],
    "sensitivity": [("sensitivity_grid", "Robust confidence sets over the sensitivity grid")],
    "bacon": [("bacon_summary", "Goodman-Bacon decomposition by comparison type")],
    "placebo": [("placebo_summary", "Placebo distribution of the treatment effect")],
    "psm_did": [("psm_balance", "Covariate balance before and after matching")],
    "heterogeneity": [("heterogeneity_summary", "Split-sample estimates and equality tests")],
    "moderation": [("moderation_summary", "Marginal effect of the treatment")],
    "spatial": [
        ("spatial_impacts", "LeSage-Pace direct, indirect and total effects"),
        ("spatial_dynamic_impacts", "Short- and long-run effects of the dynamic spatial model"),
    ],
}

#: The same captions under [report] lang = "zh".
SUMMARY_CAPTIONS_ZH = {
    "baseline_wildboot": "处理效应的野自助法（WCR）检验",
    "sensitivity_grid": "敏感性参数网格上的稳健置信集",
    "bacon_summary": "Goodman-Bacon 分解（按比较类型）",
    "placebo_summary": "处理效应的安慰剂分布",
    "psm_balance": "匹配前后的协变量平衡性",
    "heterogeneity_summary": "分样本估计与系数相等检验",
    "moderation_summary": "处理效应的边际效应",
    "spatial_impacts": "LeSage-Pace 直接、间接与总效应",
    "spatial_dynamic_impacts": "动态空间模型的短期与长期效应",
}

#: Figures of an analysis beyond the one named after it (file stem = figure key).
EXTRA_FIGURES = {"spatial": ["weights"], "sdid": ["sdid_weights"]}

SYNTHETIC_BANNER = (
    "SYNTHETIC DATA: the bundled Yangtze River Delta panel is simulated (real cities, "
    "coordinates and pilot batches; every outcome and covariate is drawn from a documented "
    "data-generating process). These numbers illustrate the toolkit and say nothing about "
    "real cities."
)


# ------------------------------------------------------------------------------------------
# where a report may go: nothing the program did not create is ever replaced
# ------------------------------------------------------------------------------------------
#: What a report folder holds: top-level files, and for each sub-folder the file endings it
#: may contain. A folder with anything else in it is not (only) a report and is never replaced.
REPORT_FILES = frozenset({"index.html", "provenance.json", "run.log"})
REPORT_SUBFOLDERS = {
    "tables": (".tex", ".md"),
    "figures": (".png", ".pdf"),
    "results": (".csv",),
}
#: The ``tool`` field of provenance.json: the marker of a folder this program wrote.
REPORT_MARKER = "pilotdid run"


def _protected(inputs: Sequence[str | Path]) -> dict[Path, str]:
    """Folders a report may never replace, with the reason: the filesystem root, the home
    folder, the current folder, and every folder that contains an input (spec or data) or one
    of those folders (their ancestors), each resolved."""
    out: dict[Path, str] = {Path(Path.cwd().anchor or "/"): "the filesystem root"}

    def add_with_ancestors(p: Path, why: str) -> None:
        for q in (p, *p.parents):
            out.setdefault(q, why)

    home = Path.home().resolve()
    out.setdefault(home, "the home folder")
    add_with_ancestors(home.parent, "a parent of the home folder")
    for f in inputs:
        p = Path(f).resolve()
        add_with_ancestors(p.parent, f"the folder of the input '{f}' or one of its parents")
    add_with_ancestors(Path.cwd().resolve(), "the current folder or one of its parents")
    return out


def _foreign_entries(folder: Path) -> list[str]:
    """The entries of ``folder`` that a report does not write (empty for a pure report)."""
    foreign = []
    for p in sorted(folder.iterdir()):
        if p.is_symlink():
            foreign.append(p.name)
        elif p.is_dir() and p.name in REPORT_SUBFOLDERS:
            endings = REPORT_SUBFOLDERS[p.name]
            foreign += [
                f"{p.name}/{q.name}"
                for q in sorted(p.iterdir())
                if q.is_symlink() or not q.is_file() or not q.name.endswith(endings)
            ]
        elif not (p.is_file() and p.name in REPORT_FILES):
            foreign.append(p.name + ("/" if p.is_dir() else ""))
    return foreign


def _is_report(folder: Path) -> bool:
    prov = folder / "provenance.json"
    if not prov.is_file():
        return False
    try:
        return json.loads(prov.read_text(encoding="utf-8")).get("tool") == REPORT_MARKER
    except (OSError, ValueError, AttributeError):
        return False


def check_target(out: str | Path, overwrite: bool, inputs: Sequence[str | Path] = ()) -> Path:
    """Checks that a report may be written to ``out`` and returns its resolved path.

    Refused (:class:`SpecError`, nothing touched): the filesystem root, the home folder, the
    current folder, any folder holding an input (``inputs``: spec and data files) and any of
    their parents; a symbolic link; a file. An existing folder needs ``overwrite`` and is
    replaced only if it is a report this program wrote (its ``provenance.json`` says so) and
    holds nothing a report does not write.
    """
    given = Path(out).expanduser()
    if given.is_symlink():
        raise SpecError(f"--out: '{out}' is a symbolic link; give the folder it points to")
    p = given.resolve()
    why = _protected(inputs).get(p)
    if why is not None:
        raise SpecError(
            f"--out: '{out}' is {why}; a report needs a folder of its own "
            f"(for example '{p / 'pilotdid-report'}')"
        )
    if p.exists() and not p.is_dir():
        raise SpecError(f"--out: '{out}' exists and is not a folder")
    if p.exists():
        if not overwrite:
            raise SpecError(f"--out: '{out}' already exists; pass --overwrite to replace it")
        if not _is_report(p):
            raise SpecError(
                f"--out: '{out}' is not a pilotdid report (no provenance.json written by "
                "'pilotdid run'); --overwrite replaces only a previous report. Choose "
                "another folder"
            )
        foreign = _foreign_entries(p)
        if foreign:
            more = f" and {len(foreign) - 5} more" if foreign[5:] else ""
            shown = ", ".join(foreign[:5]) + more
            raise SpecError(
                f"--out: '{out}' is a previous report but also holds files a report does not "
                f"write ({shown}); --overwrite would delete them. Move them away or choose "
                "another folder"
            )
    return p


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Holds SIGINT and SIGTERM back while a folder is created, swapped into place or removed,
    so that an interrupt cannot fall between a step and its bookkeeping; a signal that arrives
    meanwhile is re-raised right after. Python runs signal handlers in the main thread only,
    so replacing the handlers (not the thread's signal mask, which the extension's worker
    threads do not share) is what holds them back."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    held = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.signal(s, lambda signum, frame: caught.append(signum)) for s in held}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        for s in dict.fromkeys(caught):
            signal.raise_signal(s)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _follow_umask(folder: Path) -> None:
    """mkdtemp creates 0700; the report folder gets the permissions any new folder would
    (its sub-folders and files are created normally and follow the umask already)."""
    folder.chmod(0o777 & ~_umask())


def _versions() -> dict[str, str | None]:
    from importlib import metadata

    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in ("pilotdid", "numpy", "polars", "matplotlib", "scipy", "tqdm"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def provenance(study: Any, tables_sha256: dict[str, str] | None = None) -> dict[str, Any]:
    """The provenance record of a study (no timestamps or durations: deterministic)."""
    spec = study.spec
    return {
        "tool": "pilotdid run",
        "synthetic_data": bool(study.synthetic),
        "spec": {"sha256": study.spec_sha256},
        "data": {
            "source": spec["data"]["path"] or f"bundled:{spec['data']['bundled']}",
            "sha256": study.info["hashes"],
        },
        "treatment_coding": study.info["coding"],
        "gtfp": study.info.get("gtfp"),
        "resolved_spec": spec,
        "seeds": dict(sorted(study.seeds.items())),
        "analyses_run": [
            n
            for n in study.spec["analyses"]
            if study.spec["analyses"][n]["enabled"] and n not in study.failures
        ],
        "analyses_failed": dict(study.failures),
        "versions": _versions(),
        "platform": {
            "system": platform.system(),
            "machine": platform.machine(),
            "python_implementation": platform.python_implementation(),
        },
        "tables_sha256": tables_sha256 or {},
    }


# ------------------------------------------------------------------------------------------
# summary tables: frames -> output.frame_tables (LaTeX / HTML / Markdown)
# ------------------------------------------------------------------------------------------
def _summary_table(study: Any, stem: str, caption: str) -> Any:
    """The summary table ``stem`` of the study (an ETable), or None when its frame is absent.
    Which frame columns are shown and how: the numbers themselves are the frame's."""
    from pilotdid.output import frame_tables as ft

    frames = study.frames
    rep = study.spec["report"]
    lang, digits = rep["lang"], rep["digits"]
    labels = dict(rep["labels"])
    zh = lang == "zh"
    if zh:
        caption = SUMMARY_CAPTIONS_ZH.get(stem, caption)
    kw: dict[str, Any] = {"labels": labels, "lang": lang, "digits": digits, "title": caption}
    Col = ft.Col
    if stem == "baseline_wildboot" and stem in frames:
        boot = study.results.get("baseline_wildboot")
        f = frames[stem]
        r = f.row(0, named=True)
        cluster = study.spec["model"]["cluster"]
        cl = labels.get(cluster, cluster)
        weights = str(r["weights"]).capitalize()
        note = (
            f"Restricted wild cluster bootstrap (WCR, Roodman et al. 2019), {weights} weights, "
            f"clustered by {cl}; R = {r['reps']} replicates, seed {r['seed']}. The p-value is "
            "the share of bootstrap |t*| at least |t|."
            if not zh
            else f"受限野聚类自助法（WCR），{weights}权重，聚类到{cl}层面；R = {r['reps']}，"
            f"随机种子 {r['seed']}。p值为自助法|t*|不小于|t|的比例。"
        )
        return ft.frame_table(
            f,
            columns=[
                Col("term"),
                Col("estimate"),
                Col("t_stat", "number"),
                Col("p_value", "rand_p", header=ft.column_label("boot_p", lang), reps="reps"),
                Col("conf_low", high="conf_high"),
            ],
            level=getattr(boot, "level", 0.95),
            notes=[note],
            **kw,
        )
    if stem == "sensitivity_grid" and "sensitivity" in frames:
        res = study.results["sensitivity"]
        par = "M" if res.delta == "sd" else "M̄"
        cls = {"rm": "Δ^RM", "sdrm": "Δ^SDRM", "sd": "Δ^SD"}[res.delta]
        f = frames["sensitivity"].with_columns(
            pl.when(pl.col("M").is_null())
            .then(pl.lit("原始置信区间" if zh else "Original CI"))
            .otherwise(pl.col("M").map_elements(lambda v: f"{v:g}", return_dtype=pl.String))
            .alias("grid_value")
        )
        if zh:
            note = (
                f"Rambachan & Roth (2023) 的{res.level * 100:g}%稳健置信集，约束 {cls}，"
                f"方法 {res.method}；最后一行为原始置信区间。"
            )
        else:
            note = (
                f"Rambachan & Roth (2023) {res.level * 100:g}% robust confidence sets, "
                f"restriction class {cls}, method {res.method}, at each {par}; the last "
                "row is the original CI."
            )
        return ft.frame_table(
            f,
            columns=[
                Col("grid_value", "text", header=par),
                Col("lb", "ci", header=("稳健置信区间" if zh else "Robust CI"), high="ub"),
            ],
            level=res.level,
            notes=[note],
            **kw,
        )
    if stem == "bacon_summary" and stem in frames:
        return ft.frame_table(frames[stem], **kw)
    if stem == "placebo_summary" and "placebo" in frames:
        res = study.results.get("placebo")
        scheme = getattr(res, "scheme", "")
        note = (
            f"R placebo assignments of the treatment ({scheme}); the randomization p-value "
            "is the share of placebo estimates at least as large in absolute value as the "
            "actual one, as computed by pilotdid.placebo."
            if not zh
            else f"R 次安慰剂处理分配（{scheme}）；随机化p值为绝对值不小于实际估计值的安慰剂"
            "估计值所占比例。"
        )
        return ft.frame_table(
            frames["placebo"],
            columns=[
                Col("term"),
                Col("estimate"),
                Col("placebo_mean"),
                Col("placebo_sd"),
                Col("placebo_q025"),
                Col("placebo_median"),
                Col("placebo_q975"),
                Col("p_value", "rand_p", header=ft.column_label("rand_p", lang), reps="reps"),
            ],
            notes=[note],
            **kw,
        )
    if stem == "psm_balance" and stem in frames:
        note = (
            "Standardised bias: 100 times the difference in means over the square root of "
            "the average of the two groups' variances in the unmatched sample (Rosenbaum & "
            "Rubin 1985, as Stata's pstest); t and p: tests of equal means (after matching, "
            "weighted by the matching weights)."
            if not zh
            else "标准化偏差：两组均值之差除以匹配前两组方差均值的平方根，乘以100（Rosenbaum & "
            "Rubin 1985，同Stata pstest）；t值与p值：两组均值相等的检验（匹配后按匹配权重加权）。"
        )
        return ft.balance_table(frames[stem], notes=[note], **kw)
    if stem == "heterogeneity_summary" and "heterogeneity" in frames:
        from pilotdid.output import numbers
        from pilotdid.output._text import group_title

        sub = study.spec["analyses"]["heterogeneity"]
        reps, median = sub["reps"], sub["split"] == "median"
        # each split: its variable's label (a median split names the variable it splits)
        split_label = {
            group: labels.get(by if median else group, by if median else group)
            for by, group in zip(sub["by"], study.results.get("heterogeneity", {}))
        }
        f = frames["heterogeneity"]
        titles = [
            group_title(split_label.get(b, b), g, lang, median_split=median)
            for b, g in zip(f["by"], f["group"])
        ]
        f = f.with_columns(pl.Series("group_title", titles, dtype=pl.String))
        # the equality tests belong to a split, not to a group: one note per split
        notes = []
        for r in f.unique("by", keep="first", maintain_order=True).iter_rows(named=True):
            wald = numbers.pvalue(r["wald_p"], digits)
            perm = numbers.rand_pvalue(r["perm_p"], reps, digits) if reps > 0 else None
            name = split_label.get(r["by"], r["by"])
            if zh:
                text = f"{name}各组处理效应相等的检验：Wald检验p值 = {wald}"
                text += f"；置换检验p值 = {perm}。" if perm else "。"
            else:
                text = f"Equal effects across the groups of {name}: Wald p = {wald}"
                text += f"; permutation p = {perm}." if perm else "."
            notes.append(text)
        cols = [Col("group_title", "text", header=ft.column_label("group", lang))]
        cols += [Col("estimate"), Col("std_error"), Col("nobs", "int")]
        return ft.frame_table(f, columns=cols, notes=notes, **kw)
    if stem == "moderation_summary" and "moderation" in frames:
        sub = study.spec["analyses"]["moderation"]
        mod = labels.get(sub["moderator"], sub["moderator"])
        return ft.frame_table(
            frames["moderation"],
            columns=[
                Col("at", "number", header=mod),
                Col("estimate"),
                Col("std_error"),
                Col("statistic", "number"),
                Col("p_value"),
                Col("conf_low", high="conf_high"),
            ],
            **kw,
        )
    if stem == "spatial_impacts" and stem in frames:
        imp = study.results.get("spatial", {}).get("impacts")
        draws, seed = getattr(imp, "reps", 0), getattr(imp, "seed", None)
        note = (
            "Delta-method standard errors in parentheses; in brackets the 2.5% and 97.5% "
            f"percentiles of {draws} simulated parameter draws (seed {seed})."
            if not zh
            else f"括号内为Delta法标准误；方括号内为{draws}次参数模拟抽样的2.5%与97.5%分位数"
            f"（随机种子 {seed}）。"
        )
        return ft.effects_table(frames[stem], interval=draws > 1, notes=[note], **kw)
    if stem == "spatial_dynamic_impacts" and stem in frames:
        return _dynamic_effects_table(study, frames[stem], kw)
    return None


def _dynamic_effects_table(study: Any, frame: Any, kw: dict[str, Any]) -> Any:
    """Short- and long-run LeSage-Pace effects of the dynamic spatial model(s) (Elhorst 2014,
    ch. 4; xsmle's dlag output): one row per model, variable and horizon (short run above
    long run), columns direct / indirect / total, from the frame's numbers."""
    from pilotdid.output import frame_tables as ft

    zh = study.spec["report"]["lang"] == "zh"
    words = {"short": "短期", "long": "长期"} if zh else {"short": "short run", "long": "long run"}
    labels = dict(kw["labels"])
    models = list(dict.fromkeys(frame.get_column("model").to_list()))
    parts, names = [], {}
    for model in models:
        mf = frame.filter(pl.col("model") == model)
        for term in dict.fromkeys(mf.get_column("term").to_list()):
            for horizon in ("short", "long"):
                part = mf.filter((pl.col("term") == term) & (pl.col("horizon") == horizon))
                if part.height == 0:
                    continue
                # a row key of its own, shown as "variable, short run" (model first if several)
                key = f"{model}|{term}|{horizon}"
                text = f"{labels.get(term, term)}, {words[horizon]}"
                names[key] = f"{model}: {text}" if len(models) > 1 else text
                parts.append(part.with_columns(pl.lit(key).alias("term")))
    imp = study.results.get("spatial", {}).get("impacts")
    draws, seed = getattr(imp, "reps", 0), getattr(imp, "seed", None)
    note = (
        "Short run: (I - rho W)^-1 (beta I + theta W); long run: ((1 - tau) I - (rho + eta) "
        "W)^-1 (beta I + theta W). Delta-method standard errors in parentheses (long run: "
        "through tau and eta); in brackets the 2.5% and 97.5% percentiles of "
        f"{draws} simulated parameter draws (seed {seed})."
        if not zh
        else "短期：(I - rho W)^-1 (beta I + theta W)；长期：((1 - tau) I - (rho + eta) W)^-1 "
        "(beta I + theta W)。括号内为Delta法标准误（长期效应计入 tau 与 eta 的不确定性）；"
        f"方括号内为{draws}次参数模拟抽样的2.5%与97.5%分位数（随机种子 {seed}）。"
    )
    kw = {**kw, "labels": {**labels, **names}}
    return ft.effects_table(pl.concat(parts), interval=draws > 1, notes=[note], **kw)


# ------------------------------------------------------------------------------------------
# index.html
# ------------------------------------------------------------------------------------------
_CSS = """
body{font-family:Helvetica,Arial,sans-serif;max-width:1100px;margin:0 auto;padding:0 16px 40px;
color:#222}
.banner{background:#b00020;color:#fff;font-weight:bold;padding:12px 16px;margin:12px 0;
border-radius:4px}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-top:12px}
table{border-collapse:collapse;margin:8px 0;font-size:0.9em}
th,td{padding:3px 10px;text-align:right;border-bottom:1px solid #eee}
th:first-child,td:first-child{text-align:left}
thead th{border-bottom:2px solid #444}
img{max-width:100%;height:auto;border:1px solid #ddd}
.links{font-size:0.85em;color:#555}.notes{font-size:0.85em;color:#444}
.failed{border-left:4px solid #b00020;background:#fdecee;padding:8px 12px;margin:8px 0}
nav ul{columns:3;font-size:0.9em}
div.table{overflow-x:auto;max-width:100%}
caption{font-weight:bold;padding:4px 0}
pre{background:#f6f6f6;padding:8px;overflow-x:auto;font-size:0.8em}
"""

_IMG_CHECK = """
<div id="img-check" data-total="" data-loaded="" data-broken="" data-wide-tables=""></div>
<script>
window.addEventListener('load', function () {
  var imgs = document.querySelectorAll('img');
  var ok = 0, broken = [];
  imgs.forEach(function (im) {
    if (im.complete && im.naturalWidth > 0) { ok += 1; }
    else { broken.push(im.getAttribute('src')); }
  });
  var d = document.getElementById('img-check');
  d.setAttribute('data-total', String(imgs.length));
  d.setAttribute('data-loaded', String(ok));
  d.setAttribute('data-broken', broken.join(' '));
  // tables wider than the page: they scroll inside their box rather than being cut off;
  // listed here so that a test can see which ones do
  var wide = [];
  document.querySelectorAll('div.table').forEach(function (box) {
    var t = box.querySelector('table');
    if (t && t.scrollWidth > box.clientWidth + 1) { wide.push(box.getAttribute('data-table')); }
  });
  d.setAttribute('data-wide-tables', wide.join(' '));
});
</script>
"""


def _links(paths: list[tuple[str, str]]) -> str:
    items = " &middot; ".join(
        f'{html.escape(label)}: <a href="{html.escape(p)}">{html.escape(p)}</a>'
        for label, p in paths
    )
    return f'<p class="links">{items}</p>'


def _index_html(study: Any, entries: dict[str, dict[str, Any]]) -> str:
    s = study.spec
    info = study.info["coding"]
    title = html.escape(s["title"])
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{"zh" if s["report"]["lang"] == "zh" else "en"}"><head>',
        '<meta charset="utf-8">',
        f"<title>{title}</title>",
        f"<style>{_CSS}</style>",
        "</head><body>",
    ]
    if study.synthetic:
        parts.append(
            f'<div class="banner" id="synthetic-banner">{html.escape(SYNTHETIC_BANNER)}</div>'
        )
    parts.append(f"<h1>{title}</h1>")
    tr = s["treatment"]
    coding = (
        f"existing 0/1 column '{tr['column']}'"
        if tr["column"]
        else f"batch column '{tr['batch_column']}' with years "
        + ", ".join(f"{k} &rarr; {v}" for k, v in tr["batch_years"].items())
        + f"; district-only pilots: {tr['district_only']}"
        + (f"; dropped pilot status: {', '.join(tr['drop_status'])}" if tr["drop_status"] else "")
    )
    parts.append(
        "<p>"
        f"Data: {html.escape(study.info['source'])} &middot; {info['n_rows']} rows, "
        f"{info['n_units']} units, periods {info['periods'][0]}&ndash;{info['periods'][1]} "
        f"&middot; treated units: {info['n_treated']} (cohorts: "
        + html.escape(", ".join(f"{g}: {n}" for g, n in info["cohorts"].items()))
        + f"), never treated: {info['n_never_treated']}<br>"
        f"Treatment: {coding}<br>"
        f"Baseline model: <code>{html.escape(study.formula)}</code>, vcov "
        f"<code>{html.escape(json.dumps(study.vcov))}</code>"
        "</p>"
    )
    if info["dropped_units"]:
        parts.append(
            '<p class="notes">Dropped units: '
            + html.escape(", ".join(f"{u} ({why})" for u, why in info["dropped_units"].items()))
            + "</p>"
        )
    zh = study.spec["report"]["lang"] == "zh"

    def title(name: str) -> str:
        if name == "provenance":
            return SECTION_TITLES_ZH[name] if zh else "Provenance"
        return (SECTION_TITLES_ZH if zh else SECTION_TITLES)[name]

    parts.append("<nav><ul>")
    for name in entries:
        parts.append(f'<li><a href="#{name}">{html.escape(title(name))}</a></li>')
    parts.append(f'<li><a href="#provenance">{title("provenance")}</a></li></ul></nav>')
    if study.failures:
        failed_word = "失败的分析" if zh else "Failed analyses"
        parts.append(
            f'<div class="failed" id="failed-analyses"><strong>{failed_word}:</strong> '
            + ", ".join(f'<a href="#{n}">{html.escape(title(n))}</a>' for n in study.failures)
            + (
                "。其余分析正常完成。"
                if zh
                else ". The other analyses ran; each failed section says why."
            )
            + "</div>"
        )
    for name, e in entries.items():
        parts.append(f'<section id="{name}"><h2>{html.escape(title(name))}</h2>')
        if "failed" in e:
            word = "此分析运行失败" if zh else "This analysis failed"
            parts.append(
                f'<p class="failed" data-failed="{name}"><strong>{word}:</strong> '
                f"{html.escape(e['failed'])}</p></section>"
            )
            continue
        for t in e["tables"]:
            parts.append(f'<div class="table" data-table="{html.escape(t["name"])}">')
            if t.get("caption"):
                parts.append(f"<h3>{html.escape(t['caption'])}</h3>")
            parts.append(t["html"])
            parts.append(_links([("LaTeX", t["tex"]), ("Markdown", t["md"])]))
            parts.append("</div>")
        for f in e["figures"]:
            parts.append(
                f'<figure><img src="{html.escape(f["png"])}" alt="{html.escape(f["name"])}">'
                f"<figcaption>{html.escape(f['caption'])} "
                f"{_links([('PNG', f['png']), ('PDF', f['pdf'])])}</figcaption>"
                "</figure>"
            )
        if e["csv"]:
            parts.append(_links([("CSV", c) for c in e["csv"]]))
        for note in e["notes"]:
            parts.append(f'<p class="notes">{html.escape(note)}</p>')
        parts.append("</section>")
    parts.append(f'<section id="provenance"><h2>{title("provenance")}</h2>')
    parts.append(
        '<p class="links"><a href="provenance.json">provenance.json</a> (input hashes, resolved '
        'spec, seeds, versions) &middot; <a href="run.log">run.log</a> (timings)</p>'
    )
    seeds = ", ".join(f"{k} = {v}" for k, v in sorted(study.seeds.items())) or "none"
    parts.append(f'<p class="notes">Seeds: {html.escape(seeds)}</p></section>')
    parts.append(_IMG_CHECK)
    parts.append("</body></html>\n")
    return "\n".join(parts)


# ------------------------------------------------------------------------------------------
# writing
# ------------------------------------------------------------------------------------------
#: The last note of every table written from the bundled panel: a table travels without the
#: page's banner.
SYNTHETIC_NOTE = {
    "en": "Data: the bundled SYNTHETIC Yangtze River Delta panel (simulated outcomes and "
    "covariates); the numbers illustrate the toolkit only.",
    "zh": "数据：pilotdid 自带的长三角模拟面板（SYNTHETIC，结果与协变量均为模拟数据），"
    "数值仅用于演示。",
}


def _write_table(root: Path, entry: dict[str, Any], stem: str, tab: Any, study: Any) -> None:
    """tables/<stem>.tex (the title as caption, label tab:<stem>) and .md; the HTML (the
    title as its <caption>) goes into index.html. Tables of the bundled SYNTHETIC panel say
    so in their last note."""
    if study.synthetic:
        lang = "zh" if study.spec["report"]["lang"] == "zh" else "en"
        tab = tab._with_note(SYNTHETIC_NOTE[lang])
    tex = tab.to_latex(label=f"tab:{stem}")
    (root / "tables" / f"{stem}.tex").write_text(tex, encoding="utf-8", newline="\n")
    (root / "tables" / f"{stem}.md").write_text(tab.to_markdown(), encoding="utf-8", newline="\n")
    entry["tables"].append(
        {
            "name": stem,
            "html": tab.to_html(),
            "tex": f"tables/{stem}.tex",
            "md": f"tables/{stem}.md",
        }
    )


def _write_contents(study: Any, root: Path) -> None:
    from pilotdid.output.figures import figure_caption, save_figure

    for sub in ("tables", "figures", "results"):
        (root / sub).mkdir()
    entries: dict[str, dict[str, Any]] = {}
    tex_hashes: dict[str, str] = {}
    for name in study.spec["analyses"]:
        if not study.spec["analyses"][name]["enabled"]:
            continue
        e: dict[str, Any] = {"tables": [], "figures": [], "csv": [], "notes": []}
        if name in study.failures:
            e["failed"] = study.failures[name]
            entries[name] = e
            continue
        tab = study.tables.get(name)
        if tab is not None:
            _write_table(root, e, name, tab, study)
        for stem, caption in SUMMARY_TABLES.get(name, []):
            summary = _summary_table(study, stem, caption)
            if summary is not None:
                _write_table(root, e, stem, summary, study)
        figs = [name] + EXTRA_FIGURES.get(name, [])
        for fname in figs:
            fig = study.figures.get(fname)
            if fig is None:
                continue
            save_figure(fig, root / "figures" / fname, formats=("png", "pdf"))
            caption = figure_caption(fig)
            if study.synthetic:
                caption = f"{caption} {SYNTHETIC_NOTE[study.spec['report']['lang']]}".strip()
            e["figures"].append(
                {
                    "name": fname,
                    "png": f"figures/{fname}.png",
                    "pdf": f"figures/{fname}.pdf",
                    "caption": caption,
                }
            )
        for key in sorted(k for k in study.frames if k == name or k.startswith(name + "_")):
            study.frames[key].write_csv(root / "results" / f"{key}.csv")
            e["csv"].append(f"results/{key}.csv")
        if name == "psm_did" and "psm_balance" in study.frames:
            study.frames["psm_balance"].write_csv(root / "results" / "psm_balance.csv")
            e["csv"].append("results/psm_balance.csv")
        e["notes"] = list(study.notes.get(name, []))
        entries[name] = e
    for p in sorted((root / "tables").glob("*.tex")):
        tex_hashes[p.name] = hashlib.sha256(p.read_bytes()).hexdigest()
    prov = provenance(study, tex_hashes)
    (root / "provenance.json").write_text(
        json.dumps(prov, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    log = list(study.log)
    for name, notes in study.notes.items():
        log += [f"{name}: {n}" for n in notes]
    (root / "run.log").write_text("\n".join(log) + "\n", encoding="utf-8")
    (root / "index.html").write_text(_index_html(study, entries), encoding="utf-8")


def write_report(study: Any, out: str | Path, overwrite: bool = False) -> Path:
    """Writes the report folder of ``study`` to ``out`` atomically and returns its path.

    Everything goes to a temporary folder beside ``out``; it is renamed to ``out`` only when
    every file was written. ``out`` must pass :func:`check_target`: an existing folder needs
    ``overwrite=True`` and is replaced (as a whole, never merged) only if it is a previous
    report holding nothing else. On any error or interrupt the temporary folder is removed and
    ``out`` is left as it was; SIGINT/SIGTERM are held back during the final renames.
    """
    inputs = getattr(study, "input_paths", ())
    target = check_target(out, overwrite, inputs)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp: Path | None = None
    try:
        with _signals_deferred():
            tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
        _follow_umask(tmp)
        _write_contents(study, tmp)
        with _signals_deferred():
            if target.exists():
                check_target(out, overwrite, inputs)  # unchanged while we were writing?
                old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
                os.replace(target, old / target.name)
                os.replace(tmp, target)
                tmp = None
                shutil.rmtree(old)
            else:
                os.replace(tmp, target)
                tmp = None
    except BaseException:
        if tmp is not None:
            with _signals_deferred():
                shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target

"""Every LaTeX table the bundled study's report writes compiles on an A4 page with 2.5 cm
margins, with no overfull box (issue 15, acceptance).

Reference: TeX itself. pdflatex for the English report, XeLaTeX with ctex for the Chinese
one (``[report] lang = "zh"``); each table is ``\\input`` into a minimal document (geometry
a4paper and margin=2.5cm, booktabs, threeparttable, pdflscape, and ctex for Chinese). The
test fails on any LaTeX error, any ``Overfull \\hbox`` wider than 1 pt, and any float taller
than the page. Skipped when the TeX program is missing, except under CI (CI=true), where
.ci/run installs it and a missing program is a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from pilotdid.cli import bundled_spec
from pilotdid.study.run import run_study
from pilotdid.study.spec import load_spec

#: how much wider than the text a box may be before the test fails (pt)
TOLERANCE_PT = 1.0

_MARK = "PILOTDID-TABLE:"


def _tex_program(name: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(
                f"{name} is missing (.ci/run installs texlive-latex-base, "
                "texlive-latex-recommended, texlive-latex-extra, texlive-xetex, "
                "texlive-lang-chinese)"
            )
        pytest.skip(f"{name} is not installed")
    return exe


def document(tables: list[Path], *, lang: str) -> str:
    """A minimal A4 document with 2.5 cm margins that inputs each table on its own page."""
    pre = [
        r"\documentclass{article}",
        r"\usepackage[a4paper,margin=2.5cm]{geometry}",
        r"\usepackage{booktabs}",
        r"\usepackage{threeparttable}",
        r"\usepackage{pdflscape}",
    ]
    if lang == "zh":
        pre.append(r"\usepackage{ctex}")
    body = [r"\begin{document}"]
    for p in tables:
        body += [rf"\typeout{{{_MARK} {p.name}}}", rf"\input{{{p.as_posix()}}}", r"\clearpage"]
    body.append(r"\end{document}")
    return "\n".join(pre + body) + "\n"


def compile_tables(exe: str, tables: list[Path], workdir: Path, *, lang: str) -> dict:
    """Compiles the tables in one document; returns the log's problems per table:
    {"errors": [...], "overfull": {table: [pt, ...]}, "too_large": {table: [...]}}."""
    (workdir / "doc.tex").write_text(document(tables, lang=lang), encoding="utf-8")
    run = subprocess.run(
        [exe, "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=600,
    )
    log = (workdir / "doc.log").read_text(encoding="utf-8", errors="replace")
    current = "(preamble)"
    errors, overfull, too_large = [], {}, {}
    for line in log.splitlines():
        if line.startswith(_MARK):
            current = line[len(_MARK) :].strip()
        elif line.startswith("! "):
            errors.append(f"{current}: {line}")
        else:
            m = re.match(r"Overfull \\hbox \(([\d.]+)pt too wide\)", line)
            if m and float(m.group(1)) > TOLERANCE_PT:
                overfull.setdefault(current, []).append(float(m.group(1)))
            m = re.search(r"Float too large for page by ([\d.]+)pt", line)
            if m:
                too_large.setdefault(current, []).append(float(m.group(1)))
    if run.returncode != 0 and not errors:
        errors.append(f"{exe} exited with {run.returncode}: {run.stdout[-2000:]}")
    return {"errors": errors, "overfull": overfull, "too_large": too_large, "log": log}


@pytest.fixture(scope="module")
def report_en(tmp_path_factory):
    out = tmp_path_factory.mktemp("tex_en") / "rep"
    run_study(bundled_spec(), out=out)
    return out


@pytest.fixture(scope="module")
def report_zh(tmp_path_factory):
    spec = load_spec(bundled_spec())
    spec["report"]["lang"] = "zh"
    out = tmp_path_factory.mktemp("tex_zh") / "rep"
    run_study(spec, out=out)
    return out


def _check(report: Path, exe: str, tmp_path: Path, lang: str) -> None:
    tables = sorted((report / "tables").glob("*.tex"))
    assert len(tables) >= 16, [p.name for p in tables]
    res = compile_tables(exe, [p.resolve() for p in tables], tmp_path, lang=lang)
    assert not res["errors"], "\n".join(res["errors"])
    assert not res["overfull"], f"overfull \\hbox over {TOLERANCE_PT} pt: {res['overfull']}"
    assert not res["too_large"], f"tables taller than the page: {res['too_large']}"
    assert (tmp_path / "doc.pdf").stat().st_size > 10_000
    # every table was typeset: one page each at least
    assert res["log"].count(_MARK) >= len(tables)


def test_every_english_report_table_compiles_on_a4_without_overfull_boxes(report_en, tmp_path):
    """pdflatex, A4 with 2.5 cm margins: no error, no overfull \\hbox over 1 pt, no float
    taller than the page, for each of the report's tables/*.tex."""
    _check(report_en, _tex_program("pdflatex"), tmp_path, "en")


def test_every_chinese_report_table_compiles_with_xelatex_and_ctex(report_zh, tmp_path):
    """XeLaTeX + ctex, same page and checks, for the report written with lang = "zh"; and no
    \\cmidrule directly above a \\midrule."""
    for p in (report_zh / "tables").glob("*.tex"):
        lines = [ln.strip() for ln in p.read_text(encoding="utf-8").splitlines()]
        for a, b in zip(lines, lines[1:]):
            assert not (a.startswith(r"\cmidrule") and b.startswith(r"\midrule")), p.name
    _check(report_zh, _tex_program("xelatex"), tmp_path, "zh")


def test_report_tables_are_floats_with_caption_and_label(report_en):
    """Each .tex is a table float (or a landscape page holding one) with \\caption and
    \\label{tab:<file stem>}, the notes in a threeparttable, and says which packages it
    needs on its first line."""
    for p in sorted((report_en / "tables").glob("*.tex")):
        tex = p.read_text(encoding="utf-8")
        assert tex.splitlines()[0].startswith(r"% pilotdid table: \usepackage{booktabs"), p.name
        assert tex.count(r"\begin{table}[htbp]") == tex.count(r"\end{table}") == 1, p.name
        assert rf"\label{{tab:{p.stem}}}" in tex, p.name
        assert re.search(r"\\caption\{[^}]+\}", tex), p.name
        assert r"\begin{threeparttable}" in tex and r"\end{threeparttable}" in tex, p.name
        if r"\begin{landscape}" in tex:
            assert "pdflscape" in tex.splitlines()[0], p.name


def _wide_tables(tmp_path: Path) -> dict[str, Path]:
    """An etable of 12 columns (too wide for portrait at any size: laid out landscape) and a
    4-column one with long titles (wrapped headers), written to .tex files."""
    import pilotdid as pdid
    from pilotdid import datasets

    df = datasets.yrd()
    ctrl = ["ln_gdp_pc", "urbanization", "gov_exp_share", "fdi_share", "fin_dev"]
    fits = [
        pdid.feols(f"gtfp ~ did + {' + '.join(ctrl[: 1 + j % 5])} | city + year", df)
        for j in range(12)
    ]
    wide = pdid.etable(fits, title="Twelve columns", controls=ctrl)
    named = pdid.etable(
        {
            f"a rather long column title number {j} that must wrap": f
            for j, f in enumerate(fits[:4])
        },
        title="Long titles",
    )
    out = {}
    for name, t in (("wide", wide), ("named", named)):
        out[name] = tmp_path / f"{name}.tex"
        out[name].write_text(t.to_latex(), encoding="utf-8")
    return out


def test_wide_tables_turn_landscape_and_long_titles_wrap(tmp_path):
    """A 12-column table is emitted inside pdflscape's landscape (on purpose: no portrait
    size fits A4) and compiles without overfull boxes; long column titles wrap onto lines
    instead of widening the table."""
    exe = _tex_program("pdflatex")
    files = _wide_tables(tmp_path)
    wide = files["wide"].read_text(encoding="utf-8")
    assert r"\begin{landscape}" in wide and "pdflscape" in wide.splitlines()[0]
    named = files["named"].read_text(encoding="utf-8")
    assert r"\begin{landscape}" not in named and r"\begin{tabular}[b]" in named
    build = tmp_path / "build"
    build.mkdir()
    res = compile_tables(exe, list(files.values()), build, lang="en")
    assert not res["errors"], "\n".join(res["errors"])
    assert not res["overfull"], res["overfull"]

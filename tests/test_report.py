"""The report folder: index.html, tables, figures, provenance.json, and a headless Chromium
render of index.html.

References: sha256 of the input files computed here (hashlib), the folder's own files (every
link and <img> must point at an existing file), and Debian's Chromium as the browser (the
page must render every table and load every image offline).
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from pilotdid import datasets
from pilotdid.cli import bundled_spec
from pilotdid.study.report import SYNTHETIC_BANNER
from pilotdid.study.run import run_study
from pilotdid.study.spec import load_spec


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "rep"
    study = run_study(bundled_spec(), out=out)
    return study, out


def _links(index: str, attr: str) -> list[str]:
    return [html.unescape(m) for m in re.findall(rf'{attr}="([^"#][^"]*)"', index)]


def test_index_links_every_table_figure_and_csv(report):
    """Every table has its LaTeX and Markdown file linked; every <img> is a figures/*.png with
    its PDF beside it; every link resolves to a file in the folder; no network URLs."""
    study, out = report
    index = (out / "index.html").read_text(encoding="utf-8")
    assert SYNTHETIC_BANNER in html.unescape(index)
    hrefs, srcs = _links(index, "href"), _links(index, "src")
    for link in hrefs + srcs:
        assert not re.match(r"[a-z]+://", link), link
        assert (out / link).is_file(), link
    for name in study.tables:
        assert f"tables/{name}.tex" in hrefs and f"tables/{name}.md" in hrefs
    tex = sorted(p.relative_to(out).as_posix() for p in (out / "tables").glob("*.tex"))
    assert tex == sorted(h for h in hrefs if h.endswith(".tex"))
    pngs = sorted(p.relative_to(out).as_posix() for p in (out / "figures").glob("*.png"))
    assert sorted(srcs) == pngs and len(pngs) == len(study.figures) == 14
    for p in pngs:
        assert (out / p).with_suffix(".pdf").is_file()
    csvs = sorted(p.relative_to(out).as_posix() for p in (out / "results").glob("*.csv"))
    assert csvs == sorted(set(h for h in hrefs if h.endswith(".csv")))


def test_no_banner_for_own_data(tmp_path):
    """A spec reading a data file (not the bundled panel) gets no SYNTHETIC banner and its
    provenance hashes that file."""
    # a user's panel without the coding columns that the spec derives
    datasets.yrd().drop(["did", "cohort", "treat", "post", "event_time"]).write_csv(
        tmp_path / "mine.csv"
    )
    spec = load_spec(bundled_spec())
    spec["data"] = {"path": "mine.csv", "unit": "city", "time": "year"}
    spec["analyses"] = {"baseline": {"steps": "full"}}
    run_study(spec, out=tmp_path / "rep", base_dir=tmp_path)
    index = (tmp_path / "rep" / "index.html").read_text(encoding="utf-8")
    assert "synthetic-banner" not in index and SYNTHETIC_BANNER not in html.unescape(index)
    for p in (tmp_path / "rep" / "tables").glob("*"):
        assert "SYNTHETIC" not in p.read_text(encoding="utf-8"), p.name
    prov = json.loads((tmp_path / "rep" / "provenance.json").read_text())
    want = hashlib.sha256((tmp_path / "mine.csv").read_bytes()).hexdigest()
    assert prov["data"]["sha256"] == {"mine.csv": want}
    assert prov["synthetic_data"] is False


def test_provenance_records_inputs_seeds_versions_and_no_time(report):
    """provenance.json: sha256 of the spec and of the bundled files, the resolved spec, every
    seed, package versions; no timestamps or durations (those are in run.log)."""
    study, out = report
    text = (out / "provenance.json").read_text(encoding="utf-8")
    prov = json.loads(text)
    assert prov["spec"]["sha256"] == hashlib.sha256(bundled_spec().read_bytes()).hexdigest()
    for name in ("panel_synthetic.csv", "cities.csv"):
        raw = (Path(datasets.__file__).parent / "yrd" / name).read_bytes()
        assert prov["data"]["sha256"][name] == hashlib.sha256(raw).hexdigest()
    assert prov["resolved_spec"] == json.loads(json.dumps(study.spec))
    assert prov["seeds"]["placebo"] == 20121 and len(prov["seeds"]) == 8
    for pkg in ("python", "pilotdid", "numpy", "polars", "matplotlib"):
        assert prov["versions"][pkg]
    for p in (out / "tables").glob("*.tex"):
        assert prov["tables_sha256"][p.name] == hashlib.sha256(p.read_bytes()).hexdigest()
    assert not re.search(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d", text)
    assert not re.search(r"time|duration|elapsed|date", " ".join(_keys(prov)), re.I)
    assert "total:" in (out / "run.log").read_text()


def _keys(obj) -> list[str]:
    if isinstance(obj, dict):
        return [k for k, v in obj.items() if k != "resolved_spec"] + [
            x for k, v in obj.items() if k != "resolved_spec" for x in _keys(v)
        ]
    return []


def test_latex_tables_are_structurally_sound(report):
    """A structural check of every .tex (tests/test_tables_compile.py compiles them): one
    table float with one threeparttable, balanced tabular environments (a wrapped header is a
    nested tabular), booktabs rules, a caption and the label tab:<file stem>."""
    _, out = report
    for p in (out / "tables").glob("*.tex"):
        tex = p.read_text(encoding="utf-8")
        assert tex.count("\\begin{tabular}") == tex.count("\\end{tabular}") >= 1, p.name
        for env in ("table", "threeparttable"):
            assert tex.count(f"\\begin{{{env}}}") == tex.count(f"\\end{{{env}}}") == 1, p.name
        assert tex.count("\\toprule") == tex.count("\\bottomrule") == 1, p.name
        assert "\\caption{" in tex and f"\\label{{tab:{p.stem}}}" in tex, p.name
        # a table travels without the page's banner: it says SYNTHETIC itself
        assert "SYNTHETIC Yangtze River Delta panel" in tex, p.name


# ------------------------------------------------------------------------------------------
# headless Chromium
# ------------------------------------------------------------------------------------------
def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _run_chromium(exe: str, *args: str) -> subprocess.CompletedProcess:
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def test_index_renders_in_headless_chromium(report, tmp_path):
    """Debian's chromium renders index.html offline: the DOM (after scripts ran) contains
    every table, the inline check finds every <img> loaded (naturalWidth > 0), and the
    1280x4000 screenshot is not blank. Skips without chromium unless CI is set."""
    exe = _chromium()
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (apt-get install -y chromium)")
        pytest.skip("chromium is not installed")
    study, out = report
    url = (out / "index.html").resolve().as_uri()
    dom = _run_chromium(
        exe, "--virtual-time-budget=10000", "--window-size=1280,4000", "--dump-dom", url
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    text = dom.stdout
    for name in study.tables:
        assert f'data-table="{name}"' in text, name
    n_tables = len(re.findall(r"<table", text))
    assert n_tables >= len(study.tables)
    check = re.search(
        r'id="img-check" data-total="(\d+)" data-loaded="(\d+)" data-broken="([^"]*)"', text
    )
    assert check, "the inline image check did not run"
    total, loaded, broken = int(check[1]), int(check[2]), check[3]
    assert total == len(study.figures) == loaded and broken == ""
    # at 1280 px no table is wider than the page (none cut off, none scrolling): the balance
    # table in particular (it was cut off before it took Stata pstest's long layout)
    wide = re.search(r'data-wide-tables="([^"]*)"', text)
    assert wide and wide[1] == "", f"tables wider than the page: {wide and wide[1]}"
    assert 'data-table="psm_balance"' in text
    assert "SYNTHETIC DATA" in text

    shot = tmp_path / "shot.png"
    r = _run_chromium(exe, f"--screenshot={shot}", "--window-size=1280,4000", url)
    assert r.returncode == 0 and shot.is_file(), r.stderr[-2000:]
    from matplotlib.image import imread

    px = imread(shot)[..., :3]
    assert px.shape[:2] == (4000, 1280)
    assert float(px.std()) > 0.05  # text, tables and plots, not a blank page
    # the red banner is at the top of the page
    top = px[:120].reshape(-1, 3)
    assert np.any((top[:, 0] > 0.6) & (top[:, 1] < 0.2) & (top[:, 2] < 0.25))
    if os.environ.get("PILOTDID_SCREENSHOT"):
        shutil.copy(shot, os.environ["PILOTDID_SCREENSHOT"])


def test_zh_report_uses_chinese_section_titles_and_table_words(tmp_path):
    """[report] lang = "zh": section headings (基准回归, 稳健性检验, ...) and the tables' Chinese
    words (控制变量, 观测值) appear in index.html; English headings do not."""
    spec = load_spec(bundled_spec())
    spec["report"]["lang"] = "zh"
    spec["analyses"] = {"baseline": {"steps": "full"}, "robustness": spec["analyses"]["robustness"]}
    out = tmp_path / "zh"
    run_study(spec, out=out)
    index = (out / "index.html").read_text(encoding="utf-8")
    for word in ("基准回归", "稳健性检验", "可复现信息", "控制变量", "观测值"):
        assert word in index
    assert "<h2>Baseline DID</h2>" not in index and "<h2>Provenance</h2>" not in index

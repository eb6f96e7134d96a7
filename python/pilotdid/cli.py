"""The `pilotdid` console script.

pilotdid run SPEC [--out DIR] [--overwrite] [--quiet] [--strict]
                                                       run a study spec, write the report
pilotdid demo [--out DIR] [--overwrite] [--quiet] [--strict]
                                                       the whole study on the bundled SYNTHETIC
                                                       YRD panel (pilotdid/datasets/yrd/study.toml)
pilotdid validate SPEC                                 check a spec and every precondition of
                                                       its analyses (keys, columns, coding,
                                                       spatial balance) without running it

Exit codes: 0 ok, 1 an analysis failed while running, 2 spec or usage error (message on
stderr, no traceback), 130 interrupted (SIGINT, Ctrl-C), 143 terminated (SIGTERM). An analysis
that fails does not stop the others: the report is written with a "failed" section naming the
analysis and its error, and the exit status is 1. --strict stops at the first failure and writes
nothing. A spec that does not validate writes nothing; an interrupted run leaves no temporary
folder.
--overwrite replaces only a previous pilotdid report, never the spec's or the data's folder.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from importlib.resources import files
from pathlib import Path
from typing import Any

BASELINE = (
    "gtfp ~ did + ln_gdp_pc + urbanization + gov_exp_share + fdi_share + fin_dev | city + year"
)

DEFAULT_OUT = "pilotdid-report"


def bundled_spec() -> Path:
    """The path of the bundled study spec (``pilotdid/datasets/yrd/study.toml``)."""
    return Path(str(files("pilotdid.datasets") / "yrd" / "study.toml"))


def _err(msg: str) -> None:
    print(f"pilotdid: error: {msg}", file=sys.stderr)


def _summary(study: Any) -> str:
    """A few lines per analysis for the terminal (the report has everything)."""
    s = study.spec
    treat = s["treatment"]["name"]
    lines = []
    r = study.results
    if "baseline_model" in r:
        fit = r["baseline_model"]
        lines.append(
            f"baseline TWFE {treat}: {fit.coef()[treat]:.6f} (SE {fit.se()[treat]:.6f}), "
            f"N = {fit.nobs}"
        )
    if "event_study" in r:
        for est, es in r["event_study"].items():
            post = [b for e, b in zip(es.event_time, es.estimate) if e >= 0]
            if post:
                lines.append(
                    f"event study {est:>5}: mean post-period effect {sum(post) / len(post):.4f}"
                )
    if "sensitivity" in r:
        from pilotdid.output._adapters import sensitivity_shown

        h = r["sensitivity"]
        value, lo, hi = sensitivity_shown(h)
        par = "M" if h.delta == "sd" else "M-bar"
        bd = "none" if h.breakdown is None else f"{h.breakdown:.4g}"
        lines.append(
            f"sensitivity ({h.estimator}, {h.delta}, {h.method}): robust CI at {par} = "
            f"{value:g} [{lo:.4f}, {hi:.4f}], breakdown {par} = {bd}"
        )
    if "sdid" in r:
        parts = [f"{m} {x.estimate:.4f} (SE {x.std_error:.4f})" for m, x in r["sdid"].items()]
        lines.append("synthetic DID family ATT: " + ", ".join(parts))
    if "ddd" in r:
        o = r["ddd"]["simple"]
        lines.append(f"triple differences ATT: {o.overall_att:.4f} (SE {o.overall_se:.4f})")
    if "dcdh" in r and r["dcdh"].average_total_effect is not None:
        ate = r["dcdh"].average_total_effect
        lines.append(
            f"DID_l average total effect per unit of treatment: {ate['estimate']:.4f} "
            f"(SE {ate['std_error']:.4f})"
        )
    if "dose" in r:
        d = r["dose"]
        lines.append(
            f"continuous dose: ATT^o {d.overall_att:.4f} (SE {d.overall_att_se:.4f}), "
            f"ACRT^o {d.overall_acrt:.4f} (SE {d.overall_acrt_se:.4f})"
        )
    if "placebo" in r:
        p = r["placebo"]
        lines.append(f"placebo ({p.reps} reps): randomization p = {p.p_value_ri:.4f}")
    if "psm_did" in r and r["psm_did"].did is not None:
        lines.append(f"PSM-DID {treat}: {r['psm_did'].did.coef()[treat]:.6f}")
    if "spatial" in r:
        imp = r["spatial"]["impacts"]
        lines.append(
            f"spatial {s['analyses']['spatial']['model'].upper()} effects of {treat}: direct "
            f"{imp.direct[treat]:.4f}, indirect {imp.indirect[treat]:.4f}, total "
            f"{imp.total[treat]:.4f}"
        )
        fit = r["spatial"]["fit"]
        lines.append(f"  {fit.identification_note}")
        if fit.weakly_identified:
            lines.append(
                "  caveat: the spatial parameter is weakly identified on this W, so the indirect "
                "and total effects are imprecise whatever their standard errors say"
            )
    return "\n".join(lines)


def _run(spec: Path, out: Path, overwrite: bool, quiet: bool, strict: bool) -> tuple[int, Any]:
    """(exit code, study): 0 all analyses ran; 1 some failed (the study and its report hold
    the others; with ``strict`` nothing was written and the study is None); 2 spec error."""
    import warnings

    from pilotdid.study.errors import SpecError, StudyError, StudyWarning
    from pilotdid.study.run import run_study

    try:
        with warnings.catch_warnings():
            # the failures are printed below, one line each, not as a Python warning
            warnings.simplefilter("ignore", StudyWarning)
            study = run_study(spec, out=out, overwrite=overwrite, quiet=quiet, strict=strict)
    except SpecError as e:
        _err(str(e))
        return 2, None
    except StudyError as e:
        _err(str(e) + " (--strict: nothing was written)")
        return 1, None
    for name, msg in study.failures.items():
        _err(f"[analyses.{name}] failed: {msg}")
    return (1 if study.failures else 0), study


def cmd_run(args: argparse.Namespace) -> int:
    spec = Path(args.spec)
    out = Path(args.out) if args.out else spec.absolute().parent / DEFAULT_OUT
    code, study = _run(spec, out, args.overwrite, args.quiet, args.strict)
    if study is not None:
        print(f"report written to {out}/index.html" + _failed_note(study))
        print(_summary(study))
    return code


def _failed_note(study: Any) -> str:
    n = len(study.failures)
    if not n:
        return ""
    return f" ({n} failed analys{'is' if n == 1 else 'es'}: {', '.join(study.failures)})"


def cmd_validate(args: argparse.Namespace) -> int:
    from pilotdid.study.data import prepare_data, resolve_spec
    from pilotdid.study.errors import SpecError

    try:
        spec = resolve_spec(args.spec)
        _, info = prepare_data(args.spec)
    except SpecError as e:
        _err(str(e))
        return 2
    c = info["coding"]
    enabled = [n for n, a in spec["analyses"].items() if a["enabled"]]
    print(
        f"{args.spec}: OK. {c['n_rows']} rows, {c['n_units']} units, {c['n_treated']} treated "
        f"(cohorts {c['cohorts']}), {c['n_never_treated']} never treated; analyses: "
        + (", ".join(enabled) or "none")
    )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    import pilotdid as pdid
    from pilotdid import datasets

    truth = datasets.yrd_truth()
    print(
        "pilotdid demo: national smart-city pilots in the 41 Yangtze River Delta cities\n"
        "DATA ARE SYNTHETIC: real city list, coordinates and pilot batches (with stated\n"
        "uncertainty); every outcome and covariate is simulated (data/yrd/README.md).\n"
        f"Treatment coding: {truth['coding']} {truth['cohort_years']}; "
        f"district-only pilots: {truth['district_only']}.\n"
        f"Study spec: {bundled_spec()}\n"
    )
    out = Path(args.out) if args.out else Path.cwd() / DEFAULT_OUT
    code, study = _run(bundled_spec(), out, args.overwrite, args.quiet, args.strict)
    if study is None or "baseline_model" not in study.results:
        return code or 1
    panel = study.data
    s = study.spec
    info = pdid.Panel(
        panel, unit=s["data"]["unit"], time=s["data"]["time"], treatment=s["treatment"]["name"]
    )
    print(info, "\n")
    print(study.results["baseline_model"].summary())
    if "baseline_wildboot" in study.results:
        print()
        print(study.results["baseline_wildboot"].summary())
    cs = pdid.aggte(
        pdid.att_gt(
            panel,
            y=s["model"]["y"],
            time=s["data"]["time"],
            unit=s["data"]["unit"],
            cohort=s["treatment"]["cohort_name"],
        ),
        type="simple",
    )
    print(
        f"\nCallaway-Sant'Anna overall ATT (never-treated controls, doubly robust): "
        f"{cs.overall_att:.4f} (SE {cs.overall_se:.4f})"
    )
    print(
        "True effects in the synthetic panel (truth.json): overall ATT "
        f"{truth['overall_att']['structural']:.4f} without spillovers, "
        f"{truth['overall_att']['total']:.4f} with the simulated spatial spillovers; static "
        f"TWFE estimand {truth['twfe_estimand']['structural']:.4f} (TWFE is biased under "
        "staggered, growing effects)."
    )
    sp = truth["spatial_effects"]
    print(
        f"True spatial effects (SDM, truth.json): direct {sp['direct']:.4f}, indirect "
        f"{sp['indirect']:.4f}, total {sp['total']:.4f}; true indirect (mediated) effects: "
        + ", ".join(f"{k} {v:.4f}" for k, v in truth["mediation"]["indirect"].items())
    )
    print("\nStudy summary (SYNTHETIC data):")
    print(_summary(study))
    print(
        f"\nreport written to {out}/index.html{_failed_note(study)} (open it in a browser; "
        "works offline)"
    )
    return code


class Terminated(BaseException):
    """Raised in the main thread by SIGTERM, so that cleanup (``finally``) runs as for Ctrl-C."""


def _on_sigterm(signum: int, frame: Any) -> None:
    raise Terminated


def main(argv: list[str] | None = None) -> int:
    """The console script; returns the exit code (see the module docstring)."""
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if in_main else None
    try:
        return _main(argv)
    except KeyboardInterrupt:
        _err("interrupted (SIGINT); no partial report was left behind")
        return 130
    except Terminated:
        _err("terminated (SIGTERM); no partial report was left behind")
        return 143
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)


def _main(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(
        prog="pilotdid",
        description="Staggered DID, mechanisms and spatial spillovers for pilot policies.",
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_run = sub.add_parser("run", help="run a study spec (TOML) and write the report folder")
    p_run.add_argument("spec", help="the study spec (TOML)")
    p_demo = sub.add_parser("demo", help="the whole study on the bundled SYNTHETIC YRD panel")
    for p in (p_run, p_demo):
        p.add_argument(
            "--out",
            help=f"report folder (default: {DEFAULT_OUT} "
            + ("next to the spec)" if p is p_run else "in the current folder)"),
        )
        p.add_argument("--overwrite", action="store_true", help="replace an existing folder")
        p.add_argument("--quiet", action="store_true", help="no progress bars")
        p.add_argument(
            "--strict",
            action="store_true",
            help="stop at the first failed analysis and write nothing (default: write the "
            "report with a failed section and exit 1)",
        )
    p_val = sub.add_parser("validate", help="check a spec without running it")
    p_val.add_argument("spec", help="the study spec (TOML)")
    args = parser.parse_args(argv)
    if args.command == "run":
        return cmd_run(args)
    if args.command == "demo":
        return cmd_demo(args)
    return cmd_validate(args)


if __name__ == "__main__":
    sys.exit(main())

"""The `pilotdid` console script.

``pilotdid demo`` runs the baseline multi-period DID on the bundled (SYNTHETIC) Yangtze River
Delta panel and prints the regression table beside the panel's known true effect.
"""

from __future__ import annotations

import argparse
import sys

BASELINE = (
    "gtfp ~ did + ln_gdp_pc + urbanization + gov_exp_share + fdi_share + fin_dev | city + year"
)


def demo(argv: list[str] | None = None) -> int:
    import pilotdid as pdid
    from pilotdid import datasets

    panel = datasets.yrd()
    truth = datasets.yrd_truth()
    print(
        "pilotdid demo: national smart-city pilots in the 41 Yangtze River Delta cities\n"
        "DATA ARE SYNTHETIC: real city list, coordinates and pilot batches (with stated\n"
        "uncertainty); every outcome and covariate is simulated (data/yrd/README.md).\n"
        f"Treatment coding: {truth['coding']} {truth['cohort_years']}; "
        f"district-only pilots: {truth['district_only']}.\n"
    )
    info = pdid.Panel(panel, unit="city", time="year", treatment="did")
    print(info, "\n")
    fit = pdid.feols(BASELINE, panel, vcov={"CR1": "city"})
    fit.summary()
    boot = fit.wildboottest("did", reps=9999, seed=20121)
    print()
    print(boot)
    cs = pdid.aggte(pdid.att_gt(panel, "gtfp", "year", "city", "cohort"), type="simple")
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
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pilotdid", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="baseline DID on the bundled synthetic YRD panel")
    args = parser.parse_args(argv)
    if args.command == "demo":
        return demo()
    return 2


if __name__ == "__main__":
    sys.exit(main())

"""Principal-components index: the result of :func:`pilotdid.green.pca_index`. Numbers come
from the Rust core (``src/green/pca.rs``); this class only lays them out."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from pilotdid.results._protocol import TIDY_COLUMNS, ResultProtocol


def kmo_label(kmo: float) -> str:
    """Kaiser's (1974) words for a KMO value."""
    if not np.isfinite(kmo):
        return "undefined"
    for lo, word in (
        (0.9, "marvelous"),
        (0.8, "meritorious"),
        (0.7, "middling"),
        (0.6, "mediocre"),
        (0.5, "miserable"),
    ):
        if kmo >= lo:
            return word
    return "unacceptable"


class PcaResult(ResultProtocol):
    """Principal components of a set of indicators and the composite index built from them.

    Attributes: ``scores`` (polars: the id columns, the index column ``name``, ``PC1`` ..
    ``PCm`` for the kept components, one row per row used), ``loadings`` (polars: indicator,
    component, eigenvector, loading = eigenvector * sqrt(eigenvalue), kept), ``components``
    (polars: component, eigenvalue, explained, cumulative, kept, weight), ``eigenvalues``,
    ``explained``, ``cumulative`` (numpy, all components, descending), ``eigenvectors``
    (indicators x components), ``n_components``, ``component_weights`` (of the kept
    components), ``correlation`` (indicators x indicators), ``kmo``, ``kmo_per_variable``
    (dict), ``bartlett`` (dict: chi2, df, p_value), ``means``/``scales`` (the standardisation
    used), ``nobs``, ``dropped_rows`` (count by reason), ``notes``.

    ``tidy()``: one row per component, ``term`` = ``PC1`` .., ``estimate`` = its eigenvalue
    (no sampling inference: the other protocol columns are null), plus ``explained``,
    ``cumulative``, ``kept`` and ``weight`` (its weight in the index, 0 when not kept).
    Loadings are compared with other software up to the sign convention of ``pca_index``.
    """

    result_name = "principal-components index"

    def __init__(
        self,
        core: Any,
        *,
        ids: pl.DataFrame | None,
        indicators: list[str],
        negative: list[str],
        name: str,
        standardize: bool,
        rule: str,
        component_weights: str,
        dropped_rows: dict[str, int],
    ) -> None:
        self.indicators = list(indicators)
        self.negative = list(negative)
        self.name = name
        self.standardize = bool(standardize)
        self.rule = rule
        self.weighting = component_weights
        self.n_components = int(core.n_components)
        self.eigenvalues = np.asarray(core.eigenvalues, dtype=float)
        self.explained = np.asarray(core.explained, dtype=float)
        self.cumulative = np.asarray(core.cumulative, dtype=float)
        self.eigenvectors = np.asarray(core.eigenvectors, dtype=float)
        self.component_weights = np.asarray(core.component_weights, dtype=float)
        self.correlation = np.asarray(core.correlation, dtype=float)
        self.means = np.asarray(core.means, dtype=float)
        self.scales = np.asarray(core.scales, dtype=float)
        self.kmo = float(core.kmo)
        self.kmo_per_variable = dict(
            zip(self.indicators, np.asarray(core.kmo_per_variable, dtype=float).tolist())
        )
        self.bartlett = {
            "chi2": float(core.bartlett_chi2),
            "df": int(core.bartlett_df),
            "p_value": float(core.bartlett_p_value),
        }
        self.notes: list[str] = [core.diagnostics_note] if core.diagnostics_note else []
        self.dropped_rows: dict[str, int] = dict(dropped_rows)
        p, m = len(self.indicators), self.n_components
        self.terms = [f"PC{k + 1}" for k in range(p)]
        index = pl.Series(name, np.asarray(core.index, dtype=float))
        sc = np.asarray(core.scores, dtype=float)
        pcs = [pl.Series(self.terms[k], sc[:, k]) for k in range(m)]
        body = pl.DataFrame([index, *pcs])
        self.scores = pl.concat([ids, body], how="horizontal") if ids is not None else body
        self.nobs = self.scores.height
        root = np.sqrt(np.clip(self.eigenvalues, 0.0, None))
        self.loadings = pl.DataFrame(
            {
                "indicator": [c for c in self.indicators for _ in range(p)],
                "component": [t for _ in self.indicators for t in self.terms],
                "eigenvector": self.eigenvectors.ravel(),
                "loading": (self.eigenvectors * root[None, :]).ravel(),
                "kept": [k < m for _ in self.indicators for k in range(p)],
            }
        )
        weight = np.zeros(p)
        weight[:m] = self.component_weights
        self.components = pl.DataFrame(
            {
                "component": self.terms,
                "eigenvalue": self.eigenvalues,
                "explained": self.explained,
                "cumulative": self.cumulative,
                "kept": [k < m for k in range(p)],
                "weight": weight,
            }
        )

    def _tidy(self, level: float) -> pl.DataFrame:
        p = len(self.terms)
        null = pl.Series([None] * p, dtype=pl.Float64)
        base = pl.DataFrame(
            {
                "term": self.terms,
                "estimate": self.eigenvalues,
                "std_error": null,
                "statistic": null,
                "p_value": null,
                "conf_low": null,
                "conf_high": null,
            }
        ).select(TIDY_COLUMNS)
        return pl.concat(
            [base, self.components.select("explained", "cumulative", "kept", "weight")],
            how="horizontal",
        )

    def _summary_text(self, level: float) -> str:
        m, p = self.n_components, len(self.indicators)
        matrix = "standardised: correlation" if self.standardize else "centred: covariance"
        bart = self.bartlett
        lines = [
            "Principal-components index",
            f"  rows used: {self.nobs}"
            + (
                f"   (dropped: {', '.join(f'{v} {k}' for k, v in self.dropped_rows.items())})"
                if self.dropped_rows
                else ""
            ),
            f"  indicators: {p} ({matrix} matrix)"
            + (f"; reversed: {', '.join(self.negative)}" if self.negative else ""),
            f"  components kept: {m} of {p} by {self.rule}; index weights: {self.weighting}",
            f"  KMO = {self.kmo:.3f} ({kmo_label(self.kmo)});  Bartlett chi2({bart['df']}) "
            f"= {bart['chi2']:.2f}, p = {_p(bart['p_value'])}",
            "",
            f"  {'component':<10}{'eigenvalue':>12}{'explained':>11}{'cumulative':>12}"
            f"{'weight':>9}",
        ]
        for k in range(p):
            w = f"{self.component_weights[k]:.3f}" if k < m else ""
            lines.append(
                f"  {self.terms[k]:<10}{self.eigenvalues[k]:>12.4f}{self.explained[k]:>11.3f}"
                f"{self.cumulative[k]:>12.3f}{w:>9}"
            )
        width = max(10, *(len(c) for c in self.indicators)) + 2
        lines += ["", "  loadings (eigenvector * sqrt(eigenvalue)); KMO per indicator"]
        lines.append(
            "  "
            + "indicator".ljust(width)
            + "".join(f"{t:>9}" for t in self.terms[:m])
            + f"{'KMO':>8}"
        )
        root = np.sqrt(np.clip(self.eigenvalues[:m], 0.0, None))
        for j, c in enumerate(self.indicators):
            row = "".join(f"{self.eigenvectors[j, k] * root[k]:>9.3f}" for k in range(m))
            lines.append(f"  {c.ljust(width)}{row}{self.kmo_per_variable[c]:>8.3f}")
        lines.append("")
        lines.append("  sign: each eigenvector's largest-|.| entry is positive; scores have mean 0")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def _p(p: float) -> str:
    if not np.isfinite(p):
        return "NaN"
    return "<0.001" if p < 0.001 else f"{p:.3f}"

"""Results of a multiple estimation: ``feols("y ~ csw0(x1, x2) | sw(unit, year)", df)`` or
``feols(..., split="province")``."""

from __future__ import annotations

import html
from collections.abc import Iterator, Mapping
from typing import Any

import polars as pl

from pilotdid._args import check_level
from pilotdid._core import PilotdidError
from pilotdid.results._protocol import REPR_LIMIT, Summary, to_pandas
from pilotdid.results.feols import FeolsResult


class FeolsMulti:
    """The fits of one multiple-estimation call, in pyfixest's order and under its names
    (``all_fitted_models`` keys: ``"y ~ x1 + x2 | unit"``, with ``" (Sample: g = a)"`` for a
    split sample).

    A list of :class:`FeolsResult` that also knows the names: ``len(m)``, ``m[0]``,
    ``m[-1]``, ``m["y ~ x1 | unit"]``, ``for fit in m`` (the fits), ``m.models`` (a dict
    name -> fit), ``keys()``/``values()``/``items()``. ``tidy()`` stacks the models' tables
    under a ``model`` column; ``summary()`` shows them one after the other.

    ``etable(m)`` lays out one column per model (``etable_columns()``: titled by the sample
    of a split, untitled otherwise, as fixest's etable). The class is registered as a
    ``collections.abc.Mapping`` (name -> fit) for code that expects one; iteration still
    yields the fits, as a list would, and ``dict(m)`` gives name -> fit.
    """

    def __init__(
        self,
        formula: str,
        models: Mapping[str, FeolsResult],
        *,
        split: str | None = None,
        samples: Mapping[str, str] | None = None,
    ) -> None:
        if not models:
            raise PilotdidError(f"formula '{formula}': multiple estimation gave no model")
        #: The formula as written (with its sw/csw operators).
        self.formula = formula
        #: The split column (split= or fsplit=), None without one.
        self.split = split
        self._models: dict[str, FeolsResult] = dict(models)
        # model name -> its sample ("Full sample", "province = Anhui") under split/fsplit
        self._samples: dict[str, str] = dict(samples or {})
        self._names = list(self._models)

    # --- list and mapping access ------------------------------------------------------------
    @property
    def models(self) -> dict[str, FeolsResult]:
        """name -> fit, in order (a copy)."""
        return dict(self._models)

    def keys(self) -> list[str]:
        return list(self._names)

    def values(self) -> list[FeolsResult]:
        return list(self._models.values())

    def items(self) -> list[tuple[str, FeolsResult]]:
        return list(self._models.items())

    def etable_columns(self) -> list[tuple[str | None, FeolsResult]]:
        """(column title, fit) per model for ``etable``, titled as fixest's etable does: by
        the sample of a split ("Full sample", "province = Anhui") and otherwise not at all
        (the dependent-variable, coefficient and fixed-effect rows already tell the models
        apart; the formula would repeat them)."""
        return [(self._samples.get(name), fit) for name, fit in self._models.items()]

    def to_list(self) -> list[FeolsResult]:
        """The fits, in order (pyfixest's ``to_list``)."""
        return self.values()

    def get(self, name: str, default: Any = None) -> Any:
        return self._models.get(name, default)

    def __len__(self) -> int:
        return len(self._names)

    def __iter__(self) -> Iterator[FeolsResult]:
        return iter(self.values())

    def __contains__(self, key: object) -> bool:
        return key in self._models or any(key is m for m in self._models.values())

    def __getitem__(self, key: int | str | slice) -> Any:
        if isinstance(key, str):
            if key not in self._models:
                raise KeyError(
                    f"no model named {key!r}; models: {', '.join(repr(n) for n in self._names)}"
                )
            return self._models[key]
        if isinstance(key, slice):
            return self.values()[key]
        if isinstance(key, int) and not isinstance(key, bool):
            if not -len(self) <= key < len(self):
                raise IndexError(f"model {key} out of range: there are {len(self)} models")
            return self._models[self._names[key]]
        raise TypeError(
            f"index a FeolsMulti by position (int) or model name (str), not {type(key).__name__}"
        )

    # --- the numbers ----------------------------------------------------------------------
    def tidy(self, level: float = 0.95, *, as_pandas: bool = False) -> Any:
        """Every model's ``tidy()``, stacked, with the model's name in a first ``model``
        column."""
        level = check_level(level)
        frame = pl.concat(
            [
                fit.tidy(level).select(pl.lit(name).alias("model"), pl.all())
                for name, fit in self._models.items()
            ],
            how="vertical",
        )
        return to_pandas(frame) if as_pandas else frame

    def coef(self) -> dict[str, dict[str, float]]:
        """name -> {term: estimate}."""
        return {name: fit.coef() for name, fit in self._models.items()}

    def se(self) -> dict[str, dict[str, float]]:
        """name -> {term: standard error}."""
        return {name: fit.se() for name, fit in self._models.items()}

    def pvalue(self) -> dict[str, dict[str, float]]:
        return {name: fit.pvalue() for name, fit in self._models.items()}

    @property
    def nobs(self) -> dict[str, int]:
        """name -> observations used."""
        return {name: fit.nobs for name, fit in self._models.items()}

    # --- display --------------------------------------------------------------------------
    def summary(self, level: float = 0.95) -> Summary:
        """Each model's summary under its name."""
        level = check_level(level)
        blocks = [
            f"Model {i + 1} of {len(self)}: {name}\n{fit.summary(level)}"
            for i, (name, fit) in enumerate(self._models.items())
        ]
        text = f"Multiple estimation: {self.formula} ({len(self)} models)\n\n" + "\n\n".join(blocks)
        return Summary(text)

    def __repr__(self) -> str:
        names = "; ".join(self._names)
        head = f"FeolsMulti: {len(self)} models of {self.formula}: "
        tail = "; .summary(), .tidy(), etable(...)"
        room = REPR_LIMIT - 2 - len(head) - len(tail)
        if len(names) > room:
            names = names[: max(room - 3, 0)] + "..."
        return f"<{head}{names}{tail}>"

    def _repr_html_(self) -> str:
        return (
            f"<p>Multiple estimation <code>{html.escape(self.formula)}</code>: "
            f"{len(self)} models</p>" + self.summary()._repr_html_()
        )


# etable takes {title: result} mappings through items(); see the class docstring.
Mapping.register(FeolsMulti)

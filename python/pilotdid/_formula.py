"""fixest formula syntax: ``y ~ x1 + x2 | unit + year`` with interacted effects ``prov^year``.

Plain column names go straight to the core (the fast path); any other term (transforms,
interactions, ``C()``) is expanded by formulaic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pilotdid._core import PilotdidError

# A plain column name: letters (any script, so Chinese names work), digits, '_' and '.', not
# starting with a digit.
_NAME = re.compile(r"^[^\W\d][\w.]*$")


def is_formula_name(name: str) -> bool:
    """True when ``name`` can stand in a formula as a plain column name."""
    return isinstance(name, str) and _NAME.match(name) is not None


@dataclass(frozen=True)
class FixestFormula:
    """A parsed formula: outcome, right-hand-side terms, fixed-effect terms."""

    text: str
    depvar: str
    rhs: tuple[str, ...]
    intercept: bool
    fixef: tuple[tuple[str, ...], ...]

    @property
    def simple(self) -> bool:
        """True when every regressor is a plain column name."""
        return all(_NAME.match(t) for t in self.rhs)

    @property
    def fixef_names(self) -> list[str]:
        return ["^".join(f) for f in self.fixef]


def _split_top(text: str, sep: str) -> list[str]:
    """Split on `sep` outside parentheses and brackets."""
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth < 0:
                raise PilotdidError(f"formula: unbalanced parentheses in '{text}'")
        if ch == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if depth != 0:
        raise PilotdidError(f"formula: unbalanced parentheses in '{text}'")
    parts.append("".join(cur))
    return parts


def parse_formula(fml: str) -> FixestFormula:
    if not isinstance(fml, str):
        raise PilotdidError(
            f"option 'fml': the formula must be a string like 'y ~ x1 + x2 | unit + year', "
            f"got {type(fml).__name__} {fml!r}"
        )
    sides = fml.split("~")
    if len(sides) != 2:
        raise PilotdidError(f"formula '{fml}' must contain exactly one '~'")
    lhs, rhs_all = sides[0].strip(), sides[1]
    if not lhs:
        raise PilotdidError(f"formula '{fml}': no outcome on the left of '~'")
    if not _NAME.match(lhs):
        raise PilotdidError(
            f"formula '{fml}': the outcome must be a column name, got '{lhs}' "
            "(create transformed outcomes as columns first)"
        )
    parts = _split_top(rhs_all, "|")
    if len(parts) > 2:
        raise PilotdidError(
            f"formula '{fml}': more than one '|' (instrumental variables are not supported yet)"
        )
    terms = [t.strip() for t in _split_top(parts[0], "+")]
    if any(t == "" for t in terms):
        raise PilotdidError(f"formula '{fml}': empty term on the right of '~' (a stray '+'?)")
    intercept = True
    rhs: list[str] = []
    for t in terms:
        if t in ("0", "-1"):
            intercept = False
        elif t == "1":
            intercept = True
        elif t.startswith("-"):
            raise PilotdidError(f"formula '{fml}': term removal '{t}' is not supported")
        else:
            rhs.append(t)
    fixef: list[tuple[str, ...]] = []
    if len(parts) == 2:
        fe_terms = [t.strip() for t in parts[1].split("+")]
        if any(t == "" for t in fe_terms):
            raise PilotdidError(f"formula '{fml}': empty fixed-effect term after '|'")
        for t in fe_terms:
            if t == "0":
                continue
            names = tuple(v.strip() for v in t.split("^"))
            bad = [v for v in names if not _NAME.match(v)]
            if bad:
                raise PilotdidError(
                    f"formula '{fml}': fixed effect '{t}' must be column names joined by '^'"
                )
            fixef.append(names)
    if not rhs:
        raise PilotdidError(f"formula '{fml}': no regressors on the right of '~'")
    return FixestFormula(
        text=fml, depvar=lhs, rhs=tuple(rhs), intercept=intercept, fixef=tuple(fixef)
    )


def required_columns(f: FixestFormula) -> list[str]:
    """Every data column the formula reads."""
    cols = [f.depvar]
    if f.simple:
        cols += list(f.rhs)
    else:
        from formulaic import Formula

        try:
            req = Formula(" + ".join(f.rhs)).required_variables
        except Exception as exc:  # formulaic's parser errors have several types
            raise PilotdidError(f"formula '{f.text}': {exc}") from exc
        cols += sorted(str(v) for v in req)
    for fe in f.fixef:
        cols += list(fe)
    return list(dict.fromkeys(cols))

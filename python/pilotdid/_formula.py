"""fixest formula syntax: ``y ~ x1 + x2 | unit + year`` with interacted effects ``prov^year``.

Plain column names and fixest's ``i(var, ref=)`` / ``i(var, treat, ref=)`` interactions go
straight to the core (the fast path: pilotdid builds the dummies); any other term (transforms,
``C()``, ``a:b``) is expanded by formulaic.

Multiple estimation (``sw``, ``sw0``, ``csw``, ``csw0`` and several outcomes) is expanded here
into single formulas by :func:`expand_formula`, the way pyfixest 0.60 does it (text
replacement), so that each model's formula is also its pyfixest name.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Any

from pilotdid._core import PilotdidError

# A plain column name: letters (any script, so Chinese names work), digits, '_' and '.', not
# starting with a digit.
_NAME = re.compile(r"^[^\W\d][\w.]*$")


def is_formula_name(name: str) -> bool:
    """True when ``name`` can stand in a formula as a plain column name."""
    return isinstance(name, str) and _NAME.match(name) is not None


#: fixest's multiple-estimation operators (pyfixest 0.60 also has mvsw, not supported here).
_ME_CALL = re.compile(r"^(sw0|sw|csw0|csw|mvsw)\s*\((.*)\)$", re.S)
_ME_ANYWHERE = re.compile(r"(?<![\w.])(sw0|sw|csw0|csw|mvsw)\s*\(")
_C_CALL = re.compile(r"^c\s*\((.*)\)$", re.S)
_I_CALL = re.compile(r"^i\s*\((.*)\)$", re.S)
_I_ANYWHERE = re.compile(r"(?<![\w.])i\s*\(")
_KEYWORD_ARG = re.compile(r"^([A-Za-z_]\w*)\s*=(?!=)\s*(.*)$", re.S)


def _unsupported(fml: str, what: str) -> PilotdidError:
    return PilotdidError(f"formula '{fml}': not supported: {what}")


@dataclass(frozen=True)
class ITerm:
    """fixest's ``i(var, ref=v)`` (one dummy per value of ``var`` except the reference values)
    or ``i(var, treat, ref=v)`` (those dummies times the numeric column ``treat``).

    Coefficient names follow fixest / pyfixest 0.60: ``var::level`` and ``var::level:treat``
    (``year::2012:treat``); a level prints as Python prints the column's value (``2012``,
    ``2012.0`` for a float column, ``Anhui``).
    """

    text: str
    var: str
    treat: str | None
    ref: tuple[Any, ...] | None

    @property
    def columns(self) -> list[str]:
        return [self.var] + ([self.treat] if self.treat else [])


def _literal(fml: str, term: str, text: str) -> tuple[Any, ...]:
    """A ref value: a number, a quoted string, or a list of them ([2012, 2013] or R's c())."""
    text = text.strip()
    m = _C_CALL.match(text)
    if m:
        text = f"[{m.group(1)}]"
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise PilotdidError(
            f"formula '{fml}': in '{term}', ref={text} must be a number, a quoted string, or a "
            "list of them (ref=2013, ref='Anhui', ref=[2012, 2013])"
        ) from None
    values = tuple(value) if isinstance(value, (list, tuple)) else (value,)
    if not values or any(isinstance(v, (list, tuple, dict, set)) or v is None for v in values):
        raise PilotdidError(
            f"formula '{fml}': in '{term}', ref={text} must be a number, a quoted string, or a "
            "non-empty list of them"
        )
    return values


def parse_i_term(fml: str, term: str) -> ITerm | None:
    """``i(...)`` -> ITerm; None for any other term. fixest's other i() options (keep, bin,
    ref2, a factor ``treat``) raise 'not supported'."""
    m = _I_CALL.match(term.strip())
    if not m:
        return None
    args = [a.strip() for a in _split_top(m.group(1), ",")]
    positional: list[str] = []
    ref: tuple[Any, ...] | None = None
    for a in args:
        kw = _KEYWORD_ARG.match(a)
        if kw:
            key, value = kw.group(1), kw.group(2)
            if key != "ref":
                raise _unsupported(fml, f"i() option '{key}' in '{term}' (only ref= is)")
            if ref is not None:
                raise PilotdidError(f"formula '{fml}': ref given twice in '{term}'")
            ref = _literal(fml, term, value)
        elif positional and len(positional) == 2 and ref is None:
            ref = _literal(fml, term, a)  # fixest's third positional argument is ref
        elif not a:
            raise PilotdidError(f"formula '{fml}': empty argument in '{term}'")
        else:
            positional.append(a)
    if not 1 <= len(positional) <= 2:
        raise PilotdidError(
            f"formula '{fml}': '{term}' must be i(var), i(var, ref=v), i(var, treat) or "
            "i(var, treat, ref=v)"
        )
    bad = [a for a in positional if not _NAME.match(a)]
    if bad:
        raise _unsupported(
            fml, f"'{bad[0]}' in '{term}': the arguments of i() must be column names"
        )
    return ITerm(
        text=term.strip(),
        var=positional[0],
        treat=positional[1] if len(positional) == 2 else None,
        ref=ref,
    )


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
    def fast(self) -> bool:
        """True when every regressor is a plain column name or an ``i()`` term (pilotdid builds
        the design itself; formulaic is not needed)."""
        return all(_NAME.match(t) or _I_CALL.match(t) for t in self.rhs)

    def i_terms(self) -> dict[str, ITerm]:
        """The ``i()`` terms, by their text."""
        out = {}
        for t in self.rhs:
            it = parse_i_term(self.text, t)
            if it is not None:
                out[t] = it
        return out

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
    op = _ME_ANYWHERE.search(fml)
    if op:
        raise PilotdidError(
            f"formula '{fml}': multiple estimation ('{op.group(1)}(...)') is expanded by feols "
            "only; this function fits one model: write one formula"
        )
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
            if t in ("0", "1"):  # "1": the zero step of sw0/csw0 in the fixed-effect part
                continue
            names = tuple(v.strip() for v in t.split("^"))
            bad = [v for v in names if not _NAME.match(v)]
            if bad:
                raise PilotdidError(
                    f"formula '{fml}': fixed effect '{t}' must be column names joined by '^'"
                )
            fixef.append(names)
    # 'y ~ 1 | fe' (the zero step of sw0()/csw0() with fixed effects) is the fixed effects
    # alone, fitted without coefficients; without fixed effects a model needs the intercept.
    if not rhs and not intercept and not fixef:
        raise PilotdidError(f"formula '{fml}': no regressors on the right of '~'")
    out = FixestFormula(
        text=fml, depvar=lhs, rhs=tuple(rhs), intercept=intercept, fixef=tuple(fixef)
    )
    i_terms = out.i_terms()
    for t in rhs:
        if t not in i_terms and _I_ANYWHERE.search(t):
            raise _unsupported(
                fml, f"i() inside another term ('{t}'); write i(var, treat, ref=v) as a term"
            )
    if i_terms and not out.fast:
        other = next(t for t in rhs if not (_NAME.match(t) or t in i_terms))
        raise _unsupported(
            fml,
            f"i() together with the transformed term '{other}'; create that column first "
            "(i() terms combine with plain column names)",
        )
    return out


def required_columns(f: FixestFormula) -> list[str]:
    """Every data column the formula reads."""
    cols = [f.depvar]
    if f.fast:
        i_terms = f.i_terms()
        for t in f.rhs:
            cols += i_terms[t].columns if t in i_terms else [t]
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


def _me_call(fml: str, part: str, text: str) -> tuple[str, str, list[str]] | None:
    """The one multiple-estimation call among the '+'-terms of ``text`` -> (kind, call text,
    arguments); None without one. Two, or one nested in another term, are refused."""
    calls = []
    for term in _split_top(text, "+"):
        t = term.strip()
        m = _ME_CALL.match(t)
        if m and _split_top_ok(m.group(2)):
            calls.append((m.group(1), t, [a.strip() for a in _split_top(m.group(2), ",")]))
        elif _ME_ANYWHERE.search(t):
            op = _ME_ANYWHERE.search(t).group(1)
            raise _unsupported(fml, f"'{op}()' inside another term ('{t}') on the {part}")
    if len(calls) > 1:
        raise _unsupported(fml, f"more than one multiple-estimation operator on the {part}")
    if not calls:
        return None
    kind, call, args = calls[0]
    if kind == "mvsw":
        raise _unsupported(fml, f"'mvsw()' on the {part} (sw, sw0, csw and csw0 are)")
    if any(a == "" for a in args):
        raise PilotdidError(f"formula '{fml}': empty argument in '{call}'")
    return kind, call, args


def _split_top_ok(inner: str) -> bool:
    """True when the parentheses of a call's argument text balance (so 'sw(a) + f(b)' is not
    read as one call)."""
    depth = 0
    for ch in inner:
        depth += ch == "("
        depth -= ch == ")"
        if depth < 0:
            return False
    return depth == 0


def _steps(kind: str, args: list[str]) -> list[str]:
    """What replaces the call in each model (pyfixest's text expansion; '1' is the zero step)."""
    if kind in ("csw", "csw0"):
        args = [" + ".join(args[: i + 1]) for i in range(len(args))]
    return (["1"] if kind in ("sw0", "csw0") else []) + list(args)


def _replace_term(text: str, call: str, step: str) -> str:
    """``text`` with the call (a whole '+'-term) replaced by ``step``, spacing kept."""
    i = text.index(call)
    return text[:i] + step + text[i + len(call) :]


def expand_formula(fml: Any) -> list[str] | None:
    """Multiple estimation -> the single formulas, in pyfixest 0.60's order and with its
    names (each formula text is its model's name); None when ``fml`` is one model.

    Order: fixed-effect step outermost, then outcome, then right-hand-side step (pyfixest
    groups models by fixed effects; the split sample, when asked, is outside all three).
    Several outcomes: ``y1 + y2 ~``, ``sw(y1, y2) ~`` or fixest's ``c(y1, y2) ~``. At most one
    operator on the right-hand side and one in the fixed effects (as fixest).
    """
    if not isinstance(fml, str) or fml.count("~") != 1:
        return None  # parse_formula explains
    lhs_raw, rest = fml.split("~")
    if "~" in rest:
        return None
    parts = _split_top(rest, "|")
    rhs_raw = parts[0]
    fe_raw = parts[1] if len(parts) == 2 else None
    if len(parts) > 2:
        return None
    # --- outcomes --------------------------------------------------------------------------
    deps = [d.strip() for d in _split_top(lhs_raw, "+")]
    lhs_template: str | None = None
    outcomes: list[str] = []
    if len(deps) > 1:
        # pyfixest rewrites 'y1 + y2 ~ x' as 'sw(y1, y2) ~ x' (rhs without leading spaces)
        outcomes = deps
        rhs_raw = rhs_raw.lstrip()
        lhs_template = "{y} ~ "
    else:
        dep = deps[0]
        m = _ME_CALL.match(dep) or (("c", _C_CALL.match(dep)) if _C_CALL.match(dep) else None)
        if isinstance(m, tuple):  # c(y1, y2)
            outcomes = [a.strip() for a in _split_top(m[1].group(1), ",")]
        elif m is not None:
            if m.group(1) != "sw":
                raise _unsupported(
                    fml,
                    f"'{m.group(1)}()' on the left-hand side (several outcomes: sw(y1, y2), "
                    "c(y1, y2) or y1 + y2)",
                )
            outcomes = [a.strip() for a in _split_top(m.group(2), ",")]
        elif _ME_ANYWHERE.search(dep):
            raise _unsupported(fml, f"'{dep}' on the left-hand side")
        if outcomes:
            i = lhs_raw.index(dep)
            lhs_template = (
                lhs_raw[:i].replace("{", "{{").replace("}", "}}")
                + "{y}"
                + (lhs_raw[i + len(dep) :].replace("{", "{{").replace("}", "}}"))
                + "~"
            )
    if any(not o for o in outcomes):
        raise PilotdidError(f"formula '{fml}': empty outcome in '{lhs_raw.strip()}'")
    rhs_call = _me_call(fml, "right-hand side", rhs_raw)
    fe_call = _me_call(fml, "fixed-effect part", fe_raw) if fe_raw is not None else None
    if not outcomes and rhs_call is None and fe_call is None:
        return None
    rhs_steps = (
        [_replace_term(rhs_raw, rhs_call[1], s) for s in _steps(rhs_call[0], rhs_call[2])]
        if rhs_call
        else [rhs_raw]
    )
    fe_steps: list[str | None] = (
        [_replace_term(fe_raw, fe_call[1], s) for s in _steps(fe_call[0], fe_call[2])]
        if fe_call and fe_raw is not None
        else [fe_raw]
    )
    out = []
    for fe in fe_steps:
        for y in outcomes or [None]:
            lhs = lhs_template.format(y=y) if y is not None and lhs_template else lhs_raw + "~"
            for rhs in rhs_steps:
                # pyfixest's name: 'lhs ~ rhs' stripped, then ' | fe' unless fe is 0 or 1
                text = (lhs + rhs).strip()
                fe_text = None if fe is None else fe.strip()
                if fe_text is not None and fe_text not in ("0", "1"):
                    text = f"{text} | {fe_text}"
                out.append(text)
    return out

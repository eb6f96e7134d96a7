"""python/pilotdid/_core.pyi describes the compiled extension exactly (STYLE.md: keep the stub
in step with every exported function and class).

Reference: the extension itself (``pilotdid._core``, introspected) against the stub parsed with
``ast``. Every public name of the module is in the stub and vice versa; each class's public
attributes are its stub body's names, getters as ``@property`` and methods as ``def``; each
function's and method's parameters (names, order, keyword-only marker, which have defaults,
and literal default values) are the stub's.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import pilotdid
from pilotdid import _core

STUB = Path(pilotdid.__file__).with_name("_core.pyi")
TREE = ast.parse(STUB.read_text(encoding="utf-8"))
FUNCS = {n.name: n for n in TREE.body if isinstance(n, ast.FunctionDef)}
CLASSES = {n.name: n for n in TREE.body if isinstance(n, ast.ClassDef)}


def _public(names) -> set[str]:
    return {n for n in names if not n.startswith("_")}


def _assigned(body: list[ast.stmt]) -> set[str]:
    """Names bound by (annotated) assignments in a stub body."""
    out = set()
    for node in body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            out.add(node.target.id)
        elif isinstance(node, ast.Assign):
            out.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return out


def _is_property(node: ast.FunctionDef) -> bool:
    return any(isinstance(d, ast.Name) and d.id == "property" for d in node.decorator_list)


def _stub_params(node: ast.FunctionDef, *, method: bool) -> list[tuple[str, str, object]]:
    """(name, kind, default) per parameter; default is ``inspect.Parameter.empty``, ``...``
    or the literal; ``self``/``cls`` dropped for methods."""
    a = node.args
    assert not a.vararg and not a.kwarg and not a.posonlyargs, f"{node.name}: *args/**kw/'/'"
    pos = list(a.args)
    if method:
        pos = pos[1:]
    pos_defaults = [inspect.Parameter.empty] * (len(a.args) - len(a.defaults)) + list(a.defaults)
    if method:
        pos_defaults = pos_defaults[1:]
    out = [(p.arg, "POSITIONAL_OR_KEYWORD", d) for p, d in zip(pos, pos_defaults)]
    out += [
        (p.arg, "KEYWORD_ONLY", inspect.Parameter.empty if d is None else d)
        for p, d in zip(a.kwonlyargs, a.kw_defaults)
    ]

    def literal(d: object) -> object:
        if d is inspect.Parameter.empty:
            return d
        v = ast.literal_eval(d)
        return v

    return [(n, k, literal(d)) for n, k, d in out]


def _real_params(obj: object) -> list[tuple[str, str, object]]:
    sig = inspect.signature(obj)
    return [
        (p.name, p.kind.name, p.default)
        for p in sig.parameters.values()
        if p.name not in ("self", "cls")
    ]


def _same_params(stub: list, real: list, where: str) -> None:
    assert [(n, k) for n, k, _ in stub] == [(n, k) for n, k, _ in real], where
    for (name, _, sd), (_, _, rd) in zip(stub, real):
        empty = inspect.Parameter.empty
        assert (sd is empty) == (rd is empty), f"{where}: default of '{name}'"
        if sd is not empty and sd is not Ellipsis:
            assert sd == rd, f"{where}: default of '{name}' is {rd!r} in the extension"


def test_every_public_name_is_in_the_stub_and_vice_versa():
    module = _public(dir(_core))
    stub = _public(FUNCS) | _public(CLASSES) | _public(_assigned(TREE.body))
    assert sorted(module - stub) == [], "in pilotdid._core but not in _core.pyi"
    assert sorted(stub - module) == [], "in _core.pyi but not in pilotdid._core"


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_class_attributes_match_the_stub(name):
    cls = getattr(_core, name)
    assert isinstance(cls, type)
    body = CLASSES[name].body
    stub_defs = {n.name: n for n in body if isinstance(n, ast.FunctionDef)}
    stub = _public(stub_defs) | _public(_assigned(body))
    real = _public(vars(cls))
    assert sorted(real - stub) == [], f"{name}: attributes missing from the stub"
    assert sorted(stub - real) == [], f"{name}: stub attributes the class does not have"
    for attr in sorted(real):
        descr = vars(cls)[attr]
        is_getter = inspect.isdatadescriptor(descr)
        node = stub_defs.get(attr)
        if node is None:  # an annotated attribute in the stub: must be a getter
            assert is_getter, f"{name}.{attr} is a method, annotated as an attribute"
            continue
        assert _is_property(node) == is_getter, (
            f"{name}.{attr}: {'getter' if is_getter else 'method'} in the extension"
        )
        if not is_getter:
            _same_params(
                _stub_params(node, method=True),
                _real_params(getattr(cls, attr)),
                f"{name}.{attr}",
            )


@pytest.mark.parametrize("name", sorted(_public(CLASSES) - {"PilotdidError"}))
def test_result_classes_live_in_the_core_module_and_only_the_core_builds_them(name):
    """A class with ``__new__`` in the stub has that constructor; every other class is a
    result that only the extension creates."""
    cls = getattr(_core, name)
    assert cls.__module__ == "pilotdid._core"
    new = next((n for n in CLASSES[name].body if getattr(n, "name", "") == "__new__"), None)
    if new is None:
        with pytest.raises(TypeError):
            cls()
    else:
        _same_params(_stub_params(new, method=True), _real_params(cls), f"{name}()")


@pytest.mark.parametrize("name", sorted(FUNCS))
def test_function_signatures_match_the_stub(name):
    """Names, order, keyword-only marker and defaults of every parameter."""
    _same_params(_stub_params(FUNCS[name], method=False), _real_params(getattr(_core, name)), name)


def test_no_binding_takes_more_than_six_positional_parameters():
    """Options after the data are keyword-only (issue 14)."""

    def positional(params: list) -> int:
        return sum(k == "POSITIONAL_OR_KEYWORD" for _, k, _ in params)

    too_many = [n for n in FUNCS if positional(_real_params(getattr(_core, n))) > 6]
    for c in CLASSES.values():
        cls = getattr(_core, c.name)
        for attr, descr in vars(cls).items():
            if not attr.startswith("_") and callable(descr):
                if positional(_real_params(getattr(cls, attr))) > 6:
                    too_many.append(f"{c.name}.{attr}")
    assert too_many == []

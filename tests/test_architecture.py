"""The house rules of python/pilotdid (issue 14, part 4), checked on the source itself.

- No import cycle between files: every import statement counts, including the ones inside
  functions (an import that is deferred to break a cycle is still a cycle).
- Layers (see ARCHITECTURE.md): results never import an estimator family, output or study;
  output imports results, never a family or study; a family (did, spatial, mechanisms,
  robust, green) never imports another family: the one way across is pilotdid.registry.
- No module of pilotdid is named like a function it exports (``pilotdid.did.bacon`` would be
  the function, not the module, after ``import pilotdid``).

Edges: ``import a.b`` and ``from a.b import c`` give a -> a.b, or a -> a.b.c when c is a
submodule; the implicit import of parent packages is not an edge (Python runs a package's
``__init__`` before its submodules; that is not a cycle of ours).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "python"
PKG = ROOT / "pilotdid"
FAMILIES = ("did", "spatial", "mechanisms", "robust", "green")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    # Only modules of real packages: a folder without __init__.py (datasets/yrd, which holds
    # data and the script that regenerates them) is not part of the import graph, and importing
    # it would bind a namespace package over the function of the same name (datasets.yrd).
    found = {
        _module_name(p): p
        for p in PKG.rglob("*.py")
        if all((d / "__init__.py").exists() for d in p.parents if d.is_relative_to(PKG))
    }
    # the compiled extension: a leaf (it imports no Python module of ours)
    found["pilotdid._core"] = PKG / "_core.pyi"
    return found


MODULES = _modules()


def _imports(path: Path) -> set[str]:
    me = _module_name(path)
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("pilotdid"):
                    out.add(a.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = me.split(".")[: -node.level] if path.name != "__init__.py" else me.split(".")
                base = ".".join(pkg + ([base] if base else []))
            if not base.startswith("pilotdid"):
                continue
            for a in node.names:
                sub = f"{base}.{a.name}"
                out.add(sub if sub in MODULES else base)
    out.discard(me)
    return {m for m in out if m in MODULES}


GRAPH = {m: (_imports(p) if p.suffix == ".py" else set()) for m, p in MODULES.items()}


def _family(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in FAMILIES else None


def _strongly_connected(graph: dict) -> list[list]:
    """Tarjan: the strongly connected components with more than one node (the cycles)."""
    index: dict = {}
    low: dict = {}
    stack: list = []
    on: set = set()
    cycles: list[list] = []
    counter = [0]

    def visit(v) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return cycles


def test_the_graph_is_not_empty():
    assert len(MODULES) > 40
    assert "pilotdid.did.event_studies" in GRAPH["pilotdid.did"]


def test_no_import_cycle():
    cycles = _strongly_connected(GRAPH)
    assert not cycles, f"import cycles: {cycles}"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _family(m)))
def test_a_family_imports_no_other_family(module):
    mine = _family(module)
    foreign = sorted(m for m in GRAPH[module] if _family(m) not in (None, mine))
    assert not foreign, f"{module} imports {foreign}; go through pilotdid.registry"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("pilotdid.results")))
def test_results_import_no_family_output_or_study(module):
    bad = sorted(
        m
        for m in GRAPH[module]
        if _family(m) or m.startswith(("pilotdid.output", "pilotdid.study", "pilotdid.registry"))
    )
    assert not bad, f"{module} imports {bad}: results sit below the families and the output"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("pilotdid.output")))
def test_output_reads_results_only(module):
    bad = sorted(m for m in GRAPH[module] if _family(m) or m.startswith("pilotdid.study"))
    assert not bad, f"{module} imports {bad}: tables and figures read results only"


def test_only_study_and_the_facade_import_everything():
    """The registry is the only non-family module below study that reaches into a family."""
    reach = {
        m
        for m, deps in GRAPH.items()
        if not _family(m)
        and not m.startswith(("pilotdid.study", "pilotdid.cli"))
        and m != "pilotdid"
        and any(_family(d) for d in deps)
    }
    assert reach == {"pilotdid.registry"}, reach


def test_no_module_is_shadowed_by_a_function():
    import importlib

    import pilotdid

    shadowed = []
    for m in MODULES:
        parent, _, leaf = m.rpartition(".")
        if not parent:
            continue
        obj = getattr(importlib.import_module(parent), leaf, None)
        if obj is not None and callable(obj) and not isinstance(obj, type(pilotdid)):
            shadowed.append(m)
    assert not shadowed, f"modules hidden behind a function of the same name: {shadowed}"


# -- the Rust crates ---------------------------------------------------------------------------
SRC = ROOT.parent / "src"  # crate pilotdid: re-exports the core, adds the faer families
CORE_SRC = ROOT.parent / "core" / "src"  # crate pilotdid-core: no faer dependency
DENSE_SRC = ROOT.parent / "dense" / "src"  # crate pilotdid-dense: the core's faer kernels
BINDINGS_SRC = ROOT.parent / "bindings" / "src"  # the PyO3 extension, crate pilotdid-python
BINDINGS_CORE_SRC = ROOT.parent / "bindings" / "core" / "src"  # crate pilotdid-python-core


def _rust_graph(src: Path = SRC) -> dict[tuple[str, ...], set[tuple[str, ...]]]:
    """File -> files it names through `crate::...` and `super::...` paths (comments ignored).
    A path resolves to its longest prefix that is a file; a file naming its own ancestor module
    (a `mod.rs` re-export) is not an edge: the parent declares the child, not a cycle of ours."""
    files: dict[tuple[str, ...], Path] = {}
    for p in src.rglob("*.rs"):
        parts = list(p.relative_to(src).with_suffix("").parts)
        if parts[-1] in ("mod", "lib"):
            parts.pop()
        files[tuple(parts)] = p

    def resolve(path: list[str]) -> tuple[str, ...] | None:
        for k in range(len(path), 0, -1):
            if tuple(path[:k]) in files:
                return tuple(path[:k])
        return None

    pattern = re.compile(r"crate::([\w:]+)(?:::\{([^}]*)\})?")
    super_pattern = re.compile(r"super::([\w:]+)(?:::\{([^}]*)\})?")
    graph: dict[tuple[str, ...], set[tuple[str, ...]]] = {}
    for key, p in files.items():
        code = "\n".join(line.split("//")[0] for line in p.read_text(encoding="utf-8").splitlines())
        deps = set()
        matches = [(m, []) for m in pattern.finditer(code)]
        matches += [(m, list(key[:-1])) for m in super_pattern.finditer(code)]
        for m, prefix in matches:
            base = prefix + m.group(1).split("::")
            targets = [base]
            if m.group(2):
                targets = [base + [x.strip().split("::")[0]] for x in m.group(2).split(",")]
            for tg in targets:
                r = resolve(tg)
                if r and r != key and key[: len(r)] != r:
                    deps.add(r)
        graph[key] = deps
    return graph


def test_no_file_cycle_in_the_rust_crates():
    graph = _rust_graph()
    assert ("spatial", "models") in graph and ("spatial", "sac") in graph
    assert ("spatial", "likelihood") in graph[("spatial", "sac")]
    cycles = _strongly_connected(graph)
    assert not cycles, f"file cycles in src/: {cycles}"
    core = _rust_graph(CORE_SRC)
    assert ("inference", "multiplier") in core[("did", "att_gt")]
    cycles = _strongly_connected(core)
    assert not cycles, f"file cycles in core/src/: {cycles}"


def test_no_file_cycle_in_the_bindings_crates():
    graph = _rust_graph(BINDINGS_CORE_SRC)
    assert ("exposure",) in graph and ("staggered",) in graph[("exposure",)]
    cycles = _strongly_connected(graph)
    assert not cycles, f"file cycles in bindings/core/src/: {cycles}"
    graph = _rust_graph(BINDINGS_SRC)
    assert ("weights",) in graph[("spatial",)]
    cycles = _strongly_connected(graph)
    assert not cycles, f"file cycles in bindings/src/: {cycles}"


def test_the_core_bindings_do_not_wait_for_faer():
    """pilotdid-python-core binds pilotdid-core only, so that it compiles beside faer too."""
    assert _dependencies(ROOT.parent / "bindings" / "core" / "Cargo.toml").split() == [
        "pilotdid-core",
        "ndarray",
        "pyo3",
        "numpy",
    ]
    named = [
        p.name for p in BINDINGS_CORE_SRC.rglob("*.rs") if re.search(r"\bpilotdid::", p.read_text())
    ]
    assert not named, f"core bindings naming the faer-dependent crate: {named}"


def _dependencies(manifest: Path) -> str:
    """The crate names of a manifest's [dependencies] table, one per line (comments dropped)."""
    table = manifest.read_text(encoding="utf-8").split("[dependencies]")[1].split("\n[")[0]
    return "\n".join(re.findall(r"^([\w-]+)\s*=", table, flags=re.M))


def test_the_library_crates_know_nothing_of_python():
    """The layer rule across the crate boundary: the library (pilotdid, pilotdid-core,
    pilotdid-dense) neither depends on PyO3/numpy nor names them, so it builds and tests
    without Python; only bindings/ does."""
    for crate_dir in (ROOT.parent, ROOT.parent / "core", ROOT.parent / "dense"):
        deps = _dependencies(crate_dir / "Cargo.toml")
        assert "pyo3" not in deps and "numpy" not in deps, crate_dir
    named = [
        p.name
        for src in (SRC, CORE_SRC, DENSE_SRC)
        for p in src.rglob("*.rs")
        if re.search(r"\bpyo3::|\bnumpy::", p.read_text())
    ]
    assert not named, f"library files naming PyO3/numpy: {named}"


def test_the_core_crate_does_not_depend_on_faer():
    """pilotdid-core compiles beside faer only while it does not depend on it (ARCHITECTURE,
    "Five Rust crates"): faer reaches it through the kernels that pilotdid-dense defines."""
    assert "faer" not in _dependencies(ROOT.parent / "core" / "Cargo.toml")
    named = [p.name for p in CORE_SRC.rglob("*.rs") if re.search(r"\bfaer::", p.read_text())]
    assert not named, f"core files naming faer: {named}"
    declared = (CORE_SRC / "linalg" / "mod.rs").read_text(encoding="utf-8")
    defined = (DENSE_SRC / "lib.rs").read_text(encoding="utf-8")
    kernels = re.findall(r"fn (pilotdid_dense_\w+)", declared)
    assert len(kernels) == 3 and all(f"pub fn {k}(" in defined for k in kernels)

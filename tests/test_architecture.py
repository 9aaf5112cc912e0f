"""The import contract: dependencies run one way, and no project module imports itself back.

Layers, lowest first: ``ranking`` <- ``clients`` <- arena core (models, services, selectors,
...) <- ``workers.tasks``, ``arena.api``, ``arena.web``, ``arena.admin``,
``arena.management``. Every import statement of every module counts: module-level and
inside functions (a lazy import still runs, and still ties the two modules together),
``import x`` and ``from x import y``, absolute and relative, and those under
``TYPE_CHECKING``. The test reads the source with :mod:`ast`; it imports nothing.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("ranking", "clients", "arena", "workers")

#: Arena core: the domain, its reads and writes, and what they stand on.
ARENA_CORE = (
    "arena.apps",
    "arena.env",
    "arena.exceptions",
    "arena.formats",
    "arena.logformat",
    "arena.migrations",
    "arena.models",
    "arena.selectors",
    "arena.services",
    "arena.settings",
)
#: The upper layers of ``arena``: HTTP, admin and command entry points core must never import.
ARENA_UPPER = (
    "arena.admin",
    "arena.api",
    "arena.management",
    "arena.middleware",
    "arena.urls",
    "arena.validation",
    "arena.web",
    "arena.wsgi",
)
#: The Celery app and its broker transport: core may import these two (to enqueue by name).
CELERY_PLUMBING = ("workers.celery", "workers.broker")


def module_name(path: Path, root: Path) -> str:
    """``arena/services/votes.py`` -> ``arena.services.votes`` (``pkg/__init__.py`` -> ``pkg``)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules(root: Path = ROOT, packages: Iterable[str] = PACKAGES) -> dict[str, Path]:
    """Every module of the project packages, by dotted name."""
    found: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            found[module_name(path, root)] = path
    return found


def imported_names(source: str, *, module: str, is_package: bool) -> list[tuple[str, int]]:
    """The dotted names every import statement of ``source`` may load, with their line.

    ``from p import n`` gives ``p`` and ``p.n`` (``n`` may be a submodule); relative imports
    are resolved against ``module``. Statements anywhere in the tree count, not only at the
    top of the module.
    """
    package = module if is_package else module.rpartition(".")[0]
    names: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                if node.level - 1 > len(base_parts) - 1:
                    raise ValueError(f"{module}:{node.lineno}: relative import beyond the top")
                base = ".".join(base_parts[: len(base_parts) - (node.level - 1)])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            names.append((target, node.lineno))
            names.extend(
                (f"{target}.{alias.name}", node.lineno) for alias in node.names if alias.name != "*"
            )
    return names


def import_graph(modules: Mapping[str, Path]) -> dict[str, dict[str, int]]:
    """``importer -> {imported project module: first line}``.

    A dotted name that is not a module itself (``arena.models.Battle``) counts as its
    longest prefix that is one (``arena.models``).
    """
    graph: dict[str, dict[str, int]] = {}
    for name, path in modules.items():
        edges: dict[str, int] = {}
        source = path.read_text(encoding="utf-8")
        for dotted, line in imported_names(
            source, module=name, is_package=path.name == "__init__.py"
        ):
            parts = dotted.split(".")
            while parts and ".".join(parts) not in modules:
                parts.pop()
            target = ".".join(parts)
            if target and target != name:
                edges.setdefault(target, line)
        graph[name] = edges
    return graph


def strongly_connected(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, list[str]]] = [(start, sorted(graph.get(start, ())))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, todo = work[-1]
            if todo:
                nxt = todo.pop(0)
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, sorted(graph.get(nxt, ()))))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return sorted(components)


def _within(name: str, prefixes: Iterable[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _violations(
    graph: Mapping[str, Mapping[str, int]],
    modules: Mapping[str, Path],
    *,
    importers: Iterable[str],
    allowed: Iterable[str] = (),
    forbidden: Iterable[str] = (),
    exempt: Iterable[str] = (),
    skip: Iterable[str] = (),
) -> list[str]:
    """``path:line (importer) imports target`` for each project import the rule refuses.

    With ``allowed``, only those packages may be imported; with ``forbidden``, those may not,
    except the ``exempt`` ones. Importers within ``skip`` are not checked.
    """
    allowed, forbidden, exempt = tuple(allowed), tuple(forbidden), tuple(exempt)
    importers, skip = tuple(importers), tuple(skip)
    found = []
    for importer, edges in sorted(graph.items()):
        if not _within(importer, importers) or _within(importer, skip):
            continue
        for target, line in sorted(edges.items()):
            refused = (bool(allowed) and not _within(target, allowed)) or (
                _within(target, forbidden) and not _within(target, exempt)
            )
            if refused:
                path = modules[importer].relative_to(ROOT)
                found.append(f"{path}:{line} ({importer}) imports {target}")
    return found


@pytest.fixture(scope="module")
def project() -> tuple[dict[str, Path], dict[str, dict[str, int]]]:
    modules = project_modules()
    return modules, import_graph(modules)


# --------------------------------------------------------------------------- the reader itself


def test_the_reader_sees_every_kind_of_import():
    source = (
        "import os\n"
        "import arena.models as m\n"
        "from . import sibling\n"
        "from ..selectors.web import page\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from ranking.types import Battles\n"
        "def f():\n"
        "    from workers.tasks import matches\n"
        "    class C:\n"
        "        def g(self):\n"
        "            import clients.http\n"
    )
    names = {n for n, _ in imported_names(source, module="arena.services.x", is_package=False)}
    assert {
        "os",
        "arena.models",
        "arena.services",
        "arena.services.sibling",
        "arena.selectors.web",
        "arena.selectors.web.page",
        "ranking.types",
        "workers.tasks",
        "workers.tasks.matches",
        "clients.http",
    } <= names
    in_package = imported_names("from . import a", module="arena.services", is_package=True)
    assert ("arena.services.a", 1) in in_package


def test_the_graph_maps_names_to_modules_and_finds_cycles(tmp_path):
    (tmp_path / "pkg").mkdir()
    files = {
        "pkg/__init__.py": "",
        "pkg/a.py": "from pkg.b import thing\n",
        "pkg/b.py": "def f():\n    from . import c\n",
        "pkg/c.py": "import pkg.a\n",
        "pkg/d.py": "from pkg import a\nimport json\n",
        "pkg/e.py": "from .f import x\n",
        "pkg/f.py": "from .e import y\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).write_text(text)
    modules = project_modules(tmp_path, ["pkg"])
    graph = import_graph(modules)
    assert graph["pkg.a"] == {"pkg.b": 1}
    assert graph["pkg.b"] == {"pkg": 2, "pkg.c": 2}
    assert graph["pkg.d"] == {"pkg": 1, "pkg.a": 1}
    # a -> b -> c -> a, and e <-> f; d only points into the first cycle
    assert strongly_connected(graph) == [["pkg.a", "pkg.b", "pkg.c"], ["pkg.e", "pkg.f"]]
    assert strongly_connected({"x": ["y"], "y": ["z"], "z": []}) == []


# --------------------------------------------------------------------------- the contract


def test_the_project_is_read(project):
    modules, graph = project
    for expected in ("ranking", "clients.http", "arena.services.votes", "workers.tasks.matches"):
        assert expected in modules
    assert sum(len(e) for e in graph.values()) > 100


def test_ranking_imports_nothing_of_the_project(project):
    modules, graph = project
    assert _violations(graph, modules, importers=["ranking"], allowed=["ranking"]) == []


def test_clients_import_only_ranking(project):
    modules, graph = project
    found = _violations(graph, modules, importers=["clients"], allowed=["clients", "ranking"])
    assert found == []


def test_the_celery_app_and_its_broker_import_no_project_code(project):
    modules, graph = project
    assert _violations(graph, modules, importers=CELERY_PLUMBING, allowed=["nothing"]) == []


def test_every_arena_module_has_a_layer(project):
    modules, _ = project
    unplaced = [
        m
        for m in modules
        if m != "arena" and m.startswith("arena.") and not _within(m, (*ARENA_CORE, *ARENA_UPPER))
    ]
    assert unplaced == [], f"place these modules in ARENA_CORE or ARENA_UPPER: {unplaced}"


def test_workers_tasks_import_only_core_and_below(project):
    modules, graph = project
    found = _violations(graph, modules, importers=["workers.tasks"], forbidden=ARENA_UPPER)
    assert found == []


def test_core_imports_no_upper_layer(project):
    modules, graph = project
    found = _violations(
        graph,
        modules,
        importers=("arena", *ARENA_CORE),
        skip=ARENA_UPPER,
        forbidden=(*ARENA_UPPER, "workers"),
        exempt=CELERY_PLUMBING,
    )
    assert found == [], "core imports an upper layer:\n" + "\n".join(found)


def test_no_import_cycles(project):
    _, graph = project
    cycles = strongly_connected(graph)
    listing = "\n".join(" <-> ".join(c) for c in cycles)
    assert cycles == [], f"{len(cycles)} import cycle(s):\n{listing}"


@pytest.mark.parametrize("package", ["ranking", "clients"])
def test_no_import_cycle_within_the_libraries(project, package):
    """The libraries below the service have no cycle, whatever the rest of the project has."""
    _, graph = project
    inside = {
        name: [t for t in edges if _within(t, [package])]
        for name, edges in graph.items()
        if _within(name, [package])
    }
    cycles = strongly_connected(inside)
    listing = "\n".join(" <-> ".join(c) for c in cycles)
    assert cycles == [], f"{len(cycles)} import cycle(s) in {package}:\n{listing}"

"""The import structure: no cycle inside webhooks/, and the engine never imports up.

Read from the source with ast, so imports inside functions count too: a lazy import that closes
a circle is still a circle.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# What the engine may not import: the layers that listen to it or use it.
ABOVE_THE_ENGINE = ("services", "observability", "views", "portal", "admin", "tasks")
# What the transport may not import: it is below the engine, which uses it.
ABOVE_THE_TRANSPORT = ("engine", *ABOVE_THE_ENGINE)


def modules(root: Path, package: str) -> dict[str, Path]:
    """Return {dotted name: path} of the package's modules, migrations left out."""
    found = {}
    for path in (root / package).rglob("*.py"):
        if "migrations" in path.parts:
            continue
        parts = path.relative_to(root).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """Return each module's imports of the package's own modules."""
    known = modules(root, package)
    graph = {}
    for name, path in known.items():
        here = name if path.name == "__init__.py" else name.rpartition(".")[0]
        imported = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parent = here.split(".")[: len(here.split(".")) - node.level + 1]
                    base = ".".join([*parent, base] if base else parent)
                for alias in node.names:
                    # "from package import module" imports the module, not the package
                    candidate = f"{base}.{alias.name}"
                    imported.add(candidate if candidate in known else base)
        graph[name] = {module for module in imported if module in known and module != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Return the strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for neighbour in sorted(graph[node]):
            if neighbour not in index:
                visit(neighbour)
                low[node] = min(low[node], low[neighbour])
            elif neighbour in on_stack:
                low[node] = min(low[node], index[neighbour])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def upward_imports(graph: dict[str, set[str]], layer: str, above: tuple[str, ...]) -> list[str]:
    """Return "a -> b" for each module of layer that imports a module of a layer above it."""

    def within(module: str, names: tuple[str, ...]) -> bool:
        return any(module == f"webhooks.{n}" or module.startswith(f"webhooks.{n}.") for n in names)

    return sorted(
        f"{module} -> {imported}"
        for module, imports in graph.items()
        if within(module, (layer,))
        for imported in imports
        if within(imported, above)
    )


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph(ROOT, "webhooks")


def test_no_module_of_the_app_imports_itself_in_a_circle(graph):
    assert cycles(graph) == []


def test_the_engine_never_imports_the_layers_above_it(graph):
    assert "webhooks.engine.lanes" in graph  # the walk sees the engine
    assert upward_imports(graph, "engine", ABOVE_THE_ENGINE) == []


def test_the_transport_never_imports_the_engine_or_above(graph):
    assert "webhooks.transport.deadline" in graph
    assert upward_imports(graph, "transport", ABOVE_THE_TRANSPORT) == []


def test_the_checks_find_a_circle_and_an_upward_import(tmp_path):
    # given a small package whose engine imports a service that imports the engine (lazily)
    package = tmp_path / "webhooks"
    (package / "engine").mkdir(parents=True)
    (package / "services").mkdir()
    for init in ("", "engine", "services"):
        (package / init / "__init__.py").write_text("")
    (package / "engine" / "lanes.py").write_text("from webhooks.services import emit\n")
    (package / "services" / "emit.py").write_text(
        "def f():\n    from webhooks.engine import lanes\n"
    )

    small = import_graph(tmp_path, "webhooks")

    assert cycles(small) == [["webhooks.engine.lanes", "webhooks.services.emit"]]
    assert upward_imports(small, "engine", ABOVE_THE_ENGINE) == [
        "webhooks.engine.lanes -> webhooks.services.emit"
    ]

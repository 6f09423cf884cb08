"""The import graph of the ``vmc`` package, read from the source with :mod:`ast` (nothing runs).

Used by ``tests/test_architecture.py`` (the layering rules of ``DESIGN.md``) and
``bench/import_graph.py`` (the figures). Every ``import``/``from ... import`` statement of every
module under the package root becomes an :class:`Import`: where it is (module-level, or inside a
function, where it runs only when the function is called), and what it names (a ``vmc`` module,
resolved to the deepest module file, or an external top-level package such as ``torch``).

Layers, lowest first (a module may import its own layer and the layers below, never above)::

    utils < io, geometry < body, text < motion, render < lwg < subject, data
          < systems, pipeline < tasks < demo < cli

``vmc/__init__.py`` counts as ``utils`` (it must import nothing above), ``vmc/__main__.py`` as
``cli``. Imports under ``if TYPE_CHECKING:`` never run: they count for the layering (a type
annotation is a dependency too) but not for cycles (that is how annotations break them).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "FRAMEWORKS",
    "FRAMEWORK_LAYERS",
    "LAYERS",
    "PURE_LAYERS",
    "Import",
    "ImportGraph",
    "cycles",
    "layer_of",
    "scan_package",
    "upward_imports",
]

#: Layer -> rank; a module must not import a layer of higher rank.
LAYERS: dict[str, int] = {
    "utils": 0,
    "io": 1,
    "geometry": 1,
    "body": 2,
    "text": 2,
    "motion": 3,
    "render": 3,
    "lwg": 4,
    "subject": 5,
    "data": 5,
    "systems": 6,
    "pipeline": 6,
    "tasks": 7,
    "demo": 8,
    "cli": 9,
}
#: Layers of plain ``nn.Module``s and functions (DESIGN.md): no Lightning, no Hydra, no config.
PURE_LAYERS = ("geometry", "body", "text", "motion", "render", "lwg", "io", "subject")
#: External packages the pure layers must not import.
FRAMEWORKS = ("lightning", "pytorch_lightning", "hydra", "omegaconf")
#: ``vmc`` packages the pure layers must not import (the training/config/CLI/demo side).
FRAMEWORK_LAYERS = ("systems", "tasks", "demo", "cli", "data", "pipeline")


@dataclass(frozen=True)
class Import:
    """One import statement's dependency.

    Attributes:
        source: the importing module (``vmc.motion.stage``).
        target: a ``vmc`` module (``vmc.data.resample``) or an external top-level name (``torch``).
        line: line number in the source's file.
        in_function: inside a ``def`` (runs when the function is called, not at import).
        type_checking: under ``if TYPE_CHECKING:`` (never runs).
    """

    source: str
    target: str
    line: int
    in_function: bool
    type_checking: bool

    @property
    def internal(self) -> bool:
        """A ``vmc`` module imports another ``vmc`` module."""
        return self.target == "vmc" or self.target.startswith("vmc.")

    def __str__(self) -> str:
        where = "function" if self.in_function else "module"
        return f"{self.source}:{self.line} -> {self.target} ({where}-level)"


@dataclass
class ImportGraph:
    """Modules of the package (name -> file) and all their imports."""

    root: Path
    modules: dict[str, Path] = field(default_factory=dict)
    imports: list[Import] = field(default_factory=list)

    def internal(self, *, runtime_only: bool = False) -> list[Import]:
        """Imports of one ``vmc`` module by another (``runtime_only``: no ``TYPE_CHECKING``)."""
        return [
            i
            for i in self.imports
            if i.internal and i.target != i.source and not (runtime_only and i.type_checking)
        ]

    def edges(self, *, runtime_only: bool = True) -> set[tuple[str, str]]:
        """Distinct ``(source, target)`` module pairs between ``vmc`` modules."""
        return {(i.source, i.target) for i in self.internal(runtime_only=runtime_only)}

    def lines(self, module: str) -> int:
        """Number of lines of ``module``'s file."""
        return len(self.modules[module].read_text(encoding="utf-8").splitlines())


def _module_name(path: Path, root: Path, package: str) -> str:
    parts = [package, *path.relative_to(root).with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(name: str, modules: Iterable[str]) -> str:
    """The deepest module of the package that ``name`` (dotted) is or lies in."""
    known = set(modules)
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in known:
            return candidate
    return name


class _Collector(ast.NodeVisitor):
    """Collects the imports of one module, noting function scope and ``TYPE_CHECKING``."""

    def __init__(self, module: str, is_package: bool, package: str, modules: set[str]) -> None:
        self.module = module
        self.package = module if is_package else module.rpartition(".")[0]
        self.root_package = package
        self.modules = modules
        self.found: list[Import] = []
        self._depth = 0  # functions we are inside
        self._type_checking = 0  # `if TYPE_CHECKING:` blocks we are inside

    def _add(self, target: str, line: int) -> None:
        if target == self.root_package or target.startswith(self.root_package + "."):
            target = _resolve(target, self.modules)
        else:
            target = target.split(".")[0]
        found = Import(self.module, target, line, self._depth > 0, self._type_checking > 0)
        if found not in self.found:  # `from m import a, b`: one dependency, not two
            self.found.append(found)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node.lineno)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base_parts = self.package.split(".")
            base_parts = base_parts[: len(base_parts) - (node.level - 1)]
            base = ".".join(base_parts + ([node.module] if node.module else []))
        else:
            base = node.module or ""
        for alias in node.names:
            # `from pkg import sub` names the submodule when there is one, else pkg itself.
            full = f"{base}.{alias.name}"
            self._add(full if full in self.modules else base, node.lineno)

    def _visit_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self._depth += 1
        self.generic_visit(node)
        self._depth -= 1

    visit_FunctionDef = _visit_function
    visit_AsyncFunctionDef = _visit_function

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        is_tc = (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
            isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
        )
        if not is_tc:
            self.generic_visit(node)
            return
        self._type_checking += 1
        for child in node.body:
            self.visit(child)
        self._type_checking -= 1
        for child in node.orelse:
            self.visit(child)


def scan_package(root: str | Path, package: str = "vmc") -> ImportGraph:
    """Parse every ``.py`` file under ``root`` (the package folder) and collect its imports."""
    root = Path(root).resolve()
    graph = ImportGraph(root)
    for path in sorted(root.rglob("*.py")):
        graph.modules[_module_name(path, root, package)] = path
    names = set(graph.modules)
    for name, path in graph.modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        collector = _Collector(name, path.name == "__init__.py", package, names)
        collector.visit(tree)
        graph.imports.extend(collector.found)
    return graph


def layer_of(module: str) -> str | None:
    """The layer of a ``vmc`` module (``vmc.motion.stage`` -> ``motion``); ``None`` for a module
    outside every layer (a top-level file or package missing from :data:`LAYERS`)."""
    parts = module.split(".")
    if len(parts) == 1:
        return "utils"  # the package's __init__: it may only import the lowest layer
    if parts[1] == "__main__":
        return "cli"
    return parts[1] if parts[1] in LAYERS else None


def upward_imports(graph: ImportGraph) -> list[Import]:
    """Imports of a higher layer from a lower one (``TYPE_CHECKING`` ones included).

    Modules outside every layer are skipped here (see :func:`layer_of`).
    """
    found = []
    for i in graph.internal():
        source, target = layer_of(i.source), layer_of(i.target)
        if source is not None and target is not None and LAYERS[target] > LAYERS[source]:
            found.append(i)
    return found


def cycles(graph: ImportGraph) -> list[list[str]]:
    """Import cycles: the strongly connected components of more than one module.

    Module- and function-level imports both count (a function-level import only delays a cycle
    to the first call); ``TYPE_CHECKING`` imports do not (they never run). Each component is
    sorted, the list by its first module.
    """
    adjacency: dict[str, set[str]] = {m: set() for m in graph.modules}
    for source, target in graph.edges(runtime_only=True):
        if target in adjacency:
            adjacency[source].add(target)
    # Tarjan's algorithm, iterative (no recursion limit on deep chains).
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0
    for start in sorted(adjacency):
        if start in index:
            continue
        work: list[tuple[str, Iterable[str]]] = [(start, iter(sorted(adjacency[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(adjacency[child]))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
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

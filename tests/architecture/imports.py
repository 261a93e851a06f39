"""Reads a package's import graph from its source (every import: top level, inside
functions, under TYPE_CHECKING) and checks it against layering rules.

Independent of maildesk, so that the contract test can run it on a planted violation too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Graph:
    root: str  # the top package's name, e.g. "maildesk"
    modules: dict[str, Path] = field(default_factory=dict)  # dotted name -> file
    edges: dict[str, set[str]] = field(default_factory=dict)  # module -> modules of root
    external: dict[str, set[str]] = field(default_factory=dict)  # module -> top-level libs

    def package_of(self, module: str, depth: int = 2) -> str:
        """The package a module belongs to, cut to `depth` names:
        `maildesk.inbound.quality.assess` is in `maildesk.inbound` at depth 2 and in
        `maildesk.inbound.quality` at depth 3. A module beside the root's `__init__` (cli,
        the small leaves) is a unit of its own."""
        is_package = self.modules[module].name == "__init__.py"
        package = module if is_package else module.rsplit(".", 1)[0]
        if package == self.root and module != self.root:
            return module
        return ".".join(package.split(".")[:depth])


def read(package_dir: Path) -> Graph:
    root = package_dir.name
    graph = Graph(root)
    for path in sorted(package_dir.rglob("*.py")):
        rel = path.relative_to(package_dir.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        graph.modules[".".join(parts)] = path
    for name, path in graph.modules.items():
        is_package = path.name == "__init__.py"
        graph.edges[name], graph.external[name] = _imports(graph, name, is_package, path)
    return graph


def _imports(graph: Graph, name: str, is_package: bool, path: Path) -> tuple[set[str], set[str]]:
    inside: set[str] = set()
    outside: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(name, is_package, node.module, node.level)
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            if target.split(".")[0] != graph.root:
                outside.add(target.split(".")[0])
                continue
            found = _nearest_module(graph, target)
            if found and found != name:
                inside.add(found)
    return inside, outside


def _absolute(name: str, is_package: bool, module: str | None, level: int) -> str:
    if level == 0:
        return module or ""
    parts = name.split(".")
    if not is_package:
        parts = parts[:-1]
    parts = parts[: len(parts) - (level - 1)]
    return ".".join([*parts, module] if module else parts)


def _nearest_module(graph: Graph, target: str) -> str | None:
    parts = target.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in graph.modules:
            return candidate
        parts.pop()
    return None


def cycles(edges: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def package_edges(graph: Graph, depth: int = 2) -> dict[str, set[str]]:
    """Edges between packages (a module's package imports another's), self-loops dropped."""
    result: dict[str, set[str]] = {}
    for module, targets in graph.edges.items():
        source = graph.package_of(module, depth)
        result.setdefault(source, set())
        for target in targets:
            other = graph.package_of(target, depth)
            if other != source:
                result[source].add(other)
    return result


def upward_imports(graph: Graph, layers: Mapping[str, int]) -> list[str]:
    """Imports from a package to one on the same or a higher layer (other than itself).

    `layers` maps a package (or top-level module) to its height; the faces (cli) are
    highest. Packages on the same height never import each other (inbound, outbound).
    """
    wrong = []
    for module, targets in sorted(graph.edges.items()):
        source = graph.package_of(module)
        for target in sorted(targets):
            other = graph.package_of(target)
            if other == source:
                continue
            if layers[other] >= layers[source]:
                wrong.append(f"{module} -> {target} ({source} may not import {other})")
    return wrong


def reachable(graph: Graph, start: str) -> set[str]:
    seen = {start}
    todo = [start]
    while todo:
        for nxt in graph.edges.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def forbidden_reach(graph: Graph, pure: Iterable[str], forbidden: Iterable[str]) -> list[str]:
    """Each module of a pure package that reaches a forbidden library, directly or through
    another module of the project, with the module that imports it."""
    banned = set(forbidden)
    wrong = []
    for module in sorted(graph.modules):
        if graph.package_of(module) not in set(pure):
            continue
        for through in sorted(reachable(graph, module)):
            for lib in sorted(graph.external[through] & banned):
                wrong.append(f"{module} reaches {lib} through {through}")
    return wrong

"""Layers point down: domains never import a face, no two packages import each other, no module circles.

Every import under ethergate/ counts, also one inside a function: a lazy import still ties the two
modules together, it only hides the circle until run time. Packages are the first name under
`ethergate` (`ethergate.billing.ledger` belongs to `billing`; `ethergate/cli.py` is `cli`).
"""
from __future__ import annotations

import ast
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

SOURCE = Path(__file__).resolve().parent.parent / "ethergate"

# Models, services and queries; each imports only infrastructure and the domains below it.
DOMAINS = {"accounts", "alerts", "billing", "catalog", "incidents", "integrations", "keys", "limits", "mail",
           "usage"}
# What people and programs talk to: HTML pages, machine APIs, the command line.
FACES = {"cli", "console", "docs", "gateway", "status_page", "support"}
# The web application around the faces: the factory and its Flask class, table registry, CSRF and headers,
# error pages, servers.
APP = {"application", "ethergate", "errors", "health", "models", "security", "serving"}
# Plumbing every layer may use.
INFRASTRUCTURE = {"database", "extensions", "group_commit", "i18n", "money", "observability", "operators",
                  "pg_waiting", "settings", "sqlfast", "timeutil", "types"}


@dataclass(frozen=True)
class Import:
    source: str   # importing module, dotted
    target: str   # imported module, dotted
    where: str    # path:line, for the failure message


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def read_imports(root: Path = SOURCE) -> tuple[set[str], list[Import]]:
    paths = {module_name(path, root): path for path in sorted(root.rglob("*.py"))}
    modules = set(paths)
    imports = []
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            where = f"{path.relative_to(root.parent)}:{getattr(node, 'lineno', 0)}"
            for target in dict.fromkeys(imported_modules(node, package, modules)):
                if target != name:
                    imports.append(Import(name, target, where))
    return modules, imports


def imported_modules(node: ast.AST, package: str, modules: set[str]) -> list[str]:
    """The ethergate modules an import statement loads: `from . import x` is module x when x is one."""
    if isinstance(node, ast.Import):
        return [owner(alias.name, modules) for alias in node.names if alias.name.split(".")[0] == "ethergate"]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:
        parts = package.split(".")[:len(package.split(".")) - node.level + 1]
        base = ".".join(parts + ([node.module] if node.module else []))
    else:
        base = node.module or ""
    if base.split(".")[0] != "ethergate":
        return []
    return [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else owner(base, modules)
            for alias in node.names]


def owner(name: str, modules: set[str]) -> str:
    while name not in modules and "." in name:
        name = name.rpartition(".")[0]
    return name


def package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def upward(imports: list[Import]) -> list[Import]:
    return [i for i in imports if package_of(i.source) in DOMAINS and package_of(i.target) in FACES | APP]


def mutual_packages(imports: list[Import]) -> list[tuple[str, str]]:
    uses = {(package_of(i.source), package_of(i.target)) for i in imports
            if package_of(i.source) != package_of(i.target)}
    return sorted((a, b) for a, b in uses if a < b and (b, a) in uses)


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one node (Tarjan), each sorted."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
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

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return sorted(found)


def module_edges(imports: list[Import]) -> dict[str, set[str]]:
    edges = defaultdict(set)
    for i in imports:
        edges[i.source].add(i.target)
    return edges


def package_edges(imports: list[Import]) -> dict[str, set[str]]:
    edges = defaultdict(set)
    for i in imports:
        if package_of(i.source) != package_of(i.target):
            edges[package_of(i.source)].add(package_of(i.target))
    return edges


MODULES, IMPORTS = read_imports()


def test_the_reader_sees_the_code():
    assert len(MODULES) > 150
    assert Import("ethergate.console.credits", "ethergate.billing.ledger", "") in {
        Import(i.source, i.target, "") for i in IMPORTS}
    lazy = [i for i in IMPORTS if i.source == "ethergate" and i.target == "ethergate.console"]
    assert lazy, "imports inside functions count too"


def test_every_package_has_a_layer():
    placed = DOMAINS | FACES | APP | INFRASTRUCTURE
    assert not {package_of(m) for m in MODULES} - placed, "place the new package in one layer above"
    assert len(placed) == len(DOMAINS) + len(FACES) + len(APP) + len(INFRASTRUCTURE)


def test_domains_never_import_a_face_or_the_app():
    assert [f"{i.where}: {i.source} imports {i.target}" for i in upward(IMPORTS)] == []


def test_infrastructure_imports_no_domain_face_or_app():
    above = DOMAINS | FACES | APP
    wrong = [f"{i.where}: {i.source} imports {i.target}" for i in IMPORTS
             if package_of(i.source) in INFRASTRUCTURE and package_of(i.target) in above]
    assert wrong == []


def test_no_two_packages_import_each_other():
    assert mutual_packages(IMPORTS) == []
    assert circles(package_edges(IMPORTS)) == []


def test_no_module_import_circles():
    assert circles(module_edges(IMPORTS)) == []


def test_the_checks_catch_what_they_should():
    made_up = [Import("ethergate.billing.ledger", "ethergate.console.access", "a:1"),
               Import("ethergate.console.access", "ethergate.billing.ledger", "b:1"),
               Import("ethergate.keys.auth", "ethergate.keys.services", "c:1"),
               Import("ethergate.keys.services", "ethergate.keys.auth", "d:1")]
    assert [i.where for i in upward(made_up)] == ["a:1"]
    assert mutual_packages(made_up) == [("billing", "console")]
    assert circles(module_edges(made_up)) == [["ethergate.billing.ledger", "ethergate.console.access"],
                                              ["ethergate.keys.auth", "ethergate.keys.services"]]
    modules = {"ethergate", "ethergate.console", "ethergate.console.access"}
    relative = ast.parse("from . import access, bp\nfrom .access import can").body
    assert imported_modules(relative[0], "ethergate.console", modules) == ["ethergate.console.access",
                                                                           "ethergate.console"]
    assert imported_modules(relative[1], "ethergate.console", modules) == ["ethergate.console.access"]

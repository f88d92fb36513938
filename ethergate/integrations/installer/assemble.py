"""The installer package assembled into the one standard-library file that install.sh and install.ps1
embed and the EtherGate skill keeps: the modules in dependency order, their imports gathered at the top.

Flattening works because every module imports its siblings' names with `from .module import name` and
no two modules define the same top-level name; both rules are checked here, so a change that breaks
them fails the build instead of shipping a script that misbehaves."""
from __future__ import annotations

import ast
import functools
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
# Each module only imports from modules above it, so the flat file defines every name before use.
MODULES = ("targets", "messages", "json5_reader", "yaml_editor", "changes", "layout", "dotenv", "catalog",
           "openclaw", "hermes", "qwen_code", "opencode", "aider", "claude_code", "codex", "planners",
           "skill", "apply", "cli")


class AssemblyError(RuntimeError):
    pass


@functools.cache
def assembled_source() -> str:
    """The shipped installer, built once per process."""
    return assemble({name: (PACKAGE / f"{name}.py").read_text(encoding="utf-8") for name in MODULES},
                    (PACKAGE / "__init__.py").read_text(encoding="utf-8"))


def assemble(modules: dict[str, str], package_init: str) -> str:
    """One program from `modules` (name -> source, in order), headed by the package's docstring."""
    plain_imports: set[tuple[str, str | None]] = set()
    from_imports: dict[str, set[tuple[str, str | None]]] = {}
    defined_in: dict[str, str] = {}
    bodies = []
    for position, (name, source) in enumerate(modules.items()):
        tree = ast.parse(source, filename=f"{name}.py")
        lines = source.splitlines()
        dropped: set[int] = set()
        earlier = set(list(modules)[:position])
        for node in tree.body:
            if _is_docstring(node) and node is tree.body[0]:
                dropped.update(range(node.lineno - 1, node.end_lineno))
            elif isinstance(node, ast.ImportFrom) and node.level:
                _check_sibling_import(name, node, earlier, defined_in)
                dropped.update(range(node.lineno - 1, node.end_lineno))
            elif isinstance(node, ast.ImportFrom):
                if node.module != "__future__":
                    from_imports.setdefault(node.module, set()).update((a.name, a.asname) for a in node.names)
                dropped.update(range(node.lineno - 1, node.end_lineno))
            elif isinstance(node, ast.Import):
                plain_imports.update((a.name, a.asname) for a in node.names)
                dropped.update(range(node.lineno - 1, node.end_lineno))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level and node not in tree.body:
                raise AssemblyError(f"{name}.py: a relative import inside a function cannot be flattened")
        for bound in _top_level_names(tree):
            if bound in defined_in:
                raise AssemblyError(f"{name}.py defines {bound!r}, already defined in {defined_in[bound]}.py")
            defined_in[bound] = name
        body = "\n".join(line for index, line in enumerate(lines) if index not in dropped).strip("\n")
        bodies.append(body)
    header = _docstring_source(package_init)
    imports = [_import_line(module, asname) for module, asname in sorted(plain_imports, key=_order)]
    imports += [f"from {module} import " + ", ".join(_alias(n, a) for n, a in sorted(names, key=_order))
                for module, names in sorted(from_imports.items())]
    imported = {asname or module.split(".")[0] for module, asname in plain_imports}
    imported |= {asname or n for names in from_imports.values() for n, asname in names}
    clash = imported & set(defined_in)
    if clash:
        raise AssemblyError(f"{', '.join(sorted(clash))} is both imported and defined")
    text = header + "\nfrom __future__ import annotations\n\n" + "\n".join(imports) + "\n\n\n" + "\n\n\n".join(bodies) + "\n"
    compile(text, "ethergate_provider.py", "exec")
    return text


def _check_sibling_import(module: str, node: ast.ImportFrom, earlier: set[str], defined_in: dict[str, str]) -> None:
    source = node.module or ""
    if node.level != 1 or not source or source not in earlier:
        raise AssemblyError(f"{module}.py: 'from {'.' * node.level}{source} import' must name a module above it in MODULES")
    for alias in node.names:
        if alias.asname or alias.name == "*":
            raise AssemblyError(f"{module}.py: {alias.name} must be imported under its own name")
        if defined_in.get(alias.name) != source:
            raise AssemblyError(f"{module}.py imports {alias.name!r}, which {source}.py does not define")


def _top_level_names(tree: ast.Module) -> list[str]:
    names = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names.extend(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    return names


def _is_docstring(node: ast.stmt) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


def _docstring_source(package_init: str) -> str:
    tree = ast.parse(package_init)
    if not tree.body or not _is_docstring(tree.body[0]) or len(tree.body) > 1:
        raise AssemblyError("__init__.py must hold only the program's docstring")
    node = tree.body[0]
    return "\n".join(package_init.splitlines()[node.lineno - 1:node.end_lineno])


def _order(item: tuple[str, str | None]) -> tuple[str, str]:
    return item[0], item[1] or ""


def _alias(name: str, asname: str | None) -> str:
    return f"{name} as {asname}" if asname else name


def _import_line(module: str, asname: str | None) -> str:
    return "import " + _alias(module, asname)

"""The installer package, assembled into the one standard-library file the console serves."""
import ast
import subprocess
import sys

import pytest

from ethergate.integrations.installer import assemble as assembly
from ethergate.integrations.installer import json5_reader, skill
from ethergate.integrations.installer.layout import Layout
from tests.integrations.conftest import INSTALL_URL, engine_path

STANDARD_LIBRARY = {"__future__", "argparse", "json", "os", "re", "stat", "sys", "tempfile", "time", "urllib", "pathlib"}


def test_the_assembled_file_compiles_and_answers_help(tmp_path):
    source = assembly.assembled_source()
    compile(source, "ethergate_provider.py", "exec")
    result = subprocess.run([sys.executable, str(engine_path()), "--help"], capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}, cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: install.sh") and "--target" in result.stdout


def test_the_assembly_is_deterministic_and_self_contained():
    assembly.assembled_source.cache_clear()
    first = assembly.assembled_source()
    assembly.assembled_source.cache_clear()
    assert assembly.assembled_source() == first
    tree = ast.parse(first)
    assert not [node for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level]
    top = {alias.name.split(".")[0] for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))
           for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module)])}
    assert top <= STANDARD_LIBRARY
    assert first.startswith('"""EtherGate provider installer') and first.rstrip().endswith("main()")


def test_the_route_serves_exactly_the_assembled_file(app):
    client = app.test_client()
    engine = assembly.assembled_source().rstrip("\n")
    sh = client.get(INSTALL_URL + ".sh").get_data(as_text=True)
    ps1 = client.get(INSTALL_URL + ".ps1").get_data(as_text=True)
    assert sh.split("<<'__ETHERGATE_ENGINE_END__'\n", 1)[1].split("\n__ETHERGATE_ENGINE_END__\n", 1)[0] == engine
    assert ps1.split("$engine = @'\n", 1)[1].split("\n'@\n", 1)[0] == engine


def test_the_package_modules_use_only_the_standard_library_and_their_siblings():
    for path in sorted(assembly.PACKAGE.glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.Import):
                assert {a.name.split(".")[0] for a in node.names} <= STANDARD_LIBRARY | {"ast", "functools"}, path.name
            elif isinstance(node, ast.ImportFrom) and not node.level:
                assert node.module.split(".")[0] in STANDARD_LIBRARY | {"ast", "functools"}, path.name


def test_every_module_is_assembled():
    modules = {p.stem for p in assembly.PACKAGE.glob("*.py")} - {"__init__", "assemble"}
    assert modules == set(assembly.MODULES)


@pytest.mark.parametrize("modules, problem", [
    ({"a": "X = 1\n", "b": "X = 2\n"}, "already defined in a.py"),
    ({"a": "from .b import Y\n", "b": "Y = 1\n"}, "must name a module above it"),
    ({"a": "Y = 1\n", "b": "from .a import Y as Z\n"}, "under its own name"),
    ({"a": "Y = 1\n", "b": "from .a import W\n"}, "does not define"),
    ({"a": "def f():\n    from .b import Y\n"}, "inside a function"),
    ({"a": "from pathlib import Path\n", "b": "Path = 1\n"}, "both imported and defined"),
])
def test_the_assembler_refuses_what_it_cannot_flatten(modules, problem):
    with pytest.raises(assembly.AssemblyError, match=problem):
        assembly.assemble(modules, '"""doc"""\n')


def test_package_modules_work_on_their_own(tmp_path):
    assert json5_reader.json5_loads("{ a: 1, // note\n}") == ({"a": 1}, True)
    layout = Layout("openclaw", tmp_path, tmp_path / "openclaw.json")
    changes = skill.plan_skill(layout, "https://gw.example", "en", "sh", None, "python3")
    copied = next(c for c in changes if c.path.name == "ethergate_provider.py")
    assert copied.text == assembly.assembled_source()

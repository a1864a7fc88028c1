"""The house stays easy to see: no import cycles, no hidden imports, small modules and functions.

The layers themselves (arrows only point down) are import-linter's contract in pyproject.toml,
run by .ci/run and by ``test_the_layers_contract_holds`` below.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
from pathlib import Path

import grimp
import pytest
from _timeouts import GUARD

SRC = Path(__file__).resolve().parents[1] / "src" / "deeprecipe"
ROOT = SRC.parents[1]
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60  # without the docstring


def _modules() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def _cycle(graph: grimp.ImportGraph) -> list[str] | None:
    """One import cycle among deeprecipe's modules, or None (depth-first search)."""
    colour: dict[str, int] = {}
    stack: list[str] = []

    def visit(module: str) -> list[str] | None:
        colour[module] = 1
        stack.append(module)
        for other in sorted(graph.find_modules_directly_imported_by(module)):
            if not other.startswith("deeprecipe"):
                continue
            if colour.get(other) == 1:
                return stack[stack.index(other):] + [other]
            if other not in colour and (found := visit(other)):
                return found
        stack.pop()
        colour[module] = 2
        return None

    for module in sorted(graph.modules):
        if module.startswith("deeprecipe") and module not in colour:
            if found := visit(module):
                return found
    return None


def test_no_import_cycles():
    graph = grimp.build_graph("deeprecipe", exclude_type_checking_imports=True)
    assert _cycle(graph) is None


def test_the_cycle_finder_finds_a_cycle():
    graph = grimp.ImportGraph()
    for name in ("deeprecipe.a", "deeprecipe.b", "deeprecipe.c"):
        graph.add_module(name)
    graph.add_import(importer="deeprecipe.a", imported="deeprecipe.b")
    graph.add_import(importer="deeprecipe.b", imported="deeprecipe.c")
    assert _cycle(graph) is None
    graph.add_import(importer="deeprecipe.c", imported="deeprecipe.a")
    assert _cycle(graph) == ["deeprecipe.a", "deeprecipe.b", "deeprecipe.c", "deeprecipe.a"]


def _function_imports(tree: ast.Module, source: list[str]):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for inner in ast.walk(node):
                if isinstance(inner, (ast.Import, ast.ImportFrom)):
                    yield inner, "\n".join(source[inner.lineno - 1:inner.end_lineno])


def test_function_local_imports_are_lazy_loads_with_a_comment():
    """A lazy import of a heavy dependency is fine, with a one-line comment; an import of
    deeprecipe's own modules hides inside a function only in the CLI (the top face, kept fast),
    never to dodge a cycle, so the linted graph is the real one."""
    offenders = []
    for path in _modules():
        text = path.read_text()
        for node, lines in _function_imports(ast.parse(text), text.splitlines()):
            module = (node.module or "") if isinstance(node, ast.ImportFrom) else \
                node.names[0].name
            ours_outside_cli = (module.startswith("deeprecipe")
                                and path.relative_to(SRC).parts[0] != "cli")
            if ours_outside_cli or "#" not in lines:
                offenders.append(f"{path.relative_to(SRC)}:{node.lineno}: {lines.strip()}")
    assert offenders == []


def test_modules_stay_small():
    big = {str(p.relative_to(SRC)): n for p in _modules()
           if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}
    assert big == {}


def _body_lines(node: ast.FunctionDef) -> int:
    body = node.body
    has_doc = (isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
               and isinstance(body[0].value.value, str) and len(body) > 1)
    start = body[1].lineno if has_doc else body[0].lineno
    return node.end_lineno - start + 1


def test_functions_stay_short():
    long = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if _body_lines(node) > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(SRC)}::{node.name} "
                                f"({_body_lines(node)} lines)")
    assert long == []


def test_every_folder_says_what_lives_there_and_what_it_may_import():
    for init in SRC.glob("*/__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc and "import" in doc.lower(), \
            f"{init.relative_to(SRC)} needs a docstring that says what lives there and what " \
            "it may import"


@pytest.mark.skipif(shutil.which("lint-imports") is None,
                    reason="import-linter is not installed (pip install -e '.[test]')")
def test_the_layers_contract_holds():
    done = subprocess.run([shutil.which("lint-imports")], cwd=ROOT,
                          capture_output=True, text=True, timeout=GUARD)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "Contracts: 1 kept, 0 broken." in done.stdout

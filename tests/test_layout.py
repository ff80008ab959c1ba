"""The package's layout holds what docs/architecture.md promises: subpackages by concern whose
imports point only down the layers, small modules, short functions (static checks on the source)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "pytest_llmlatency"
NAME = PACKAGE.name

LAYERS = ["core", "capture", "cassettes", "advisor", "gate", "budgets", "report", "top"]
"""Bottom to top: a module imports from its own layer or one below it. ``top`` is the modules at
the package root (plugin, fixtures, settings, cli); the emulator stands apart."""

TOP = {"plugin", "fixtures", "settings", "cli"}
MAX_ROOT_MODULES = 12
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _imports(name: str, path: Path) -> list[tuple[int, str]]:
    """Every package module ``name`` imports, lazily or not, as (line, absolute module)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target == NAME or target.startswith(NAME + "."):
                # ``from . import x`` imports the module x when there is one
                found += [(node.lineno, f"{target}.{a.name}") for a in node.names]
                found.append((node.lineno, target))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith(NAME + ".")]
    modules = _modules()
    return [(line, target) for line, target in found if target in modules]


def _layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "package"
    if len(parts) == 2 and parts[1] in TOP:
        return "top"
    return parts[1]


def test_imports_point_down_the_layers() -> None:
    wrong = []
    for name, path in _modules().items():
        here = _layer(name)
        if here == "package":
            continue  # the package's lazy re-exports of the public types
        for line, target in _imports(name, path):
            there = _layer(target)
            if here == "emulator":
                if there != "emulator" and target != f"{NAME}.core.sse":
                    wrong.append(f"{path.name}:{line} (emulator) imports {target}")
            elif there == "emulator":
                if here not in ("top", "report") and not here.startswith("report"):
                    wrong.append(f"{name}:{line} ({here}) imports the emulator ({target})")
            elif there == "package":
                continue  # __version__
            elif LAYERS.index(there) > LAYERS.index(here):
                wrong.append(f"{name}:{line} ({here}) imports {target} ({there}, a layer above)")
    assert not wrong, "\n".join(wrong)


def test_no_import_circle_at_import_time() -> None:
    """Module-level imports only (a lazy import inside a function cannot make a circle at import)."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        graph[name] = set()
        for node in ast.parse(path.read_text()).body:  # not TYPE_CHECKING blocks, not functions
            if isinstance(node, ast.ImportFrom) and node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
                submodules = {f"{target}.{a.name}" for a in node.names} & modules.keys()
                if len(submodules) < len(node.names):  # some names come from the module itself
                    submodules.add(target)
                graph[name] |= {c for c in submodules if c in modules and c != name}
    seen: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        seen[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if seen.get(nxt) == 1:
                pytest.fail("import circle: " + " -> ".join([*stack[stack.index(nxt) :], nxt]))
            if nxt not in seen:
                visit(nxt)
        stack.pop()
        seen[node] = 2

    for module in sorted(graph):
        if module not in seen:
            visit(module)


def test_modules_and_functions_are_small() -> None:
    big = []
    for name, path in _modules().items():
        source = path.read_text()
        lines = source.count("\n")
        if lines > MAX_MODULE_LINES:
            big.append(f"{name}: {lines} lines (at most {MAX_MODULE_LINES})")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    big.append(
                        f"{name}.{node.name} (line {node.lineno}): {length} lines (at most {MAX_FUNCTION_LINES})"
                    )
    assert not big, "\n".join(big)


def test_the_package_root_holds_few_modules() -> None:
    root = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")
    assert len(root) <= MAX_ROOT_MODULES, root
    assert set(root) <= TOP, f"modules at the root that belong in a subpackage: {sorted(set(root) - TOP)}"
    subpackages = sorted(p.parent.name for p in PACKAGE.glob("*/__init__.py"))
    assert subpackages == sorted([*LAYERS[:-1], "emulator"])

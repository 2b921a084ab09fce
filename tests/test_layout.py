"""The shape of the code: engine/ is packages along its ideas with one door, engine/__init__.py.
web/, app.py and bench/ import only what the door hands on; inside engine/ a package uses
another's public names (its __init__), never its modules; no module imports itself back in a
circle; and a module that grows past about 400 lines holds two ideas."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENGINE = ROOT / "engine"
LONGEST_MODULE = 400


def _modules() -> dict[str, Path]:
    """Every module of engine/ by dotted name (migrations are Alembic's, not ours)."""
    found = {}
    for path in ENGINE.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imports(path: Path, name: str) -> list[tuple[str, list[str]]]:
    """(imported module, names) for each import of a module, relative ones made absolute."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.append((module, [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
    return found


def test_web_the_command_line_and_benchmarks_come_through_the_door() -> None:
    callers = [*sorted((ROOT / "web").rglob("*.py")), ROOT / "app.py", *sorted((ROOT / "bench").glob("*.py"))]
    reaching_in = [
        f"{path.relative_to(ROOT)}: {module}"
        for path in callers
        for module, _ in _imports(path, "caller")
        if module.startswith("engine.")
    ]
    assert reaching_in == []


def test_a_package_uses_another_packages_public_names_only() -> None:
    modules = _modules()
    packages = {name for name, path in modules.items() if path.name == "__init__.py" and name != "engine"}
    reaching_in = []
    for name, path in modules.items():
        own = next((p for p in packages if name == p or name.startswith(p + ".")), None)
        for module, _ in _imports(path, name):
            target = next((p for p in packages if module.startswith(p + ".")), None)
            if target is not None and target != own:
                reaching_in.append(f"{name} imports {module}")
    assert reaching_in == []


def test_no_module_imports_itself_back_in_a_circle() -> None:
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for module, names in _imports(path, name):
            if module in modules:
                targets.add(module)
            # `from .pkg import mod` imports a module too
            targets.update(f"{module}.{n}" for n in names if f"{module}.{n}" in modules)
        graph[name] = targets - {name}
    # A package's __init__ importing its own modules is how a package hands on its names; a
    # circle through an __init__ back into its own package is not a circle between ideas.
    circles = []

    def visit(node: str, trail: list[str]) -> None:
        for target in sorted(graph[node]):
            if target in trail:
                circle = trail[trail.index(target):] + [target]
                inits = [m for m in circle if modules[m].name == "__init__.py"]
                if not any(all(c == m or c.startswith(m + ".") for c in circle) for m in inits):
                    circles.append(" -> ".join(circle))
            elif len(trail) < 40:
                visit(target, trail + [target])

    for start in sorted(graph):
        if modules[start].name != "__init__.py":
            visit(start, [start])
    assert sorted(set(circles)) == []


def test_no_engine_module_grows_past_about_four_hundred_lines() -> None:
    long = {
        str(path.relative_to(ROOT)): count
        for path in _modules().values()
        if (count := len(path.read_text().splitlines())) > LONGEST_MODULE
    }
    assert long == {}

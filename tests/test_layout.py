"""The library's shape, as the README's design table promises it: no import cycles, modules of readable size."""

import ast
import pathlib

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "jaxseries"


def imports_of(path: pathlib.Path) -> set[str]:
    """jaxseries modules a file imports, at the top or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("jaxseries"):
            found |= {a.name for a in node.names} if node.module == "jaxseries" else {node.module.split(".")[1]}
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("jaxseries.")}
    return found


def test_no_module_imports_one_that_imports_it_back():
    modules = {p.stem: imports_of(p) for p in PACKAGE.glob("*.py") if p.stem not in ("__init__", "__main__")}
    for start in modules:
        seen, todo = set(), [start]
        while todo:
            for dependency in modules.get(todo.pop(), ()):
                assert dependency != start, f"{start} imports itself back through {sorted(seen)}"
                if dependency not in seen:
                    seen.add(dependency)
                    todo.append(dependency)


def test_every_module_reads_in_one_sitting():
    sizes = {p.name: len(p.read_text().splitlines()) for p in PACKAGE.glob("*.py")}
    assert max(sizes.values()) <= 400, sorted(sizes.items(), key=lambda item: -item[1])[:3]

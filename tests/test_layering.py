"""The import graph runs one way: common <- video <- data <- frame_store <- plugins <- evaluation (common, the process
pool and parent watch, is the lowest layer every package may import), with no circle, and the frame store's root
reaches readers as a value (plugins/frame_source.py reads $FRAME_STORE_DIR; nothing else does).

Every import counts, also one inside a function: hiding an arrow there does not remove it.
"""

import ast
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# package -> the packages of ours it may import
ALLOWED = {
    "common": set(),
    "video": {"common"},
    "data": {"common", "video"},
    "frame_store": {"common", "video", "data"},
    "plugins": {"common", "video", "data", "frame_store"},
    "evaluation": {"common", "video", "data", "frame_store", "plugins"},
}


def _modules() -> dict[str, Path]:
    """module name -> file, for every module of the layered packages."""
    found = {}
    for package in ALLOWED:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imported(path: Path) -> set[str]:
    """Every absolute module name ``path`` imports (``from a.b import c`` names a.b and a.b.c), anywhere in it."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _graph() -> dict[str, set[str]]:
    """module -> the modules of ours it imports."""
    modules = _modules()
    return {
        name: {target for target in _imported(path) if target in modules} - {name} for name, path in modules.items()
    }


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan), each a circle of imports."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_each_package_imports_only_the_layers_below_it():
    wrong = []
    for module, targets in _graph().items():
        package = module.split(".")[0]
        for target in sorted(targets):
            if target.split(".")[0] not in ALLOWED[package] | {package}:
                wrong.append(f"{module} imports {target}")
    assert wrong == []


def test_no_circle_of_imports_among_packages_or_modules():
    graph = _graph()
    packages: dict[str, set[str]] = defaultdict(set)
    for module, targets in graph.items():
        packages[module.split(".")[0]].update(target.split(".")[0] for target in targets)
    assert _cycles({package: targets - {package} for package, targets in packages.items()}) == []
    assert _cycles(graph) == []


def _names_the_variable(node: ast.AST) -> bool:
    """Whether ``node`` is the variable's name itself: "FRAME_STORE_DIR", or the FRAME_STORE_ENV constant holding it
    (messages that tell the user to set it merely mention it inside longer text)."""
    return (isinstance(node, ast.Constant) and node.value == "FRAME_STORE_DIR") or (
        isinstance(node, (ast.Name, ast.Attribute))
        and getattr(node, "id", getattr(node, "attr", None)) == "FRAME_STORE_ENV"
    )


def _reads_the_variable(tree: ast.AST) -> bool:
    """An ``environ[...]`` / ``environ.get(...)`` / ``getenv(...)`` of the variable anywhere in ``tree``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and _names_the_variable(node.slice):
            return True
        if isinstance(node, ast.Call) and any(_names_the_variable(arg) for arg in node.args):
            function = node.func
            if isinstance(function, ast.Attribute) and function.attr in ("get", "getenv", "pop", "setdefault"):
                return True
    return False


def test_only_the_frame_source_reads_the_store_root_from_the_environment():
    """The store root travels as a value; $FRAME_STORE_DIR is the user's override, read at the entry point."""
    readers = [
        str(path.relative_to(REPO))
        for path in [*_modules().values(), *REPO.glob("*.py")]
        if _reads_the_variable(ast.parse(path.read_text()))
    ]
    assert readers == ["plugins/frame_source.py"]
    for path in (REPO / "frame_store").glob("*.py"):
        tree = ast.parse(path.read_text())
        assert not [node for node in ast.walk(tree) if isinstance(node, ast.Attribute) and node.attr == "environ"], path

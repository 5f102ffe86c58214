"""The architecture stays true: the library and the CLI never reach the dashboard, the packages
import each other in layers (no cycle), and a package imports only the layers the README draws."""

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("cascade_core", "cascade_cli", "cascade_draw", "cascade_ui")


def test_nothing_of_the_dashboard_is_imported_by_the_library_or_the_cli():
    code = """
import importlib, pkgutil, sys
for top in ("cascade_core", "cascade_cli"):
    package = importlib.import_module(top)
    for info in pkgutil.walk_packages(package.__path__, top + "."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)
print(sorted({m.split(".")[0] for m in sys.modules} & {"streamlit", "cascade_ui", "plotly", "cascade_draw"}))
"""
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip() == "[]"


def module_imports() -> dict[str, set[str]]:
    """Each module's project imports made when it is imported (module level, not under TYPE_CHECKING),
    with the packages they pass through; a module's own ancestors (its package faces) left out."""
    files = {}
    for top in PACKAGES:
        for path in (REPO / top).rglob("*.py"):
            name = ".".join(path.relative_to(REPO).with_suffix("").parts)
            files[name.removesuffix(".__init__")] = path
    edges: dict[str, set[str]] = {m: set() for m in files}
    for module, path in files.items():
        is_package = path.name == "__init__.py"
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = module.split(".") if is_package else module.split(".")[:-1]
                    base = base[:len(base) - node.level + 1] + ([node.module] if node.module else [])
                    target = ".".join(base)
                else:
                    target = node.module or ""
                targets = [f"{target}.{a.name}" if f"{target}.{a.name}" in files else target for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            for t in targets:
                parts = t.split(".")
                for i in range(1, len(parts) + 1):
                    prefix = ".".join(parts[:i])
                    if prefix in files and prefix != module and not (module + ".").startswith(prefix + "."):
                        edges[module].add(prefix)
    return edges


def test_no_import_cycle():
    edges = module_imports()
    index, low, stack, on, cycles, counter = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(10_000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in list(edges):
        if v not in index:
            visit(v)
    assert cycles == []


# The layers of cascade_core, bottom up (README, "Layout"): a package imports only its own layer and those below.
LAYERS = [
    {"errors", "numbers", "formats", "progress", "home", "params", "plugins", "readback"},
    {"data", "fusion", "metrics", "latency", "models"},
    {"store", "vectors", "remote"},
    {"scorers", "serving"},
    {"cascade"},
    {"scoring"},
    {"judgments"},
    {"analysis"},
    {"tuning"},
    {"doctor", "distill", "export", "present"},
]


def test_each_package_imports_only_the_layers_below_it():
    floor = {name: i for i, layer in enumerate(LAYERS) for name in layer}
    wrong = []
    for module, targets in module_imports().items():
        parts = module.split(".")
        if parts[0] != "cascade_core" or len(parts) < 2:
            continue
        here = floor[parts[1]]
        for target in targets:
            tparts = target.split(".")
            if tparts[0] == "cascade_core" and len(tparts) > 1 and floor[tparts[1]] > here:
                wrong.append(f"{module} -> {target}")
    assert wrong == []

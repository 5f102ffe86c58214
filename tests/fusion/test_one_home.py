"""Fusion is one concept: its names and parameters are written in cascade_core/fusion/ and nowhere
else in the code (the spec, the Build page, the tuner, the doctor, the hybrid first pass and the
Qdrant export all ask the registry)."""

import ast
from pathlib import Path

from cascade_core.fusion import fusion_param_names, registered_fusions

REPO = Path(__file__).resolve().parents[2]
CODE = ["cascade_core", "cascade_cli", "cascade_draw", "cascade_ui", "pages", "app.py"]
HOME = REPO / "cascade_core" / "fusion"


def _docstrings(tree) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def _not_ours(tree) -> set[int]:
    """String constants that are another library's vocabulary: ``errors="replace"`` of a decode,
    and the keys of Qdrant's own REST query body ({"rrf": {"k": ...}}, {"fusion": "dbsf"})."""
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "errors" and isinstance(node.value, ast.Constant):
            ids.add(id(node.value))
    return ids


def stray_copies() -> list[str]:
    words = set(registered_fusions()) | fusion_param_names()
    found = []
    files = [p for c in CODE for p in ((REPO / c).rglob("*.py") if (REPO / c).is_dir() else [REPO / c])]
    for path in files:
        if HOME in path.parents:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = _docstrings(tree) | _not_ours(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
                if node.value in words:
                    found.append(f"{path.relative_to(REPO)}:{node.lineno}: {node.value!r}")
    return found


def test_fusion_names_and_parameters_are_written_in_one_place():
    assert stray_copies() == []

"""Fixtures for the data-layer tests: tiny files written into tmp_path, and the real collections."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

# CI clones the repository with shared/ beside it: <repo>/../shared/data
SHARED_DATA = (Path(__file__).resolve().parents[2] / ".." / "shared" / "data").resolve()


def write_file(path: Path, content: str | bytes, gz: bool = False) -> Path:
    """Write text (UTF-8) or bytes to ``path``, gzipped when ``gz`` (``.gz`` is then appended)."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
    return path


@pytest.fixture
def write(tmp_path):
    """``write("sub/name", content, gz=False)`` -> the path written, under tmp_path."""

    def _write(relative: str, content: str | bytes, gz: bool = False) -> Path:
        return write_file(tmp_path / relative, content, gz)

    return _write


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real collections not found at {SHARED_DATA} (expected <repo>/../shared/data)")
    return SHARED_DATA

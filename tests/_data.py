"""The real data sets in ../shared/data for integration tests (never copied into the repo)."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def require(*names: str) -> list[Path]:
    """The paths of ``names`` in the shared data folder; skips the test naming every one that
    is missing (all of them, so one look says what to fetch)."""
    paths = [DATA / name for name in names]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        pytest.skip(f"missing data: {', '.join(missing)}")
    return paths

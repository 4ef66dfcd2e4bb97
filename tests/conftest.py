"""Shared fixtures. Real data lives beside the repository in ../shared/data (see each
folder's PROVENANCE.md); tests that need it skip with a reason where it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("CARERUN_SHARED_DATA", REPO.parent / "shared" / "data"))
RUTLAND_PBF = SHARED_DATA / "osm" / "rutland-latest.osm.pbf"
LEEDS_PBF = SHARED_DATA / "osm" / "its-example-leeds.osm.pbf"


def need_shared(path: Path) -> Path:
    """Return `path`, or skip the calling test when ../shared/data is not beside this clone."""
    if not path.exists():
        pytest.skip(f"needs {path} (the shared benchmark data beside the repository); absent here")
    return path


@pytest.fixture(scope="session")
def rutland_pbf() -> Path:
    return need_shared(RUTLAND_PBF)


@pytest.fixture(scope="session")
def leeds_pbf() -> Path:
    return need_shared(LEEDS_PBF)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return need_shared(SHARED_DATA)

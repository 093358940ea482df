"""Fixtures of the quality tests: one tiny warehouse per session, a copy of it per test that changes it."""

from __future__ import annotations

import pytest
from quality_helpers import Built, Workspace, build_session_warehouse, copy_home

from orchestration.quality.config import AuditConfig


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> Built:
    """generate --tier tiny --days 120, ingest, then dbt: built once for the whole session."""
    return build_session_warehouse(tmp_path_factory.mktemp("quality"))


@pytest.fixture
def workspace(built, tmp_path) -> Workspace:
    """A copy of the session warehouse (marts and segments; no lake) for a test that changes it."""
    return Workspace(copy_home(built, tmp_path / "home"), built.manifest, built.days, AuditConfig.load())

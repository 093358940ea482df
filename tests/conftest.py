"""Shared fixtures: a throwaway C360_HOME per test, landing files written by hand."""

from __future__ import annotations

import os

import pytest
from landing_helpers import Landing

from orchestration.settings import Settings

# Test lanes (README "Tests"): `pytest -m "not slow"` is the fast lane for every change; CI runs everything.
# A test is marked by what it needs: a `c360` pipeline run (e2e), a dbt build (dbt), a Spark session (spark);
# each of those is also `slow`. Fixtures that imply one mark the tests using them; modules whose own fixtures
# build set `pytestmark` themselves.
FIXTURE_LANES = {
    "tiny_run": "e2e", "shop_only_run": "e2e", "warehouse": "e2e", "warehouse_copy": "e2e", "crash_world": "e2e",
    "built": "dbt", "workspace": "dbt", "engines": "spark",
}
LANES = {"e2e": "runs the c360 pipeline in a subprocess", "dbt": "builds dbt models",
         "spark": "starts a Spark session", "slow": "not in the fast lane (any of e2e, dbt, spark, or marked)"}


def pytest_configure(config):
    """Register the lanes' markers. Two dbt threads for the tests' in-process dbt builds, unless set: on their
    small warehouses a build is mostly dbt's per-model work, which two threads overlap (the default, one, is for
    large data: profiles.yml). `c360` subprocesses (pipeline_helpers.c360) run with the defaults."""
    for name, text in LANES.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    os.environ.setdefault("C360_DBT_THREADS", "2")


def pytest_collection_modifyitems(config, items):
    """Mark each test with the lanes its fixtures imply, and `slow` when it is in any of them."""
    for item in items:
        lanes = {FIXTURE_LANES[f] for f in getattr(item, "fixturenames", ()) if f in FIXTURE_LANES}
        lanes |= {m.name for m in item.iter_markers() if m.name in LANES}
        for lane in sorted(lanes - {"slow"}):
            item.add_marker(getattr(pytest.mark, lane))
        if lanes:
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def c360_env(tmp_path, monkeypatch) -> Settings:
    """Point every C360 variable at a fresh folder; returns the resolved settings."""
    home = tmp_path / "home"
    monkeypatch.setenv("C360_HOME", str(home))
    monkeypatch.setenv("LANDING_ROOT", str(tmp_path / "landing"))
    monkeypatch.delenv("DUCKDB_DATABASE", raising=False)
    monkeypatch.delenv("SERVING_DATABASE", raising=False)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    return Settings.from_env()


@pytest.fixture
def landing(tmp_path) -> Landing:
    """A landing-zone writer rooted at tmp_path/landing."""
    return Landing(tmp_path / "landing")


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """`c360 generate --tier tiny --days 120` then `c360 run`, once per test session: (home, completed run)."""
    from pipeline_helpers import c360

    home = tmp_path_factory.mktemp("c360")
    generated = c360(["generate", "--tier", "tiny", "--days", "120"], home)
    assert generated.returncode == 0, generated.stderr
    # The erasure scan of this home reads every byte of warehouse.duckdb: rewrite it at the purge, not within
    # the default 7 days (C360_ERASURE_REWRITE_DAYS).
    ran = c360(["run"], home, C360_ERASURE_REWRITE_DAYS="0")
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    return home, ran


@pytest.fixture(scope="session")
def shop_only_run(tmp_path_factory):
    """A landing zone with only the required source (shop) over SHOP_ONLY_DAYS, and one `c360 run` over it, once
    per test session: (home, completed run). Shared by the required-sources test and the backfill test, each
    `c360 run` costing about two minutes of CI."""
    from pipeline_helpers import SHOP_ONLY_DAYS, c360

    from orchestration.sample_data import generate

    home = tmp_path_factory.mktemp("shop-only")
    generate(home / "landing", tier="tiny", days=len(SHOP_ONLY_DAYS), end_date=SHOP_ONLY_DAYS[-1], sources={"shop"})
    ran = c360(["run"], home)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    return home, ran


@pytest.fixture(scope="session")
def warehouse(tiny_run):
    """A read-only connection to the warehouse the tiny run built (tests that write use a copy)."""
    import duckdb

    home, _ = tiny_run
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    yield con
    con.close()


@pytest.fixture
def warehouse_copy(tiny_run, tmp_path):
    """A writable copy of the tiny run's warehouse (its raw views read the run's lake, left untouched)."""
    import shutil

    home, _ = tiny_run
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(home / "warehouse.duckdb", copy)
    return copy

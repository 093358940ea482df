"""Shared fixtures: a throwaway C360_HOME per test, landing files written by hand."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from orchestration.settings import Settings


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


class Landing:
    """Writes landing files under a root, the way an exporter would."""

    def __init__(self, root: Path):
        self.root = root

    def path(self, source: str, entity: str, name: str) -> Path:
        """Path of a landing file (folders created)."""
        folder = self.root / source / entity
        folder.mkdir(parents=True, exist_ok=True)
        return folder / name

    def jsonl(self, source: str, entity: str, name: str, records: list, *, compress: bool = False) -> Path:
        """Write records (dicts are serialised, strings written verbatim as a line)."""
        text = "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)
        path = self.path(source, entity, name)
        if compress:
            path.write_bytes(gzip.compress(text.encode(), mtime=0))
        else:
            path.write_text(text)
        return path

    def text(self, source: str, entity: str, name: str, text: str) -> Path:
        """Write a file verbatim."""
        path = self.path(source, entity, name)
        path.write_text(text)
        return path


@pytest.fixture
def landing(tmp_path) -> Landing:
    """A landing-zone writer rooted at tmp_path/landing."""
    return Landing(tmp_path / "landing")


def customer(id_: int, updated: str = "2026-02-01T10:00:00Z", **extra) -> dict:
    """A valid shop customer record."""
    return {"id": id_, "email": f"c{id_}@example.com", "first_name": "C", "last_name": str(id_),
            "created_at": "2026-01-01T10:00:00Z", "updated_at": updated, "accepts_marketing": True, **extra}


def order(id_: int, created: str = "2026-02-01T10:00:00Z", **extra) -> dict:
    """A valid shop order record."""
    return {"id": id_, "order_number": id_, "customer_id": 1001, "email": "c1001@example.com",
            "created_at": created, "updated_at": created, "financial_status": "paid", "source_name": "web",
            "test": False, "currency": "USD", "subtotal_price": "10.00", "total_discounts": "0.00",
            "total_shipping": "0.00", "total_tax": "0.00", "total_price": "10.00",
            "line_items": [{"id": 1, "product_id": "P-100", "quantity": 1, "price": "10.00"}], **extra}


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """`c360 generate --tier tiny --days 120` then `c360 run`, once per test session: (home, completed run)."""
    from pipeline_helpers import c360

    home = tmp_path_factory.mktemp("c360")
    generated = c360(["generate", "--tier", "tiny", "--days", "120"], home)
    assert generated.returncode == 0, generated.stderr
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

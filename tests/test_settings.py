"""Settings from the environment: the first daily partition comes from the landing zone itself."""

from __future__ import annotations

from datetime import date

from dagster import build_schedule_context
from landing_helpers import customer, order

from orchestration.automation.triggers import build_daily_schedule
from orchestration.partitions import daily_partitions
from orchestration.settings import DEFAULT_PARTITION_START, Settings, earliest_export_date


def write_shop_day(landing, day: str) -> None:
    """One day of both required shop entities."""
    landing.jsonl("shop", "customers", f"{day}.jsonl", [customer(1001, updated=f"{day}T10:00:00Z")])
    landing.jsonl("shop", "orders", f"{day}.jsonl", [order(1, created=f"{day}T10:00:00Z")])


def test_a_landing_zone_from_2023_starts_the_partitions_at_its_first_export_date(c360_env, landing, monkeypatch):
    monkeypatch.delenv("C360_PARTITION_START", raising=False)
    for day in ("2023-03-14", "2023-03-15", "2025-06-01"):
        write_shop_day(landing, day)
    # Files that do not follow the layout, or sit outside the contract's entities, do not move the start.
    landing.text("shop", "customers", "1999-01-01-notes.txt", "not an export")
    landing.text("legacy", "dump", "2001-01-01.jsonl", "{}\n")
    settings = Settings.from_env()
    assert settings.partition_start == "2023-03-14"
    partitions = daily_partitions(settings)
    assert partitions.start.date() == date(2023, 3, 14)
    assert partitions.has_partition_key("2023-03-14")
    # The daily schedule (as the product runs it) offers every day of the history, not only those after 2024.
    request = build_daily_schedule(settings, "c360_main")(build_schedule_context())
    assert request.tags["dagster/asset_partition_range_start"] == "2023-03-14"
    assert request.tags["dagster/asset_partition_range_end"] == "2025-06-01"


def test_loaded_raw_partitions_keep_the_start_when_the_landing_zone_drops_old_files(c360_env, landing, monkeypatch):
    monkeypatch.delenv("C360_PARTITION_START", raising=False)
    write_shop_day(landing, "2026-02-01")
    (c360_env.raw_root / "shop__orders" / "dt=2022-11-30").mkdir(parents=True)
    (c360_env.raw_root / "shop__orders" / ".old-dt=2020-01-01").mkdir(parents=True)  # a replaced day's leftover
    assert earliest_export_date(c360_env.landing_root, c360_env.raw_root) == date(2022, 11, 30)
    assert Settings.from_env().partition_start == "2022-11-30"


def test_the_variable_wins_and_an_empty_landing_zone_falls_back_to_the_default(c360_env, landing, monkeypatch):
    monkeypatch.delenv("C360_PARTITION_START", raising=False)
    assert earliest_export_date(c360_env.landing_root, c360_env.raw_root) is None
    assert Settings.from_env().partition_start == DEFAULT_PARTITION_START
    write_shop_day(landing, "2023-01-05")
    monkeypatch.setenv("C360_PARTITION_START", "2023-06-01")
    assert Settings.from_env().partition_start_date == date(2023, 6, 1)


def test_the_global_holdout_share_and_the_lift_minimum_are_read_and_checked(tmp_path):
    import pytest

    base = {"C360_HOME": str(tmp_path)}
    defaults = Settings.from_env(base)
    assert (defaults.global_holdout_share, defaults.lift_min_members) == (0.0, 100)
    chosen = Settings.from_env({**base, "C360_GLOBAL_HOLDOUT_SHARE": "0.05", "C360_LIFT_MIN_MEMBERS": "250"})
    assert (chosen.global_holdout_share, chosen.lift_min_members) == (0.05, 250)
    for bad in ("1", "1.5", "-0.1", "5%", "abc", "nan"):
        with pytest.raises(ValueError, match="C360_GLOBAL_HOLDOUT_SHARE must be a number with 0 <= share < 1"):
            Settings.from_env({**base, "C360_GLOBAL_HOLDOUT_SHARE": bad})
    for bad in ("0", "-5", "ten"):
        with pytest.raises(ValueError, match="C360_LIFT_MIN_MEMBERS must be a positive number of members"):
            Settings.from_env({**base, "C360_LIFT_MIN_MEMBERS": bad})

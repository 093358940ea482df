"""The `c360` surface itself: version, help, the free-disk refusals and the report's exit status.

In process (`cli.main`) or `c360 --help` subprocesses: nothing here builds a warehouse.
"""

from __future__ import annotations

import dataclasses
import subprocess
from importlib.metadata import version

import pytest
from landing_helpers import customer, order
from pipeline_helpers import C360
from test_report import make_serving

from orchestration import cli, disk


def c360_help(*args: str) -> str:
    """What `c360 ... --help` prints, run as a user would."""
    done = subprocess.run([*C360, *args, "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_version_is_the_installed_package_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"c360 {version('customer360')}"


def test_generate_help_says_what_each_tier_costs():
    text = " ".join(c360_help("generate").split())  # argparse wraps lines at the terminal's width
    assert "large = 1M customers" in text and "41 GB of disk" in text and "~10 min" in text
    assert "random seed (default 42)" in text
    assert "--no-disk-check" in text
    assert "--no-disk-check" in " ".join(c360_help("run").split())


def shop_landing(landing) -> None:
    """The two required entities, one day: a landing zone `c360 run` accepts."""
    landing.jsonl("shop", "customers", "2026-02-01.jsonl", [customer(1001)])
    landing.jsonl("shop", "orders", "2026-02-01.jsonl", [order(1)])


def test_generate_refuses_a_tier_larger_than_the_free_disk(c360_env, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(disk, "free_bytes", lambda _path: 5_000_000_000)
    out = tmp_path / "landing-large"
    assert cli.main(["generate", "--tier", "large", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "generate --tier large --days 365 needs about 45.1 GB of free disk" in err
    assert "only 5.0 GB is free" in err and "--no-disk-check" in err
    assert not out.exists()
    # A month of large fits in 5 GB (41 GB a year); gzip shrinks the need about sevenfold.
    assert disk.generate_bytes_needed("large", 30, gzip=False) < 5e9
    assert 6e9 < disk.generate_bytes_needed("large", 365, gzip=True) < 7e9


def test_generate_with_the_override_writes_anyway(c360_env, tmp_path, monkeypatch):
    monkeypatch.setattr(disk, "free_bytes", lambda _path: 0)
    out = tmp_path / "landing-tiny"
    assert cli.main(["generate", "--tier", "tiny", "--days", "3", "--out", str(out)]) == 2
    assert cli.main(["generate", "--tier", "tiny", "--days", "3", "--out", str(out), "--no-disk-check"]) == 0
    assert (out / "shop" / "orders").is_dir()


class StandInRun:
    """What run_main_job returns, without building anything."""

    ok = True

    def render(self) -> str:
        return "stand-in run"


def no_build(monkeypatch, calls: list) -> None:
    """`c360 run` stops where it would start the Dagster run (each would-be run is recorded in `calls`)."""
    from orchestration import run

    monkeypatch.setattr(run, "run_main_job", lambda *args, **kwargs: calls.append(args) or StandInRun())


def test_a_first_run_refuses_when_the_disk_is_smaller_than_the_landing_zone(c360_env, landing, monkeypatch, capsys):
    shop_landing(landing)
    landing_bytes = sum(p.stat().st_size for p in landing.root.rglob("*.jsonl"))
    (landing.root / "web" / "events").mkdir(parents=True)
    (landing.root / "web" / "events" / "2026-02-01.jsonl.gz").write_bytes(b"\0" * 1000)  # counted 7 times
    needed = landing_bytes + 7000
    free, asked, runs = [needed - 1], [], []
    monkeypatch.setattr(disk, "free_bytes", lambda path: asked.append(path) or free[0])
    no_build(monkeypatch, runs)
    assert cli.main(["run"]) == 2
    err = capsys.readouterr().err
    assert "a first run over" in err and "--no-disk-check" in err and runs == []
    assert asked == [c360_env.duckdb_database.parent]
    assert cli.main(["run", "--no-disk-check"]) == 0 and len(runs) == 1
    free[0] = needed  # with the room it needs, the run starts
    assert cli.main(["run"]) == 0 and len(runs) == 2


def test_later_runs_are_not_checked(c360_env, landing, monkeypatch):
    """Only a first run (no warehouse yet) is checked: a daily run writes one day."""
    shop_landing(landing)
    c360_env.duckdb_database.parent.mkdir(parents=True)
    c360_env.duckdb_database.write_bytes(b"")
    runs = []
    monkeypatch.setattr(disk, "free_bytes", lambda _path: pytest.fail("a later run checked the disk"))
    monkeypatch.setattr(cli, "warehouse_lock_problem", lambda _settings: None)
    no_build(monkeypatch, runs)
    assert cli.main(["run"]) == 0 and len(runs) == 1


def test_free_bytes_of_a_path_that_does_not_exist_yet_is_its_parents(tmp_path):
    assert disk.free_bytes(tmp_path / "not" / "yet") == disk.free_bytes(tmp_path)


def test_report_exits_non_zero_when_a_section_fails(c360_env, monkeypatch, capsys):
    from orchestration.report import build

    c360_env.home.mkdir(parents=True)
    make_serving(c360_env.serving_database)
    assert cli.main(["report"]) == 0

    def broken(_db):
        raise ZeroDivisionError("no customers to divide by")

    monkeypatch.setattr(build, "SECTIONS", (dataclasses.replace(build.SECTIONS[0], build=broken), *build.SECTIONS[1:]))
    assert cli.main(["report"]) == 1
    out = capsys.readouterr().out
    assert f"{build.SECTIONS[0].key}: could not be drawn (ZeroDivisionError: no customers to divide by)" in out

"""Write-audit-publish at the raw layer, with real `c360 run`s on copies of the tiny run's home (conftest
`tiny_run`): a late file for an old day that fails its raw audit fails every run until it is fixed, and a day
left loaded but unbuilt by a crash is built by the next plain run into the same tables as an uninterrupted run.

The old day is weeks before the last export date, beyond the incremental tables' lookback: a run that only
rebuilt the newest days would leave its late events out. Cost: two failing runs (ingestion and raw audits only)
and two incremental runs."""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
from pipeline_helpers import c360

from orchestration.ingestion.entities import get_entity
from orchestration.ingestion.landing import scan_entity
from orchestration.ingestion.ledger import current_loads, mark, unfinished
from orchestration.ingestion.loader import connect, load_entity
from orchestration.ingestion.raw_views import create_raw_views

pytestmark = pytest.mark.e2e

LATE = "-late.jsonl"
TABLES = ("intermediate.int_web_events_enriched", "intermediate.int_email_events_enriched", "marts.customer_360",
          "marts.fct_orders")


def copy_home(source: Path, target: Path) -> Path:
    """A copy of a run's C360_HOME whose warehouse's raw views read the copy's own lake."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("logs", "docs"))
    con = duckdb.connect(str(target / "warehouse.duckdb"))
    try:
        create_raw_views(con, target / "lake" / "raw")
    finally:
        con.close()
    return target


def old_day(landing: Path) -> date:
    """The latest export date with reviews, web events and email events at least ten days before the last."""
    def days(folder: str) -> set[date]:
        return {date.fromisoformat(p.name[:10]) for p in (landing / folder).glob("*.jsonl")}

    last = max(days("shop/orders"))
    common = days("reviews/reviews") & days("web/events") & days("esp/email_events")
    return max(d for d in common if d <= last - timedelta(days=10))


def first_record(landing: Path, folder: str, day: date) -> dict:
    with (landing / folder / f"{day}.jsonl").open() as f:
        return json.loads(f.readline())


def write_review(landing: Path, day: date, rating: int) -> Path:
    """A late review file for `day`: one review, rating outside 1..5 fails raw reviews' critical expectation."""
    review = {**first_record(landing, "reviews/reviews", day), "id": "r_late_1", "rating": rating,
              "created_at": f"{day}T12:00:00Z", "updated_at": f"{day}T12:00:00Z"}
    path = landing / "reviews" / "reviews" / f"{day}{LATE}"
    path.write_text(json.dumps(review) + "\n")
    return path


def write_late_events(landing: Path, day: date) -> None:
    """Late web and email events for `day` (copies of that day's first events under new ids)."""
    web = {**first_record(landing, "web/events", day), "messageId": "late-web-event-1"}
    (landing / "web" / "events" / f"{day}{LATE}").write_text(json.dumps(web) + "\n")
    email = {**first_record(landing, "esp/email_events", day), "id": "ev_late_1"}
    (landing / "esp" / "email_events" / f"{day}{LATE}").write_text(json.dumps(email) + "\n")


def table_rows(home: Path) -> dict[str, list[tuple]]:
    """The rows of TABLES, without load-time lineage (each home loaded its files at its own time)."""
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        out = {}
        for table in TABLES:
            schema, name = table.split(".")
            columns = [r[0] for r in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ? "
                "ORDER BY ordinal_position", [schema, name]).fetchall() if "loaded_at" not in r[0]]
            out[table] = con.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY ALL").fetchall()
        return out
    finally:
        con.close()


@pytest.fixture(scope="module")
def fixed_after_failing(tiny_run, tmp_path_factory):
    """A late review file failing its raw audit, two runs, the file corrected in place (with late web and email
    events for the same day landing beside it), a third run: (home, day, [three completed runs], the serving
    file's modification time before the third)."""
    source, _ = tiny_run
    home = copy_home(source, tmp_path_factory.mktemp("ledger") / "home")
    landing = home / "landing"
    day = old_day(landing)
    write_review(landing, day, rating=7)
    runs = [c360(["run"], home), c360(["run"], home)]
    serving_before = (home / "serving.duckdb").stat().st_mtime_ns
    write_review(landing, day, rating=4)
    write_late_events(landing, day)
    runs.append(c360(["run"], home))
    return home, day, runs, serving_before


def test_a_failed_raw_audit_fails_every_run_until_the_file_is_fixed(fixed_after_failing):
    home, day, (first, again, fixed), serving_before = fixed_after_failing
    for ran in (first, again):
        assert ran.returncode == 1, ran.stdout[-3000:] + ran.stderr[-3000:]
        assert "check failed: raw/reviews__reviews:quality_audit (ERROR)" in ran.stdout
        assert f"for export dates {day} .. {day}" in ran.stdout
        assert "published: nothing" in ran.stdout
    # The rerun has nothing new to load, and still audits the day the first run loaded: no bypass.
    assert (f"note: ledger: re-auditing 1 export date ({day}) loaded by an earlier run and not yet audited "
            "(reviews__reviews)") in again.stdout
    assert "the next run takes them up again" in again.stdout
    # The corrected file replaces the unaudited day (no conflict), which is audited, built and published.
    assert fixed.returncode == 0, fixed.stdout[-3000:] + fixed.stderr[-3000:]
    assert "landing_files_consistent" not in fixed.stdout
    assert (home / "serving.duckdb").stat().st_mtime_ns != serving_before
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT rating FROM raw.reviews__reviews WHERE id = 'r_late_1'").fetchall() == [(4,)]
    finally:
        con.close()
    assert unfinished(home / "lake" / "raw") == []


def test_a_day_loaded_and_audited_before_a_crash_is_built_by_the_next_plain_run(fixed_after_failing, tiny_run,
                                                                               tmp_path):
    reference, day, _, _ = fixed_after_failing
    source, _ = tiny_run
    home = copy_home(source, tmp_path / "home")
    landing = home / "landing"
    write_review(landing, day, rating=4)
    write_late_events(landing, day)
    # The state a crash during the dbt step leaves: the day's files loaded (partitions swapped into the lake)
    # and their raw audit passed; nothing built.
    raw_root = home / "lake" / "raw"
    con = connect()
    try:
        for name in ("reviews__reviews", "web__events", "esp__email_events"):
            files, _ = scan_entity(landing, get_entity(name))
            assert [p.status for p in load_entity(con, get_entity(name), files, raw_root, [day]).partitions] == [
                "loaded"]
    finally:
        con.close()
    for entity, loads in current_loads(raw_root, days=[day]).items():
        mark(raw_root, entity, "audited", loads, "crashed-run")
    assert {s.day for s in unfinished(raw_root)} == {day}

    ran = c360(["run"], home)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    assert f"for export dates {day} .. {day}" in ran.stdout
    assert f"note: ledger: building 1 export date ({day}) audited by an earlier run but not yet built" in ran.stdout
    assert unfinished(raw_root) == []
    got, expected = table_rows(home), table_rows(reference)
    assert any(r for r in expected["intermediate.int_web_events_enriched"] if "late-web-event-1" in map(str, r))
    for table in TABLES:
        assert got[table] == expected[table], table

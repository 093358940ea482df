"""The audit on copies of one tiny warehouse: what passes, what blocks, what is only reported, and where it
is recorded (audit.check_results, audit.check_runs, Data Docs)."""

from __future__ import annotations

import json
import statistics
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
from quality_helpers import END, Workspace, raw_workspace

from orchestration.ingestion.entities import ENTITIES
from orchestration.quality.audit import CUSTOMER_360, FCT_ORDERS, AuditRun, AuditTarget, audit_targets
from orchestration.quality.config import AuditConfig, VolumeConfig
from orchestration.quality.results import CheckRecord, RunSummary, failed_blocking_checks
from orchestration.quality.sql_checks import volume_drop


def target(path: tuple[str, ...]) -> AuditTarget:
    """The audit target of an asset."""
    return next(t for t in audit_targets([]) if t.asset_path == path)


def segment_target(name: str) -> AuditTarget:
    """The audit target of a segment."""
    return audit_targets([name])[-1]


def record(summary: RunSummary, name: str) -> CheckRecord:
    """One check's record in an audit summary."""
    return next(r for r in summary.records if r.check_name == name)


def result_row(ws: Workspace, run_id: str, asset: str, check_name: str) -> dict:
    """The one audit.check_results row of a check in a run."""
    with ws.connect() as con:
        cursor = con.execute(
            "SELECT * FROM audit.check_results WHERE run_id = ? AND asset = ? AND check_name = ?",
            [run_id, asset, check_name],
        )
        rows = cursor.fetchall()
        assert len(rows) == 1, rows
        return dict(zip([d[0] for d in cursor.description], rows[0], strict=True))


def a_customer_with_orders(ws: Workspace, n: int = 1) -> list[str]:
    """Keys of the first customers (by key) who ordered."""
    return [r[0] for r in ws.sql(
        "SELECT customer_key FROM marts.customer_360 WHERE orders_count > 0 ORDER BY customer_key LIMIT ?", [n])]


def partition(ws: Workspace, entity: str, day: date) -> Path:
    """The data file of one raw partition in a workspace."""
    return ws.settings.raw_root / entity / f"dt={day.isoformat()}" / "data_0.parquet"


def rewrite_partition(path: Path, select: str) -> None:
    """Replace a partition file by `select` over its old content (`{old}` names it)."""
    tmp = path.with_name("new.parquet")
    with duckdb.connect() as con:
        con.execute(f"COPY ({select.format(old=f'read_parquet({str(path)!r})')}) TO '{tmp}' (FORMAT parquet)")
    tmp.replace(path)


def test_clean_warehouse_passes_every_suite_and_records_everything(built, tmp_path):
    ws = raw_workspace(built, tmp_path, *(e.name for e in ENTITIES))
    auditor = ws.auditor()
    targets = audit_targets([])
    for t in targets:
        summary = auditor.audit(t, ws.run())
        assert summary.passed, (t.asset, [(r.check_name, r.unexpected_keys, r.details) for r in
                                          summary.critical_failures])
        assert summary.rows_validated > 0 or t.asset == "raw/privacy__deletion_requests"
    assert {r[0] for r in ws.sql("SELECT asset FROM audit.check_runs WHERE run_id = 'run-1'")} == {
        t.asset for t in targets}
    counted = ws.sql("SELECT count(*), count(*) FILTER (WHERE status = 'passed') FROM audit.check_results")[0]
    # one row per expectation and per SQL check of every target
    assert counted[0] == sum(len(t.suite().expectations) + len(t.sql_severities(ws.config)) for t in targets)
    assert counted[1] > 0.8 * counted[0]
    assert ws.sql("SELECT DISTINCT as_of_date FROM audit.check_results") == [(END,)]
    docs = ws.settings.home / "docs" / "gx"
    index = (docs / "index.html").read_text()
    for t in targets:
        assert t.suite().name in index
    assert len(list((docs / "validations").rglob("*.html"))) == len(targets)
    assert (docs / "expectations" / "marts" / "customer_360.html").exists()


def test_duplicated_customer_key_is_a_critical_failure_with_its_key_recorded(workspace):
    key = a_customer_with_orders(workspace)[0]
    workspace.sql("INSERT INTO marts.customer_360 SELECT * FROM marts.customer_360 WHERE customer_key = ?", [key])
    summary = workspace.auditor().audit(target(CUSTOMER_360), workspace.run())
    assert not summary.passed and summary.severity == "ERROR"
    unique = record(summary, "expect_column_values_to_be_unique(customer_key)")
    assert (unique.status, unique.severity, unique.unexpected_count) == ("failed", "critical", 2)
    assert unique.unexpected_keys == [{"customer_key": key}]
    row = result_row(workspace, "run-1", "marts/customer_360", "expect_column_values_to_be_unique(customer_key)")
    assert row["success"] is False and row["status"] == "failed" and row["severity"] == "critical"
    assert json.loads(row["unexpected_keys"]) == [{"customer_key": key}]
    assert row["as_of_date"] == END and row["suite"] == "marts.customer_360"
    with workspace.connect() as con:
        blocking = failed_blocking_checks(con, "run-1")
    assert "expect_column_values_to_be_unique(customer_key)" in {b["check_name"] for b in blocking}
    # the duplicate also doubles the person's revenue against fct_orders
    assert record(summary, "revenue_reconciles_with_fct_orders_per_customer").status == "failed"
    assert workspace.sql("SELECT passed, severity FROM audit.check_runs WHERE run_id = 'run-1'") == [(False, "ERROR")]


def test_warning_failure_is_recorded_and_does_not_block(workspace):
    key = a_customer_with_orders(workspace)[0]
    workspace.sql("UPDATE marts.customer_360 SET preferred_channel = 'fax' WHERE customer_key = ?", [key])
    summary = workspace.auditor().audit(target(CUSTOMER_360), workspace.run())
    assert summary.passed and summary.severity == "WARN"
    channel = record(summary, "expect_column_values_to_be_in_set(preferred_channel)")
    assert (channel.status, channel.severity, channel.unexpected_count) == ("failed", "warning", 1)
    assert channel.unexpected_keys == [{"customer_key": key}]
    assert channel.observed_value["unexpected_values"] == [{"value": "fax", "count": 1}]
    row = result_row(workspace, "run-1", "marts/customer_360", channel.check_name)
    assert row["status"] == "failed" and row["severity"] == "warning"
    with workspace.connect() as con:
        assert failed_blocking_checks(con, "run-1") == []
    assert workspace.sql("SELECT passed, severity FROM audit.check_runs") == [(True, "WARN")]


def test_timestamps_after_the_as_of_date_are_critical(workspace):
    key = a_customer_with_orders(workspace)[0]
    workspace.sql("UPDATE marts.customer_360 SET last_site_visit_at = ? WHERE customer_key = ?",
                  [END + timedelta(days=3), key])
    summary = workspace.auditor().audit(target(CUSTOMER_360), workspace.run())
    future = record(summary, "last_site_visit_at_not_after_as_of_date")
    assert (future.status, future.severity, future.unexpected_keys) == ("failed", "critical", [{"customer_key": key}])
    assert future.details["kwargs"]["max_value"].startswith((END + timedelta(days=1)).isoformat())
    assert not summary.passed


def test_as_of_date_must_be_the_runs(workspace):
    run = workspace.run()
    run.as_of_date = END - timedelta(days=1)
    summary = workspace.auditor().audit(target(CUSTOMER_360), run)
    assert record(summary, "as_of_date_is_the_run's").status == "failed"
    # without a pinned as-of date the run cannot say, and the expectation is skipped, not passed
    run.as_of_date, run.run_id = None, "run-2"
    unpinned = workspace.auditor().audit(target(CUSTOMER_360), run)
    assert record(unpinned, "as_of_date_is_the_run's").status == "skipped"
    assert record(unpinned, "last_order_at_not_after_as_of_date").status == "passed"  # from the mart's column


def test_schema_drift_of_a_mart_extra_and_missing_columns(workspace):
    workspace.sql("ALTER TABLE marts.fct_orders ADD COLUMN coupon_code VARCHAR")
    extra = record(workspace.auditor().audit(target(FCT_ORDERS), workspace.run()), "columns_match_contract")
    assert (extra.status, extra.severity) == ("failed", "critical")
    assert extra.details["mismatched"]["unexpected"] == ["coupon_code"]
    workspace.sql("ALTER TABLE marts.fct_orders DROP COLUMN coupon_code")
    workspace.sql("ALTER TABLE marts.fct_orders DROP COLUMN currency")
    summary = workspace.auditor().audit(target(FCT_ORDERS), workspace.run("run-2"))
    missing = record(summary, "columns_match_contract")
    assert missing.status == "failed" and missing.details["mismatched"]["missing"] == ["currency"]
    # an expectation on the vanished column fails closed (error), it is not silently skipped
    assert record(summary, "expect_column_values_to_match_regex(currency)").status == "error"


def test_schema_drift_of_raw_partitions_is_reported_per_export_date(built, tmp_path):
    ws = raw_workspace(built, tmp_path, "shop__orders")
    days = sorted(d for d in built.days if partition(ws, "shop__orders", d).exists())[-3:]
    rewrite_partition(partition(ws, "shop__orders", days[0]), "SELECT *, 'x' AS coupon_code FROM {old}")
    rewrite_partition(partition(ws, "shop__orders", days[1]), "SELECT * EXCLUDE (landing_site) FROM {old}")
    summary = ws.auditor().audit(target(("raw", "shop__orders")), ws.run(days=days))
    unknown = record(summary, "no_unknown_columns")
    assert (unknown.status, unknown.severity) == ("failed", "warning")
    assert days[0].isoformat() in unknown.unexpected_keys
    missing = record(summary, "contract_columns_present")
    assert (missing.status, missing.severity) == ("failed", "critical")
    assert missing.unexpected_keys == [days[1].isoformat()]
    assert summary.partitions == f"{days[0]}..{days[-1]}" and not summary.passed


def test_raw_partitions_of_the_run_only_are_validated(built, tmp_path):
    ws = raw_workspace(built, tmp_path, "web__events")
    days = built.days[-3:]
    summary = ws.auditor().audit(target(("raw", "web__events")), ws.run(days=days))
    expected = ws.sql(f"SELECT count(*) FROM read_parquet({[str(partition(ws, 'web__events', d)) for d in days]})")
    assert summary.rows_validated == expected[0][0] > 0
    # a loader defect: a record far in the future of its export date
    rewrite_partition(partition(ws, "web__events", days[-1]),
                      "SELECT * REPLACE (CASE WHEN _line = 1 THEN timestamp + INTERVAL 30 DAY ELSE timestamp END "
                      "AS timestamp) FROM {old}")
    skewed = ws.auditor().audit(target(("raw", "web__events")), ws.run("run-2", days=days))
    clock = record(skewed, "timestamp_not_after_export_date_plus_one_day")
    assert clock.status == "failed" and clock.unexpected_count == 1
    assert clock.unexpected_keys[0]["_line"] == 1 and days[-1].isoformat() in clock.unexpected_keys[0]["_file"]


def test_outside_a_partitioned_run_the_latest_export_date_is_validated(built, tmp_path):
    ws = raw_workspace(built, tmp_path, "web__events")
    summary = ws.auditor().audit(target(("raw", "web__events")), AuditRun("run-1", END, None))
    last = max(built.days)
    assert summary.partitions == f"{last}..{last}"
    assert summary.rows_validated == ws.sql(
        f"SELECT count(*) FROM read_parquet('{partition(ws, 'web__events', last)}')")[0][0]


def test_volume_check_trips_when_a_day_drops_and_not_otherwise(built, tmp_path):
    ws = raw_workspace(built, tmp_path, "web__events")
    config = ws.config.with_changes(volume=VolumeConfig(min_baseline_rows=20, max_drop_share=0.5, baseline_days=14))
    counts = {r[0]: r[1] for r in ws.sql(
        "SELECT dt, count(*) FROM read_parquet(?, hive_partitioning = true, hive_types = {'dt': DATE}) GROUP BY dt",
        [str(ws.settings.raw_root / "web__events" / "dt=*" / "data_0.parquet")])}
    # a day well within its usual volume (so only the injected drop can trip the check)
    day = next(d for d in sorted(counts)[20:] if counts[d] >= 0.8 * statistics.median(
        counts.get(d - timedelta(days=i), 0) for i in range(1, 15)))
    web, volume = target(("raw", "web__events")), "row_count_not_dropping_against_previous_days"
    before = record(ws.auditor(config).audit(web, ws.run("run-1", [day])), volume)
    assert before.status == "passed" and before.observed_value["days_judged"] == 1
    keep = int(0.1 * counts[day])
    rewrite_partition(partition(ws, "web__events", day), f"SELECT * FROM {{old}} LIMIT {keep}")
    summary = ws.auditor(config).audit(web, ws.run("run-2", [day]))
    after = record(summary, volume)
    assert (after.status, after.severity) == ("failed", "warning")
    assert after.unexpected_keys[0]["dt"] == day.isoformat() and after.unexpected_keys[0]["rows"] == keep
    assert summary.passed and summary.severity == "WARN"  # a warning: reported, not blocking
    # the shipped minimum baseline keeps tiny data from judging at all
    default = record(ws.auditor().audit(web, ws.run("run-3", [day])), volume)
    assert default.status == "skipped"


def test_volume_drop_counts_a_missing_day_and_tolerates_the_configured_share(tmp_path):
    root = tmp_path / "entity"
    first = date(2026, 1, 1)
    sizes = {first + timedelta(days=i): 1000 for i in range(20)}
    sizes[first + timedelta(days=20)] = 600  # a 40% drop: within a 50% tolerance
    with duckdb.connect() as con:
        for day, n in sizes.items():
            (root / f"dt={day}").mkdir(parents=True)
            con.execute(f"COPY (SELECT range AS x FROM range({n})) TO '{root / f'dt={day}' / 'data_0.parquet'}'")
        config = VolumeConfig(max_drop_share=0.5, baseline_days=7, min_baseline_rows=100)
        check = volume_drop(con, asset="raw/x", entity_root=root, days=[first + timedelta(days=20)],
                            config=config, data_file="data_0.parquet", limit=5)
        assert check.status == "passed"
        missing = first + timedelta(days=21)  # no file at all arrived that day
        check = volume_drop(con, asset="raw/x", entity_root=root, days=[missing], config=config,
                            data_file="data_0.parquet", limit=5)
        assert check.status == "failed" and check.unexpected_keys == [
            {"dt": missing.isoformat(), "rows": 0, "baseline": 1000, "drop_share": 1.0}]
        strict = replace(config, max_drop_share=0.3)
        check = volume_drop(con, asset="raw/x", entity_root=root, days=[first + timedelta(days=20)], config=strict,
                            data_file="data_0.parquet", limit=5)
        assert check.status == "failed"


def test_volume_drop_waits_for_history_after_a_backlog_export(tmp_path):
    root = tmp_path / "entity"
    first = date(2026, 1, 1)
    sizes = {first: 10_000, **{first + timedelta(days=i): 100 for i in range(1, 12)}}  # the backlog, then daily
    with duckdb.connect() as con:
        for day, n in sizes.items():
            (root / f"dt={day}").mkdir(parents=True)
            con.execute(f"COPY (SELECT range AS x FROM range({n})) TO '{root / f'dt={day}' / 'data_0.parquet'}'")
        config = VolumeConfig(max_drop_share=0.5, baseline_days=14, min_baseline_days=7, min_baseline_rows=50)
        check = volume_drop(con, asset="raw/x", entity_root=root, days=sorted(sizes), config=config,
                            data_file="data_0.parquet", limit=5)
        assert check.status == "passed" and check.observed_value["days_judged"] == 12 - 7
        eager = volume_drop(con, asset="raw/x", entity_root=root, days=sorted(sizes),
                            config=replace(config, min_baseline_days=1), data_file="data_0.parquet", limit=5)
        assert eager.status == "failed" and eager.unexpected_keys[0]["dt"] == (first + timedelta(days=1)).isoformat()


def test_null_share_drift_is_judged_against_the_last_passed_run(workspace):
    config = workspace.config.with_changes(null_drift=replace(workspace.config.null_drift, min_rows=100))
    c360, drift = target(CUSTOMER_360), "null_share_not_rising_against_last_passed_run"
    first = workspace.auditor(config).audit(c360, workspace.run("run-1"))
    assert record(first, drift).status == "skipped" and first.passed  # no baseline yet
    baseline = record(first, drift).observed_value["email"]
    workspace.sql("UPDATE marts.customer_360 SET email = NULL WHERE hash(customer_key) % 3 = 0")
    key = a_customer_with_orders(workspace)[0]
    stage = workspace.sql("SELECT lifecycle_stage FROM marts.customer_360 WHERE customer_key = ?", [key])[0][0]
    workspace.sql("UPDATE marts.customer_360 SET lifecycle_stage = 'vip' WHERE customer_key = ?", [key])
    second = workspace.auditor(config).audit(c360, workspace.run("run-2"))
    rising = record(second, drift)
    assert (rising.status, rising.severity) == ("failed", "warning")
    assert [k["column"] for k in rising.unexpected_keys] == ["email"]
    assert not second.passed  # the unknown stage is critical: this run's profile is no baseline
    workspace.sql("UPDATE marts.customer_360 SET lifecycle_stage = ? WHERE customer_key = ?", [stage, key])
    third = workspace.auditor(config).audit(c360, workspace.run("run-3"))
    assert record(third, drift).status == "failed"  # still against run-1, the last passed audit
    assert record(third, drift).details["baseline"]["email"] == pytest.approx(baseline)
    assert third.passed and third.severity == "WARN"
    fourth = workspace.auditor(config).audit(c360, workspace.run("run-4"))
    assert record(fourth, drift).status == "passed"  # run-3 passed: its shares are the new baseline


def test_orders_of_an_unknown_customer_break_referential_integrity(workspace):
    key = a_customer_with_orders(workspace)[0]
    workspace.sql("DELETE FROM marts.customer_360 WHERE customer_key = ?", [key])
    summary = workspace.auditor().audit(target(CUSTOMER_360), workspace.run())
    ri = record(summary, "fct_orders_customers_exist_in_customer_360")
    assert (ri.status, ri.severity) == ("failed", "critical") and not summary.passed
    assert {k["customer_key"] for k in ri.unexpected_keys} == {key}
    assert ri.unexpected_count == workspace.sql("SELECT count(*) FROM marts.fct_orders WHERE customer_key = ?",
                                                [key])[0][0]
    assert all(k["order_key"] for k in ri.unexpected_keys)
    # the person's orders are no longer in anyone's revenue
    assert record(summary, "revenue_reconciles_with_fct_orders_per_customer").unexpected_keys[0]["customer_key"] == key


def test_revenue_reconciles_per_customer_not_only_in_total(workspace):
    a, b = a_customer_with_orders(workspace, 2)
    workspace.sql("UPDATE marts.customer_360 SET lifetime_net_revenue = lifetime_net_revenue + 10 "
                  "WHERE customer_key = ?", [a])
    workspace.sql("UPDATE marts.customer_360 SET lifetime_net_revenue = lifetime_net_revenue - 10 "
                  "WHERE customer_key = ?", [b])
    summary = workspace.auditor().audit(target(CUSTOMER_360), workspace.run())
    check = record(summary, "revenue_reconciles_with_fct_orders_per_customer")
    assert check.observed_value["customer_net_revenue"] == check.observed_value["order_net_revenue"]  # totals agree
    assert (check.status, check.unexpected_count) == ("failed", 2)
    assert {k["customer_key"] for k in check.unexpected_keys} == {a, b}


def _segment_select() -> str:
    return ("SELECT customer_key, email, first_name, false AS is_holdout, email_consent, 'test' AS segment_reason "
            "FROM marts.customer_360")


def write_segment(ws: Workspace, name: str, where: str, purpose: str, extra_rows: str = "") -> Path:
    """A segment-shaped table and a manifest that knows it (the segment's purpose in config.meta)."""
    ws.sql("CREATE SCHEMA IF NOT EXISTS segments")
    ws.sql(f"CREATE OR REPLACE TABLE segments.{name} AS {_segment_select()} WHERE {where} {extra_rows}")
    manifest = json.loads(ws.manifest.read_text())
    manifest["nodes"][f"model.customer360.{name}"] = {
        "resource_type": "model", "name": name, "schema": "segments", "columns": {},
        "config": {"contract": {"enforced": False}, "meta": {
            "segment": {"purpose": purpose}, "activation": {"identifier": "email", "fields": {"name": "first_name"}}}},
    }
    path = ws.settings.home / f"manifest-{name}.json"
    path.write_text(json.dumps(manifest))
    return path


def test_marketing_segment_holds_only_subscribed_members(workspace):
    unsubscribed = workspace.sql("SELECT customer_key FROM marts.customer_360 WHERE email_consent <> 'subscribed' "
                                 "AND email IS NOT NULL ORDER BY customer_key LIMIT 1")[0][0]
    manifest = write_segment(workspace, "seg_test_promo", "email_consent = 'subscribed'", "marketing",
                             f"UNION ALL {_segment_select()} WHERE customer_key = '{unsubscribed}'")
    summary = workspace.auditor(manifest=manifest).audit(segment_target("seg_test_promo"), workspace.run())
    consent = record(summary, "email_consent_allowed_for_purpose")
    assert (consent.status, consent.severity) == ("failed", "critical")
    assert consent.unexpected_keys == [{"customer_key": unsubscribed}]
    assert consent.details["kwargs"]["value_set"] == ["subscribed"]
    assert not summary.passed
    # the same people in a service segment are fine: service excludes only bounces and spam complaints
    manifest = write_segment(workspace, "seg_test_help", "email_consent NOT IN ('bounced', 'spam_complaint') "
                             "AND email IS NOT NULL AND hash(customer_key) % 4 = 0", "service")
    service = workspace.auditor(manifest=manifest).audit(segment_target("seg_test_help"), workspace.run("run-2"))
    assert service.passed, [(r.check_name, r.unexpected_keys) for r in service.critical_failures]
    assert record(service, "members_exist_in_customer_360").status == "passed"


def test_segment_size_is_bounded_and_an_empty_segment_only_warns(workspace):
    manifest = write_segment(workspace, "seg_test_everyone", "email IS NOT NULL", "service")
    everyone = workspace.auditor(manifest=manifest).audit(segment_target("seg_test_everyone"), workspace.run())
    size = record(everyone, "size_at_most_max_share")
    assert (size.status, size.severity) == ("failed", "critical")
    customers = workspace.sql("SELECT count(*) FROM marts.customer_360")[0][0]
    assert size.details["kwargs"]["max_value"] == int(0.6 * customers)
    manifest = write_segment(workspace, "seg_test_nobody", "false", "marketing")
    nobody = workspace.auditor(manifest=manifest).audit(segment_target("seg_test_nobody"), workspace.run("run-2"))
    assert nobody.passed and nobody.severity == "WARN"
    assert [r.check_name for r in nobody.warning_failures] == ["size_at_least_min_members"]


def test_a_missing_segment_table_blocks(workspace):
    manifest = write_segment(workspace, "seg_test_gone", "true", "service")
    workspace.sql("DROP TABLE segments.seg_test_gone")
    summary = workspace.auditor(manifest=manifest).audit(segment_target("seg_test_gone"), workspace.run())
    assert [r.check_name for r in summary.critical_failures] == ["relation_exists"]


def test_real_segments_pass_the_generic_suite(built, tmp_path):
    from quality_helpers import copy_home

    from orchestration.quality.manifest import segment_model_names

    ws = Workspace(copy_home(built, tmp_path / "home"), built.manifest, built.days, AuditConfig.load())
    tables = {r[0] for r in ws.sql(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'segments'")}
    names = [n for n in segment_model_names(json.loads(built.manifest.read_text())) if n in tables]
    assert len(names) == 8, names  # the project's eight segments, all built
    for name in names:
        summary = ws.auditor().audit(segment_target(name), ws.run())
        assert summary.passed, (name, [(r.check_name, r.unexpected_keys) for r in summary.critical_failures])
        assert record(summary, "columns_match_contract").status == "passed"


def test_large_tables_are_validated_in_batches_with_the_same_outcome(workspace):
    key = a_customer_with_orders(workspace)[0]
    workspace.sql("INSERT INTO marts.customer_360 SELECT * FROM marts.customer_360 WHERE customer_key = ?", [key])
    workspace.sql("UPDATE marts.customer_360 SET preferred_channel = 'fax' WHERE customer_key = ?", [key])
    c360 = target(CUSTOMER_360)
    whole = workspace.auditor().audit(c360, workspace.run("run-1"))
    small = workspace.auditor(workspace.config.with_changes(max_batch_rows=40))
    calls = []
    original = small.gx._validate
    small.gx._validate = lambda *a, **k: calls.append(len(a[2])) or original(*a, **k)
    batched = small.audit(c360, workspace.run("run-2"))
    assert len(calls) > 5 and max(calls) < 100  # one zero-row schema frame, then batches of about 40 rows
    assert batched.rows_validated == whole.rows_validated
    outcome = {(r.check_name, r.status, r.unexpected_count, json.dumps(r.unexpected_keys)) for r in whole.records}
    assert {(r.check_name, r.status, r.unexpected_count, json.dumps(r.unexpected_keys))
            for r in batched.records} == outcome
    assert record(batched, "expect_column_values_to_be_unique(customer_key)").unexpected_keys == [
        {"customer_key": key}]


def test_wide_batches_are_validated_in_narrow_frames_with_the_same_outcome(workspace, monkeypatch):
    from orchestration.quality import validation

    key = a_customer_with_orders(workspace)[0]
    workspace.sql("INSERT INTO marts.customer_360 SELECT * FROM marts.customer_360 WHERE customer_key = ?", [key])
    workspace.sql("UPDATE marts.customer_360 SET last_order_at = last_order_at + INTERVAL 400 DAY, "
                  "rfm_recency_score = 7 WHERE customer_key = ?", [key])
    c360 = target(CUSTOMER_360)
    wide = workspace.auditor().audit(c360, workspace.run("run-1"))
    monkeypatch.setattr(validation, "NARROW_ABOVE_CELLS", 0)
    auditor = workspace.auditor()
    widths = []
    original = auditor.gx._validate
    auditor.gx._validate = lambda *a, **k: widths.append(a[2].shape[1]) or original(*a, **k)
    narrow = auditor.audit(c360, workspace.run("run-2"))
    assert len(widths) > 20 and sorted(widths)[-2] <= 4  # the schema frame, then a few columns at a time
    outcome = {(r.check_name, r.status, r.unexpected_count, json.dumps(r.unexpected_keys)) for r in wide.records}
    assert {(r.check_name, r.status, r.unexpected_count, json.dumps(r.unexpected_keys))
            for r in narrow.records} == outcome
    failed = {r.check_name for r in narrow.critical_failures + narrow.warning_failures}
    assert {"expect_column_values_to_be_unique(customer_key)", "last_order_at_not_after_as_of_date",
            "expect_column_values_to_be_between(rfm_recency_score)"} <= failed


def test_raw_partitions_are_batched_by_export_date(built, tmp_path):
    ws = raw_workspace(built, tmp_path, "web__events")
    web = target(("raw", "web__events"))
    whole = ws.auditor().audit(web, ws.run("run-1"))
    batched = ws.auditor(ws.config.with_changes(max_batch_rows=500)).audit(web, ws.run("run-2"))
    assert batched.rows_validated == whole.rows_validated > 5000
    assert {(r.check_name, r.status, r.unexpected_count) for r in batched.records} == {
        (r.check_name, r.status, r.unexpected_count) for r in whole.records}


def test_data_docs_keep_the_last_runs(workspace):
    auditor = workspace.auditor(workspace.config.with_changes(docs_keep_runs=2))
    for run_id in ("run-a", "run-b", "run-c"):
        summary = auditor.audit(target(FCT_ORDERS), workspace.run(run_id))
        assert Path(summary.docs_path).exists() and run_id in summary.docs_path
    home = workspace.settings.home
    assert sorted(p.name for p in (home / "quality" / "validations" / "marts" / "fct_orders").iterdir()) == [
        "run-b", "run-c"]
    assert sorted(p.name for p in (home / "docs" / "gx" / "validations" / "marts" / "fct_orders").iterdir()) == [
        "run-b", "run-c"]
    index = (home / "docs" / "gx" / "index.html").read_text()
    assert "run-c" in index and "run-a" not in index

"""Klaviyo sync against the local fake: diff, batching, consent, crash safety, retries."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest
from act_helpers import FAST, SPEC, member, members, segment_emails
from fake_common import Injection

from orchestration.activation import SyncBlocked, SyncFailed


def test_first_sync_equals_segment_then_no_change_makes_zero_calls(wh, klaviyo):
    rows = members(10) + [member(11, is_holdout=True), member(12, email=None)]
    wh.publish(rows)
    env = wh.env(klaviyo=klaviyo)
    first = wh.sync("klaviyo", env)
    assert first.status == "success"
    assert klaviyo.members("C360 test") == segment_emails(rows)
    assert first.planned["insert"] == 10 and first.planned["skipped_no_key"] == 1
    assert klaviyo.profile("person0003@example.com")["properties"] == {"points_balance": 103}
    assert klaviyo.profile("person0003@example.com")["first_name"] == "Name3"
    # holdout never sent
    assert klaviyo.profile("person0011@example.com") is None
    calls = len(klaviyo.calls)
    second = wh.sync("klaviyo", env)
    assert second.status == "success" and second.api_calls == 0
    assert len(klaviyo.calls) == calls
    assert second.planned["unchanged"] == 10
    meta = first.metadata()
    assert (meta["status"], meta["planned_insert"], meta["succeeded"], meta["api_calls"]) == (
        "success", 10, 10, first.api_calls)


def _since(server, mark: int) -> Counter:
    return Counter(server.ops[mark:])


def test_leave_join_change_sends_exactly_those_operations(wh, klaviyo):
    rows = members(10)
    wh.publish(rows)
    env = wh.env(klaviyo=klaviyo)
    wh.sync("klaviyo", env)
    mark = len(klaviyo.ops)
    rows = [r for r in rows if r["customer_key"] != "c0002"] + [member(11)]
    rows[0] = {**rows[0], "points": 999}  # person0001 changes a mapped field
    wh.publish(rows)
    result = wh.sync("klaviyo", env)
    assert _since(klaviyo, mark) == Counter({
        ("upsert", "person0011@example.com"): 1, ("list_add", "person0011@example.com"): 1,
        ("upsert", "person0001@example.com"): 1,
        ("list_remove", "person0002@example.com"): 1,
    })
    assert (result.planned["insert"], result.planned["update"], result.planned["remove"]) == (1, 1, 1)
    assert klaviyo.members("C360 test") == segment_emails(rows)
    assert klaviyo.profile("person0001@example.com")["properties"]["points_balance"] == 999
    # leaving the segment: off the list, but never deleted nor unsubscribed
    assert klaviyo.profile("person0002@example.com") is not None
    assert not any(op[0] in ("delete", "unsubscribe", "subscribe", "suppress") for op in klaviyo.ops)


def test_upsert_mode_never_removes(wh, klaviyo):
    spec = replace(SPEC, mode="upsert")
    wh.publish(members(5))
    env = wh.env(klaviyo=klaviyo)
    wh.sync("klaviyo", env, spec=spec)
    wh.publish(members(4))
    result = wh.sync("klaviyo", env, spec=spec)
    assert result.planned["remove"] == 0 and result.api_calls == 0
    assert "person0005@example.com" in klaviyo.members("C360 test")


class Kill(BaseException):
    """Stands for the process being killed (not an Exception, like KeyboardInterrupt)."""


def _killer(event: str, after: int):
    seen = {"n": 0}

    def hook(name: str, info: dict) -> None:
        """Kill the run at the n-th occurrence of the event."""
        if name == event:
            seen["n"] += 1
            if seen["n"] == after:
                raise Kill()

    return hook


@pytest.mark.parametrize(("event", "after"), [("batch_committed", 2), ("job_submitted", 2), ("job_submitted", 1)])
def test_killed_run_restarted_converges_without_duplicate_operations(wh, event, after):
    from fake_klaviyo import FakeKlaviyo

    klaviyo = FakeKlaviyo(time_scale=1000, job_polls=2)
    try:
        rows = members(14)
        wh.publish(rows)
        env = wh.env(klaviyo=klaviyo)
        with pytest.raises(Kill):
            wh.sync("klaviyo", env, options=replace(FAST, hook=_killer(event, after)))
        assert klaviyo.members("C360 test") != segment_emails(rows)  # really interrupted half-way
        result = wh.sync("klaviyo", env)
        assert result.status == "success"
        assert klaviyo.members("C360 test") == segment_emails(rows)
        duplicates = [op for op, n in Counter(klaviyo.ops).items() if n > 1]
        assert duplicates == []
        assert wh.query("SELECT count(*) FROM activation.pending_jobs") == [(0,)]
        statuses = [s for (s,) in wh.query("SELECT status FROM activation.sync_runs ORDER BY started_at")]
        assert statuses == ["interrupted", "success"]
        # and a third run has nothing to do
        assert wh.sync("klaviyo", env).api_calls == 0
        assert klaviyo.violations == []
    finally:
        klaviyo.close()


def test_unsubscribed_or_spam_profiles_are_never_subscribed(wh, klaviyo):
    klaviyo.add_profile("person0002@example.com", suppression="UNSUBSCRIBE")
    klaviyo.add_profile("person0003@example.com", suppression="SPAM_COMPLAINT")
    rows = members(6)
    # the warehouse's consent for 0004 records a spam complaint; the segment row itself says subscribed
    wh.publish(rows, consent={"person0004@example.com": "spam_complaint"})
    env = wh.env(klaviyo=klaviyo)
    result = wh.sync("klaviyo", env, options=replace(FAST, read_back_suppressions=True))
    assert result.status == "success"
    on_list = klaviyo.members("C360 test")
    assert on_list == {"person0001@example.com", "person0005@example.com", "person0006@example.com"}
    for email, reason in [("person0002@example.com", "UNSUBSCRIBE"), ("person0003@example.com", "SPAM_COMPLAINT")]:
        profile = klaviyo.profile(email)
        assert profile["consent"] == "UNSUBSCRIBED" and profile["suppression"][0]["reason"] == reason
    assert not any(op[0] in ("subscribe", "unsubscribe", "suppress") for op in klaviyo.ops)
    assert klaviyo.count("bulk_subscribe_profiles") == 0
    supp = set(wh.query("SELECT email, reason, source FROM activation.suppressions"))
    assert ("person0002@example.com", "unsubscribed", "klaviyo") in supp
    assert ("person0003@example.com", "spam_complaint", "klaviyo") in supp
    assert ("person0004@example.com", "spam_complaint", "warehouse") in supp
    assert result.planned["suppressed"] == 3


def test_a_member_who_becomes_suppressed_leaves_the_list_but_keeps_their_consent(wh, klaviyo):
    rows = members(5)
    wh.publish(rows)
    env = wh.env(klaviyo=klaviyo)
    wh.sync("klaviyo", env)
    mark = len(klaviyo.ops)
    wh.publish(rows, consent={"person0002@example.com": "unsubscribed"})
    result = wh.sync("klaviyo", env)
    assert result.planned["remove"] == 1
    assert _since(klaviyo, mark) == Counter({("list_remove", "person0002@example.com"): 1})


def test_dry_run_prints_the_plan_and_sends_nothing(wh, klaviyo):
    wh.publish(members(6))
    env = wh.env(klaviyo=klaviyo)
    result = wh.sync("klaviyo", env, dry_run=True)
    assert result.status == "dry_run" and result.api_calls == 0 and klaviyo.calls == []
    assert "insert 6" in result.plan_summary
    assert "p***@example.com" in result.plan_summary and "person0001@example.com" not in result.plan_summary
    assert wh.query("SELECT count(*) FROM activation.sync_state") == [(0,)]


def test_circuit_breaker_blocks_large_change_and_emptied_segment_unless_forced(wh, klaviyo):
    rows = members(10)
    wh.publish(rows)
    env = wh.env(klaviyo=klaviyo)
    wh.sync("klaviyo", env)
    calls = len(klaviyo.calls)
    options = replace(FAST, max_change_share=0.3)
    wh.publish(rows[:6])  # 4 of 10 leave: 40% > 30%
    with pytest.raises(SyncBlocked) as blocked:
        wh.sync("klaviyo", env, options=options)
    assert "40%" in blocked.value.result.message and len(klaviyo.calls) == calls
    dry = wh.sync("klaviyo", env, dry_run=True, options=options)
    assert "circuit breaker" in dry.plan_summary
    wh.publish([])
    with pytest.raises(SyncBlocked, match="emptied"):
        wh.sync("klaviyo", env)
    assert len(klaviyo.calls) == calls
    wh.publish(rows[:6])
    forced = wh.sync("klaviyo", env, force=True, options=options)
    assert forced.status == "success" and klaviyo.members("C360 test") == segment_emails(rows[:6])
    runs = [s for (s,) in wh.query("SELECT status FROM activation.sync_runs ORDER BY started_at")]
    assert runs == ["success", "blocked", "dry_run", "blocked", "success"]


def test_429_storm_with_retry_after_is_survived(wh, klaviyo):
    wh.publish(members(8))
    env = wh.env(klaviyo=klaviyo)
    storm = [Injection("status", status=429, retry_after="2")] * 3
    klaviyo.inject("bulk_import_profiles", *storm)
    klaviyo.inject("get_bulk_import_profiles_job", *storm)
    result = wh.sync("klaviyo", env)
    assert result.status == "success" and result.retried == 6
    assert klaviyo.members("C360 test") == segment_emails(members(8))


def test_documented_rate_limits_are_enforced_and_honoured(wh):
    """The server's limits are tighter than the client's pacing here: it must back off on Retry-After."""
    from fake_klaviyo import FakeKlaviyo

    server = FakeKlaviyo(time_scale=100, limits={"bulk_import_profiles": ("2/s", "3/m"),
                                                  "get_bulk_import_profiles_job": ("2/s", "3/m")})
    try:
        wh.publish(members(20))
        result = wh.sync("klaviyo", wh.env(klaviyo=server), options=replace(FAST, time_scale=100))
        assert result.status == "success" and server.count(status=429) > 0
        assert result.retried == server.count(status=429)
        assert server.members("C360 test") == segment_emails(members(20))
        assert server.violations == []
    finally:
        server.close()


def test_5xx_burst_and_timeouts_are_retried(wh, klaviyo):
    wh.publish(members(8))
    env = wh.env(klaviyo=klaviyo)
    klaviyo.inject("bulk_import_profiles", Injection("status", status=500), Injection("status", status=502),
                   Injection("timeout", seconds=0.5))
    klaviyo.inject("create_list", Injection("status", status=503))
    result = wh.sync("klaviyo", env, options=replace(FAST, timeout=(1.0, 0.2)))
    assert result.status == "success" and result.retried == 4
    assert klaviyo.members("C360 test") == segment_emails(members(8))
    assert len(klaviyo.lists) == 1


def test_persistent_failure_fails_the_run_with_the_rows_recorded_then_recovers(wh, klaviyo):
    rows = members(8)
    wh.publish(rows)
    env = wh.env(klaviyo=klaviyo)
    wh.sync("klaviyo", env)
    rows = rows + members(3, start=20)
    wh.publish(rows)
    klaviyo.inject("bulk_import_profiles", *[Injection("status", status=503)] * 5)  # = FAST.max_attempts
    with pytest.raises(SyncFailed) as failed:
        wh.sync("klaviyo", env)
    assert failed.value.result.failed == 3 and failed.value.result.retried == 4
    errors = wh.query("SELECT member_key, operation, status_code, retryable FROM activation.sync_row_errors")
    assert sorted(errors) == [(f"person{i:04d}@example.com", "upsert", 503, True) for i in (20, 21, 22)]
    assert wh.query("SELECT status, failed FROM activation.sync_runs ORDER BY started_at DESC LIMIT 1") == [
        ("failed", 3)]
    again = wh.sync("klaviyo", env)  # the failed rows are in the next plan by themselves
    assert again.status == "success" and again.planned["insert"] == 3
    assert klaviyo.members("C360 test") == segment_emails(rows)


def test_rejected_rows_are_recorded_and_not_retried_until_they_change(wh, klaviyo):
    rows = members(10)
    wh.publish(rows)
    env = wh.env(klaviyo=klaviyo)
    klaviyo.reject_emails = {"person0004@example.com"}
    result = wh.sync("klaviyo", env)
    assert result.status == "success" and result.rejected == 1
    assert wh.query("SELECT member_key, error_code, retryable FROM activation.sync_row_errors") == [
        ("person0004@example.com", "invalid", False)]
    preview = wh.query("SELECT payload_preview FROM activation.sync_row_errors")[0][0]
    assert "person0004@example.com" in preview and klaviyo.api_key not in preview
    calls = len(klaviyo.calls)
    again = wh.sync("klaviyo", env)
    assert again.planned["skipped_rejected"] == 1 and len(klaviyo.calls) == calls
    klaviyo.reject_emails = set()
    rows[3] = {**rows[3], "points": 1}
    wh.publish(rows)
    fixed = wh.sync("klaviyo", env)
    assert fixed.planned["insert"] == 1 and klaviyo.members("C360 test") == segment_emails(rows)


def test_batch_rejected_as_a_whole_is_split_to_isolate_the_bad_row(wh, klaviyo):
    rows = members(8)
    wh.publish(rows)
    klaviyo.invalid_emails = {"person0006@example.com"}
    result = wh.sync("klaviyo", wh.env(klaviyo=klaviyo))
    assert result.rejected == 1 and result.succeeded == 7
    assert klaviyo.members("C360 test") == segment_emails(rows) - {"person0006@example.com"}
    # batches of 4: [1-4] ok, [5-8] refused -> [5,6] refused -> [5] ok, [6] rejected; [7,8] ok
    assert klaviyo.count("bulk_import_profiles", 400) == 3


def test_too_many_rejected_rows_fail_the_run_visibly(wh, klaviyo):
    wh.publish(members(6))
    klaviyo.reject_emails = {"person0001@example.com", "person0002@example.com"}  # 33% > 25%
    with pytest.raises(SyncFailed, match="rejected"):
        wh.sync("klaviyo", wh.env(klaviyo=klaviyo))


def test_null_guard_keeps_destination_values_unless_mapping_says_overwrite(wh, klaviyo):
    rows = members(3)
    wh.publish(rows)
    env = wh.env(klaviyo=klaviyo)
    wh.sync("klaviyo", env)
    rows[0] = {**rows[0], "first_name": None, "points": None}
    wh.publish(rows)
    assert wh.sync("klaviyo", env).planned["update"] == 1
    profile = klaviyo.profile("person0001@example.com")
    assert profile["first_name"] == "Name1" and profile["properties"]["points_balance"] == 101
    spec = replace(SPEC, model="seg_test", overwrite_nulls=frozenset({"points_balance"}))
    rows[0] = {**rows[0], "first_name": "New"}
    wh.publish(rows)
    wh.sync("klaviyo", env, spec=spec)
    profile = klaviyo.profile("person0001@example.com")
    assert profile["first_name"] == "New" and profile["properties"]["points_balance"] is None


def test_job_import_errors_and_list_lookup_use_pagination_and_cached_list(wh, klaviyo):
    wh.publish(members(5))
    env = wh.env(klaviyo=klaviyo)
    wh.sync("klaviyo", env)
    wh.publish(members(6))
    wh.sync("klaviyo", env, options=replace(FAST, max_change_share=1.0))
    assert klaviyo.count("get_lists") == 1 and klaviyo.count("create_list") == 1  # id cached in the warehouse


def test_missing_key_skips_with_a_clear_message(wh):
    wh.publish(members(3))
    result = wh.sync("klaviyo", {})
    assert result.status == "skipped" and "KLAVIYO_API_KEY" in result.message
    assert wh.query("SELECT status, message FROM activation.sync_runs")[0][0] == "skipped"


def test_api_key_is_never_logged_nor_stored(wh, klaviyo, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    wh.publish(members(6))
    env = wh.env(klaviyo=klaviyo)
    klaviyo.inject("bulk_import_profiles", Injection("status", status=500))
    klaviyo.reject_emails = {"person0002@example.com"}
    wh.sync("klaviyo", env)
    assert klaviyo.api_key not in caplog.text
    tables = wh.query("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'activation'")
    for (table,) in tables:
        dump = str(wh.query(f"SELECT * FROM activation.{table}"))
        assert klaviyo.api_key not in dump, table


def test_duplicate_identifier_fails_before_anything_is_sent(wh, klaviyo):
    wh.publish(members(3) + [member(9, email="person0001@example.com")])
    with pytest.raises(SyncFailed, match="not unique"):
        wh.sync("klaviyo", wh.env(klaviyo=klaviyo))
    assert klaviyo.calls == []


def test_wrong_key_fails_visibly_and_sends_nothing_more(wh, klaviyo):
    wh.publish(members(3))
    env = {**wh.env(klaviyo=klaviyo), "KLAVIYO_API_KEY": "pk_wrong"}
    with pytest.raises(SyncFailed, match="API key") as failed:
        wh.sync("klaviyo", env)
    assert failed.value.result.failed == 3 and "pk_wrong" not in failed.value.result.message
    assert klaviyo.count() == 1  # the first call was refused: no retry, no further call


def test_missing_mapped_column_fails_before_anything_is_sent(wh, klaviyo):
    wh.publish(members(3))
    spec = replace(SPEC, fields={"first_name": "no_such_column"})
    with pytest.raises(SyncFailed, match="no_such_column"):
        wh.sync("klaviyo", wh.env(klaviyo=klaviyo), spec=spec)
    assert klaviyo.calls == []


def test_list_deleted_in_the_tool_fails_visibly_then_is_recreated(wh, klaviyo):
    rows = members(5)
    wh.publish(rows)
    env = wh.env(klaviyo=klaviyo)
    wh.sync("klaviyo", env)
    klaviyo.lists.clear()  # a marketer deleted the list
    wh.publish(rows + [member(6)])
    with pytest.raises(SyncFailed, match="not found"):
        wh.sync("klaviyo", env)
    mark = len(klaviyo.ops)
    again = wh.sync("klaviyo", env)
    assert again.status == "success" and klaviyo.members("C360 test") == segment_emails(rows + [member(6)])
    # the five already acknowledged profiles are only re-added to the new list, not re-imported
    assert Counter(op for op, _ in klaviyo.ops[mark:]) == Counter(create_list=1, upsert=1, list_add=6)


def test_list_membership_never_changes_consent_even_for_suppressed_profiles_unknown_to_the_warehouse(wh, klaviyo):
    klaviyo.add_profile("person0002@example.com", suppression="UNSUBSCRIBE")
    wh.publish(members(3))  # without read-back the warehouse does not know: the segment says subscribed
    wh.sync("klaviyo", wh.env(klaviyo=klaviyo))
    profile = klaviyo.profile("person0002@example.com")
    # on the list (list membership is not consent), still unsubscribed; no consent endpoint called
    assert "person0002@example.com" in klaviyo.members("C360 test")
    assert profile["consent"] == "UNSUBSCRIBED" and profile["suppression"][0]["reason"] == "UNSUBSCRIBE"
    assert {op for op, _ in klaviyo.calls} <= {"get_lists", "create_list", "bulk_import_profiles",
                                                "get_bulk_import_profiles_job"}


def test_service_segment_keeps_marketing_unsubscribes_but_never_subscribes_them(wh, klaviyo):
    spec = replace(SPEC, purpose="service")
    rows = [member(1), member(2, email_consent="unsubscribed"), member(3, email_consent="spam_complaint"),
            member(4, email_consent="bounced")]
    klaviyo.add_profile("person0002@example.com", suppression="UNSUBSCRIBE")
    wh.publish(rows)
    result = wh.sync("klaviyo", wh.env(klaviyo=klaviyo), spec=spec)
    # a marketing opt-out does not stop a service message; complaints and bounces do
    assert klaviyo.members("C360 test") == {"person0001@example.com", "person0002@example.com"}
    assert result.planned["suppressed"] == 2
    assert klaviyo.profile("person0002@example.com")["consent"] == "UNSUBSCRIBED"
    assert klaviyo.count("bulk_subscribe_profiles") == 0


def test_large_batches_page_through_import_errors_and_profile_lookups(wh, klaviyo):
    options = replace(FAST, klaviyo_batch_size=10_000, klaviyo_list_batch_size=1_000, max_rejected_share=1.0)
    rows = members(400)
    wh.publish(rows)
    env = wh.env(klaviyo=klaviyo)
    klaviyo.reject_emails = {r["email"] for r in rows[:150]}
    first = wh.sync("klaviyo", env, options=options)
    assert first.rejected == 150 and klaviyo.count("bulk_import_profiles") == 1
    assert klaviyo.count("get_errors_for_bulk_import_profiles_job") == 2  # 100 a page
    wh.publish(rows[:150] + rows[300:])  # 150 accepted members leave
    mark = len(klaviyo.calls)
    second = wh.sync("klaviyo", env, options=options)
    assert second.planned["remove"] == 150
    assert Counter(op for op, _ in klaviyo.calls[mark:]) == Counter(get_profiles=2, remove_profiles_from_list=1)
    assert klaviyo.members("C360 test") == {r["email"] for r in rows[300:]}

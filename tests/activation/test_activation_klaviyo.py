"""Klaviyo sync against the local fake: diff, batching, consent, crash safety, retries."""

from __future__ import annotations

from act_helpers import member, members, segment_emails


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

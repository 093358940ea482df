"""What real APIs do to a client: creates whose outcome is unknown, Retry-After dates, pagination links to
other hosts, error bodies that echo personal data."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from act_helpers import FAST, members, segment_emails
from fake_common import Injection
from fake_klaviyo import FakeKlaviyo

from orchestration.activation import SyncFailed
from orchestration.activation.destinations.mailchimp import merge_tag
from orchestration.activation.http import HttpClient, RetryPolicy, redact, retry_after

# A timeout shorter than the injected delay, so a create "times out" after the fake applied it.
SHORT_TIMEOUT = replace(FAST, timeout=(1.0, 0.3))


@pytest.mark.parametrize("failure", [Injection("status", status=500, applied=True),
                                     Injection("timeout", seconds=0.6, applied=True)], ids=["500", "timeout"])
def test_klaviyo_list_created_once_when_the_create_fails_after_applying(wh, klaviyo, failure):
    wh.publish(members(5))
    klaviyo.inject("create_list", failure)
    result = wh.sync("klaviyo", wh.env(klaviyo=klaviyo), options=SHORT_TIMEOUT)
    assert result.status == "success"
    assert [op for op in klaviyo.ops if op[0] == "create_list"] == [("create_list", "C360 test")]
    assert len(klaviyo.lists) == 1
    assert klaviyo.members("C360 test") == segment_emails(members(5))
    # the create was not repeated: a second look-up found the list the failed call had made
    assert klaviyo.count("get_lists") == 2


@pytest.mark.parametrize("failure", [Injection("status", status=503, applied=True),
                                     Injection("timeout", seconds=0.6, applied=True)], ids=["503", "timeout"])
def test_mailchimp_tag_and_merge_field_created_once_when_the_create_fails_after_applying(wh, mailchimp, failure):
    wh.publish(members(4))
    mailchimp.inject("postListsIdSegments", failure)
    mailchimp.inject("postListsIdMergeFields", failure)
    result = wh.sync("mailchimp", wh.env(mailchimp=mailchimp), options=SHORT_TIMEOUT)
    assert result.status == "success"
    assert [op for op in mailchimp.ops if op[0] == "create_tag"] == [("create_tag", "C360 test")]
    tags = [f["tag"] for f in mailchimp.audience["merge_fields"]]
    assert tags.count(merge_tag("points_balance")) == 1
    assert [op for op in mailchimp.ops if op[0] == "merge_field"] == [("merge_field", merge_tag("points_balance"))]
    assert mailchimp.count("previewASegment") == 2
    assert mailchimp.members_of("C360 test") == segment_emails(members(4))


def test_a_create_that_keeps_failing_before_applying_is_retried_after_a_look_up(wh, klaviyo):
    wh.publish(members(3))
    klaviyo.inject("create_list", Injection("status", status=500), Injection("status", status=502))
    result = wh.sync("klaviyo", wh.env(klaviyo=klaviyo))
    assert result.status == "success" and len(klaviyo.lists) == 1
    assert klaviyo.count("create_list") == 3 and klaviyo.count("get_lists") == 3


def test_retry_after_as_an_http_date_is_honoured(klaviyo):
    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    assert retry_after(format_datetime(now + timedelta(seconds=42), usegmt=True), now) == 42
    assert retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now) == 0  # in the past: go now
    assert retry_after("120", now) == 120 and retry_after("soon", now) is None

    waits: list[float] = []
    http = HttpClient(klaviyo.url, headers={"Authorization": f"Klaviyo-API-Key {klaviyo.api_key}",
                                            "revision": "2026-07-15"},
                      policy=RetryPolicy(max_attempts=3, base_delay=0.001), sleep=waits.append)
    date = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    klaviyo.inject("get_lists", Injection("status", status=503, retry_after=date))
    assert http.request("get_lists", "GET", "/api/lists").status_code == 200
    assert len(waits) == 1 and 27 <= waits[0] <= 30.2  # the date, not the 1 ms backoff


def test_pagination_links_to_another_host_are_never_followed_with_the_key(wh, klaviyo):
    other = FakeKlaviyo(time_scale=1000)  # same key: it would accept the request if the client sent it
    try:
        for i in range(105):  # more than one page of 100
            klaviyo.add_profile(f"gone{i:03d}@example.com", suppression="UNSUBSCRIBE")
        klaviyo.link_base = other.url
        wh.publish(members(3))
        with pytest.raises(SyncFailed) as failed:
            wh.sync("klaviyo", wh.env(klaviyo=klaviyo), options=replace(FAST, read_back_suppressions=True))
        message = failed.value.result.message
        assert "refused to follow a link to http://127.0.0.1:" in message and other.url.split(":")[-1] in message
        assert other.calls == []  # nothing reached the other host, so neither did the key
        assert klaviyo.count("bulk_import_profiles") == 0  # nothing sent without the suppressions
        assert wh.query("SELECT status, message FROM activation.sync_runs")[0][0] == "failed"
    finally:
        other.close()


def test_same_host_links_are_followed(wh, klaviyo):
    for i in range(105):
        klaviyo.add_profile(f"gone{i:03d}@example.com", suppression="UNSUBSCRIBE")
    wh.publish(members(3))
    result = wh.sync("klaviyo", wh.env(klaviyo=klaviyo), options=replace(FAST, read_back_suppressions=True))
    assert result.status == "success"
    assert wh.query("SELECT count(*) FROM activation.suppressions WHERE source = 'klaviyo'")[0][0] == 105


def test_redact_removes_emails_and_keys():
    # Key-shaped placeholders, built so no key-like literal sits in the repository: a Klaviyo private key
    # (pk_...) and a Mailchimp key (32 hex digits, a dash, the data centre).
    klaviyo_shaped, mailchimp_shaped = "pk_" + "x" * 12, "f" * 32 + "-us21"
    text = (f"person0001@example.com is already a list member; key {klaviyo_shaped} "
            f"{mailchimp_shaped} Authorization: Klaviyo-API-Key secret123")
    out = redact(text + " Authorization: Basic YzM2MDpzZWNyZXQ=", ("secret123",))
    assert "@" not in out and "pk_" not in out and "us21" not in out and "secret123" not in out
    assert "YzM2MDpz" not in out and out.startswith("<email> is already a list member")
    assert redact("basic information is missing") == "basic information is missing"


def test_stored_error_bodies_hold_no_email_nor_key(wh, klaviyo, mailchimp):
    from fake_mailchimp import h

    wh.publish(members(8))
    # Mailchimp's refusals quote the address ("x@y is in a compliance state"); Klaviyo's 400 quotes it too
    mailchimp.compliance = {"person0003@example.com"}
    mailchimp.forgotten = {h("person0004@example.com")}
    klaviyo.invalid_emails = {"person0006@example.com"}
    wh.sync("mailchimp", wh.env(mailchimp=mailchimp))
    wh.sync("klaviyo", wh.env(klaviyo=klaviyo))
    details = [d for (d,) in wh.query("SELECT detail FROM activation.sync_row_errors")]
    assert len(details) == 3 and all(d and "<email>" in d and "@" not in d for d in details)
    # a persistent 5xx whose body quotes the address and the key: recorded without them
    wh.publish(members(9))
    echo = f"person0009@example.com could not be imported (key {klaviyo.api_key})"
    klaviyo.inject("bulk_import_profiles", *[Injection("status", status=500, detail=echo)
                                             for _ in range(FAST.max_attempts)])
    with pytest.raises(SyncFailed) as failed:
        wh.sync("klaviyo", wh.env(klaviyo=klaviyo))
    assert "pk_" not in str(failed.value) and "person0009" not in str(failed.value)
    (detail,) = wh.query("SELECT detail FROM activation.sync_row_errors WHERE member_key = 'person0009@example.com'")[0]
    assert "<email> could not be imported (key <key>)" in detail and "@" not in detail and "pk_" not in detail


def test_a_create_is_retried_only_when_the_server_certainly_did_nothing(klaviyo):
    import socket

    from orchestration.activation.http import OutcomeUnknown, RetryExhausted

    with socket.socket() as s:  # a port nobody listens on: connection refused, the request never left
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    waits: list[float] = []
    refused = HttpClient(f"http://127.0.0.1:{port}", policy=RetryPolicy(max_attempts=3), sleep=waits.append)
    with pytest.raises(RetryExhausted):
        refused.request("create_list", "POST", "/api/lists", json={}, idempotent=False)
    assert len(waits) == 2
    http = HttpClient(klaviyo.url, headers={"Authorization": f"Klaviyo-API-Key {klaviyo.api_key}",
                                            "revision": "2026-07-15"}, policy=RetryPolicy(max_attempts=3),
                      sleep=waits.append, timeout=(1.0, 0.2))
    body = {"data": {"type": "list", "attributes": {"name": "x"}}}
    klaviyo.inject("create_list", Injection("timeout", seconds=0.4, applied=True))
    with pytest.raises(OutcomeUnknown):
        http.request("create_list", "POST", "/api/lists", json=body, idempotent=False)
    klaviyo.inject("create_list", Injection("status", status=502))
    with pytest.raises(OutcomeUnknown):
        http.request("create_list", "POST", "/api/lists", json=body, idempotent=False)
    klaviyo.inject("create_list", Injection("status", status=429, retry_after="1"))  # throttled: nothing done
    assert http.request("create_list", "POST", "/api/lists", json=body, idempotent=False).status_code == 201
    assert len(waits) == 3

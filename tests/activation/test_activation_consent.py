"""Consent evidence: a member is created subscribed only on the warehouse's opt-in record, sent with it."""

from __future__ import annotations

from dataclasses import replace

from act_helpers import SPEC, member, members


def test_mailchimp_creates_subscribed_only_with_an_opt_in_record_and_sends_its_time(wh, mailchimp):
    rows = members(4) + [member(5, email_consent="never_subscribed")]
    wh.publish(rows, consent={"person0003@example.com": "never_subscribed"},  # the segment's copy is stale
               consent_at={"person0001@example.com": "2026-03-04 05:06:07", "person0002@example.com": None})
    assert wh.sync("mailchimp", wh.env(mailchimp=mailchimp), spec=replace(SPEC, purpose="service")).status == "success"
    m = {i: mailchimp.member(f"person000{i}@example.com") for i in range(1, 6)}
    assert (m[1]["status"], m[1]["timestamp_opt"]) == ("subscribed", "2026-03-04T05:06:07+00:00")
    assert (m[4]["status"], m[4]["timestamp_opt"]) == ("subscribed", "2026-01-01T00:00:00+00:00")
    # subscribed without a recorded time, not subscribed in customer_360, never subscribed: no evidence
    for i in (2, 3, 5):
        assert (m[i]["status"], m[i]["timestamp_opt"]) == ("transactional", None), i
    assert not any(op[0] == "status_change" for op in mailchimp.ops)


def test_mailchimp_without_customer_360_creates_nobody_subscribed(wh, mailchimp):
    import duckdb

    wh.publish(members(3))
    con = duckdb.connect(str(wh.serving))
    con.execute("DROP TABLE marts.customer_360")
    con.close()
    assert wh.sync("mailchimp", wh.env(mailchimp=mailchimp)).status == "success"
    assert {mailchimp.member(f"person000{i}@example.com")["status"] for i in (1, 2, 3)} == {"transactional"}


def test_klaviyo_sends_no_consent_at_all(wh, klaviyo):
    # Klaviyo's consent lives in subscriptions (bulk subscribe, which also clears suppressions): a segment
    # sync sends none, whatever the evidence; profiles and list membership only
    wh.publish(members(4) + [member(5, email_consent="never_subscribed")])
    assert wh.sync("klaviyo", wh.env(klaviyo=klaviyo), spec=replace(SPEC, purpose="service")).status == "success"
    assert klaviyo.import_keys <= {"email", "external_id", "first_name", "properties"}
    assert klaviyo.count("bulk_subscribe_profiles") == 0
    assert {klaviyo.profile(f"person000{i}@example.com")["consent"] for i in range(1, 6)} == {"NEVER_SUBSCRIBED"}

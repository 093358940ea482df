"""File outbox destination and erasure across every destination."""

from __future__ import annotations

import csv
import json
from dataclasses import replace

from act_helpers import FAST, SPEC, members
from fake_common import Injection

from orchestration.activation.destinations.mailchimp import subscriber_hash
from orchestration.privacy.keys import erasure_hash


def _lines(path) -> list[dict]:
    return [json.loads(line) for line in open(path, encoding="utf-8")]


def test_file_destination_writes_the_plan_per_run_and_nothing_when_unchanged(wh):
    rows = members(5)
    wh.publish(rows)
    first = wh.sync("file", {})
    assert first.status == "success" and first.api_calls == 0
    lines = _lines(first.outbox_file)
    assert [(x["op"], x["member_key"]) for x in lines] == [("insert", r["email"]) for r in rows]
    assert lines[0]["fields"] == {"first_name": "Name1", "points_balance": 101}
    assert first.outbox_file.startswith(str(wh.outbox / "seg_test"))
    assert wh.sync("file", {}).outbox_file is None  # unchanged: no file
    rows = rows[1:]
    rows[0] = {**rows[0], "points": 7}
    wh.publish(rows)
    third = wh.sync("file", {})
    assert sorted((x["op"], x["member_key"]) for x in _lines(third.outbox_file)) == [
        ("remove", "person0001@example.com"), ("update", "person0002@example.com")]


def test_file_destination_csv(wh):
    wh.publish(members(3))
    result = wh.sync("file", {}, options=replace(FAST, file_format="csv"))
    with open(result.outbox_file, newline="") as fh:
        records = list(csv.DictReader(fh))
    assert [r["email"] for r in records] == [f"person000{i}@example.com" for i in (1, 2, 3)]
    assert records[0]["points_balance"] == "101" and records[0]["op"] == "insert"


def test_erasure_deletes_everywhere_and_leaves_only_a_keyed_hash(wh, klaviyo, mailchimp):
    rows = members(5)
    wh.publish(rows)
    env = wh.env(klaviyo=klaviyo, mailchimp=mailchimp)
    klaviyo.reject_emails = {"person0003@example.com"}  # leaves a row error holding the email
    for dest in ("file", "klaviyo", "mailchimp"):
        wh.sync(dest, env)
    erased = "person0003@example.com"
    # the segment model still contains the person (a stale model must not bring them back)
    wh.publish(rows, erased=[erased])
    result = wh.erase(env)
    assert result.deleted == {"file": 1, "klaviyo": 1, "mailchimp": 1}
    assert ("delete", erased) in klaviyo.ops and ("delete", erased) in mailchimp.ops
    assert klaviyo.profile(erased) is None and mailchimp.member(erased) is None
    assert subscriber_hash(erased) in mailchimp.forgotten
    # no trace of the email in the warehouse or the outbox, only the keyed hash (default key c360)
    for (table,) in wh.query("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'activation'"):
        assert erased not in str(wh.query(f"SELECT * FROM activation.{table}")), table
    for path in wh.outbox.rglob("*.jsonl"):
        assert erased not in path.read_text()
    hashes = {h for (h,) in wh.query("SELECT DISTINCT identifier_hash FROM activation.erasure_log")}
    assert hashes == {erasure_hash("c360", f"email:{erased}")}
    # later syncs never send them again, and a second erasure run has nothing to do
    for dest in ("klaviyo", "mailchimp"):
        wh.sync(dest, env)
    assert klaviyo.profile(erased) is None and mailchimp.member(erased) is None
    assert wh.erase(env).api_calls == 0


def test_erasure_with_a_missing_key_is_retried_later(wh, klaviyo):
    wh.publish(members(3))
    env = wh.env(klaviyo=klaviyo)
    wh.sync("klaviyo", env)
    wh.publish(members(3), erased=["person0001@example.com"])
    skipped = wh.erase({})
    assert "klaviyo" in skipped.skipped and klaviyo.profile("person0001@example.com") is not None
    done = wh.erase(env)
    assert done.deleted == {"klaviyo": 1} and klaviyo.profile("person0001@example.com") is None


def test_leaving_a_segment_never_triggers_a_deletion(wh, klaviyo, mailchimp):
    env = wh.env(klaviyo=klaviyo, mailchimp=mailchimp)
    wh.publish(members(4))
    for dest in ("klaviyo", "mailchimp"):
        wh.sync(dest, env)
    wh.publish([])
    for dest in ("klaviyo", "mailchimp"):
        wh.sync(dest, env, force=True)  # emptied segment: only passes the breaker when forced
    assert wh.erase(env).api_calls == 0
    assert klaviyo.members("C360 test") == set() and mailchimp.members_of("C360 test") == set()
    assert all(klaviyo.profile(f"person000{i}@example.com") for i in range(1, 5))
    assert all(mailchimp.member(f"person000{i}@example.com")["status"] == "subscribed" for i in range(1, 5))
    assert not any(op[0] in ("delete", "unsubscribe", "status_change") for op in klaviyo.ops + mailchimp.ops)


def test_customer_key_identifier(wh, klaviyo):
    spec = replace(SPEC, identifier="customer_key")
    rows = members(3)
    wh.publish(rows)
    env = wh.env(klaviyo=klaviyo)
    wh.sync("klaviyo", env, spec=spec)
    assert klaviyo.profile("person0001@example.com")["external_id"] == "c0001"
    rows[0] = {**rows[0], "email": "new0001@example.com"}
    wh.publish(rows)
    result = wh.sync("klaviyo", env, spec=spec)
    assert result.planned["update"] == 1  # the email is part of the row's hash
    assert wh.query("SELECT email FROM activation.sync_state WHERE member_key = 'c0001'") == [
        ("new0001@example.com",)]


def test_csv_outbox_cells_cannot_run_as_formulas(wh):
    from act_helpers import member

    names = ["=HYPERLINK(\"http://x\")", "+1+2", "-3+4", "@SUM(A1)", "\tTab", "\rCR", "Plain", "line\nbreak"]
    rows = [member(i + 1, first_name=name) for i, name in enumerate(names)]
    rows[0]["points"] = -5  # a number is never a formula: written as it is
    wh.publish(rows)
    result = wh.sync("file", {}, options=replace(FAST, file_format="csv"))
    with open(result.outbox_file, newline="", encoding="utf-8") as fh:
        records = list(csv.DictReader(fh))
    assert [r["first_name"] for r in records] == ["'" + n for n in names[:6]] + names[6:]
    assert records[0]["points_balance"] == "-5"


def test_erasure_scrub_reads_real_csv_and_json_and_skips_foreign_files(wh, caplog):
    from act_helpers import member

    rows = [member(1, first_name="two\nlines, \"quoted\""), member(2, email="-dash@example.com"), *members(3, 3)]
    wh.publish(rows)
    csv_file = wh.sync("file", {}, options=replace(FAST, file_format="csv")).outbox_file
    (wh.outbox / "seg_test" / "notes.csv").write_text("a,b\n1,2\n")  # a marketer's file
    (wh.outbox / "seg_test" / "export.jsonl").write_text("not json\n")
    (wh.outbox / "seg_test" / "latin1.csv").write_bytes("caf\xe9\n".encode("latin-1"))
    wh.publish(rows[1:], erased=["person0001@example.com", "-dash@example.com"])
    result = wh.erase({})
    assert result.deleted == {"file": 2}
    with open(csv_file, newline="", encoding="utf-8") as fh:
        records = list(csv.DictReader(fh))
    assert [r["email"] for r in records] == ["person0003@example.com", "person0004@example.com",
                                             "person0005@example.com"]
    assert (wh.outbox / "seg_test" / "notes.csv").read_text() == "a,b\n1,2\n"
    assert (wh.outbox / "seg_test" / "export.jsonl").read_text() == "not json\n"
    skipped = [r.getMessage() for r in caplog.records if "skipped by the erasure scrub" in r.getMessage()]
    assert len(skipped) == 3
    # the next sync is not held up by them either
    assert wh.sync("file", {}, options=replace(FAST, file_format="csv")).status == "success"


def test_a_failed_deletion_is_logged_without_the_email_the_api_echoed(wh, klaviyo):
    wh.publish(members(3))
    env = wh.env(klaviyo=klaviyo)
    wh.sync("klaviyo", env)
    erased = "person0002@example.com"
    wh.publish(members(3), erased=[erased])
    klaviyo.inject("request_profile_deletion", Injection("status", status=400, detail=f"invalid profile {erased}"))
    failed = wh.erase(env)
    assert failed.failed == {"klaviyo": 1}
    (detail,) = [d for (d,) in wh.query("SELECT detail FROM activation.erasure_log WHERE status = 'failed'")]
    assert "invalid profile <email>" in detail and erased not in detail

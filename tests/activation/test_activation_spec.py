"""Segment meta parsing, the client's rate limits versus the vendor spec, and the spec-validating fakes."""

from __future__ import annotations

import json

import pytest
import requests
from fake_common import SPECS, klaviyo_operations, openapi3_to_jsonschema

from orchestration.activation import SegmentSpecError, load_segment_specs
from orchestration.activation.destinations.klaviyo import RATE_LIMITS, REVISION


def _node(name: str, meta: dict, path: str = "segments/x.sql", resource_type: str = "model") -> dict:
    return {"name": name, "resource_type": resource_type, "original_file_path": f"models/{path}",
            "path": path, "schema": "segments", "config": {"meta": meta}}


GOOD = {
    "segment": {"purpose": "service", "holdout_share": 0.0},
    "activation": {"identifier": "email", "mode": "mirror", "destinations": ["klaviyo", "mailchimp"],
                   "list_name": "C360 points expiring",
                   "fields": {"first_name": "first_name", "points_balance": "loyalty_points_balance"}},
}


def test_load_segment_specs_reads_segment_models_only():
    manifest = {"nodes": {
        "model.c360.seg_points_expiring": _node("seg_points_expiring", GOOD),
        "model.c360.customer_360": _node("customer_360", {}, "marts/customer_360.sql"),
        "model.c360.seg_elsewhere": _node("seg_elsewhere", {}, "marts/seg_elsewhere.sql"),
        "test.c360.seg_x": _node("seg_x", {}, resource_type="test"),
        "model.c360.seg_default_name": _node("seg_default_name", {
            "segment": {"purpose": "marketing", "holdout_share": 0.1},
            "activation": {"identifier": "customer_key", "mode": "upsert", "destinations": ["file"],
                           "fields": {}}}),
    }}
    specs = load_segment_specs(manifest)
    assert [s.model for s in specs] == ["seg_default_name", "seg_points_expiring"]
    default, points = specs
    assert default.list_name == "c360 default_name" and default.destinations == ("file",)
    assert points.destinations == ("file", "klaviyo", "mailchimp") and points.name == "points_expiring"
    assert points.fields == {"first_name": "first_name", "points_balance": "loyalty_points_balance"}
    assert points.sync_id("klaviyo") == "seg_points_expiring:klaviyo"


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"segment": {"purpose": "sales", "holdout_share": 0}}, "seg_bad: segment.purpose"),
        ({"segment": {"purpose": "marketing", "holdout_share": 1.0}}, "seg_bad: segment.holdout_share"),
        ({"activation": {**GOOD["activation"], "mode": "sync"}}, "seg_bad: activation.mode"),
        ({"activation": {**GOOD["activation"], "identifier": "phone"}}, "seg_bad: activation.identifier"),
        ({"activation": {**GOOD["activation"], "destinations": []}}, "seg_bad: activation.destinations"),
        ({"activation": {**GOOD["activation"], "destinations": ["hubspot"]}}, "unknown destination 'hubspot'"),
        ({"activation": {**GOOD["activation"], "fields": {"email": "email"}}}, "seg_bad: activation.fields.email"),
        ({"activation": {**GOOD["activation"], "fields": {"x": "a b"}}}, "seg_bad: activation.fields.x"),
        ({"activation": None}, "seg_bad: activation: missing"),
    ],
)
def test_invalid_meta_names_segment_and_field(patch, message):
    with pytest.raises(SegmentSpecError) as exc:
        load_segment_specs({"nodes": {"m": _node("seg_bad", {**GOOD, **patch})}})
    assert message in str(exc.value)


def test_client_rate_limits_match_the_vendor_spec():
    ops = klaviyo_operations()
    for operation, (burst, steady) in RATE_LIMITS.items():
        documented = ops[operation].rate_limit
        assert documented["burst"] == f"{burst}/s" and documented["steady"] == f"{steady}/m", operation
    assert all(json.loads(p.read_text())["info"]["version"] == REVISION for p in (SPECS / "klaviyo").glob("*.json"))


def test_nullable_conversion():
    schema = openapi3_to_jsonschema(
        {"type": "object", "properties": {
            "a": {"type": "string", "nullable": True},
            "b": {"$ref": "#/components/schemas/E", "nullable": True},
            "c": {"oneOf": [{"type": "string"}, {"type": "number"}], "nullable": True},
        }},
        {"E": {"type": "string", "enum": ["x"]}},
    )
    assert schema["properties"]["a"]["type"] == ["string", "null"]
    assert schema["properties"]["b"] == {"anyOf": [{"type": "string", "enum": ["x"]}, {"type": "null"}]}
    assert {"type": "null"} in schema["properties"]["c"]["oneOf"]


def test_fakes_refuse_requests_that_break_the_spec(klaviyo, mailchimp):
    headers = {"Authorization": f"Klaviyo-API-Key {klaviyo.api_key}", "revision": REVISION,
               "Content-Type": "application/vnd.api+json"}
    bad = {"data": {"type": "list", "attributes": {"title": "no name"}}}
    assert requests.post(f"{klaviyo.url}/api/lists", json=bad, headers=headers, timeout=5).status_code == 400
    r = requests.get(f"{klaviyo.url}/api/profiles", params={"page[size]": 101}, headers=headers, timeout=5)
    assert r.status_code == 400
    no_rev = {k: v for k, v in headers.items() if k != "revision"}
    assert requests.get(f"{klaviyo.url}/api/lists", headers=no_rev, timeout=5).status_code == 400
    wrong_key = {**headers, "Authorization": "Klaviyo-API-Key nope"}
    assert requests.get(f"{klaviyo.url}/api/lists", headers=wrong_key, timeout=5).status_code == 401
    auth = ("c360", mailchimp.api_key)
    lid = next(iter(mailchimp.audiences))
    assert requests.post(f"{mailchimp.url}/3.0/lists/{lid}", json={"update_existing": False}, auth=auth,
                         timeout=5).status_code == 400  # members is required
    too_many = {"members": [{"email_address": f"x{i}@example.com", "status": "transactional"} for i in range(501)]}
    assert requests.post(f"{mailchimp.url}/3.0/lists/{lid}", json=too_many, auth=auth, timeout=5).status_code == 400
    # these were deliberate: clear them so the fixtures' "no violation" check is about the clients only
    assert len(klaviyo.violations) == 3 and len(mailchimp.violations) == 1
    klaviyo.violations.clear()
    mailchimp.violations.clear()


def test_the_vendored_specs_are_the_shared_ones_unchanged():
    """tests/activation/specs/ is the vendors' files unchanged: every file matches SHA256SUMS, recorded when they
    were copied from ../shared/specs/, and equals ../shared/specs/ byte for byte wherever that folder exists."""
    import hashlib

    from fake_common import SHARED_SPECS, VENDORED_SPECS

    recorded = dict(reversed(line.split(maxsplit=1)) for line in
                    (VENDORED_SPECS / "SHA256SUMS").read_text().splitlines())
    vendored = {p.relative_to(VENDORED_SPECS).as_posix(): p.read_bytes() for p in VENDORED_SPECS.rglob("*")
                if p.is_file() and p.name != "SHA256SUMS"}
    assert {name: hashlib.sha256(data).hexdigest() for name, data in vendored.items()} == recorded
    assert any(name.startswith("klaviyo/") for name in vendored) and any(name.startswith("mailchimp/")
                                                                          for name in vendored)
    if SHARED_SPECS.is_dir():
        shared = {p.relative_to(SHARED_SPECS).as_posix(): p.read_bytes() for p in SHARED_SPECS.rglob("*")
                  if p.is_file()}
        assert shared == vendored


def test_the_circuit_breaker_ignores_small_changes_and_small_segments():
    from orchestration.activation.plan import Plan, breaker_reason

    small = Plan(counts={"insert": 1, "remove": 2}, audience=1, previous_audience=3)
    assert breaker_reason(small, 0.3, min_change_rows=50) is None
    assert "planned change 3 is 100% of the 3 members" in breaker_reason(small, 0.3, min_change_rows=0)
    emptied_small = Plan(counts={"remove": 2}, audience=0, previous_audience=2)
    assert breaker_reason(emptied_small, 0.3, min_change_rows=50) is None
    emptied_big = Plan(counts={"remove": 500}, audience=0, previous_audience=500)
    assert "emptied" in breaker_reason(emptied_big, 0.3, min_change_rows=50)
    big_swing = Plan(counts={"insert": 400, "remove": 400}, audience=1000, previous_audience=1000)
    assert "80% of the 1000 members" in breaker_reason(big_swing, 0.3, min_change_rows=50)
    assert breaker_reason(Plan(counts={"insert": 60}, audience=1060, previous_audience=1000), 0.3,
                          min_change_rows=50) is None

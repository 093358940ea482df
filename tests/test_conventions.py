"""Dagster conventions: every asset has an owner, and `pii` marks exactly the assets that identify people."""

from __future__ import annotations

from dagster import AssetKey

from orchestration.conventions import PII_TAG, pii_columns
from orchestration.definitions import build_definitions


def test_owners_on_every_asset_and_pii_where_people_are_identified(c360_env):
    graph = build_definitions(c360_env).resolve_asset_graph()
    nodes = {key.to_user_string(): graph.get(key) for key in graph.get_all_asset_keys()}
    assert all(node.owners for node in nodes.values()), [k for k, n in nodes.items() if not n.owners]
    pii = {key for key, node in nodes.items() if PII_TAG in node.tags}
    # Emails, names and phones: the shop's customers, the warehouse row per person, segments, the identity graph
    # (undocumented columns), the published copy and every sync.
    assert {"raw/shop__customers", "raw/web__events", "staging/stg_shop__customers", "marts/customer_360",
            "intermediate/int_customer_profiles", "intermediate/int_identity_edges",
            "segments/seg_winback_at_risk", "serving/serving_duckdb", "activation/seg_winback_at_risk__klaviyo",
            } <= pii
    # Ids only, hashes or aggregates: not personal data by this tag.
    assert not {"raw/loyalty__ledger", "marts/lifecycle_daily", "marts/retention_metrics", "marts/erased_identifiers",
                "predictions/customer_predictions", "report/run_report"} & pii
    assert nodes["activation/seg_winback_at_risk__klaviyo"].owners == ["team:crm"]
    assert nodes["raw/shop__orders"].owners == ["team:data-engineering"]
    # The mapping keeps what the stages declared.
    assert nodes["raw/shop__orders"].partitions_def is not None
    assert AssetKey(["raw", "shop__orders"]) in graph.get(AssetKey(["staging", "stg_shop__orders"])).parent_keys


def test_pii_columns_are_direct_identifiers_only():
    assert pii_columns(["email", "customer_email", "referee_email", "phone_number", "default_address", "traits",
                        "first_name", "Email"]) == ["email", "customer_email", "referee_email", "phone_number",
                                                    "default_address", "traits", "first_name", "Email"]
    assert pii_columns(["customer_id", "email_consent", "emails_received_90d", "last_email_open_at",
                        "segment_name", "customer_key"]) == []

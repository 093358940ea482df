"""Dagster conventions on every asset of the code location: an owner per stage and the `pii` tag.

`pii` marks the assets that hold data identifying a person directly (an email address, a phone number, a name,
a postal address, web tracking traits): what a privacy review, an erasure request or an access policy starts
from. Ids alone (customer_id, customer_key) are pseudonymous and do not set it. The tag is derived, not listed by
hand: raw assets from the landing contract's fields, dbt models from their documented columns, and the Python
stages that copy or send such rows (the published warehouse, every sync) from their group.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from dagster import AssetKey, AssetSpec

from orchestration.ingestion.entities import ENTITIES

PII_TAG = "pii"
# Column names that identify a person directly (`customer_email`, `referee_email`, `phone_number`,
# `default_address`, ... and the web events' `traits` and `context`, which carry emails and IP addresses).
PII_COLUMN = re.compile(r"(^|_)(email|phone|phone_number|first_name|last_name|address)$|^(traits|context)$")
# Models that hold emails in columns their YAML does not document: the identity graph's node strings
# ('email:<address>') and the profile columns copied from the shop customer.
PII_MODELS = frozenset({"int_customer_profiles", "int_identity_edges", "int_identity_graph", "int_identity_resolved"})
# Python stages that write or send rows of customer_360 and the segments: the published copy, the syncs and their
# state (emails), the erasure log.
PII_GROUPS = frozenset({"publish", "activation"})
# Who to ask about an asset, by stage (Dagster owners: `team:<name>` or an email address).
OWNERS_BY_GROUP = {
    "raw": "team:data-engineering",
    "staging": "team:data-engineering",
    "intermediate": "team:data-engineering",
    "publish": "team:data-engineering",
    "marts": "team:analytics",
    "segments": "team:analytics",
    "predictions": "team:analytics",
    "report": "team:analytics",
    "activation": "team:crm",
}
DEFAULT_OWNER = "team:data-engineering"


def pii_columns(columns: Iterable[str]) -> list[str]:
    """The columns among `columns` that identify a person directly."""
    return [c for c in columns if PII_COLUMN.search(c.lower())]


def personal_data_keys(manifest: Mapping[str, Any]) -> set[AssetKey]:
    """Keys of the raw assets and dbt models (keyed `<schema>/<name>`, as the translator does) with a column
    that identifies a person (a documented one, or a model of PII_MODELS)."""
    keys = {AssetKey(["raw", e.name]) for e in ENTITIES if pii_columns(f.name for f in e.fields)}
    for node in manifest.get("nodes", {}).values():
        if node.get("resource_type") not in ("model", "seed", "snapshot"):
            continue
        if node["name"] in PII_MODELS or pii_columns(node.get("columns") or {}):
            keys.add(AssetKey([node["schema"], node["name"]]))
    return keys


def apply_conventions(manifest: Mapping[str, Any]) -> Callable[[AssetSpec], AssetSpec]:
    """A function for `Definitions.map_asset_specs`: the stage's owner and, where it holds personal data, `pii`."""
    personal = personal_data_keys(manifest)

    def convention(spec: AssetSpec) -> AssetSpec:
        owners = list(spec.owners) or [OWNERS_BY_GROUP.get(spec.group_name or "", DEFAULT_OWNER)]
        tags = dict(spec.tags)
        if spec.key in personal or spec.group_name in PII_GROUPS:
            tags[PII_TAG] = ""
        return spec.replace_attributes(owners=owners, tags=tags)

    return convention

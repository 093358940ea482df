"""What the audit reads from the dbt manifest: enforced contracts (the expected column sets) and segment meta.

Reading the contract from the manifest instead of copying column lists keeps the schema-drift expectations
in step with `dbt_project/models/**/_*.yml` by construction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

# Columns every segment model has (dbt_project/README.md, "Segments").
SEGMENT_BASE_COLUMNS = ("customer_key", "email", "first_name", "is_holdout", "email_consent", "segment_reason")
# Consent states a member may have, by purpose (CUSTOMER_360.md, "Rules for every segment").
ALLOWED_CONSENT = {
    "marketing": ("subscribed",),
    "service": ("subscribed", "unsubscribed", "never_subscribed"),
}


def default_manifest_path() -> Path:
    """The manifest Dagster builds the dbt assets from (`dbt_project/target/manifest.json`)."""
    from orchestration.transform.project import DBT_PROJECT_DIR

    return DBT_PROJECT_DIR / "target" / "manifest.json"


@lru_cache(maxsize=8)
def _load(path: str, mtime_ns: int) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def load_manifest(path: Path | None = None) -> dict[str, Any]:
    """The parsed manifest (cached until the file changes: `c360 run` re-parses the project before a run)."""
    path = Path(path or default_manifest_path())
    return _load(str(path), path.stat().st_mtime_ns)


def model_node(manifest: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The manifest node of a model by name, or None when the project has no such model."""
    for node in manifest.get("nodes", {}).values():
        if node.get("resource_type") == "model" and node.get("name") == name:
            return node
    return None


def contract_columns(node: dict[str, Any] | None) -> list[str] | None:
    """Column names of an enforced contract (lower case, in contract order); None without one."""
    if not node or not node.get("config", {}).get("contract", {}).get("enforced"):
        return None
    return [str(c.get("name", key)).lower() for key, c in node.get("columns", {}).items()]


def segment_model_names(manifest: dict[str, Any]) -> list[str]:
    """Every `seg_*` model of the segments schema, sorted (what the lead passes to the check factory)."""
    return sorted(
        n["name"] for n in manifest.get("nodes", {}).values()
        if n.get("resource_type") == "model" and n.get("schema") == "segments" and n["name"].startswith("seg_")
    )


@dataclass(frozen=True)
class SegmentSpec:
    """What the generic segment suite needs to know about one segment model."""

    name: str
    purpose: str
    required_columns: tuple[str, ...]
    contract_columns: tuple[str, ...] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def allowed_email_consent(self) -> list[str]:
        """Consent states a member of this segment may have."""
        return list(ALLOWED_CONSENT[self.purpose])


def segment_spec(manifest: dict[str, Any], name: str) -> SegmentSpec:
    """The spec of one segment from its node's `config.meta` (purpose, activation fields, contract)."""
    node = model_node(manifest, name)
    if node is None:
        raise KeyError(f"segment {name} is not a model of the dbt manifest")
    meta = node.get("config", {}).get("meta", {}) or {}
    purpose = (meta.get("segment") or {}).get("purpose")
    if purpose not in ALLOWED_CONSENT:
        raise ValueError(f"segment {name}: config.meta.segment.purpose must be marketing or service, not {purpose!r}")
    mapped = [str(c).lower() for c in ((meta.get("activation") or {}).get("fields") or {}).values()]
    required = tuple(dict.fromkeys([*SEGMENT_BASE_COLUMNS, *mapped]))
    contract = contract_columns(node)
    return SegmentSpec(name, purpose, required, tuple(contract) if contract else None, meta)

"""The segments of the dbt project, read from its manifest: every model under models/segments/ and its meta.

dbt validates the meta when it runs (macros/segments/validate_segment_meta.sql); this module only reads it,
so Dagster can create the history and activation assets without any Python per segment.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class SegmentDefinition:
    """A segment model and the settings its YAML meta declares."""

    name: str
    schema: str
    purpose: str
    holdout_share: float
    description: str
    activation: Mapping[str, Any] = field(default_factory=dict)


def segment_nodes(manifest: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The manifest nodes of the project's segment models (models/segments/), by name."""
    project = manifest.get("metadata", {}).get("project_name")
    nodes = [
        node for node in manifest.get("nodes", {}).values()
        if node.get("resource_type") == "model"
        and (project is None or node.get("package_name") == project)
        and len(node.get("fqn", [])) > 2 and node["fqn"][1] == "segments"
    ]
    return sorted(nodes, key=lambda node: node["name"])


def segment_definitions(manifest: Mapping[str, Any], default_holdout_share: float = 0.1) -> list[SegmentDefinition]:
    """Every segment with its purpose and holdout share (`default_holdout_share`, the dbt var `holdout_share`,
    for marketing segments that declare none; 0 for service segments), as the dbt models apply them."""
    definitions = []
    for node in segment_nodes(manifest):
        meta = (node.get("config") or {}).get("meta") or node.get("meta") or {}
        segment = meta.get("segment") or {}
        purpose = segment.get("purpose", "marketing")
        share = segment.get("holdout_share", default_holdout_share if purpose == "marketing" else 0.0)
        definitions.append(SegmentDefinition(
            name=node["name"],
            schema=node.get("schema") or "segments",
            purpose=purpose,
            holdout_share=float(share),
            description=" ".join((node.get("description") or "").split()),
            activation=meta.get("activation") or {},
        ))
    return definitions


def load_manifest(path: Path) -> dict[str, Any]:
    """The dbt manifest at `path`."""
    return json.loads(Path(path).read_text())

"""The segments of the dbt project, read from its manifest: every model under models/segments/ and its meta.

dbt validates the meta when it runs (macros/segments/validate_segment_meta.sql); the activation step parses
it (`orchestration.activation.spec`). This module adds what the history needs on top of that parse (the
model's description), so Dagster creates the history and activation assets without any Python per segment.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestration.activation.spec import load_segment_specs


@dataclass(frozen=True)
class SegmentDefinition:
    """A segment model and the settings its YAML meta declares."""

    name: str
    schema: str
    purpose: str
    holdout_share: float
    description: str
    activation: Mapping[str, Any] = field(default_factory=dict)


def segment_definitions(manifest: Mapping[str, Any]) -> list[SegmentDefinition]:
    """Every segment of the manifest with its purpose, holdout share and destinations (one parse of the meta,
    the activation step's; an invalid meta raises its SegmentSpecError naming the segment and field)."""
    descriptions = {node.get("name"): " ".join((node.get("description") or "").split())
                    for node in manifest.get("nodes", {}).values() if node.get("resource_type") == "model"}
    return [
        SegmentDefinition(
            name=spec.model,
            schema=spec.schema,
            purpose=spec.purpose,
            holdout_share=spec.holdout_share,
            description=descriptions.get(spec.model, ""),
            activation={"destinations": list(spec.destinations), "identifier": spec.identifier, "mode": spec.mode},
        )
        for spec in load_segment_specs(manifest)
    ]


def load_manifest(path: Path) -> dict[str, Any]:
    """The dbt manifest at `path`."""
    return json.loads(Path(path).read_text())

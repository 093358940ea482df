"""Segment sync settings, read from the dbt manifest (`config.meta` of each `seg_*` model).

The schema is documented in `dbt_project/README.md` ("Segments"). Validation collects every problem
and reports each one as `<model>: <field>: <what is wrong>` so a wrong YAML entry is easy to find.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

PURPOSES = ("marketing", "service")
IDENTIFIERS = ("email", "customer_key")
MODES = ("upsert", "mirror")
DESTINATIONS = ("file", "klaviyo", "mailchimp")
# The sync owns the identity of a profile: these destination properties cannot be mapped.
RESERVED_PROPERTIES = frozenset({"email", "email_address", "external_id", "id"})
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class SegmentSpecError(ValueError):
    """The meta of one or more segment models is invalid (each line names the segment and the field)."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid segment settings:\n  " + "\n  ".join(problems))


@dataclass(frozen=True)
class SegmentSpec:
    """Settings of one segment's sync, as declared in its dbt model's meta."""

    model: str  # dbt model name, e.g. seg_points_expiring (also the table name)
    purpose: str
    holdout_share: float
    identifier: str
    mode: str
    destinations: tuple[str, ...]
    list_name: str
    fields: dict[str, str]  # destination property -> segment column
    schema: str = "segments"
    overwrite_nulls: frozenset[str] = field(default_factory=frozenset)  # properties where null is sent
    max_change_share: float | None = None  # circuit-breaker override

    @property
    def name(self) -> str:
        """The segment's short name (the model name without `seg_`)."""
        return self.model.removeprefix("seg_")

    def sync_id(self, destination: str) -> str:
        """Key of this segment's sync to one destination in the activation tables."""
        return f"{self.model}:{destination}"


def _in_segments_folder(node: Mapping) -> bool:
    path = str(node.get("original_file_path") or node.get("path") or "").replace("\\", "/")
    return path.startswith("segments/") or "/segments/" in path or path.startswith("models/segments/")


def _parse_one(node: Mapping, problems: list[str]) -> SegmentSpec | None:
    model = str(node["name"])
    meta = (node.get("config") or {}).get("meta") or node.get("meta") or {}
    before = len(problems)

    def bad(field_name: str, message: str) -> None:
        """Record one problem as `<model>: <field>: <message>`."""
        problems.append(f"{model}: {field_name}: {message}")

    segment = meta.get("segment")
    activation = meta.get("activation")
    if not isinstance(segment, Mapping):
        bad("segment", "missing (a mapping with purpose and holdout_share is required)")
        segment = {}
    if not isinstance(activation, Mapping):
        bad("activation", "missing (a mapping with identifier, mode, destinations and fields is required)")
        activation = {}

    purpose = segment.get("purpose")
    if purpose not in PURPOSES:
        bad("segment.purpose", f"must be one of {'|'.join(PURPOSES)}, got {purpose!r}")
    holdout = segment.get("holdout_share")
    if isinstance(holdout, bool) or not isinstance(holdout, int | float) or not 0 <= float(holdout) < 1:
        bad("segment.holdout_share", f"must be a number with 0 <= share < 1, got {holdout!r}")
        holdout = 0.0

    identifier = activation.get("identifier")
    if identifier not in IDENTIFIERS:
        bad("activation.identifier", f"must be one of {'|'.join(IDENTIFIERS)}, got {identifier!r}")
    mode = activation.get("mode")
    if mode not in MODES:
        bad("activation.mode", f"must be one of {'|'.join(MODES)}, got {mode!r}")

    destinations = activation.get("destinations")
    if not isinstance(destinations, list | tuple) or not destinations:
        bad("activation.destinations", f"must be a non-empty list, got {destinations!r}")
        destinations = []
    for dest in destinations:
        if dest not in DESTINATIONS:
            bad("activation.destinations", f"unknown destination {dest!r} (known: {', '.join(DESTINATIONS)})")
    # The file destination is always on.
    dests = tuple(dict.fromkeys(["file", *[d for d in destinations if d in DESTINATIONS]]))

    list_name = activation.get("list_name", f"c360 {model.removeprefix('seg_')}")
    if not isinstance(list_name, str) or not list_name.strip():
        bad("activation.list_name", f"must be a non-empty string, got {list_name!r}")

    fields = activation.get("fields")
    if not isinstance(fields, Mapping):
        bad("activation.fields", f"must be a mapping of destination property -> column, got {fields!r}")
        fields = {}
    for prop, column in fields.items():
        if not isinstance(prop, str) or not _NAME.match(prop):
            bad(f"activation.fields.{prop}", "destination property must be a simple name")
        elif prop in RESERVED_PROPERTIES:
            bad(f"activation.fields.{prop}", "reserved: the sync sets the identity fields itself")
        if not isinstance(column, str) or not _NAME.match(column):
            bad(f"activation.fields.{prop}", f"column must be a simple column name, got {column!r}")

    overwrite = activation.get("overwrite_nulls", [])
    if not isinstance(overwrite, list | tuple) or any(p not in fields for p in overwrite):
        bad("activation.overwrite_nulls", f"must list mapped destination properties, got {overwrite!r}")
        overwrite = []

    share = activation.get("max_change_share")
    if share is not None and (isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share <= 1):
        bad("activation.max_change_share", f"must be a number with 0 < share <= 1, got {share!r}")
        share = None

    if len(problems) > before:
        return None
    return SegmentSpec(
        model=model,
        purpose=purpose,
        holdout_share=float(holdout),
        identifier=identifier,
        mode=mode,
        destinations=dests,
        list_name=list_name.strip(),
        fields=dict(fields),
        schema=str(node.get("schema") or "segments"),
        overwrite_nulls=frozenset(overwrite),
        max_change_share=None if share is None else float(share),
    )


def load_segment_specs(manifest: Mapping) -> list[SegmentSpec]:
    """Parse every segment model of a dbt manifest into a SegmentSpec (sorted by model name).

    Segment models are nodes with resource_type `model`, a name starting with `seg_`, living in the
    segments folder. Raises SegmentSpecError listing every problem as `<model>: <field>: <message>`.
    """
    problems: list[str] = []
    specs: list[SegmentSpec] = []
    for node in (manifest.get("nodes") or {}).values():
        if node.get("resource_type") != "model" or not str(node.get("name", "")).startswith("seg_"):
            continue
        if not _in_segments_folder(node):
            continue
        spec = _parse_one(node, problems)
        if spec is not None:
            specs.append(spec)
    if problems:
        raise SegmentSpecError(problems)
    return sorted(specs, key=lambda s: s.model)

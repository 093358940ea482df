"""Settings of the audit, read from `expectations/audit_config.json` (overridable per test or deployment)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

# The checked-in suites and settings: a top-level folder of the repository (ARCHITECTURE.md, "Top level").
EXPECTATIONS_DIR = Path(__file__).resolve().parents[2] / "expectations"
CONFIG_FILE = "audit_config.json"
SEVERITIES = ("critical", "warning")


def _severity(value: str, where: str) -> str:
    if value not in SEVERITIES:
        raise ValueError(f"{where}: severity must be one of {SEVERITIES}, not {value!r}")
    return value


@dataclass(frozen=True)
class VolumeConfig:
    """Run-to-run volume of raw partitions: a day's rows against the median of the days before it."""

    severity: str = "warning"
    max_drop_share: float = 0.5
    baseline_days: int = 14
    min_baseline_rows: int = 500
    # Days of history an entity needs before a day is judged: a first export often carries the whole backlog,
    # and the days right after it would all look like drops.
    min_baseline_days: int = 7

    def __post_init__(self) -> None:
        _severity(self.severity, "volume")
        if not 0 < self.max_drop_share < 1:
            raise ValueError("volume.max_drop_share must be between 0 and 1")
        if self.baseline_days < 1 or not 1 <= self.min_baseline_days <= self.baseline_days:
            raise ValueError("volume: need 1 <= min_baseline_days <= baseline_days")


@dataclass(frozen=True)
class NullDriftConfig:
    """Null share of key columns against the last run whose audit of the table passed."""

    severity: str = "warning"
    max_increase: float = 0.05
    min_rows: int = 1000
    columns: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _severity(self.severity, "null_drift")


@dataclass(frozen=True)
class SegmentBounds:
    """Size bounds of a segment, relative to the number of people in customer_360."""

    max_share: float = 0.6
    min_members: int = 1


@dataclass(frozen=True)
class AuditConfig:
    """Everything the audit can be tuned with; `AuditConfig.load()` reads the checked-in file."""

    expectations_dir: Path = EXPECTATIONS_DIR
    max_batch_rows: int = 1_000_000
    unexpected_keys_limit: int = 10
    docs_keep_runs: int = 20
    docs_index_limit: int = 100
    volume: VolumeConfig = field(default_factory=VolumeConfig)
    volume_overrides: dict[str, VolumeConfig] = field(default_factory=dict)
    null_drift: NullDriftConfig = field(default_factory=NullDriftConfig)
    segments: SegmentBounds = field(default_factory=SegmentBounds)
    segment_overrides: dict[str, SegmentBounds] = field(default_factory=dict)

    def volume_for(self, entity: str) -> VolumeConfig:
        """The volume settings of one raw entity (its override, else the default)."""
        return self.volume_overrides.get(entity, self.volume)

    def bounds_for(self, segment: str) -> SegmentBounds:
        """The size bounds of one segment (its override, else the default)."""
        return self.segment_overrides.get(segment, self.segments)

    def with_changes(self, **changes: Any) -> AuditConfig:
        """A copy with some settings replaced (tests and benchmarks tune thresholds this way)."""
        return replace(self, **changes)

    @classmethod
    def load(cls, expectations_dir: Path | None = None) -> AuditConfig:
        """Read `audit_config.json` of the expectations folder (defaults for what it leaves out)."""
        folder = Path(expectations_dir or EXPECTATIONS_DIR)
        path = folder / CONFIG_FILE
        raw: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
        volume = dict(raw.get("volume", {}))
        overrides = volume.pop("entities", {})
        base_volume = VolumeConfig(**_public(volume))
        drift = dict(raw.get("null_drift", {}))
        drift_columns = {k: tuple(v) for k, v in drift.pop("columns", {}).items()}
        segments = dict(raw.get("segments", {}))
        segment_overrides = segments.pop("overrides", {})
        base_bounds = SegmentBounds(**_public(segments))
        return cls(
            expectations_dir=folder,
            max_batch_rows=int(raw.get("max_batch_rows", cls.max_batch_rows)),
            unexpected_keys_limit=int(raw.get("unexpected_keys_limit", cls.unexpected_keys_limit)),
            docs_keep_runs=int(raw.get("docs_keep_runs", cls.docs_keep_runs)),
            docs_index_limit=int(raw.get("docs_index_limit", cls.docs_index_limit)),
            volume=base_volume,
            volume_overrides={k: replace(base_volume, **_public(v)) for k, v in overrides.items()},
            null_drift=NullDriftConfig(**_public(drift), columns=drift_columns),
            segments=base_bounds,
            segment_overrides={k: replace(base_bounds, **_public(v)) for k, v in segment_overrides.items()},
        )


def _public(section: dict[str, Any]) -> dict[str, Any]:
    """A config section without its `_about` notes."""
    return {k: v for k, v in section.items() if not k.startswith("_")}

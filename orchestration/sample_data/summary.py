"""The generator's summary: what was written and exactly how much dirt went in (tests rely on it)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .config import QUARANTINE_KINDS


@dataclass
class EntitySummary:
    """Per entity, over every file written (re-delivered and empty ones included).

    `lines`: every line (CSV headers, duplicates and garbage lines included); `records`: source records
    written, one line each, dirty or not; `dirt`: injected count per kind (lines/records, order ids for
    the order-level kinds, files for `empty_files` / `redelivered_files`).
    """

    files: int
    lines: int
    bytes: int
    records: int
    dirt: dict[str, int] = field(default_factory=dict)

    @property
    def quarantine_expected(self) -> int:
        """Lines ingestion must quarantine (outside re-delivered copies, which are skipped whole)."""
        return sum(self.dirt.get(k, 0) for k in QUARANTINE_KINDS)


@dataclass
class GeneratorSummary:
    """Returned by `generate()` and written to `<out>/_generator_summary.json`."""

    parameters: dict
    entities: dict[str, EntitySummary]
    files: dict[str, list[str]]
    personas: list[dict]
    elapsed_seconds: float

    def dirt(self, entity: str, kind: str) -> int:
        """Injected count of `kind` for `entity` (0 when none)."""
        e = self.entities.get(entity)
        return e.dirt.get(kind, 0) if e else 0

    def to_dict(self) -> dict:
        """JSON-ready dict; each entity also carries `quarantine_expected`."""
        d = asdict(self)
        for name, e in self.entities.items():
            d["entities"][name]["quarantine_expected"] = e.quarantine_expected
        return d

    def write(self, path: Path) -> None:
        """Write as pretty JSON (keys sorted, so only elapsed_seconds differs between identical runs)."""
        path.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True, default=str) + "\n")

"""What the sensor and the schedule decide from a scan of the landing zone: which files are new since the
last look (the sensor's cursor), and the run (partition range and as-of date) to start for them."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from orchestration.ingestion.landing import LandingFile, LandingScan
from orchestration.partitions import AS_OF_TAG


def fingerprint(file: LandingFile) -> str:
    """A short, stable id of one delivery of a file: its path, size and modification time. A file re-delivered
    (rewritten) gets a new fingerprint; a file left alone keeps its own."""
    stat = file.path.stat()
    text = f"{file.rel_path}|{file.size}|{stat.st_mtime_ns}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class NewFiles:
    """Files not seen before, the export dates they belong to, and the updated set of fingerprints."""

    files: list[LandingFile]
    seen: list[str]

    @property
    def dates(self) -> list[date]:
        """Export dates of the new files, sorted."""
        return sorted({f.file_date for f in self.files})

    def run_key(self) -> str:
        """One key per set of new files: Dagster never starts two runs for the same files."""
        return hashlib.sha256("\n".join(sorted(fingerprint(f) for f in self.files)).encode()).hexdigest()[:24]


def new_files(scan: LandingScan, cursor: str | None) -> NewFiles:
    """The files of `scan` whose fingerprint is not in `cursor` (a JSON list of fingerprints)."""
    seen = set(json.loads(cursor)) if cursor else set()
    current = {fingerprint(f): f for files in scan.files.values() for f in files}
    fresh = [f for fp, f in sorted(current.items()) if fp not in seen]
    return NewFiles(files=sorted(fresh, key=lambda f: (f.file_date, f.rel_path)), seen=sorted(current))


def run_tags(first: date, last: date, as_of: date) -> dict[str, str]:
    """Run tags of a main-job run over the export dates first..last, built as of `as_of`."""
    return {
        ASSET_PARTITION_RANGE_START_TAG: first.isoformat(),
        ASSET_PARTITION_RANGE_END_TAG: last.isoformat(),
        AS_OF_TAG: as_of.isoformat(),
    }


def latest_date(dates: Iterable[date]) -> date | None:
    """The latest of `dates`, or None."""
    dates = list(dates)
    return max(dates) if dates else None

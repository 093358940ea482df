"""Free-disk checks before the steps that write tens of gigabytes (`c360 generate`, a first `c360 run`).

A full disk in the middle of a build is the failure users hit at the `large` tier: the generator's files, the
raw Parquet layer, the warehouse and DuckDB's spill file all land on the same disk by default. The estimates
come from measurements (orchestration/sample_data/README.md's tier table, README.md's sizing section).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from orchestration.ingestion.landing import LandingScan

# Landing files of 365 export days at the default dirt (sample_data/README.md, "Tiers").
TIER_LANDING_BYTES = {"tiny": 15_000_000, "demo": 1_100_000_000, "large": 41_000_000_000}
# Generated JSONL/CSV compress about 7 times under gzip (rounded down: the estimate errs on the safe side).
GZIP_RATIO = 7
# Head room for the generator's spill folder and rounding.
GENERATE_MARGIN = 1.1
# A first run writes about as much as its landing files hold: raw Parquet, the warehouse and the dbt build's
# spill next to it.
FIRST_RUN_BYTES_PER_LANDING_BYTE = 1.0
# The override the refusal names.
OVERRIDE_FLAG = "--no-disk-check"


def human(size: float) -> str:
    """A size in GB (or MB below one GB), for messages."""
    return f"{size / 1e9:,.1f} GB" if size >= 1e9 else f"{size / 1e6:,.0f} MB"


def free_bytes(path: Path) -> int:
    """Free bytes on the filesystem that holds `path` (its nearest existing parent when it does not exist yet)."""
    path = Path(path).resolve()
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free


def generate_bytes_needed(tier: str, days: int, gzip: bool) -> int:
    """About what `c360 generate --tier TIER --days DAYS [--gzip]` writes, with head room."""
    size = TIER_LANDING_BYTES[tier] * max(days, 1) / 365
    if gzip:
        size /= GZIP_RATIO
    return int(size * GENERATE_MARGIN)


def first_run_bytes_needed(scan: LandingScan) -> int:
    """About what a first `c360 run` over the scanned landing zone writes (raw layer, warehouse, spill)."""
    landing = sum(f.size * (GZIP_RATIO if f.path.name.endswith(".gz") else 1)
                  for files in scan.files.values() for f in files)
    return int(landing * FIRST_RUN_BYTES_PER_LANDING_BYTE)


def disk_problem(where: Path, needed: int, what: str) -> str | None:
    """A sentence refusing `what` when the filesystem of `where` has less than `needed` bytes free, else None."""
    free = free_bytes(where)
    if free >= needed:
        return None
    return (f"{what} needs about {human(needed)} of free disk at {where}, and only {human(free)} is free. "
            f"Free some space or choose another location; {OVERRIDE_FLAG} skips this check.")
